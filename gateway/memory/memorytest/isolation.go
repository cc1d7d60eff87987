package memorytest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/memory"
)

// onlyFrom fails when a search result is not one of want.
func onlyFrom(t *testing.T, what string, got []memory.Memory, want []string) {
	t.Helper()
	for _, m := range got {
		if !slices.Contains(want, m.ID) {
			t.Errorf("%s returned %s (%.50q), which is not in the scope", what, m.ID, m.Content)
		}
	}
}

func testScopeIsolation(t *testing.T, b memory.Backend, c config) {
	a, o := scope(t, "shop"), scope(t, "shop-fork")
	shared := "Deploy with make deploy ENV=prod after the payments tests pass."
	a1 := add(t, b, a, shared, nil) // the same text in both scopes is two memories
	o1 := add(t, b, o, shared, nil)
	if a1.ID == o1.ID {
		t.Fatalf("identical content in two scopes got one id %s", a1.ID)
	}
	a2 := add(t, b, a, "Alice owns the payments module and reviews its deploys.", nil)
	o2 := add(t, b, o, "Bob owns the payments module and reviews its deploys.", nil)
	inA, inO := []string{a1.ID, a2.ID}, []string{o1.ID, o2.ID}

	for _, q := range []string{"who owns payments deploy", "Bob payments", "make deploy ENV=prod"} {
		onlyFrom(t, "Search(a, "+q+")", search(t, b, a, q, 10), inA)
		onlyFrom(t, "Search(o, "+q+")", search(t, b, o, q, 10), inO)
	}
	if r := search(t, b, a, "Bob", 10); len(r) != 0 && !c.semantic {
		t.Errorf("Search(a, Bob) = %v; Bob is only in the other scope", ids(r))
	}
	for _, id := range inO {
		if _, err := b.Get(t.Context(), a, id); !errors.Is(err, memory.ErrNotFound) {
			t.Errorf("Get(a, other scope's %s): %v; want ErrNotFound", id, err)
		}
		if err := b.Delete(t.Context(), a, id); !errors.Is(err, memory.ErrNotFound) {
			t.Errorf("Delete(a, other scope's %s): %v; want ErrNotFound", id, err)
		}
		if _, err := b.Get(t.Context(), o, id); err != nil {
			t.Errorf("after Delete from the wrong scope, Get(o, %s): %v; want it kept", id, err)
		}
	}
	if l := listAll(t, b, a, 1); !sameSet(ids(l), inA) {
		t.Errorf("List(a) = %v; want %v", ids(l), inA)
	}
	if _, _, err := b.Add(t.Context(), a, "  "+shared+" ", nil); err != nil {
		t.Fatalf("re-Add in a: %v", err)
	}
	if n, err := b.DeleteAll(t.Context(), a); err != nil || n != 2 {
		t.Errorf("DeleteAll(a) = %d, %v; want 2", n, err)
	}
	if l := listAll(t, b, o, 10); !sameSet(ids(l), inO) {
		t.Errorf("after DeleteAll(a), List(o) = %v; want %v", ids(l), inO)
	}
	if r := search(t, b, o, "who owns payments", 10); !slices.Contains(ids(r), o2.ID) {
		t.Errorf("after DeleteAll(a), Search(o) = %v; want %s among them", ids(r), o2.ID)
	}
}

// testLookalikeScopes gives each of a set of scopes that a careless
// implementation would confuse (prefix, LIKE pattern, case, trailing
// space, quotes, separators) the same content, then checks each sees only
// its own memory.
func testLookalikeScopes(t *testing.T, b memory.Backend, _ config) {
	base := string(scope(t, "x"))
	scopes := []memory.Scope{
		memory.Scope(base), memory.Scope(base + "2"), memory.Scope(base + "/"), memory.Scope(base + " "),
		memory.Scope(strings.ToUpper(base)), memory.Scope(base[:len(base)-1] + "%"), memory.Scope(base[:len(base)-1] + "_"),
		memory.Scope(base + "' OR '1'='1"), memory.Scope(base + `"; DROP TABLE memories; --`), memory.Scope(base + ":*"),
		memory.Scope(base + "\\"),
	}
	own := make(map[memory.Scope]string)
	for _, s := range scopes {
		own[s] = add(t, b, s, "The release branch is cut every second Tuesday.", nil).ID
	}
	for _, s := range scopes {
		want := []string{own[s]}
		if l := listAll(t, b, s, 10); !slices.Equal(ids(l), want) {
			t.Errorf("List(%q) = %v; want only %v", s, ids(l), want)
		}
		r := search(t, b, s, "release branch Tuesday", 10)
		onlyFrom(t, "Search("+string(s)+")", r, want)
		if len(r) != 1 {
			t.Errorf("Search(%q) found %d; want its one memory", s, len(r))
		}
	}
	if n, err := b.DeleteAll(t.Context(), scopes[5]); err != nil || n != 1 { // the "%" scope
		t.Errorf("DeleteAll(%q) = %d, %v; want 1", scopes[5], n, err)
	}
	for _, s := range slices.Delete(slices.Clone(scopes), 5, 6) {
		if _, err := b.Get(t.Context(), s, own[s]); err != nil {
			t.Errorf("after DeleteAll(%q), Get(%q): %v", scopes[5], s, err)
		}
	}
}

// hostileQueries are search strings that mean something to FTS5, tsquery,
// websearch, LIKE or SQL.
var hostileQueries = []string{
	`"`, `""`, `*`, `alpha*`, `NEAR(`, `NEAR(alpha beta, 2)`, `-`, `-alpha`, `alpha -beta`, `:`, `content:alpha`,
	`scope:*`, `{content scope}: alpha`, `AND OR NOT`, `alpha AND`, `OR alpha`, `NOT alpha`, `(`, `)`, `((alpha)`,
	`^alpha`, `+alpha`, `"unterminated alpha`, `' OR '1'='1`, `'; DROP TABLE memories; --`, `%`, `_`, `\`, `\\'`,
	`!alpha`, `&`, `|`, `alpha & beta | !gamma`, `<->`, `alpha <-> beta`, `alpha <2> beta`, `@@`, `::tsquery`,
	`alpha:*`, `alpha:A`, "alpha\x00beta", "\xff\xfe alpha", "alpha\nbeta\tgamma", strings.Repeat("alpha beta ", 600),
	strings.Repeat("(", 300), "🚀", "",
}

func testQuerySyntax(t *testing.T, b memory.Backend, _ config) {
	a, o := scope(t, "syntax"), scope(t, "syntax-other")
	var inA []string
	for _, c := range []string{"alpha NEAR beta in the parser", `column:value "quoted" alpha text`, "minus-sign and star* wildcard alpha"} {
		inA = append(inA, add(t, b, a, c, nil).ID)
	}
	add(t, b, o, "alpha beta gamma secret of the other scope", nil)
	for _, q := range hostileQueries {
		ms, err := b.Search(t.Context(), a, q, 10)
		if err != nil {
			t.Errorf("Search(%.40q): %v", q, err)
			continue
		}
		onlyFrom(t, "Search("+strings.ToValidUTF8(q[:min(len(q), 40)], "?")+")", ms, inA)
	}
	if r := search(t, b, a, `"alpha`, 10); len(r) == 0 {
		t.Errorf(`Search("alpha) found nothing; the word alpha is in every memory of the scope`)
	}
}

func testInvalidScope(t *testing.T, b memory.Backend, _ config) {
	valid := scope(t, "valid")
	m := add(t, b, valid, "a memory in a valid scope", nil)
	long := memory.Scope(strings.Repeat("s", memory.MaxScopeBytes))
	add(t, b, long, "the longest scope is fine", nil)
	for _, s := range []memory.Scope{"", "a\x00b", "a\nb", "tab\there", "\xff\xfe", "zero\u200bwidth", "nb\u00a0sp",
		long + "s", valid + "\r"} {
		ctx := t.Context()
		check := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, memory.ErrInvalidScope) {
				t.Errorf("%s(%q): %v; want ErrInvalidScope", op, s, err)
			}
		}
		_, err := b.Search(ctx, s, "memory", 10)
		check("Search", err)
		_, _, err = b.Add(ctx, s, "content", nil)
		check("Add", err)
		_, err = b.Get(ctx, s, m.ID)
		check("Get", err)
		_, _, err = b.List(ctx, s, "", 10)
		check("List", err)
		check("Delete", b.Delete(ctx, s, m.ID))
		_, err = b.DeleteAll(ctx, s)
		check("DeleteAll", err)
	}
	if _, err := b.Get(t.Context(), valid, m.ID); err != nil {
		t.Errorf("Get after the invalid calls: %v", err)
	}
}

func testNotFound(t *testing.T, b memory.Backend, _ config) {
	s := scope(t, "notfound")
	m := add(t, b, s, "kept through every failed lookup", nil)
	for _, id := range []string{"", "mem_doesnotexist", "../../v3/documents", "%2F..%2Fbulk", "'; DELETE FROM memories; --",
		"bulk", "list", "a/b", "a?b=c", "a#b", "\x00", "\xff", strings.Repeat("x", 5000), m.ID + "x", strings.ToLower(m.ID) + " "} {
		if _, err := b.Get(t.Context(), s, id); !errors.Is(err, memory.ErrNotFound) {
			t.Errorf("Get(%.40q): %v; want ErrNotFound", id, err)
		}
		if err := b.Delete(t.Context(), s, id); !errors.Is(err, memory.ErrNotFound) {
			t.Errorf("Delete(%.40q): %v; want ErrNotFound", id, err)
		}
	}
	if _, err := b.Get(t.Context(), s, m.ID); err != nil {
		t.Errorf("Get after the failed lookups: %v", err)
	}
	if _, _, err := b.List(t.Context(), s, "not a cursor", 10); !errors.Is(err, memory.ErrInvalidCursor) {
		t.Errorf("List with a made-up cursor: %v; want ErrInvalidCursor", err)
	}
}
