package embed

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/memproxy/memproxy/gateway/api/gemini"
	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/provider"
)

// openAIRequest is the body of POST /embeddings. Vectors are asked for in
// base64 (little-endian float32: a quarter of the JSON text, and exact);
// servers that ignore encoding_format and send numbers are read too.
type openAIRequest struct {
	Model          string   `json:"model"`
	Input          []string `json:"input"`
	Dimensions     int      `json:"dimensions,omitempty"`
	EncodingFormat string   `json:"encoding_format"`
}

type openAIResponse struct {
	Data []struct {
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Usage *struct {
		PromptTokens int64 `json:"prompt_tokens"`
	} `json:"usage"`
}

func openAIBody(model string, inputs []string, dims int) ([]byte, error) {
	return json.Marshal(openAIRequest{Model: model, Input: inputs, Dimensions: dims, EncodingFormat: "base64"})
}

// openAIVectors reads an answer's vectors in index order.
func openAIVectors(b []byte, n int) ([][]float32, int64, error) {
	var r openAIResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	if len(r.Data) != n {
		return nil, 0, fmt.Errorf("%w: %d vectors for %d inputs", ErrBadResponse, len(r.Data), n)
	}
	out := make([][]float32, n)
	for _, d := range r.Data {
		if d.Index < 0 || d.Index >= n || out[d.Index] != nil {
			return nil, 0, fmt.Errorf("%w: index %d missing, repeated or out of range", ErrBadResponse, d.Index)
		}
		v, err := openAIVector(d.Embedding)
		if err != nil {
			return nil, 0, err
		}
		out[d.Index] = v
	}
	var tokens int64
	if r.Usage != nil {
		tokens = r.Usage.PromptTokens
	}
	return out, tokens, nil
}

// openAIVector reads one embedding: a base64 string or an array of
// numbers.
func openAIVector(raw json.RawMessage) ([]float32, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b)%4 != 0 {
			return nil, fmt.Errorf("%w: a base64 embedding that is not float32s", ErrBadResponse)
		}
		v := make([]float32, len(b)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return v, finite(v)
	}
	var v []float32
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("%w: embedding: %v", ErrBadResponse, err)
	}
	return v, nil
}

// finite refuses NaN and infinities, which would poison every ranking.
func finite(v []float32) error {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("%w: a value that is not a finite number", ErrBadResponse)
		}
	}
	return nil
}

// geminiBody builds an embedContent body for one input, a
// batchEmbedContents body for several.
func geminiBody(model string, inputs []string, dims int, task string) (op string, body []byte, err error) {
	model = "models/" + strings.TrimPrefix(model, "models/")
	switch task {
	case TaskQuery:
		task = gemini.TaskRetrievalQuery
	case TaskDocument:
		task = gemini.TaskRetrievalDocument
	}
	reqs := make([]gemini.EmbedContentRequest, len(inputs))
	for i, in := range inputs {
		reqs[i] = gemini.EmbedContentRequest{Model: model, Content: gemini.Content{Parts: []gemini.Part{{Text: in}}},
			TaskType: task, OutputDimensionality: dims}
	}
	if len(reqs) == 1 {
		body, err = json.Marshal(reqs[0])
		return provider.OpEmbedContent, body, err
	}
	body, err = json.Marshal(gemini.BatchEmbedContentsRequest{Requests: reqs})
	return provider.OpBatchEmbedContents, body, err
}

// geminiVectors reads an embedContent answer (n == 1) or a
// batchEmbedContents one.
func geminiVectors(b []byte, n int) ([][]float32, int64, error) {
	var r gemini.BatchEmbedContentsResponse
	if n == 1 {
		var one gemini.EmbedContentResponse
		if err := json.Unmarshal(b, &one); err != nil {
			return nil, 0, fmt.Errorf("%w: %v", ErrBadResponse, err)
		}
		r = gemini.BatchEmbedContentsResponse{Embeddings: []gemini.ContentEmbedding{one.Embedding}, UsageMetadata: one.UsageMetadata}
	} else if err := json.Unmarshal(b, &r); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	if len(r.Embeddings) != n {
		return nil, 0, fmt.Errorf("%w: %d vectors for %d inputs", ErrBadResponse, len(r.Embeddings), n)
	}
	out := make([][]float32, n)
	for i, e := range r.Embeddings {
		out[i] = e.Values
	}
	var tokens int64
	if r.UsageMetadata != nil {
		tokens = r.UsageMetadata.PromptTokenCount
	}
	return out, tokens, nil
}

func geminiError(b []byte) (string, string, bool) { return gemini.ParseError(b) }

func openAIError(b []byte) (string, bool) {
	d, ok := openai.ParseError(b)
	return d.Message, ok && d.Message != ""
}
