package memorytest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/memory"
)

func testSearchRanking(t *testing.T, b memory.Backend, c config) {
	s := scope(t, "ranking")
	best := add(t, b, s, "Deploy the billing service to staging with helm upgrade --install billing ./chart.", nil)
	some := add(t, b, s, "The billing service keeps invoices in Postgres.", nil)
	none := add(t, b, s, "Frontend components are React and TypeScript.", nil)
	r := search(t, b, s, "how do I deploy billing with helm", 10)
	if len(r) == 0 || r[0].ID != best.ID {
		t.Fatalf("Search = %v; want %s (matches deploy, billing, helm) first", ids(r), best.ID)
	}
	if !c.semantic {
		if !slices.Contains(ids(r), some.ID) {
			t.Errorf("Search = %v; want %s (matches billing) too", ids(r), some.ID)
		}
		if slices.Contains(ids(r), none.ID) {
			t.Errorf("Search = %v; %s matches no query word", ids(r), none.ID)
		}
	}
	if d := sameMemory(r[0], best); d != "" {
		t.Errorf("search result differs from the stored memory: %s", d)
	}
	for _, q := range []string{"", "   ", "\n\t"} {
		if r := search(t, b, s, q, 10); len(r) != 0 {
			t.Errorf("Search(%q) = %v; want nothing", q, ids(r))
		}
	}
}

func testLimits(t *testing.T, b memory.Backend, c config) {
	s := scope(t, "limits")
	const n = 15
	for i := range n {
		add(t, b, s, fmt.Sprintf("Caching note %d: the cache layer evicts entries after %d minutes.", i, i+1), nil)
	}
	for _, tc := range []struct{ limit, want int }{{5, 5}, {1, 1}, {0, memory.DefaultLimit}, {-3, memory.DefaultLimit}, {1000, n}} {
		r := search(t, b, s, "cache evicts entries", tc.limit)
		if len(r) > tc.want || (!c.semantic && len(r) != tc.want) {
			t.Errorf("Search(limit %d) returned %d; want %d", tc.limit, len(r), tc.want)
		}
		l, next, err := b.List(t.Context(), s, "", tc.limit)
		if err != nil || len(l) != tc.want || (next == "") != (tc.want == n) {
			t.Errorf("List(limit %d) = %d memories, next %q, %v; want %d", tc.limit, len(l), next, err, tc.want)
		}
	}
}

func testPaging(t *testing.T, b memory.Backend, _ config) {
	s := scope(t, "paging")
	const n = 23
	var want []string
	for i := range n {
		want = append(want, add(t, b, s, fmt.Sprintf("paging memory number %02d", i), nil).ID)
	}
	for _, page := range []int{1, 5, 7, 23, 100} {
		all := listAll(t, b, s, page)
		got := ids(all)
		if len(got) != n || !sameSet(got, want) {
			t.Errorf("pages of %d visited %d memories (%d distinct); want each of %d once", page, len(got), len(slices.Compact(slices.Sorted(slices.Values(got)))), n)
		}
		for i := 1; i < len(all); i++ {
			if all[i].CreatedAt.After(all[i-1].CreatedAt) {
				t.Errorf("pages of %d: memory %d is newer than memory %d; want newest first", page, i, i-1)
				break
			}
		}
	}
	// A page boundary survives deletions behind it and an addition ahead.
	first, next, err := b.List(t.Context(), s, "", 10)
	if err != nil || next == "" {
		t.Fatalf("List: %v, next %q", err, next)
	}
	for _, m := range first[:2] {
		if err := b.Delete(t.Context(), s, m.ID); err != nil {
			t.Fatal(err)
		}
	}
	fresh := add(t, b, s, "added while paging", nil)
	rest := ids(first)
	for next != "" {
		var ms []memory.Memory
		if ms, next, err = b.List(t.Context(), s, next, 10); err != nil {
			t.Fatal(err)
		}
		rest = append(rest, ids(ms)...)
	}
	if slices.Contains(rest[10:], fresh.ID) || !sameSet(rest, want) {
		t.Errorf("paging across a delete and an add visited %d memories; want the %d that existed before, once each", len(rest), n)
	}
}

func testUnicode(t *testing.T, b memory.Backend, _ config) {
	s := memory.Scope(string(scope(t, "ünïcødé")) + "/日本")
	contents := []string{
		"Überprüfung der Straße vor dem Café: naïve façade",
		"日本語のメモ: テストを実行する前に docker compose up を使う",
		"emoji 🚀 launch checklist ✅ — ship it",
		"Ελληνικά κείμενα και ρωσικий текст",
		"RTL: ملاحظة حول النشر",
		"combining: e\u0301 vs é, zero\u200bwidth, nbsp\u00a0here",
	}
	var ms []memory.Memory
	for _, c := range contents {
		ms = append(ms, add(t, b, s, c, map[string]string{"läng": "spräk ✓"}))
	}
	for _, m := range ms {
		got, err := b.Get(t.Context(), s, m.ID)
		if err != nil || sameMemory(got, m) != "" {
			t.Errorf("Get(%s) = %+v, %v; want %+v", m.ID, got, err, m)
		}
	}
	if l := listAll(t, b, s, 4); !sameSet(ids(l), ids(ms)) {
		t.Errorf("List = %v; want %v", ids(l), ids(ms))
	}
	for q, want := range map[string]int{"Straße": 0, "Café": 0, "launch checklist": 2, "Ελληνικά": 3} {
		if r := search(t, b, s, q, 10); len(r) == 0 || r[0].ID != ms[want].ID {
			t.Errorf("Search(%q) = %v; want %s first", q, ids(r), ms[want].ID)
		}
	}
}

func testMetadata(t *testing.T, b memory.Backend, _ config) {
	s := scope(t, "metadata")
	meta := map[string]string{"source": "chat", "ticket": "JIRA-42", "ünïcode key": "välue ✓", "empty": "", "json": `{"a":[1,2]}`}
	m := add(t, b, s, "metadata survives every path back", meta)
	meta["source"] = "changed after Add" // the backend must have copied it
	if m.Metadata["source"] != "chat" {
		t.Errorf("Add's memory shares the caller's map")
	}
	meta["source"] = "chat"
	check := func(op string, got memory.Memory) {
		t.Helper()
		if !maps.Equal(got.Metadata, meta) {
			t.Errorf("%s metadata = %v; want %v", op, got.Metadata, meta)
		}
	}
	check("Add", m)
	got, err := b.Get(t.Context(), s, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	check("Get", got)
	check("List", listAll(t, b, s, 10)[0])
	if r := search(t, b, s, "metadata survives", 10); len(r) > 0 {
		check("Search", r[0])
	} else {
		t.Errorf("Search found nothing")
	}
	bare := add(t, b, s, "no metadata at all", nil)
	if got, err := b.Get(t.Context(), s, bare.ID); err != nil || len(got.Metadata) != 0 {
		t.Errorf("Get of a memory without metadata = %v, %v; want none", got.Metadata, err)
	}
}

func testInvalidInput(t *testing.T, b memory.Backend, _ config) {
	s := scope(t, "invalid")
	for _, c := range []string{"", "   ", "\n\t", "nul\x00byte", "bad \xff utf8", strings.Repeat("x", memory.MaxContentBytes+1)} {
		if _, _, err := b.Add(t.Context(), s, c, nil); !errors.Is(err, memory.ErrInvalidContent) {
			t.Errorf("Add(%.20q): %v; want ErrInvalidContent", c, err)
		}
	}
	add(t, b, s, strings.Repeat("y", memory.MaxContentBytes), nil)
	tooMany := make(map[string]string)
	for i := range memory.MaxMetadataKeys + 1 {
		tooMany[fmt.Sprint("k", i)] = "v"
	}
	for _, meta := range []map[string]string{{"": "v"}, {"memproxy_hash": "x"}, {"k": "nul\x00"}, {"k\xff": "v"}, tooMany,
		{strings.Repeat("k", memory.MaxMetaKeyBytes+1): "v"}, {"k": strings.Repeat("v", memory.MaxMetaValueSize+1)}} {
		if _, _, err := b.Add(t.Context(), s, "valid content", meta); !errors.Is(err, memory.ErrInvalidMetadata) {
			t.Errorf("Add with metadata of %d keys: %v; want ErrInvalidMetadata", len(meta), err)
		}
	}
	if l := listAll(t, b, s, 10); len(l) != 1 {
		t.Errorf("after the refused Adds, List = %d memories; want 1", len(l))
	}
}

func testCancelled(t *testing.T, b memory.Backend, _ config) {
	s := scope(t, "cancelled")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := b.Add(ctx, s, "never stored", nil); err == nil {
		t.Errorf("Add with a cancelled context succeeded")
	}
	if _, err := b.Search(ctx, s, "stored", 10); err == nil {
		t.Errorf("Search with a cancelled context succeeded")
	}
	if l := listAll(t, b, s, 10); len(l) != 0 {
		t.Errorf("after a cancelled Add, List = %d memories; want none", len(l))
	}
}
