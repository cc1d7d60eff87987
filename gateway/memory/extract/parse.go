package extract

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/memproxy/memproxy/gateway/memory"
)

// fact is one fact of the first answer, checked.
type fact struct {
	Fact string   `json:"fact"`
	Keys []string `json:"keys"`
}

// decision is one decision of the second answer, checked.
type decision struct {
	Fact   *int   `json:"fact"`
	Action Action `json:"action"`
	ID     string `json:"id"`
}

type factsOut struct {
	facts   []fact
	dropped int // beyond the cap
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// messageText is the assistant text of a chat completion body.
func messageText(answer []byte) (string, error) {
	var c struct {
		Choices []struct {
			Message struct {
				Content *string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(answer, &c); err != nil {
		return "", malformed("the answer is not a chat completion: %v", err)
	}
	switch {
	case len(c.Choices) == 0:
		return "", malformed("the answer has no choices")
	case c.Choices[0].FinishReason == "length":
		return "", malformed("the answer was cut at its token limit")
	case c.Choices[0].Message.Content == nil:
		return "", malformed("the answer has no text (a refusal or a tool call)")
	}
	return *c.Choices[0].Message.Content, nil
}

// unfence returns the JSON of a model's text: the text itself, or the
// inside of its first Markdown code fence (```json … ```), which models
// without a JSON mode often add.
func unfence(text string) string {
	text = strings.TrimSpace(text)
	_, after, ok := strings.Cut(text, "```")
	if !ok {
		return text
	}
	if _, body, ok := strings.Cut(after, "\n"); ok {
		after = body // drop the language tag's line
	}
	inside, _, _ := strings.Cut(after, "```")
	return strings.TrimSpace(inside)
}

// decodeObject decodes the model's text, a single JSON object, into v.
func decodeObject(answer []byte, v any) error {
	text, err := messageText(answer)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(unfence(text)))
	if err := dec.Decode(v); err != nil {
		return malformed("%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return malformed("text after the JSON object")
	}
	return nil
}

// parseFacts checks the first answer: {"facts": [{"fact", "keys"}]}.
// Facts are normalised (memory.Normalize) and deduplicated, blank ones
// skipped; a fact a memory could not hold (memory.ValidateContent) makes
// the answer malformed. At most max are kept, the rest counted as dropped.
// Keys are normalised, deduplicated, and kept when non-blank, text, at most
// MaxKeyBytes and not the fact itself; at most MaxKeys per fact.
func parseFacts(answer []byte, max int) (factsOut, error) {
	var v struct {
		Facts *[]fact `json:"facts"`
	}
	if err := decodeObject(answer, &v); err != nil {
		return factsOut{}, err
	}
	if v.Facts == nil {
		return factsOut{}, malformed(`no "facts" list`)
	}
	var out factsOut
	seen := make(map[string]bool)
	for _, f := range *v.Facts {
		text := memory.Normalize(f.Fact)
		if text == "" || seen[strings.ToLower(text)] {
			continue
		}
		if err := memory.ValidateContent(text); err != nil {
			return factsOut{}, malformed("a fact cannot be stored: %v", err)
		}
		seen[strings.ToLower(text)] = true
		if len(out.facts) == max {
			out.dropped++
			continue
		}
		out.facts = append(out.facts, fact{Fact: text, Keys: cleanKeys(text, f.Keys)})
	}
	return out, nil
}

func cleanKeys(text string, keys []string) []string {
	var out []string
	seen := map[string]bool{strings.ToLower(text): true}
	for _, k := range keys {
		k = memory.Normalize(k)
		lk := strings.ToLower(k)
		if k == "" || len(k) > MaxKeyBytes || strings.ContainsRune(k, 0) || seen[lk] {
			continue
		}
		seen[lk] = true
		if out = append(out, k); len(out) == MaxKeys {
			break
		}
	}
	return out
}

// parseDecisions checks the second answer: {"decisions": [{"fact", "action",
// "id"}]} for facts 0..n-1. A decision for a fact out of range is ignored,
// a second one for a fact too; a fact without a decision is added (nothing
// is lost). An action outside the four makes the answer malformed. Whether
// an id is a candidate is checked by the caller.
func parseDecisions(answer []byte, n int) ([]decision, error) {
	var v struct {
		Decisions *[]decision `json:"decisions"`
	}
	if err := decodeObject(answer, &v); err != nil {
		return nil, err
	}
	if v.Decisions == nil {
		return nil, malformed(`no "decisions" list`)
	}
	out := make([]decision, n)
	set := make([]bool, n)
	for _, d := range *v.Decisions {
		d.Action = Action(strings.ToLower(strings.TrimSpace(string(d.Action))))
		switch d.Action {
		case Add, Update, Delete, None:
		default:
			return nil, malformed("unknown action %q", d.Action)
		}
		if d.Fact == nil || *d.Fact < 0 || *d.Fact >= n || set[*d.Fact] {
			continue
		}
		set[*d.Fact] = true
		d.ID = strings.TrimSpace(d.ID)
		out[*d.Fact] = d
	}
	for i := range out {
		if !set[i] {
			out[i] = decision{Action: Add}
		}
	}
	return out, nil
}
