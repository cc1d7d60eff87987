package memorytest

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/memory"
)

// RunLifecycle runs the conformance suite of memory.Lifecycle: supersede,
// edit, history, hidden keys and source, each with the scope as a hard
// boundary. newBackend is called as for Run.
func RunLifecycle(t *testing.T, newBackend func(t *testing.T) memory.Lifecycle) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, b memory.Lifecycle)
	}{
		{"Supersede", testSupersede},
		{"SupersedeSpecialCases", testSupersedeSpecialCases},
		{"SupersedeConcurrent", testSupersedeConcurrent},
		{"Update", testUpdate},
		{"LifecycleScopes", testLifecycleScopes},
		{"LifecycleInvalid", testLifecycleInvalid},
		{"Keys", testKeys},
		{"Source", testSource},
		{"ListSuperseded", testListSuperseded},
		{"DeleteInChain", testDeleteInChain},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newBackend(t))
		})
	}
}

func get(t *testing.T, b memory.Backend, s memory.Scope, id string) memory.Memory {
	t.Helper()
	m, err := b.Get(t.Context(), s, id)
	if err != nil {
		t.Fatalf("Get(%q, %s): %v", s, id, err)
	}
	return m
}

func history(t *testing.T, b memory.Lifecycle, s memory.Scope, id string) []string {
	t.Helper()
	h, err := b.History(t.Context(), s, id)
	if err != nil {
		t.Fatalf("History(%q, %s): %v", s, id, err)
	}
	for i := 1; i < len(h); i++ {
		if h[i].CreatedAt.Before(h[i-1].CreatedAt) {
			t.Errorf("History(%s): %s is older than %s before it; want oldest first", id, h[i].ID, h[i-1].ID)
		}
	}
	return ids(h)
}

func wantSuperseded(t *testing.T, m memory.Memory, by string) {
	t.Helper()
	if m.Status != memory.StatusSuperseded || m.SupersededBy != by || m.ValidTo.IsZero() || m.ValidTo.Location() != time.UTC {
		t.Errorf("memory %s: status %q, superseded by %q, valid to %v; want superseded by %s with a UTC valid_to",
			m.ID, m.Status, m.SupersededBy, m.ValidTo, by)
	}
}

func wantActive(t *testing.T, m memory.Memory) {
	t.Helper()
	if m.Status != memory.StatusActive || m.SupersededBy != "" || !m.ValidTo.IsZero() {
		t.Errorf("memory %s: status %q, superseded by %q, valid to %v; want active", m.ID, m.Status, m.SupersededBy, m.ValidTo)
	}
}

// testSupersede: the staging port moves; only the new fact is searched and
// listed, the old one is kept with its link and in history.
func testSupersede(t *testing.T, b memory.Lifecycle) {
	s := scope(t, "supersede")
	old := add(t, b, s, "The staging database listens on port 6543.", map[string]string{"kind": "fact"})
	wantActive(t, old)
	before := time.Now()
	nw, err := b.Supersede(t.Context(), s, old.ID, "We moved the staging database to port 7000.",
		memory.AddOptions{Source: memory.Source{Client: "extractor", RequestID: "req_2", Session: "sess", Turn: 2}})
	if err != nil {
		t.Fatalf("Supersede: %v", err)
	}
	if nw.ID == old.ID || nw.Content != "We moved the staging database to port 7000." || nw.Source.RequestID != "req_2" {
		t.Fatalf("Supersede = %+v; want a new memory with the new content and source", nw)
	}
	wantActive(t, nw)
	o := get(t, b, s, old.ID)
	wantSuperseded(t, o, nw.ID)
	if o.ValidTo.Before(before.Add(-time.Minute)) || o.ValidTo.After(time.Now().Add(time.Minute)) || o.Content != old.Content {
		t.Errorf("superseded memory: %+v; want its content kept and valid_to about now", o)
	}
	for _, q := range []string{"staging database port", "6543", "which port does staging use"} {
		for _, m := range search(t, b, s, q, 10) {
			if m.ID == old.ID {
				t.Errorf("Search(%q) returned the superseded memory", q)
			}
		}
	}
	if r := search(t, b, s, "staging database port", 10); len(r) != 1 || r[0].ID != nw.ID {
		t.Errorf("Search = %v; want just the new memory %s", ids(r), nw.ID)
	}
	// The old text matches this query best: it must not take the only
	// place of a limit-1 search (a superseded memory leaves the index).
	if r := search(t, b, s, "staging database listens on port 6543", 1); len(r) != 1 || r[0].ID != nw.ID {
		t.Errorf("Search(limit 1) = %v; want the new memory %s", ids(r), nw.ID)
	}
	if l := listAll(t, b, s, 10); len(l) != 1 || l[0].ID != nw.ID {
		t.Errorf("List = %v; want just the active memory", ids(l))
	}
	want := []string{old.ID, nw.ID}
	for _, id := range want {
		if h := history(t, b, s, id); !slices.Equal(h, want) {
			t.Errorf("History(%s) = %v; want %v", id, h, want)
		}
	}
	// The old text said again is a new, active memory: dedup is among
	// active memories only.
	again, created, err := b.Add(t.Context(), s, "The staging database listens on port 6543.", nil)
	if err != nil || !created || again.ID == old.ID {
		t.Errorf("re-Add of the superseded text = %s, created=%v, %v; want a new memory", again.ID, created, err)
	}
}

// testSupersedeSpecialCases: the same text, another memory's text, and an
// already superseded memory.
func testSupersedeSpecialCases(t *testing.T, b memory.Lifecycle) {
	s := scope(t, "supersede-special")
	a := add(t, b, s, "Lint with golangci-lint run ./...", nil)
	c := add(t, b, s, "Lint with make lint.", nil)
	same, err := b.Supersede(t.Context(), s, a.ID, "  Lint with golangci-lint   run ./...\n", memory.AddOptions{})
	if err != nil || same.ID != a.ID {
		t.Fatalf("Supersede with the same text = %s, %v; want the memory itself", same.ID, err)
	}
	wantActive(t, get(t, b, s, a.ID))
	got, err := b.Supersede(t.Context(), s, a.ID, "Lint with make lint.", memory.AddOptions{})
	if err != nil || got.ID != c.ID {
		t.Fatalf("Supersede with another memory's text = %s, %v; want that memory %s", got.ID, err, c.ID)
	}
	wantSuperseded(t, get(t, b, s, a.ID), c.ID)
	wantActive(t, get(t, b, s, c.ID))
	if l := listAll(t, b, s, 10); len(l) != 1 {
		t.Errorf("List = %v; want only %s", ids(l), c.ID)
	}
	if _, err := b.Supersede(t.Context(), s, a.ID, "Lint with revive.", memory.AddOptions{}); !errors.Is(err, memory.ErrSuperseded) {
		t.Errorf("Supersede of a superseded memory: %v; want ErrSuperseded", err)
	}
	if _, err := b.Update(t.Context(), s, a.ID, "Lint with revive."); !errors.Is(err, memory.ErrSuperseded) {
		t.Errorf("Update of a superseded memory: %v; want ErrSuperseded", err)
	}
	if h := history(t, b, s, c.ID); !slices.Equal(h, []string{a.ID, c.ID}) {
		t.Errorf("History(c) = %v; want [a c]", h)
	}
}

// testSupersedeConcurrent: of several Supersedes of one memory, exactly
// one wins; the others see it superseded.
func testSupersedeConcurrent(t *testing.T, b memory.Lifecycle) {
	s := scope(t, "supersede-concurrent")
	old := add(t, b, s, "The release train leaves on Tuesdays.", nil)
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = b.Supersede(t.Context(), s, old.ID, "The release train leaves on day "+strings.Repeat("x", i+1)+".", memory.AddOptions{})
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, memory.ErrSuperseded):
			t.Errorf("Supersede %d: %v; want success or ErrSuperseded", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d Supersedes succeeded; want exactly 1", won)
	}
	if l := listAll(t, b, s, 10); len(l) != 1 {
		t.Errorf("List = %d active memories; want 1", len(l))
	}
}

// testUpdate: a person's edit supersedes, keeps metadata, drops keys and
// is sourced as an edit.
func testUpdate(t *testing.T, b memory.Lifecycle) {
	s := scope(t, "update")
	m, _, err := b.AddWith(t.Context(), s, "Deploys need two approvals.", memory.AddOptions{
		Metadata: map[string]string{"topic": "deploy"}, Keys: "sign-off reviewers quorum",
		Source: memory.Source{Client: "claude-code", RequestID: "req_1", Session: "s1", Turn: 3}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := b.Update(t.Context(), s, m.ID, "Deploys need one approval.")
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if e.ID == m.ID || e.Content != "Deploys need one approval." || !maps.Equal(e.Metadata, m.Metadata) ||
		e.Source != (memory.Source{Client: memory.SourceEdit}) {
		t.Errorf("Update = %+v; want a new memory with the text, the old metadata and an edit source", e)
	}
	if g := get(t, b, s, e.ID); sameMemory(g, e) != "" || g.Source != e.Source {
		t.Errorf("Get(edited) = %+v; want %+v", g, e)
	}
	wantSuperseded(t, get(t, b, s, m.ID), e.ID)
	if o := get(t, b, s, m.ID); o.Source.RequestID != "req_1" || o.Source.Turn != 3 {
		t.Errorf("the edited memory's source = %+v; want its own kept", o.Source)
	}
	if r := search(t, b, s, "quorum reviewers", 10); len(r) != 0 {
		t.Errorf("Search by the old keys = %v; want nothing (keys were for the old text)", ids(r))
	}
	if h := history(t, b, s, m.ID); !slices.Equal(h, []string{m.ID, e.ID}) {
		t.Errorf("History = %v; want [%s %s]", h, m.ID, e.ID)
	}
}

// testLifecycleScopes: every lifecycle method treats another scope's id
// as absent and leaves that memory as it was.
func testLifecycleScopes(t *testing.T, b memory.Lifecycle) {
	a, o := scope(t, "lc-a"), scope(t, "lc-a-fork")
	theirs, _, err := b.AddWith(t.Context(), o, "Their cache is Redis on port 6380.", memory.AddOptions{Keys: "valkey store"})
	if err != nil {
		t.Fatal(err)
	}
	mine := add(t, b, a, "Our cache is memcached.", nil)
	if _, err := b.Supersede(t.Context(), a, theirs.ID, "Hijacked.", memory.AddOptions{}); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("Supersede(a, other scope's id): %v; want ErrNotFound", err)
	}
	if _, err := b.Update(t.Context(), a, theirs.ID, "Hijacked."); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("Update(a, other scope's id): %v; want ErrNotFound", err)
	}
	if _, err := b.History(t.Context(), a, theirs.ID); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("History(a, other scope's id): %v; want ErrNotFound", err)
	}
	if g := get(t, b, o, theirs.ID); g.Status != memory.StatusActive || g.Content != theirs.Content {
		t.Errorf("other scope's memory after the attempts: %+v; want it unchanged", g)
	}
	if l := listAll(t, b, a, 10); len(l) != 1 || l[0].ID != mine.ID {
		t.Errorf("List(a) = %v; want only %s (nothing written by the refused calls)", ids(l), mine.ID)
	}
	if r := search(t, b, a, "valkey store Redis", 10); len(r) != 0 {
		t.Errorf("Search(a) by the other scope's words and keys = %v; want nothing", ids(r))
	}
	// A supersede in o never links to a: its chain stays in o.
	nw, err := b.Supersede(t.Context(), o, theirs.ID, "Our cache is memcached.", memory.AddOptions{})
	if err != nil || nw.ID == mine.ID {
		t.Fatalf("Supersede in o with a's text = %s, %v; want a memory of o", nw.ID, err)
	}
	if _, err := b.History(t.Context(), a, nw.ID); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("History(a, o's new memory): %v; want ErrNotFound", err)
	}
	if h := history(t, b, o, nw.ID); !slices.Equal(h, []string{theirs.ID, nw.ID}) {
		t.Errorf("History(o) = %v; want [%s %s]", h, theirs.ID, nw.ID)
	}
	wantActive(t, get(t, b, a, mine.ID))
}

func testLifecycleInvalid(t *testing.T, b memory.Lifecycle) {
	s := scope(t, "lc-invalid")
	m := add(t, b, s, "Docs live in docs/.", nil)
	if _, err := b.Supersede(t.Context(), s, "mem_nope", "x", memory.AddOptions{}); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("Supersede(unknown id): %v; want ErrNotFound", err)
	}
	if _, err := b.History(t.Context(), s, "mem_nope"); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("History(unknown id): %v; want ErrNotFound", err)
	}
	if _, err := b.Supersede(t.Context(), s, m.ID, "  ", memory.AddOptions{}); !errors.Is(err, memory.ErrInvalidContent) {
		t.Errorf("Supersede(blank): %v; want ErrInvalidContent", err)
	}
	if _, err := b.Update(t.Context(), s, m.ID, "\x00"); !errors.Is(err, memory.ErrInvalidContent) {
		t.Errorf("Update(NUL): %v; want ErrInvalidContent", err)
	}
	if _, _, err := b.AddWith(t.Context(), s, "ok", memory.AddOptions{Keys: strings.Repeat("k", memory.MaxKeysBytes+1)}); !errors.Is(err, memory.ErrInvalidContent) {
		t.Errorf("AddWith(long keys): %v; want ErrInvalidContent", err)
	}
	if _, _, err := b.AddWith(t.Context(), s, "ok", memory.AddOptions{Source: memory.Source{Turn: -1}}); !errors.Is(err, memory.ErrInvalidMetadata) {
		t.Errorf("AddWith(negative turn): %v; want ErrInvalidMetadata", err)
	}
	for _, bad := range []memory.Scope{"", "u:a/p:\n"} {
		if _, err := b.Supersede(t.Context(), bad, m.ID, "x", memory.AddOptions{}); !errors.Is(err, memory.ErrInvalidScope) {
			t.Errorf("Supersede(scope %q): %v; want ErrInvalidScope", bad, err)
		}
		if _, err := b.History(t.Context(), bad, m.ID); !errors.Is(err, memory.ErrInvalidScope) {
			t.Errorf("History(scope %q): %v; want ErrInvalidScope", bad, err)
		}
		if _, _, err := b.ListWith(t.Context(), bad, memory.ListOptions{}); !errors.Is(err, memory.ErrInvalidScope) {
			t.Errorf("ListWith(scope %q): %v; want ErrInvalidScope", bad, err)
		}
	}
	if l := listAll(t, b, s, 10); len(l) != 1 {
		t.Errorf("List = %v; want only the first memory", ids(l))
	}
}

// testKeys: keys are searched but never returned, and leave the index
// with their memory.
func testKeys(t *testing.T, b memory.Lifecycle) {
	s := scope(t, "keys")
	m, created, err := b.AddWith(t.Context(), s, "Releases go out by blue-green deploy on Fridays.",
		memory.AddOptions{Keys: "ship shipping production prod launch"})
	if err != nil || !created {
		t.Fatalf("AddWith: %v, created=%v", err, created)
	}
	add(t, b, s, "Unit tests run with go test.", nil)
	r := search(t, b, s, "how do we ship to prod", 10)
	if len(r) != 1 || r[0].ID != m.ID {
		t.Fatalf("Search by keys = %v; want %s", ids(r), m.ID)
	}
	for _, got := range []memory.Memory{r[0], get(t, b, s, m.ID), listAll(t, b, s, 10)[0]} {
		if strings.Contains(got.Content, "shipping") || strings.Contains(strings.Join(slices.Collect(maps.Values(got.Metadata)), " "), "shipping") {
			t.Errorf("memory %s shows its keys: %+v", got.ID, got)
		}
	}
	// Content still ranks: a content match beats nothing.
	if r := search(t, b, s, "blue-green Fridays", 10); len(r) != 1 || r[0].ID != m.ID {
		t.Errorf("Search by content = %v; want %s", ids(r), m.ID)
	}
	nw, err := b.Supersede(t.Context(), s, m.ID, "Releases go out on Thursdays.", memory.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := search(t, b, s, "ship prod launch", 10); len(r) != 0 {
		t.Errorf("Search by a superseded memory's keys = %v; want nothing", ids(r))
	}
	if r := search(t, b, s, "releases", 10); len(r) != 1 || r[0].ID != nw.ID {
		t.Errorf("Search(releases) = %v; want the new memory only", ids(r))
	}
}

func testSource(t *testing.T, b memory.Lifecycle) {
	s := scope(t, "source")
	src := memory.Source{Client: "codex", RequestID: "req_0123", Session: "019a-sess", Turn: 7}
	m, _, err := b.AddWith(t.Context(), s, "The API is versioned under /v2.", memory.AddOptions{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if m.Source != src {
		t.Errorf("AddWith returned source %+v; want %+v", m.Source, src)
	}
	if g := get(t, b, s, m.ID); g.Source != src {
		t.Errorf("Get source %+v; want %+v", g.Source, src)
	}
	if r := search(t, b, s, "API versioned", 10); len(r) != 1 || r[0].Source != src {
		t.Errorf("Search = %+v; want the memory with its source", r)
	}
	// Dedup keeps the first source.
	d, created, err := b.AddWith(t.Context(), s, "The API is versioned under /v2.", memory.AddOptions{Source: memory.Source{Client: "other"}})
	if err != nil || created || d.ID != m.ID || d.Source != src {
		t.Errorf("duplicate AddWith = %+v, created=%v, %v; want the first memory, its source unchanged", d, created, err)
	}
	if p := add(t, b, s, "Plain Add has no source.", nil); p.Source != (memory.Source{}) {
		t.Errorf("Add source = %+v; want none", p.Source)
	}
}

func testListSuperseded(t *testing.T, b memory.Lifecycle) {
	s := scope(t, "list-superseded")
	var all []string
	cur := add(t, b, s, "Version 0 of the fact.", nil)
	all = append(all, cur.ID)
	for i := 1; i <= 4; i++ {
		nw, err := b.Supersede(t.Context(), s, cur.ID, "Version "+strings.Repeat("I", i)+" of the fact.", memory.AddOptions{})
		if err != nil {
			t.Fatal(err)
		}
		all, cur = append(all, nw.ID), nw
	}
	other := add(t, b, s, "An unrelated fact.", nil)
	var got []memory.Memory
	cursor := ""
	for range 100 {
		ms, next, err := b.ListWith(t.Context(), s, memory.ListOptions{Cursor: cursor, Limit: 2, IncludeSuperseded: true})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ms...)
		if cursor = next; next == "" {
			break
		}
	}
	if !sameSet(ids(got), append(slices.Clone(all), other.ID)) {
		t.Errorf("ListWith(IncludeSuperseded) = %v; want all 6", ids(got))
	}
	for _, m := range got {
		if want := memory.StatusOf(map[bool]string{true: "", false: "x"}[m.ID == cur.ID || m.ID == other.ID]); m.Status != want {
			t.Errorf("ListWith: %s status %q; want %q", m.ID, m.Status, want)
		}
	}
	if l := listAll(t, b, s, 1); !sameSet(ids(l), []string{cur.ID, other.ID}) {
		t.Errorf("List = %v; want the two active memories", ids(l))
	}
	if h := history(t, b, s, all[2]); !slices.Equal(h, all) {
		t.Errorf("History(middle) = %v; want the whole chain %v", h, all)
	}
}

// testDeleteInChain: forgetting the newest version does not bring the old
// one back; forgetting an old one takes it out of history.
func testDeleteInChain(t *testing.T, b memory.Lifecycle) {
	s := scope(t, "delete-chain")
	a := add(t, b, s, "Feature flags live in LaunchDarkly.", nil)
	c, err := b.Supersede(t.Context(), s, a.ID, "Feature flags live in Unleash.", memory.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(t.Context(), s, c.ID); err != nil {
		t.Fatal(err)
	}
	wantSuperseded(t, get(t, b, s, a.ID), c.ID)
	if r := search(t, b, s, "feature flags", 10); len(r) != 0 {
		t.Errorf("Search after forgetting the newest version = %v; want nothing", ids(r))
	}
	if h := history(t, b, s, a.ID); !slices.Equal(h, []string{a.ID}) {
		t.Errorf("History = %v; want [%s]", h, a.ID)
	}
	if err := b.Delete(t.Context(), s, a.ID); err != nil {
		t.Errorf("Delete(superseded): %v", err)
	}
	if n, err := b.DeleteAll(t.Context(), s); err != nil || n != 0 {
		t.Errorf("DeleteAll = %d, %v; want 0 left", n, err)
	}
}
