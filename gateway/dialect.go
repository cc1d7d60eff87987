package gateway

import (
	"bytes"
	"io"
	"net/http"

	"github.com/memproxy/memproxy/gateway/api/anthropic"
	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/api/sse"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/provider"
	"github.com/memproxy/memproxy/gateway/translate"
)

// The API dialects clients speak and deployments serve.
const (
	dialectOpenAI    = provider.DialectOpenAI
	dialectAnthropic = provider.DialectAnthropic
	dialectGemini    = provider.DialectGemini
	// dialectResponses is OpenAI's Responses API (Codex): a client
	// dialect, and a wire dialect of deployments that serve it natively.
	dialectResponses = "responses"
)

// streamSink receives an upstream stream's bytes and writes what the
// client must see. finish is called at the upstream's end: it reports the
// usage and whether the stream was complete; an incomplete stream gets an
// error event in the client's dialect (written by finish), never a
// made-up normal ending.
type streamSink interface {
	io.Writer
	finish(msg string) (llm.Usage, bool)
}

// flushWriter flushes after every write, so each event leaves at once.
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}

// openAIPass forwards an OpenAI stream unchanged, except the usage chunk
// the gateway asked for on the client's behalf (hideUsage), and reads
// usage from a copy.
type openAIPass struct {
	out       io.Writer
	obs       openai.StreamObserver
	hideUsage bool
	events    eventSplitter
}

func (p *openAIPass) Write(b []byte) (int, error) {
	_, _ = p.obs.Write(b)
	if !p.hideUsage {
		return p.out.Write(b)
	}
	return p.events.write(b, func(ev []byte) error {
		if isUsageOnlyChunk(ev) {
			return nil
		}
		_, err := p.out.Write(ev)
		return err
	})
}

func (p *openAIPass) finish(msg string) (llm.Usage, bool) {
	if !p.obs.SawDone {
		_, _ = p.out.Write(openai.MarshalStreamError("api_error", "stream_cut", msg))
	}
	return p.obs.Usage, p.obs.SawDone
}

// isUsageOnlyChunk reports the final chunk of include_usage: empty choices
// and a usage object.
func isUsageOnlyChunk(ev []byte) bool {
	return bytes.Contains(ev, []byte(`"choices":[]`)) && bytes.Contains(ev, []byte(`"usage":{`))
}

// anthropicPass forwards an Anthropic stream unchanged and reads usage
// from a copy.
type anthropicPass struct {
	out io.Writer
	obs anthropic.StreamObserver
}

func (p *anthropicPass) Write(b []byte) (int, error) {
	_, _ = p.obs.Write(b)
	return p.out.Write(b)
}

func (p *anthropicPass) finish(msg string) (llm.Usage, bool) {
	if !p.obs.SawStop {
		_, _ = p.out.Write(anthropic.MarshalStreamError("api_error", msg))
	}
	return p.obs.Usage(), p.obs.SawStop
}

// translated adapts a translate.Stream, which writes its own error event.
type translated struct{ translate.Stream }

func (t translated) finish(string) (llm.Usage, bool) {
	err := t.Close()
	return t.Usage(), err == nil
}

// chained runs two translations in a row (upstream → hub → client); the
// outer one writes into the inner one.
type chained struct {
	outer, inner translate.Stream
}

func (c chained) Write(p []byte) (int, error) { return c.outer.Write(p) }

func (c chained) finish(string) (llm.Usage, bool) {
	errOuter := c.outer.Close() // flushes (or writes its error event) into inner
	errInner := c.inner.Close()
	return c.outer.Usage(), errOuter == nil && errInner == nil
}

// eventSplitter regroups stream bytes into whole events (ending in a blank
// line), for sinks that must decide per event.
type eventSplitter struct {
	lines sse.Lines
	ev    []byte
	emit  func([]byte) error
	err   error
}

func (e *eventSplitter) write(b []byte, emit func([]byte) error) (int, error) {
	e.emit = emit
	if e.lines.OnLine == nil {
		e.lines.OnLine = func(line []byte) {
			e.ev = append(append(e.ev, line...), '\n')
			if len(line) == 0 {
				if e.err == nil {
					e.err = e.emit(e.ev)
				}
				e.ev = e.ev[:0]
			}
		}
	}
	_, _ = e.lines.Write(b)
	return len(b), e.err
}
