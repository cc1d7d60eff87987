package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/llm"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// created is the fixed "created" of every OpenAI object in the tests.
const created = 1700000000

func TestMain(m *testing.M) {
	now = func() time.Time { return time.Unix(created, 0) }
	os.Exit(m.Run())
}

// goldenCase is one input file, dir/<name>.json, and its golden output,
// dir/<name>.golden: the indented translation, or the error for a case
// with errField set (which must be an *Error of that Field).
type goldenCase struct {
	name     string
	errField string
	usage    llm.Usage // responses only
}

// runGolden runs fn over each case's input and compares with its golden file.
func runGolden(t *testing.T, dir string, cases []goldenCase, fn func([]byte) ([]byte, llm.Usage, error)) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join(dir, tc.name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			out, usage, err := fn(in)
			var got []byte
			if tc.errField != "" {
				te, ok := errors.AsType[*Error](err)
				if !ok {
					t.Fatalf("err = %v (output %s), want *Error for %s", err, out, tc.errField)
				}
				if te.Field != tc.errField {
					t.Errorf("Error.Field = %q, want %q (%v)", te.Field, tc.errField, err)
				}
				got = []byte(err.Error() + "\n")
			} else {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if usage != tc.usage {
					t.Errorf("usage = %+v, want %+v", usage, tc.usage)
				}
				got = indent(t, out)
			}
			checkGolden(t, filepath.Join(dir, tc.name+".golden"), got)
		})
	}
}

func indent(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, b)
	}
	return append(buf.Bytes(), '\n')
}

func checkGolden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update to accept)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// decode unmarshals b into a generic value for comparisons that ignore
// field order.
func decode(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return v
}

func jsonEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	return reflect.DeepEqual(decode(t, a), decode(t, b))
}

// sseEvent is one event a Stream wrote.
type sseEvent struct {
	name, data string
}

// parseSSE splits a translated stream into events, failing on anything a
// client would not parse (a line that is not event:/data:, a missing blank
// line at the end).
func parseSSE(t testing.TB, b []byte) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if line[len(line)-1] != '\n' {
			t.Fatalf("stream does not end with a newline: %q", line)
		}
		l := string(line[:len(line)-1])
		switch {
		case l == "":
			if cur.data == "" {
				t.Fatalf("blank line without data in %q", b)
			}
			out = append(out, cur)
			cur = sseEvent{}
		case len(l) > 7 && l[:7] == "event: ":
			cur.name = l[7:]
		case len(l) > 6 && l[:6] == "data: ":
			if cur.data != "" {
				t.Fatalf("two data lines in one event: %q", l)
			}
			cur.data = l[6:]
		default:
			t.Fatalf("unexpected line %q", l)
		}
	}
	if cur != (sseEvent{}) {
		t.Fatalf("stream ends inside an event: %+v", cur)
	}
	return out
}

// feed writes b to s in slices of the sizes size returns, then closes it.
func feed(t testing.TB, s Stream, b []byte, size func() int) error {
	t.Helper()
	for len(b) > 0 {
		n := min(size(), len(b))
		if _, err := s.Write(b[:n]); err != nil {
			break
		}
		b = b[n:]
	}
	return s.Close()
}
