package providertest

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"

	"github.com/memproxy/memproxy/gateway/api/gemini"
)

// Embeddings is a fake embeddings upstream that speaks two documented
// formats at once:
//
//   - OpenAI's POST URL+"/v1/embeddings": {"model", "input" (a string or
//     an array of strings), "dimensions"?, "encoding_format"? ("float" or
//     "base64": little-endian float32), "user"?}, answered with
//     {"object":"list","data":[{"object":"embedding","index":i,
//     "embedding":…}],"model",…,"usage":{"prompt_tokens","total_tokens"}}.
//     An unknown field is refused with 400, as OpenAI does.
//   - Gemini's POST URL+"/v1beta/models/{model}:embedContent" and
//     ":batchEmbedContents" (api/gemini types, parsed strictly; at most
//     100 requests, each naming "models/{model}"), answered with
//     {"embedding":{"values":…}} or {"embeddings":[…]}, without usage, as
//     documented. An API key (x-goog-api-key) is required.
//
// Vectors come from Vector at full size; "dimensions" keeps the first
// values and renormalises them (OpenAI's text-embedding-3 does),
// "outputDimensionality" only truncates (Gemini documents that truncated
// vectors are not normalised). Set its fields before sending requests.
type Embeddings struct {
	URL string

	// Vector gives a text's full-size embedding (default HashVector); every
	// vector it returns has the same size, which is the model's (it is
	// asked for "" to learn it).
	Vector func(text string) []float32
	// Status, when non-zero, answers every request with this status and
	// the dialect's error envelope.
	Status int
	// Hold, when non-nil, delays every answer until it is closed or the
	// request is abandoned (then Cancelled is closed).
	Hold chan struct{}
	// Arrived, when non-nil, is sent a value as each request arrives
	// (before Hold).
	Arrived chan struct{}
	// NoUsage leaves the usage out of OpenAI answers (some compatible
	// servers send none).
	NoUsage bool
	// FloatsOnly answers OpenAI requests with arrays of numbers whatever
	// encoding_format asks (servers that ignore it).
	FloatsOnly bool

	srv *httptest.Server
	recorder
}

// EmbedDims is the full size of HashVector's vectors.
const EmbedDims = 64

// NewEmbeddings starts a fake closed at the end of the test.
func NewEmbeddings(t testing.TB) *Embeddings {
	f := &Embeddings{Vector: HashVector, recorder: newRecorder()}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// EmbedTokens is the token count the fake reports for a text: its
// whitespace-separated words.
func EmbedTokens(text string) int { return len(strings.Fields(text)) }

// HashVector is a deterministic bag-of-words embedding: each lower-cased
// word adds ±1 to one of EmbedDims values chosen by its FNV hash, and the
// vector is normalised to length 1 (zero for a text without words). Texts
// sharing words are close; it knows nothing of meaning.
func HashVector(text string) []float32 {
	v := make([]float32, EmbedDims)
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) }) {
		h := fnv.New64a()
		_, _ = h.Write([]byte(w))
		s := h.Sum64()
		if s>>63 == 1 {
			v[s%EmbedDims]--
		} else {
			v[s%EmbedDims]++
		}
	}
	return normalised(v)
}

func normalised(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return v
	}
	inv := float32(1 / math.Sqrt(n))
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = x * inv
	}
	return out
}

func (f *Embeddings) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	f.record(Recorded{Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body})
	if f.Arrived != nil {
		f.Arrived <- struct{}{}
	}
	if f.Hold != nil {
		select {
		case <-f.Hold:
		case <-r.Context().Done():
			f.noteCancel()
			return
		}
	}
	switch {
	case r.Method != http.MethodPost:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	case r.URL.Path == "/v1/embeddings":
		f.openAI(w, raw)
	case strings.HasPrefix(r.URL.Path, "/v1beta/models/"):
		f.gemini(w, r, raw)
	default:
		http.Error(w, `{"error":{"message":"unknown path","type":"invalid_request_error","param":null,"code":null}}`, http.StatusNotFound)
	}
}

// embedError answers with OpenAI's error envelope.
func embedError(w http.ResponseWriter, status int, msg string) {
	typ := "invalid_request_error"
	if status >= 500 {
		typ = "server_error"
	}
	openAIError(w, status, typ, msg)
}

type openAIEmbedRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	Dimensions     *int            `json:"dimensions,omitempty"`
	EncodingFormat string          `json:"encoding_format,omitempty"`
	User           string          `json:"user,omitempty"`
}

func (f *Embeddings) openAI(w http.ResponseWriter, raw []byte) {
	if f.Status != 0 {
		embedError(w, f.Status, "fake upstream failure")
		return
	}
	var req openAIEmbedRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		embedError(w, http.StatusBadRequest, "invalid request: "+err.Error())
		return
	}
	var inputs []string
	if json.Unmarshal(req.Input, &inputs) != nil {
		var one string
		if json.Unmarshal(req.Input, &one) != nil {
			embedError(w, http.StatusBadRequest, "'input' must be a string or an array of strings")
			return
		}
		inputs = []string{one}
	}
	switch {
	case req.Model == "":
		embedError(w, http.StatusBadRequest, "you must provide a model parameter")
		return
	case len(inputs) == 0 || len(inputs) > 2048:
		embedError(w, http.StatusBadRequest, "'input' must hold 1 to 2048 items")
		return
	case req.EncodingFormat != "" && req.EncodingFormat != "float" && req.EncodingFormat != "base64":
		embedError(w, http.StatusBadRequest, "'encoding_format' must be 'float' or 'base64'")
		return
	case req.Dimensions != nil && (*req.Dimensions < 1 || *req.Dimensions > len(f.Vector(""))):
		embedError(w, http.StatusBadRequest, "'dimensions' is out of range for this model")
		return
	}
	type item struct {
		Object    string `json:"object"`
		Index     int    `json:"index"`
		Embedding any    `json:"embedding"`
	}
	data := make([]item, len(inputs))
	tokens := 0
	for i, in := range inputs {
		if in == "" {
			embedError(w, http.StatusBadRequest, fmt.Sprintf("'input[%d]' must not be empty", i))
			return
		}
		v := f.Vector(in)
		if req.Dimensions != nil {
			v = normalised(v[:*req.Dimensions])
		}
		data[i] = item{Object: "embedding", Index: i, Embedding: v}
		if req.EncodingFormat == "base64" && !f.FloatsOnly {
			data[i].Embedding = encodeFloats(v)
		}
		tokens += EmbedTokens(in)
	}
	out := map[string]any{"object": "list", "data": data, "model": req.Model}
	if !f.NoUsage {
		out["usage"] = map[string]int{"prompt_tokens": tokens, "total_tokens": tokens}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// encodeFloats is OpenAI's base64 encoding: the little-endian float32s.
func encodeFloats(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return base64.StdEncoding.EncodeToString(b)
}

func (f *Embeddings) gemini(w http.ResponseWriter, r *http.Request, raw []byte) {
	model, method, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v1beta/models/"), ":")
	switch {
	case model == "" || (method != "embedContent" && method != "batchEmbedContents"):
		geminiError(w, http.StatusNotFound, "The requested URL "+r.URL.Path+" was not found on this server.")
		return
	case r.Header.Get("x-goog-api-key") == "":
		geminiError(w, http.StatusForbidden, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.")
		return
	case f.Status != 0:
		geminiError(w, f.Status, "fake upstream failure")
		return
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var reqs []gemini.EmbedContentRequest
	if method == "embedContent" {
		var one gemini.EmbedContentRequest
		if err := dec.Decode(&one); err != nil {
			geminiError(w, http.StatusBadRequest, "Invalid JSON payload received. "+err.Error())
			return
		}
		reqs = []gemini.EmbedContentRequest{one}
	} else {
		var batch gemini.BatchEmbedContentsRequest
		if err := dec.Decode(&batch); err != nil {
			geminiError(w, http.StatusBadRequest, "Invalid JSON payload received. "+err.Error())
			return
		}
		if len(batch.Requests) == 0 || len(batch.Requests) > gemini.MaxBatchEmbed {
			geminiError(w, http.StatusBadRequest, "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch")
			return
		}
		reqs = batch.Requests
	}
	vecs := make([]gemini.ContentEmbedding, len(reqs))
	for i, req := range reqs {
		text, msg := f.geminiText(req, model, method == "batchEmbedContents")
		if msg != "" {
			geminiError(w, http.StatusBadRequest, msg)
			return
		}
		v := f.Vector(text)
		if d := req.OutputDimensionality; d > 0 {
			v = v[:min(d, len(v))]
		}
		vecs[i] = gemini.ContentEmbedding{Values: v}
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	if method == "embedContent" {
		_ = json.NewEncoder(w).Encode(gemini.EmbedContentResponse{Embedding: vecs[0]})
		return
	}
	_ = json.NewEncoder(w).Encode(gemini.BatchEmbedContentsResponse{Embeddings: vecs})
}

// geminiText checks one request as Gemini would and returns its text, or
// the message of the 400 it gets.
func (f *Embeddings) geminiText(req gemini.EmbedContentRequest, model string, batch bool) (string, string) {
	if batch && req.Model != "models/"+model {
		return "", fmt.Sprintf("Model names should match. Expected models/%s, got %q.", model, req.Model)
	}
	switch req.TaskType {
	case "", "TASK_TYPE_UNSPECIFIED", gemini.TaskRetrievalQuery, gemini.TaskRetrievalDocument, "SEMANTIC_SIMILARITY",
		"CLASSIFICATION", "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY":
	default:
		return "", fmt.Sprintf("Invalid value at 'task_type', %q", req.TaskType)
	}
	if req.OutputDimensionality < 0 {
		return "", "outputDimensionality must be positive"
	}
	var text []string
	for _, p := range req.Content.Parts {
		text = append(text, p.Text)
	}
	if strings.TrimSpace(strings.Join(text, "")) == "" {
		return "", "* EmbedContentRequest.content: contents must not be empty"
	}
	return strings.Join(text, ""), ""
}
