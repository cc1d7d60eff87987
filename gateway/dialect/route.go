package dialect

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/memproxy/memproxy/gateway/jsonscan"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/translate"
)

// Route is how one exchange crosses dialects: the client's, and the wire
// dialect of the deployment an attempt calls.
type Route struct {
	Client Client
	Wire   Wire
}

// Passthrough reports whether client and wire speak the same dialect, so
// the bytes pass untouched but for the model name.
func (rt Route) Passthrough() bool { return rt.Client.Name() == rt.Wire.Name() }

// Request turns the client's body into the wire dialect for
// upstreamModel. hideUsage reports that the gateway asked an OpenAI
// stream for its usage chunk on its own account (the sink hides it).
func (rt Route) Request(body []byte, model, upstreamModel string, stream bool) (out []byte, hideUsage bool, e *Error) {
	if rt.Passthrough() {
		out = body
		if model != upstreamModel {
			out = SetModel(body, upstreamModel)
		}
		if rt.Client == openAIChat && stream {
			out, hideUsage = EnsureIncludeUsage(out)
		}
		return out, hideUsage, nil
	}
	if rt.Wire == responsesAPI {
		if _, err := rt.Client.ToHub(body, upstreamModel); err != nil {
			return nil, false, Untranslatable(err)
		}
		return nil, false, invalid("unsupported_dialect",
			fmt.Sprintf("model %s is served in the %s dialect, which the %s API cannot reach", model, rt.Wire.Name(), rt.Client.Name()))
	}
	// client → hub → wire in one translate.Chain, so that a request
	// crossing the hub twice still costs one copy of its large strings.
	var steps []translate.Step
	if c, ok := rt.Client.(hubStepper); ok {
		steps = append(steps, c.hubStep(upstreamModel))
	}
	w, encodes := rt.Wire.(wireStepper)
	if encodes {
		steps = append(steps, w.wireStep(upstreamModel))
	}
	out, err := translate.Chain(body, steps...)
	if err == nil && !encodes {
		out, err = rt.Wire.Encode(out, upstreamModel)
	}
	if err != nil {
		return nil, false, Untranslatable(err)
	}
	return out, false, nil
}

// hubStepper is a client dialect whose ToHub is a translation, given as a
// step of translate.Chain.
type hubStepper interface {
	hubStep(upstreamModel string) translate.Step
}

// wireStepper is a wire dialect whose Encode is a translation.
type wireStepper interface {
	wireStep(upstreamModel string) translate.Step
}

var (
	_ hubStepper  = (*anthropicDialect)(nil)
	_ hubStepper  = (*responsesDialect)(nil)
	_ wireStepper = (*anthropicDialect)(nil)
	_ wireStepper = (*geminiDialect)(nil)
)

// Untranslatable is the error of a request one dialect cannot say in
// another.
func Untranslatable(err error) *Error {
	return NewError(http.StatusBadRequest, llm.ErrInvalidRequest, "untranslatable_request", err.Error())
}

// Response turns a non-streaming answer into the client's dialect and
// reads its usage.
func (rt Route) Response(b []byte, model string) ([]byte, llm.Usage, error) {
	if rt.Passthrough() {
		return b, rt.Client.Usage(b), nil
	}
	hub, u, err := rt.Wire.Decode(b, model)
	if err != nil {
		return nil, u, err
	}
	out, err := rt.Client.FromHub(hub, model)
	return out, u, err
}

// Sink picks how the exchange's stream reaches the client: passed
// through, or translated wire → hub → client, one event at a time.
// clientUsage: an OpenAI client asked for the usage chunk itself.
func (rt Route) Sink(out io.Writer, model string, hideUsage, clientUsage bool) Sink {
	if rt.Passthrough() {
		return rt.Client.Pass(out, hideUsage)
	}
	return HubSink(rt.Client, rt.Wire, out, model, clientUsage)
}

// HubSink translates a wire stream through the hub into the client's
// dialect: wire → hub (nil when the wire is the hub), hub → client (nil
// when the client is).
func HubSink(c Client, w Wire, out io.Writer, model string, clientUsage bool) Sink {
	clientSide := c.HubStream(out, model)
	hubOut := out
	if clientSide != nil {
		hubOut = clientSide
	}
	wireSide := w.DecodeStream(hubOut, model, clientSide != nil || clientUsage)
	switch {
	case wireSide == nil && clientSide == nil:
		return c.Pass(out, false) // hub to hub
	case wireSide == nil:
		return translated{clientSide}
	case clientSide == nil:
		return translated{wireSide}
	}
	return chained{outer: wireSide, inner: clientSide}
}

// SetModel returns a copy of body with the value of its top-level "model"
// replaced by model; the rest of the body is kept byte for byte.
func SetModel(body []byte, model string) []byte {
	s, e, ok := jsonscan.TopLevel(body, "model")
	if !ok {
		return body
	}
	if cur, isString := jsonscan.String(body[s:e]); isString && cur == model {
		return body // already so (a translated body names its upstream model): no copy of a large body
	}
	out := make([]byte, 0, len(body)-(e-s)+len(model)+2)
	out = append(out, body[:s]...)
	out = appendJSONString(out, model)
	return append(out, body[e:]...)
}

// appendJSONString appends s quoted as a JSON string: plain printable
// ASCII as it is (a model name, nearly always), anything else through
// encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // marshalling a string cannot fail
			return append(dst, q...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// includesUsage reports whether an OpenAI body asks for the usage chunk
// (stream_options.include_usage: true).
func includesUsage(body []byte) bool {
	s, e, ok := jsonscan.TopLevel(body, "stream_options")
	if !ok {
		return false
	}
	var so struct {
		IncludeUsage bool `json:"include_usage"`
	}
	return json.Unmarshal(body[s:e], &so) == nil && so.IncludeUsage
}

// EnsureIncludeUsage returns an OpenAI body asking for the usage chunk of
// a stream, so that every stream's tokens are accounted for, and whether
// it had to add the request (then the extra chunk is hidden from the
// client).
func EnsureIncludeUsage(body []byte) ([]byte, bool) {
	if includesUsage(body) {
		return body, false
	}
	so := map[string]any{}
	s, e, ok := jsonscan.TopLevel(body, "stream_options")
	if ok {
		_ = json.Unmarshal(body[s:e], &so) // null or not an object: replaced
	}
	so["include_usage"] = true
	v, _ := json.Marshal(so)
	if ok {
		return splice(body, s, e, v), true
	}
	i := firstNonSpace(body) + 1 // after the object's '{' (Peek checked it)
	ins := append(append([]byte(`"stream_options":`), v...), ',')
	if j := firstNonSpace(body[i:]); j >= 0 && body[i+j] == '}' {
		ins = ins[:len(ins)-1] // empty object: no comma
	}
	return splice(body, i, i, ins), true
}

func splice(b []byte, s, e int, v []byte) []byte {
	out := make([]byte, 0, len(b)-(e-s)+len(v))
	out = append(out, b[:s]...)
	out = append(out, v...)
	return append(out, b[e:]...)
}

// translated adapts a translate.Stream, which writes its own error event.
type translated struct{ translate.Stream }

func (t translated) Finish(*Error) (llm.Usage, bool) {
	err := t.Close()
	return t.Usage(), err == nil
}

// chained runs two translations in a row (upstream → hub → client); the
// outer one writes into the inner one.
type chained struct {
	outer, inner translate.Stream
}

func (c chained) Write(p []byte) (int, error) { return c.outer.Write(p) }
func (c chained) Usage() llm.Usage            { return c.outer.Usage() }

func (c chained) Finish(*Error) (llm.Usage, bool) {
	errOuter := c.outer.Close() // flushes (or writes its error event) into inner
	errInner := c.inner.Close()
	return c.outer.Usage(), errOuter == nil && errInner == nil
}
