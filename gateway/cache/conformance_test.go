package cache

// The conformance suite: the memory and the Redis cache keep the same
// contract.

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sleeper waits d: time.Sleep, which is instant inside a synctest bubble.
type sleeper func(d time.Duration)

func runConformance(t *testing.T, run func(t *testing.T, fn func(t *testing.T, c Cache, sleep sleeper))) {
	tests := []struct {
		name string
		fn   func(t *testing.T, c Cache, sleep sleeper)
	}{
		{"Miss", testMiss},
		{"RoundTrip", testRoundTrip},
		{"Copies", testCopies},
		{"Overwrite", testOverwrite},
		{"TTL", testTTL},
		{"BadTTL", testBadTTL},
		{"TooLarge", testTooLarge},
		{"ScopeIsolation", testScopeIsolation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			run(t, tc.fn)
		})
	}
}

var created = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func sample() Entry {
	return Entry{
		Status:    200,
		Header:    http.Header{"Content-Type": {"text/event-stream"}, "Set-Cookie": {"s=1"}, "X-Request-Id": {"r1"}},
		Body:      []byte(`{"id":"chatcmpl-1","choices":[{"message":{"role":"assistant","content":"hi"}}]}`),
		Stream:    []byte("data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n"),
		CreatedAt: created,
	}
}

func key(s string) Key { return KeyOf("user:alice\x00project:shop", "gpt-4o", "openai", []byte(s)) }

func get(t *testing.T, c Cache, k Key) (Entry, bool) {
	t.Helper()
	e, ok, err := c.Get(t.Context(), k)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return e, ok
}

func set(t *testing.T, c Cache, k Key, e Entry, ttl time.Duration) {
	t.Helper()
	if err := c.Set(t.Context(), k, e, ttl); err != nil {
		t.Fatalf("Set: %v", err)
	}
}

func sameEntry(t *testing.T, got, want Entry) {
	t.Helper()
	wantCT := want.Header.Get("Content-Type")
	if got.Status != want.Status || !bytes.Equal(got.Body, want.Body) || !bytes.Equal(got.Stream, want.Stream) ||
		!got.CreatedAt.Equal(want.CreatedAt) || got.Header.Get("Content-Type") != wantCT {
		t.Errorf("entry = %+v\nwant %+v", got, want)
	}
	for h := range got.Header {
		if h != "Content-Type" {
			t.Errorf("header %s kept; only Content-Type may be", h)
		}
	}
}

func testMiss(t *testing.T, c Cache, _ sleeper) {
	if e, ok := get(t, c, key("nothing")); ok {
		t.Errorf("Get of an unknown key = %+v, true", e)
	}
}

func testRoundTrip(t *testing.T, c Cache, _ sleeper) {
	for i, e := range []Entry{
		sample(),
		{Status: 200, Body: []byte("{}")}, // no header, no stream
		{Status: 200, Stream: []byte("data: x\n\n")}, // stream only
		{Status: 203, Body: []byte{0, 1, 2, 255}, Header: http.Header{"Content-Type": {"application/octet-stream"}}},
	} {
		k := key(strings.Repeat("x", i))
		set(t, c, k, e, time.Hour)
		got, ok := get(t, c, k)
		if !ok {
			t.Fatalf("entry %d: miss after Set", i)
		}
		sameEntry(t, got, e)
	}
}

func testCopies(t *testing.T, c Cache, _ sleeper) {
	e, want := sample(), sample()
	k := key("copies")
	set(t, c, k, e, time.Hour)
	e.Body[0], e.Stream[0] = 'X', 'X'
	got, _ := get(t, c, k)
	sameEntry(t, got, want)
	got.Body[0], got.Stream[0] = 'Y', 'Y'
	again, _ := get(t, c, k)
	sameEntry(t, again, want)
}

func testOverwrite(t *testing.T, c Cache, _ sleeper) {
	k := key("overwrite")
	set(t, c, k, sample(), time.Hour)
	second := Entry{Status: 200, Body: []byte(`{"second":true}`)}
	set(t, c, k, second, time.Hour)
	got, _ := get(t, c, k)
	sameEntry(t, got, second)
}

func testTTL(t *testing.T, c Cache, sleep sleeper) {
	const ttl = 250 * time.Millisecond
	k, long := key("short"), key("long")
	set(t, c, k, sample(), ttl)
	set(t, c, long, sample(), time.Hour)
	start := time.Now()
	if _, ok := get(t, c, k); !ok {
		t.Fatalf("miss right after Set")
	}
	// Poll, with a bound: Redis expires in real time.
	for {
		sleep(25 * time.Millisecond)
		if _, ok := get(t, c, k); !ok {
			break
		}
		if time.Since(start) > ttl+3*time.Second {
			t.Fatalf("entry with a %v TTL still there after %v", ttl, time.Since(start))
		}
	}
	if el := time.Since(start); el < ttl-10*time.Millisecond {
		t.Errorf("entry expired after %v; TTL %v", el, ttl)
	}
	if _, ok := get(t, c, long); !ok {
		t.Errorf("entry with a 1h TTL expired")
	}
}

func testBadTTL(t *testing.T, c Cache, _ sleeper) {
	k := key("bad ttl")
	for _, ttl := range []time.Duration{0, -time.Second} {
		if err := c.Set(t.Context(), k, sample(), ttl); !errors.Is(err, ErrTTL) {
			t.Errorf("Set with ttl %v = %v; want ErrTTL", ttl, err)
		}
	}
	if _, ok := get(t, c, k); ok {
		t.Errorf("an entry was stored")
	}
}

func testTooLarge(t *testing.T, c Cache, _ sleeper) {
	half := MaxEntryBytes / 2
	big := Entry{Status: 200, Body: make([]byte, half), Stream: make([]byte, half+1)}
	k := key("too large")
	set(t, c, k, big, time.Hour) // nil error
	if _, ok := get(t, c, k); ok {
		t.Errorf("an entry over MaxEntryBytes was stored")
	}
	fits := Entry{Status: 200, Body: make([]byte, half), Stream: make([]byte, half)}
	set(t, c, k, fits, time.Hour)
	if _, ok := get(t, c, k); !ok {
		t.Errorf("an entry of exactly MaxEntryBytes was not stored")
	}
}

func testScopeIsolation(t *testing.T, c Cache, _ sleeper) {
	body, err := Normalize([]byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"my secret?"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	alice := KeyOf("user:alice", "gpt-4o", "openai", body)
	bob := KeyOf("user:bob", "gpt-4o", "openai", body)
	set(t, c, alice, sample(), time.Hour)
	if _, ok := get(t, c, bob); ok {
		t.Errorf("another scope's request hit alice's entry")
	}
}
