package clientmsg

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// recording is a golden file of testdata/: one request a real client sent
// (written by test/e2e's TestRecordClients with MEMPROXY_RECORD=1).
type recording struct {
	Client  string            `json:"client"`
	Name    string            `json:"name"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
	Expect  struct {
		Side    string   `json:"side"`
		Said    string   `json:"said"`
		Prompts []string `json:"prompts"`
	} `json:"expect"`
}

func loadRecordings(t *testing.T) []recording {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []recording
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r recording
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, r)
	}
	return out
}

// TestRecordedFixtures holds the rules to what the real clients sent: each
// recorded request is classified as recorded, its last turn says exactly
// the prompt the recorder typed, and no user text block of it cleans to
// anything but nothing or a prompt of the session.
func TestRecordedFixtures(t *testing.T) {
	recs := loadRecordings(t)
	kinds := map[string]int{}
	for _, rec := range recs {
		t.Run(rec.Client+"/"+rec.Name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range rec.Headers {
				h.Set(k, v)
			}
			req, err := Parse(rec.Client, rec.Path, h, rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			reason, side := Side(req)
			if reason != rec.Expect.Side || side != (rec.Expect.Side != "") {
				t.Fatalf("Side = %q, %v; want %q", reason, side, rec.Expect.Side)
			}
			if side {
				kinds[rec.Client+" side "+reason]++
				return
			}
			kinds[rec.Client+" conversation"]++
			if got := Said(req); got != rec.Expect.Said {
				t.Errorf("Said = %q, want %q", got, rec.Expect.Said)
			}
			wrapped := 0
			for _, m := range req.Messages {
				if m.Role != "user" || m.ToolResult {
					continue
				}
				c := Clean(rec.Client, m.Text)
				if c != "" && !slices.Contains(rec.Expect.Prompts, c) {
					t.Errorf("a user block cleans to %.300q, neither empty nor a prompt given", c)
				}
				if c != m.Text {
					wrapped++
				}
			}
			if wrapped == 0 {
				t.Error("no user block carried a wrapper: the recording no longer shows what Clean is for")
			}
		})
	}
	// What the recordings must cover for the rules to be tested at all.
	for _, k := range []string{"claude-code conversation", "claude-code side compaction", "claude-code side title", "codex conversation", "codex side compaction"} {
		if kinds[k] == 0 {
			t.Errorf("no recording of %s in testdata (re-record with MEMPROXY_RECORD=1, see testdata/README.md)", k)
		}
	}
}

// TestRecordingsMatchClientVersions fails when test/e2e/clients/package.json
// bumps Claude Code or Codex and the recordings were not made again.
func TestRecordingsMatchClientVersions(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "test", "e2e", "clients", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct{ Dependencies map[string]string }
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	uaPrefix := map[string]string{
		"claude-code": "claude-cli/" + pkg.Dependencies["@anthropic-ai/claude-code"] + " ",
		"codex":       "codex_exec/" + pkg.Dependencies["@openai/codex"] + " ",
	}
	for _, rec := range loadRecordings(t) {
		if ua := rec.Headers["user-agent"]; !strings.HasPrefix(ua, uaPrefix[rec.Client]) {
			t.Errorf("%s/%s was recorded from %q, package.json installs %q: re-record (testdata/README.md)",
				rec.Client, rec.Name, ua, strings.TrimSpace(uaPrefix[rec.Client]))
		}
	}
}
