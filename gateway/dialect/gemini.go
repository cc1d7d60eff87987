package dialect

import (
	"io"

	"github.com/memproxy/memproxy/gateway/api/gemini"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/translate"
)

// geminiDialect is Gemini's generateContent, a wire dialect only (served
// under the provider's chat operation).
type geminiDialect struct{}

func (*geminiDialect) Name() string { return Gemini }
func (*geminiDialect) Op() string   { return OpChat }

func (*geminiDialect) Encode(hub []byte, _ string) ([]byte, error) {
	return translate.OpenAIChatToGemini(hub)
}

func (*geminiDialect) wireStep(string) translate.Step { return translate.OpenAIChatToGeminiStep() }

func (*geminiDialect) Decode(b []byte, model string) ([]byte, llm.Usage, error) {
	return translate.GeminiResponseToOpenAIChat(b, model)
}

func (*geminiDialect) DecodeStream(out io.Writer, model string, includeUsage bool) translate.Stream {
	return translate.NewGeminiToOpenAIChatStream(out, model, includeUsage)
}

func (*geminiDialect) ParseError(b []byte) (string, string) {
	msg, code, _ := gemini.ParseError(b)
	return msg, code
}
