package registry

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const validFile = `{
  "version": 1,
  "entries": [
    {
      "project": "a",
      "port": 20000,
      "pid": 0,
      "pinned": false,
      "created_at": "2026-01-02T03:04:06Z",
      "last_used": "2026-01-02T03:04:06Z"
    },
    {
      "project": "b",
      "port": 25000,
      "pid": 4242,
      "pinned": true,
      "created_at": "2026-01-02T03:04:07Z",
      "last_used": "2026-01-02T03:04:08Z"
    }
  ]
}
`

// TestFileFormat pins the on-disk format: what we write is byte for byte
// the golden document, and reading it back gives the same entries.
func TestFileFormat(t *testing.T) {
	dir := t.TempDir()
	r := openTest(t, dir, Options{PortMin: 20000, PortMax: 20009, PortFree: allFree})
	mustAllocate(t, r, "a", AllocateRequest{})
	mustAllocate(t, r, "b", AllocateRequest{Port: 25000, PID: 4242})
	mustAllocate(t, r, "b", AllocateRequest{PID: 4242})
	data, err := os.ReadFile(filepath.Join(dir, fileName))
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != validFile {
		t.Fatalf("registry.json =\n%s\nwant\n%s", data, validFile)
	}

	list, err := openTest(t, dir, Options{}).List()
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Project: "a", Port: 20000, CreatedAt: at(6), LastUsed: at(6)},
		{Project: "b", Port: 25000, PID: 4242, Pinned: true, CreatedAt: at(7), LastUsed: at(8)},
	}
	if len(list) != len(want) {
		t.Fatalf("List = %+v, want %+v", list, want)
	}
	for i := range want {
		if list[i] != want[i] {
			t.Errorf("List[%d] = %+v, want %+v", i, list[i], want[i])
		}
	}
	if backups, _ := filepath.Glob(filepath.Join(dir, fileName+".corrupt-*")); len(backups) != 0 {
		t.Errorf("valid file was set aside: %v", backups)
	}
}

func at(sec int) time.Time { return time.Date(2026, 1, 2, 3, 4, sec, 0, time.UTC) }

func TestCorruptFileSetAside(t *testing.T) {
	entry := func(project string, port int) string {
		return `{"project":"` + project + `","port":` + strconv.Itoa(port) + `,"pid":0,"pinned":false,` +
			`"created_at":"2026-01-02T03:04:05Z","last_used":"2026-01-02T03:04:05Z"}`
	}
	doc := func(version int, entries ...string) string {
		return `{"version":` + strconv.Itoa(version) + `,"entries":[` + strings.Join(entries, ",") + `]}`
	}
	cases := map[string]string{
		"garbage":           "this is not json\x00\xff",
		"empty":             "",
		"truncated":         validFile[:len(validFile)/2],
		"trailing data":     doc(1, entry("a", 20000)) + "}",
		"two documents":     doc(1) + doc(1),
		"no version":        `{"entries":[]}`,
		"wrong version":     doc(2, entry("a", 20000)),
		"null":              "null",
		"array":             "[]",
		"duplicate ports":   doc(1, entry("a", 20000), entry("b", 20000)),
		"duplicate project": doc(1, entry("a", 20000), entry("a", 20001)),
		"port zero":         doc(1, entry("a", 0)),
		"port too high":     doc(1, entry("a", 65536)),
		"bad project":       doc(1, entry("a/b", 20000)),
		"negative pid":      strings.Replace(doc(1, entry("a", 20000)), `"pid":0`, `"pid":-5`, 1),
		"bad time":          strings.Replace(doc(1, entry("a", 20000)), `2026-01-02T03:04:05Z`, `yesterday`, 1),
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, fileName)
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			r := openTest(t, dir, Options{PortMin: 20000, PortMax: 20009, PortFree: allFree,
				Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			list, err := r.List()
			if err != nil || len(list) != 0 {
				t.Fatalf("List = %v, %v; want empty, nil", list, err)
			}

			backups, _ := filepath.Glob(path + ".corrupt-*")
			if len(backups) != 1 {
				t.Fatalf("backups = %v, want exactly one", backups)
			}
			if got, _ := os.ReadFile(backups[0]); string(got) != content {
				t.Errorf("backup holds %q, want the original %q", got, content)
			}
			if !warned(t, logs.Bytes(), backups[0]) {
				t.Errorf("no WARN log naming %s; logs:\n%s", backups[0], &logs)
			}

			// The registry works again and writes a valid file.
			wantPort(t, mustAllocate(t, r, "x", AllocateRequest{}), "x", 20000)
			data, _ := os.ReadFile(path)
			if _, err := parse(data); err != nil {
				t.Errorf("file after recovery does not parse: %v\n%s", err, data)
			}
			if again, _ := filepath.Glob(path + ".corrupt-*"); len(again) != 1 {
				t.Errorf("backups after recovery = %v, want still one", again)
			}
		})
	}
}

// warned reports whether the JSON log lines contain a WARN record whose
// moved_to attribute is backup.
func warned(t *testing.T, logs []byte, backup string) bool {
	t.Helper()
	for _, line := range bytes.Split(bytes.TrimSpace(logs), []byte("\n")) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["level"] == "WARN" && rec["moved_to"] == backup {
			return true
		}
	}
	return false
}

func TestUnreadableFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	// A directory where the file should be: reading fails with an I/O
	// error, which must be reported, not treated as corruption.
	if err := os.Mkdir(filepath.Join(dir, fileName), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("Open succeeded with registry.json a directory")
	}
	if backups, _ := filepath.Glob(filepath.Join(dir, fileName+".corrupt-*")); len(backups) != 0 {
		t.Errorf("directory was set aside as corrupt: %v", backups)
	}
}
