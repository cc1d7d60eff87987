package main

import (
	"strings"
	"testing"
)

// stream is `go test -json` output as Go 1.26 writes it: one package with
// a pass, a skip, a failure and a skipped subtest, one with a build error.
const stream = `{"Action":"start","Package":"m/a"}
{"Action":"run","Package":"m/a","Test":"TestOK"}
{"Action":"output","Package":"m/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"m/a","Test":"TestOK","Output":"--- PASS: TestOK (0.00s)\n"}
{"Action":"pass","Package":"m/a","Test":"TestOK"}
{"Action":"run","Package":"m/a","Test":"TestPG"}
{"Action":"output","Package":"m/a","Test":"TestPG","Output":"=== RUN   TestPG\n"}
{"Action":"output","Package":"m/a","Test":"TestPG","Output":"    services.go:75: PostgreSQL: nothing on 127.0.0.1:5432 — set MEMPROXY_TEST_POSTGRES_URL\n"}
{"Action":"output","Package":"m/a","Test":"TestPG","Output":"--- SKIP: TestPG (0.00s)\n"}
{"Action":"skip","Package":"m/a","Test":"TestPG"}
{"Action":"run","Package":"m/a","Test":"TestBad"}
{"Action":"output","Package":"m/a","Test":"TestBad","Output":"=== RUN   TestBad\n"}
{"Action":"output","Package":"m/a","Test":"TestBad","Output":"    a_test.go:9: want 2, got 3\n"}
{"Action":"output","Package":"m/a","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}
{"Action":"fail","Package":"m/a","Test":"TestBad"}
{"Action":"run","Package":"m/a","Test":"TestT/sub"}
{"Action":"output","Package":"m/a","Test":"TestT/sub","Output":"redis: 2026/12/06 pool.go:770: failed to dial\n"}
{"Action":"output","Package":"m/a","Test":"TestT/sub","Output":"    b_test.go:3: PostgreSQL: nothing on 127.0.0.1:5432 — set MEMPROXY_TEST_POSTGRES_URL\n"}
{"Action":"skip","Package":"m/a","Test":"TestT/sub"}
{"Action":"output","Package":"m/a","Output":"FAIL\n"}
{"Action":"output","Package":"m/a","Output":"FAIL\tm/a\t0.01s\n"}
{"Action":"fail","Package":"m/a"}
{"ImportPath":"m/b [m/b.test]","Action":"build-output","Output":"b/x.go:3:1: syntax error\n"}
{"Action":"output","Package":"m/c","Output":"PASS\n"}
{"Action":"output","Package":"m/c","Output":"ok  \tm/c\t0.02s\n"}
{"Action":"run","Package":"m/c","Test":"TestChrome"}
{"Action":"output","Package":"m/c","Test":"TestChrome","Output":"    ui_test.go:40: chromium is not installed\n"}
{"Action":"skip","Package":"m/c","Test":"TestChrome"}
{"Action":"pass","Package":"m/c"}
`

func TestSummary(t *testing.T) {
	var out strings.Builder
	s := newSummary(&out)
	if err := s.read(strings.NewReader(stream + "plain text line\n")); err != nil {
		t.Fatal(err)
	}
	s.printSkips()
	got := out.String()
	for _, want := range []string{
		"    a_test.go:9: want 2, got 3\n--- FAIL: TestBad (0.00s)\n", // a failure's output, without === RUN
		"FAIL\tm/a\t0.01s\n", "ok  \tm/c\t0.02s\n", // the closing lines CI reads
		"b/x.go:3:1: syntax error\n", "plain text line\n",
		"skipped: 3 tests (subtests counted) did not run",
		"  2 × PostgreSQL: nothing on 127.0.0.1:5432 — set MEMPROXY_TEST_POSTGRES_URL\n      m/a: TestPG, TestT (1 subtest)\n",
		"  1 × chromium is not installed\n      m/c: TestChrome\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, not := range []string{"=== RUN", "TestOK", "PASS\n"} {
		if strings.Contains(strings.ReplaceAll(got, "--- FAIL", ""), not) {
			t.Errorf("output has %q, which plain go test does not print:\n%s", not, got)
		}
	}
}

func TestNoSkips(t *testing.T) {
	var out strings.Builder
	s := newSummary(&out)
	_ = s.read(strings.NewReader(`{"Action":"output","Package":"m/c","Output":"ok  \tm/c\t0.02s\n"}` + "\n"))
	s.printSkips()
	if !strings.Contains(out.String(), "skipped: none") {
		t.Errorf("got %q", out.String())
	}
}
