package extract

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func chat(text string) []byte {
	b, _ := json.Marshal(map[string]any{"choices": []any{map[string]any{
		"message": map[string]any{"role": "assistant", "content": text}, "finish_reason": "stop"}}})
	return b
}

func TestParseFacts(t *testing.T) {
	const one = `{"facts": [{"fact": "Staging listens on port 6543.", "keys": ["staging port"]}]}`
	for name, text := range map[string]string{
		"bare":          one,
		"spaces":        "\n  " + one + "\n",
		"fenced":        "```json\n" + one + "\n```",
		"fenced no tag": "```\n" + one + "```",
		"prose + fence": "Here you are:\n```json\n" + one + "\n```\nAnything else?",
		"extra fields":  `{"facts": [{"fact": "Staging listens on port 6543.", "keys": ["staging port"], "why": "stated"}], "note": 1}`,
	} {
		out, err := parseFacts(chat(text), 10)
		if err != nil || len(out.facts) != 1 || out.facts[0].Fact != "Staging listens on port 6543." || !slices.Equal(out.facts[0].Keys, []string{"staging port"}) {
			t.Errorf("%s: %+v, %v; want the one fact", name, out, err)
		}
	}
}

func TestParseFactsCleans(t *testing.T) {
	text := `{"facts": [
		{"fact": "  Staging   listens\non port 6543. ", "keys": ["staging port", "Staging Port", "", "staging listens on port 6543.", "a\u0000b", "` + strings.Repeat("k", MaxKeyBytes+1) + `", "k1", "k2", "k3", "k4", "k5"]},
		{"fact": "staging listens on port 6543."},
		{"fact": "   "},
		{"fact": "Bob owns billing.", "keys": null},
		{"fact": "Alice owns search."},
		{"fact": "Carol owns auth."}
	]}`
	out, err := parseFacts(chat(text), 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range out.facts {
		got = append(got, f.Fact)
	}
	if want := []string{"Staging listens on port 6543.", "Bob owns billing.", "Alice owns search."}; !slices.Equal(got, want) || out.dropped != 1 {
		t.Errorf("facts %q, dropped %d; want %q (normalised, deduplicated, blank skipped), 1 dropped", got, out.dropped, want)
	}
	if want := []string{"staging port", "k1", "k2", "k3", "k4"}; !slices.Equal(out.facts[0].Keys, want) {
		t.Errorf("keys %q; want %q (deduplicated, bad ones dropped, at most %d)", out.facts[0].Keys, want, MaxKeys)
	}
}

func TestParseMalformed(t *testing.T) {
	for name, body := range map[string][]byte{
		"not JSON":       []byte("upstream said no"),
		"no choices":     []byte(`{"choices": []}`),
		"refusal":        []byte(`{"choices": [{"message": {"content": null, "refusal": "no"}}]}`),
		"cut at length":  []byte(`{"choices": [{"message": {"content": "{\"facts\": []}"}, "finish_reason": "length"}]}`),
		"keys as string": chat(`{"facts": [{"fact": "x", "keys": "a, b"}]}`),
		"facts null":     chat(`{"facts": null}`),
		"array":          chat(`[{"fact": "x"}]`),
		"NUL in fact":    chat(`{"facts": [{"fact": "a\u0000b"}]}`),
	} {
		if _, err := parseFacts(body, 10); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v; want ErrMalformed", name, err)
		}
	}
}

func TestParseDecisions(t *testing.T) {
	ds, err := parseDecisions(chat(`{"decisions": [
		{"fact": 1, "action": " Update ", "id": " mem_A "},
		{"fact": 1, "action": "delete", "id": "mem_B"},
		{"fact": 7, "action": "none", "id": "mem_C"},
		{"action": "none", "id": "mem_D"},
		{"fact": 2, "action": "none", "id": "mem_E"}
	]}`), 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []decision{{Action: Add}, {Action: Update, ID: "mem_A"}, {Action: None, ID: "mem_E"}, {Action: Add}}
	for i := range want {
		if ds[i].Action != want[i].Action || ds[i].ID != want[i].ID {
			t.Errorf("decision %d: %+v; want %+v", i, ds[i], want[i])
		}
	}
}

func TestKeysText(t *testing.T) {
	if got := keysText([]string{"a b", "c"}); got != "a b\nc" {
		t.Errorf("keysText = %q", got)
	}
	long := slices.Repeat([]string{strings.Repeat("k", 1000)}, 5)
	if got := keysText(long); len(got) != 4*1000+3 {
		t.Errorf("keysText of 5 keys of 1000 bytes is %d bytes; want 4 whole keys within 4 KiB", len(got))
	}
}
