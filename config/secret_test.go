package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// sprintAll formats v with every fmt verb a log line might use.
func sprintAll(v any) string {
	return fmt.Sprintf("%v|%+v|%#v|%s|%q", v, v, v, v, v)
}

func TestSecretNeverPrints(t *testing.T) {
	type holder struct {
		Key   Secret
		Other string
	}
	s := Secret("sk-live-123")
	h := holder{Key: s, Other: "visible"}

	var logBuf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logBuf, nil))
	log.Info("x", "key", s, "holder", h)
	text := slog.New(slog.NewTextHandler(&logBuf, nil))
	text.Info("x", "key", s, "holder", h)

	js, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	ym, err := yaml.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Join([]string{sprintAll(s), sprintAll(h), sprintAll(&h), logBuf.String(), string(js), string(ym)}, "\n")
	if strings.Contains(out, "sk-live-123") {
		t.Fatalf("secret leaked:\n%s", out)
	}
	for _, want := range []string{`"Key":"[redacted]"`, `"key":"[redacted]"`, "key: '[redacted]'", "visible"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	if s.Reveal() != "sk-live-123" {
		t.Errorf("Reveal = %q", s.Reveal())
	}
}

func TestEmptySecret(t *testing.T) {
	var s Secret
	js, _ := json.Marshal(s)
	if s.String() != "" || s.GoString() != "" || s.LogValue().String() != "" || string(js) != `""` || s.Reveal() != "" {
		t.Errorf("empty secret shows %q %q %q %s", s.String(), s.GoString(), s.LogValue(), js)
	}
}
