package memorytest

import (
	"slices"
	"testing"

	"github.com/memproxy/memproxy/gateway/memory"
)

// CheckInStep checks that a backend keeping an in-process index of a
// scope applies its own writes to it instead of rebuilding it: builds
// reports how many indexes the backend has built from its database so
// far. After the first search builds the scope's index, an add, a
// supersede and a delete through the same backend are found (or no
// longer found) with no further build.
func CheckInStep(t *testing.T, b memory.Lifecycle, builds func() int64) {
	s := scope(t, "in-step")
	m1 := add(t, b, s, "Builds run on the self-hosted runners.", nil)
	if got := found(t, b, s, "builds runners"); !slices.Equal(got, []string{m1.ID}) {
		t.Fatalf("search = %v; want [%s]", got, m1.ID)
	}
	before := builds()
	m2 := add(t, b, s, "Nightly builds publish to the staging bucket.", nil)
	if got := found(t, b, s, "nightly staging"); !slices.Equal(got, []string{m2.ID}) {
		t.Errorf("after Add, search = %v; want [%s]", got, m2.ID)
	}
	m3, err := b.Supersede(t.Context(), s, m1.ID, "Builds run on the cloud runners since May.", memory.AddOptions{Keys: "ci machines"})
	if err != nil {
		t.Fatal(err)
	}
	if got := found(t, b, s, "self-hosted"); len(got) != 0 {
		t.Errorf("after Supersede, the old text still finds %v", got)
	}
	if got := found(t, b, s, "ci machines"); !slices.Equal(got, []string{m3.ID}) {
		t.Errorf("after Supersede, the new memory's keys find %v; want [%s]", got, m3.ID)
	}
	if err := b.Delete(t.Context(), s, m2.ID); err != nil {
		t.Fatal(err)
	}
	if got := found(t, b, s, "nightly staging"); len(got) != 0 {
		t.Errorf("after Delete, search = %v; want nothing", got)
	}
	if n := builds() - before; n != 0 {
		t.Errorf("the backend's own writes cost %d index builds; want them applied in place", n)
	}
}

// CheckCatchUp checks that a backend keeping an in-process index catches
// it up with another process's writes rather than rebuilding it: a and b
// share a database, builds counts a's index builds. After a's first
// search, b's add, supersede and delete are seen by a's searches with no
// further build of a's index.
func CheckCatchUp(t *testing.T, a, b memory.Lifecycle, builds func() int64) {
	s := scope(t, "catch-up")
	m1 := add(t, a, s, "Dashboards live in grafana under the team folder.", nil)
	add(t, a, s, "Alerts page the on-call engineer through the rota.", nil)
	if got := found(t, a, s, "dashboards grafana"); !slices.Equal(got, []string{m1.ID}) {
		t.Fatalf("a's search = %v; want [%s]", got, m1.ID)
	}
	before := builds()
	m3 := add(t, b, s, "Runbooks are linked from every alert.", nil)
	m4, err := b.Supersede(t.Context(), s, m1.ID, "Dashboards moved to the shared observability folder.", memory.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := found(t, a, s, "runbooks"); !slices.Equal(got, []string{m3.ID}) {
		t.Errorf("after b's add, a's search = %v; want [%s]", got, m3.ID)
	}
	if got := found(t, a, s, "dashboards"); !slices.Equal(got, []string{m4.ID}) {
		t.Errorf("after b's supersede, a's search = %v; want [%s]", got, m4.ID)
	}
	if err := b.Delete(t.Context(), s, m3.ID); err != nil {
		t.Fatal(err)
	}
	if got := found(t, a, s, "runbooks"); len(got) != 0 {
		t.Errorf("after b's delete, a's search = %v; want nothing", got)
	}
	if n := builds() - before; n != 0 {
		t.Errorf("b's writes cost a %d index builds; want a caught up in place", n)
	}
}
