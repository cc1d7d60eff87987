package memorytest

import (
	"slices"
	"testing"

	"github.com/memproxy/memproxy/gateway/memory"
)

// RunReplicas checks what two processes sharing one database see of each
// other's writes: open returns two backends on the same database (two
// gateway replicas; for SQLite two handles on one file). A backend that
// keeps an in-process copy of a scope for search (the SQL stores' lexical
// index) must notice every add, supersede and delete the other made, and
// never mix scopes.
func RunReplicas(t *testing.T, open func(t *testing.T) (a, b memory.Lifecycle)) {
	t.Run("OtherReplicasWrites", func(t *testing.T) { a, b := open(t); testReplicaWrites(t, a, b) })
	t.Run("ReplicaScopes", func(t *testing.T) { a, b := open(t); testReplicaScopes(t, a, b) })
}

// found reports the ids a search of s for q returns.
func found(t *testing.T, be memory.Backend, s memory.Scope, q string) []string {
	t.Helper()
	return ids(search(t, be, s, q, 10))
}

func testReplicaWrites(t *testing.T, a, b memory.Lifecycle) {
	s := scope(t, "replicas")
	m1 := add(t, a, s, "The deploy script lives in tools/deploy.sh.", nil)
	if got := found(t, a, s, "deploy"); !slices.Equal(got, []string{m1.ID}) {
		t.Fatalf("a's search = %v; want [%s]", got, m1.ID)
	}
	m2 := add(t, b, s, "We deploy on Fridays after the release review.", nil)
	if got := found(t, a, s, "deploy Fridays"); !slices.Contains(got, m2.ID) {
		t.Errorf("after b added %s, a's search = %v; want it found", m2.ID, got)
	}
	m3, err := b.Supersede(t.Context(), s, m1.ID, "The deploy script moved to scripts/ship.sh.", memory.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := found(t, a, s, "deploy script")
	if !slices.Contains(got, m3.ID) || slices.Contains(got, m1.ID) {
		t.Errorf("after b superseded %s by %s, a's search = %v; want the new one, not the old", m1.ID, m3.ID, got)
	}
	if err := b.Delete(t.Context(), s, m2.ID); err != nil {
		t.Fatal(err)
	}
	if got := found(t, a, s, "Fridays release"); len(got) != 0 {
		t.Errorf("after b deleted %s, a's search = %v; want nothing", m2.ID, got)
	}
	// a's own write is seen by both.
	m4 := add(t, a, s, "Release notes are written in docs/releases.", nil)
	for name, be := range map[string]memory.Backend{"a": a, "b": b} {
		if got := found(t, be, s, "release notes"); !slices.Contains(got, m4.ID) {
			t.Errorf("after a added %s, %s's search = %v; want it found", m4.ID, name, got)
		}
	}
	if _, err := b.DeleteAll(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	if got := found(t, a, s, "deploy script release notes"); len(got) != 0 {
		t.Errorf("after b emptied the scope, a's search = %v; want nothing", got)
	}
}

func testReplicaScopes(t *testing.T, a, b memory.Lifecycle) {
	x, y := scope(t, "replica-x"), scope(t, "replica-y")
	const text = "The staging database password rotates monthly."
	mx := add(t, a, x, text, nil)
	if got := found(t, a, x, "staging database"); !slices.Equal(got, []string{mx.ID}) {
		t.Fatalf("a's search of x = %v; want [%s]", got, mx.ID)
	}
	my := add(t, b, y, text, nil)
	my2 := add(t, b, y, "Only y knows the staging database host.", nil)
	if got := found(t, a, x, "staging database host"); !slices.Equal(got, []string{mx.ID}) {
		t.Errorf("after b wrote y, a's search of x = %v; want only x's %s", got, mx.ID)
	}
	if got := found(t, a, y, "staging database host"); !sameSet(got, []string{my.ID, my2.ID}) {
		t.Errorf("a's search of y = %v; want y's %s and %s", got, my.ID, my2.ID)
	}
	if got := found(t, b, x, "staging database host"); !slices.Equal(got, []string{mx.ID}) {
		t.Errorf("b's search of x = %v; want only x's %s", got, mx.ID)
	}
}
