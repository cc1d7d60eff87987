package translate

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/llm"
)

func TestOpenAIChatResponseToResponses(t *testing.T) {
	cases := []goldenCase{
		{name: "text"}, {name: "tool_calls"}, {name: "text_and_tool"}, {name: "length"}, {name: "content_filter"},
		{name: "refusal"}, {name: "no_usage"}, {name: "no_call_id"},
		{name: "err_no_choices", errField: "choices"},
	}
	runGolden(t, "testdata/responses_openai/response", cases, func(in []byte) ([]byte, llm.Usage, error) {
		out, usage, err := OpenAIChatResponseToResponses(in, "my-model")
		// The neutral usage is the chat body's, whatever fields llm.Usage
		// has; the golden files hold the Responses usage object.
		if want, _ := openai.UsageOf(in); err == nil && usage != want {
			t.Errorf("usage = %+v, want %+v", usage, want)
		}
		return out, llm.Usage{}, err
	})
}

// responsesEvent is any event of a Responses stream.
type responsesEvent struct {
	Type           string                 `json:"type"`
	SequenceNumber *int64                 `json:"sequence_number"`
	OutputIndex    *int                   `json:"output_index"`
	ContentIndex   *int                   `json:"content_index"`
	ItemID         string                 `json:"item_id"`
	Delta          *string                `json:"delta"`
	Text           *string                `json:"text"`
	Refusal        *string                `json:"refusal"`
	Arguments      *string                `json:"arguments"`
	Name           string                 `json:"name"`
	Item           *openai.OutputItem     `json:"item"`
	Part           *openai.OutputPart     `json:"part"`
	Response       *openai.ResponseObject `json:"response"`
}

// foldedResponse is a Responses stream folded as a client does.
type foldedResponse struct {
	types []string // event types in order
	final *openai.ResponseObject
	// text and args are the concatenated output_text and argument deltas.
	text, args string
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// idx reads an index field, -2 when absent.
func idx(p *int) int {
	if p == nil {
		return -2
	}
	return *p
}

func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// foldResponses checks the grammar of a translated Responses stream
// (names match types; sequence numbers count from 0; created and
// in_progress first; items added in output order, one open at a time;
// parts and deltas of the open item; every done event holds exactly what
// its deltas built; the terminal event last, with every item) and folds
// it.
func foldResponses(t *testing.T, out []byte) foldedResponse {
	t.Helper()
	evs := parseSSE(t, out)
	var f foldedResponse
	var items []openai.OutputItem
	open, partOpen, acc := -1, false, ""
	for i, e := range evs {
		var ev responsesEvent
		if err := json.Unmarshal([]byte(e.data), &ev); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		f.types = append(f.types, ev.Type)
		if ev.Type != e.name || ev.SequenceNumber == nil || *ev.SequenceNumber != int64(i) {
			t.Fatalf("event %d: name %q, data %s", i, e.name, e.data)
		}
		if f.final != nil {
			t.Fatalf("event %d after the terminal event: %s", i, e.data)
		}
		itemOK := func(typ string) *openai.OutputItem {
			if open < 0 || idx(ev.OutputIndex) != open || items[open].Type != typ || ev.ItemID != items[open].ID {
				t.Fatalf("event %d: %s about item %v with item %d open", i, ev.Type, ev.OutputIndex, open)
			}
			return &items[open]
		}
		partOK := func() {
			if it := itemOK("message"); !partOpen || idx(ev.ContentIndex) != len(it.Content) {
				t.Fatalf("event %d: %s without its part open", i, ev.Type)
			}
		}
		switch ev.Type {
		case openai.ResponsesEventCreated, openai.ResponsesEventInProgress:
			r := ev.Response
			if i > 1 || (i == 0) != (ev.Type == openai.ResponsesEventCreated) || r.Status != "in_progress" || len(r.Output) != 0 || r.Usage != nil {
				t.Fatalf("event %d: %s", i, e.data)
			}
		case openai.ResponsesEventItemAdded:
			it := ev.Item
			if open >= 0 || idx(ev.OutputIndex) != len(items) || it.Status != "in_progress" || len(it.Content) != 0 || it.Arguments != "" {
				t.Fatalf("event %d: %s", i, e.data)
			}
			items, open = append(items, *it), len(items)
		case openai.ResponsesEventPartAdded:
			if itemOK("message"); partOpen || idx(ev.ContentIndex) != len(items[open].Content) || ev.Part.Text != "" || ev.Part.Refusal != "" {
				t.Fatalf("event %d: %s", i, e.data)
			}
			partOpen, acc = true, "" // the part joins the item's content when done
		case openai.ResponsesEventTextDelta, openai.ResponsesEventRefusalDelta:
			partOK()
			acc += *ev.Delta
			if ev.Type == openai.ResponsesEventTextDelta {
				f.text += *ev.Delta
			}
		case openai.ResponsesEventTextDone, openai.ResponsesEventRefusalDone:
			partOK()
			if done := str(ev.Text) + str(ev.Refusal); done != acc {
				t.Fatalf("event %d: %s; deltas made %q", i, e.data, acc)
			}
		case openai.ResponsesEventPartDone:
			partOK()
			if (ev.Part.Type == "output_text" && ev.Part.Text != acc) || (ev.Part.Type == "refusal" && ev.Part.Refusal != acc) {
				t.Fatalf("event %d: %s; deltas made %q", i, e.data, acc)
			}
			items[open].Content = append(items[open].Content, *ev.Part)
			partOpen = false
		case openai.ResponsesEventArgumentsDelta:
			itemOK("function_call").Arguments += *ev.Delta
			f.args += *ev.Delta
		case openai.ResponsesEventArgumentsDone:
			if it := itemOK("function_call"); str(ev.Arguments) != it.Arguments || ev.Name != it.Name {
				t.Fatalf("event %d: %s; deltas made %q", i, e.data, it.Arguments)
			}
		case openai.ResponsesEventItemDone:
			it := &items[open]
			if partOpen || idx(ev.OutputIndex) != open || (ev.Item.Status != "completed" && ev.Item.Status != "incomplete") {
				t.Fatalf("event %d: %s", i, e.data)
			}
			it.Status = ev.Item.Status
			if jsonOf(t, ev.Item) != jsonOf(t, it) {
				t.Fatalf("event %d: item done as %s; its events made %s", i, jsonOf(t, ev.Item), jsonOf(t, it))
			}
			open = -1
		case openai.ResponsesEventCompleted, openai.ResponsesEventIncomplete:
			r := ev.Response
			if open >= 0 || r.Status != strings.TrimPrefix(ev.Type, "response.") || jsonOf(t, r.Output) != jsonOf(t, items) {
				t.Fatalf("event %d: %s; the events made %s", i, e.data, jsonOf(t, items))
			}
			f.final = r
		default:
			t.Fatalf("event %d: unexpected %s", i, e.data)
		}
	}
	if f.final == nil {
		t.Fatalf("no terminal event:\n%s", out)
	}
	return f
}

// sameResponse compares the folded stream with the non-stream translation
// of the same answer; arguments compare as JSON, as the chunks of a
// stream need not be spaced like the message of its body.
func sameResponse(t *testing.T, got, want *openai.ResponseObject) {
	t.Helper()
	g, w := *got, *want
	g.Output, w.Output = append([]openai.OutputItem(nil), g.Output...), append([]openai.OutputItem(nil), w.Output...)
	if len(g.Output) == len(w.Output) {
		for i := range g.Output {
			if a, b := g.Output[i].Arguments, w.Output[i].Arguments; a != b && jsonEqual(t, []byte(a), []byte(b)) {
				g.Output[i].Arguments = b
			}
		}
	}
	if jsonOf(t, g) != jsonOf(t, w) {
		t.Errorf("stream folds to\n%s\nnon-stream translation is\n%s", jsonOf(t, g), jsonOf(t, w))
	}
}
