package storetest

// Conformance of auth.KeyStore. Beyond its doc comments the suite pins
// down: times come back in UTC, equal to what was written to within a
// microsecond; an empty Models list comes back nil, a nil MaxBudget nil;
// a failed lookup (cancelled context) is an error other than
// ErrKeyNotFound, so the caller never caches it as an unknown key; filter
// values and names are data, never SQL or patterns.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/store"
)

// keyTests are added to Run's subtests, each with a store of its own.
var keyTests = []struct {
	name string
	fn   func(t *testing.T, db store.DB)
}{
	{"KeysCreateLookup", testKeysCreateLookup},
	{"KeysDuplicate", testKeysDuplicate},
	{"KeysInvalid", testKeysInvalid},
	{"KeysList", testKeysList},
	{"KeysRevoke", testKeysRevoke},
	{"KeysTouch", testKeysTouch},
	{"KeysNamesAreNotSQL", testKeysNamesAreNotSQL},
	{"KeysCancelled", testKeysCancelled},
}

var keyBase = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

func keyRecord(i int, user string) (auth.KeyRecord, auth.KeyHash) {
	rec := auth.KeyRecord{ID: fmt.Sprintf("key_test%08d", i), User: user, CreatedAt: keyBase.Add(time.Duration(i) * time.Second)}
	return rec, auth.HashKey(fmt.Sprint("sk-mp-test-", i, "-", user))
}

func createKey(t *testing.T, db store.DB, rec auth.KeyRecord, h auth.KeyHash) {
	t.Helper()
	if err := db.CreateKey(t.Context(), rec, h); err != nil {
		t.Fatalf("CreateKey(%s): %v", rec.ID, err)
	}
}

func lookup(t *testing.T, db store.DB, h auth.KeyHash) (auth.KeyRecord, error) {
	t.Helper()
	rec, err := db.KeyByHash(t.Context(), h)
	if err != nil && !errors.Is(err, auth.ErrKeyNotFound) {
		t.Fatalf("KeyByHash: %v", err)
	}
	return rec, err
}

// sameKey describes how got differs from want ("" when it does not).
func sameKey(got, want auth.KeyRecord) string {
	var d string
	diff := func(field string, g, w any) { d += fmt.Sprintf("  %s: got %v, want %v\n", field, g, w) }
	if got.ID != want.ID || got.User != want.User || got.Project != want.Project || got.BudgetPeriod != want.BudgetPeriod {
		diff("id/user/project/period", []string{got.ID, got.User, got.Project, got.BudgetPeriod},
			[]string{want.ID, want.User, want.Project, want.BudgetPeriod})
	}
	if !slices.Equal(got.Models, want.Models) || (got.Models == nil) != (want.Models == nil) {
		diff("models", fmt.Sprintf("%#v", got.Models), fmt.Sprintf("%#v", want.Models))
	}
	if got.RPM != want.RPM || got.TPM != want.TPM {
		diff("rpm/tpm", []int64{got.RPM, got.TPM}, []int64{want.RPM, want.TPM})
	}
	if (got.MaxBudget == nil) != (want.MaxBudget == nil) || got.MaxBudget != nil && *got.MaxBudget != *want.MaxBudget {
		diff("max budget", costString(got.MaxBudget), costString(want.MaxBudget))
	}
	for _, tm := range []struct {
		name      string
		got, want time.Time
	}{{"created", got.CreatedAt, want.CreatedAt}, {"revoked", got.RevokedAt, want.RevokedAt}, {"last used", got.LastUsedAt, want.LastUsedAt}} {
		if tm.got.IsZero() != tm.want.IsZero() || tm.got.Sub(tm.want).Abs() >= time.Microsecond || (!tm.got.IsZero() && tm.got.Location() != time.UTC) {
			diff(tm.name, tm.got, tm.want)
		}
	}
	return d
}

func testKeysCreateLookup(t *testing.T, db store.DB) {
	budget := 12.5
	full, h := keyRecord(1, "alice")
	full.Project, full.Models, full.RPM, full.TPM = "shop", []string{"gpt-4o", "claude"}, 60, 100000
	full.MaxBudget, full.BudgetPeriod = &budget, "30d"
	sparse, h2 := keyRecord(2, "bob")
	sparse.Models = []string{} // stored as "every model", read back nil
	createKey(t, db, full, h)
	createKey(t, db, sparse, h2)
	sparse.Models = nil
	for _, c := range []struct {
		h    auth.KeyHash
		want auth.KeyRecord
	}{{h, full}, {h2, sparse}} {
		got, err := lookup(t, db, c.h)
		if err != nil {
			t.Fatalf("KeyByHash(%s): %v", c.want.ID, err)
		}
		if d := sameKey(got, c.want); d != "" {
			t.Errorf("KeyByHash(%s):\n%s", c.want.ID, d)
		}
	}
	for _, unknown := range []auth.KeyHash{auth.HashKey("sk-mp-unknown"), {}} {
		if _, err := lookup(t, db, unknown); !errors.Is(err, auth.ErrKeyNotFound) {
			t.Errorf("KeyByHash(unknown) = %v, want ErrKeyNotFound", err)
		}
	}
}

func testKeysDuplicate(t *testing.T, db store.DB) {
	rec, h := keyRecord(1, "alice")
	createKey(t, db, rec, h)
	sameID, _ := keyRecord(1, "mallory")
	_, otherHash := keyRecord(9, "mallory")
	sameHash, _ := keyRecord(2, "mallory")
	for _, c := range []struct {
		rec auth.KeyRecord
		h   auth.KeyHash
	}{{sameID, otherHash}, {sameHash, h}} {
		if err := db.CreateKey(t.Context(), c.rec, c.h); !errors.Is(err, auth.ErrKeyExists) {
			t.Errorf("CreateKey(%s) again = %v, want ErrKeyExists", c.rec.ID, err)
		}
	}
	if got, err := lookup(t, db, h); err != nil || got.User != "alice" {
		t.Errorf("the first key after duplicates: %+v, %v", got, err)
	}
	if _, err := lookup(t, db, otherHash); !errors.Is(err, auth.ErrKeyNotFound) {
		t.Errorf("a refused duplicate was stored: %v", err)
	}
}

func testKeysInvalid(t *testing.T, db store.DB) {
	noUser, h := keyRecord(1, "")
	noTime, h2 := keyRecord(2, "alice")
	noTime.CreatedAt = time.Time{}
	for _, c := range []struct {
		rec auth.KeyRecord
		h   auth.KeyHash
	}{{noUser, h}, {noTime, h2}} {
		if err := db.CreateKey(t.Context(), c.rec, c.h); !errors.Is(err, auth.ErrInvalidKey) {
			t.Errorf("CreateKey(%+v) = %v, want ErrInvalidKey", c.rec, err)
		}
	}
	if got, err := db.ListKeys(t.Context(), auth.KeyFilter{}); err != nil || len(got) != 0 {
		t.Errorf("ListKeys after invalid creates = %d keys, %v", len(got), err)
	}
}

func testKeysList(t *testing.T, db store.DB) {
	if got, err := db.ListKeys(t.Context(), auth.KeyFilter{}); err != nil || len(got) != 0 {
		t.Fatalf("ListKeys on an empty store = %+v, %v", got, err)
	}
	var want []auth.KeyRecord
	for i, user := range []string{"bob", "alice", "bob", "carol"} {
		rec, h := keyRecord(4-i, user) // created in reverse id order
		createKey(t, db, rec, h)
		want = append(want, rec)
	}
	tie, h := keyRecord(0, "alice") // same time as the first: ties go by id
	tie.CreatedAt = want[3].CreatedAt
	createKey(t, db, tie, h)
	want = append(want, tie)
	if err := db.RevokeKey(t.Context(), want[0].ID, keyBase.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want[0].RevokedAt = keyBase.Add(time.Hour)
	slices.SortFunc(want, func(a, b auth.KeyRecord) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	check := func(f auth.KeyFilter) {
		t.Helper()
		got, err := db.ListKeys(t.Context(), f)
		if err != nil {
			t.Fatalf("ListKeys(%+v): %v", f, err)
		}
		exp := slices.DeleteFunc(slices.Clone(want), func(r auth.KeyRecord) bool { return f.User != "" && r.User != f.User })
		if len(got) != len(exp) {
			t.Fatalf("ListKeys(%+v) = %d keys, want %d", f, len(got), len(exp))
		}
		for i := range exp {
			if d := sameKey(got[i], exp[i]); d != "" {
				t.Errorf("ListKeys(%+v)[%d]:\n%s", f, i, d)
			}
		}
	}
	check(auth.KeyFilter{})
	check(auth.KeyFilter{User: "bob"})
	check(auth.KeyFilter{User: "alice"})
	check(auth.KeyFilter{User: "nobody"})
}

func testKeysRevoke(t *testing.T, db store.DB) {
	rec, h := keyRecord(1, "alice")
	other, h2 := keyRecord(2, "alice")
	createKey(t, db, rec, h)
	createKey(t, db, other, h2)
	at := keyBase.Add(time.Minute)
	if err := db.RevokeKey(t.Context(), rec.ID, at); err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	if _, err := lookup(t, db, h); !errors.Is(err, auth.ErrKeyNotFound) {
		t.Errorf("KeyByHash(revoked) = %v, want ErrKeyNotFound", err)
	}
	if got, err := lookup(t, db, h2); err != nil || got.Revoked() {
		t.Errorf("the other key: %+v, %v", got, err)
	}
	if err := db.RevokeKey(t.Context(), rec.ID, at.Add(time.Hour)); err != nil {
		t.Errorf("RevokeKey again: %v", err)
	}
	list, err := db.ListKeys(t.Context(), auth.KeyFilter{User: "alice"})
	if err != nil || len(list) != 2 {
		t.Fatalf("ListKeys = %+v, %v", list, err)
	}
	rec.RevokedAt = at // the first revocation's time is kept
	if d := sameKey(list[0], rec); d != "" {
		t.Errorf("revoked key in the list:\n%s", d)
	}
	for _, id := range []string{"key_nosuchkey0", "", "' OR '1'='1"} {
		if err := db.RevokeKey(t.Context(), id, at); !errors.Is(err, auth.ErrKeyNotFound) {
			t.Errorf("RevokeKey(%q) = %v, want ErrKeyNotFound", id, err)
		}
	}
	if got, err := lookup(t, db, h2); err != nil || got.Revoked() {
		t.Errorf("the other key after hostile revocations: %+v, %v", got, err)
	}
	for since, want := range map[time.Time][]string{at: {rec.ID}, at.Add(time.Nanosecond * 1000): nil, keyBase: {rec.ID}} {
		if got, err := db.RevokedSince(t.Context(), since); err != nil || !slices.Equal(got, want) {
			t.Errorf("RevokedSince(%s) = %v, %v; want %v", since, got, err, want)
		}
	}
}

func testKeysTouch(t *testing.T, db store.DB) {
	rec, h := keyRecord(1, "alice")
	createKey(t, db, rec, h)
	at := keyBase.Add(time.Minute)
	for _, tm := range []time.Time{at, at.Add(-time.Second)} { // never moves back
		if err := db.TouchKey(t.Context(), rec.ID, tm); err != nil {
			t.Fatalf("TouchKey: %v", err)
		}
	}
	rec.LastUsedAt = at
	got, err := lookup(t, db, h)
	if err != nil {
		t.Fatal(err)
	}
	if d := sameKey(got, rec); d != "" {
		t.Errorf("after TouchKey:\n%s", d)
	}
	if err := db.TouchKey(t.Context(), "key_nosuchkey0", at); err != nil {
		t.Errorf("TouchKey(unknown) = %v, want nil", err)
	}
}

func testKeysNamesAreNotSQL(t *testing.T, db store.DB) {
	hostile := []string{
		`alice'); DROP TABLE api_keys; --`, `' OR '1'='1`, `%`, `_`, `a\`, `"quoted"`, `$1`, `?`, `ü 用户`,
	}
	hashes := map[string]auth.KeyHash{}
	for i, user := range hostile {
		rec, h := keyRecord(i, user)
		rec.Project, rec.Models = user, []string{user, "m"}
		createKey(t, db, rec, h)
		hashes[user] = h
	}
	for i, user := range hostile {
		got, err := db.ListKeys(t.Context(), auth.KeyFilter{User: user})
		if err != nil || len(got) != 1 || got[0].User != user || got[0].Project != user ||
			!slices.Equal(got[0].Models, []string{user, "m"}) || got[0].ID != fmt.Sprintf("key_test%08d", i) {
			t.Errorf("ListKeys(user %q) = %+v, %v; want exactly its key", user, got, err)
		}
		if rec, err := lookup(t, db, hashes[user]); err != nil || rec.User != user {
			t.Errorf("KeyByHash(key of %q) = %+v, %v", user, rec, err)
		}
	}
	if all, err := db.ListKeys(t.Context(), auth.KeyFilter{}); err != nil || len(all) != len(hostile) {
		t.Errorf("ListKeys = %d keys, %v; want %d", len(all), err, len(hostile))
	}
}

func testKeysCancelled(t *testing.T, db store.DB) {
	rec, h := keyRecord(1, "alice")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := db.CreateKey(ctx, rec, h); err == nil {
		t.Error("CreateKey with a cancelled context succeeded")
	}
	createKey(t, db, rec, h)
	if _, err := db.KeyByHash(ctx, h); err == nil || errors.Is(err, auth.ErrKeyNotFound) {
		t.Errorf("KeyByHash with a cancelled context = %v; want an error other than ErrKeyNotFound", err)
	}
	if _, err := db.KeyByHash(ctx, auth.HashKey("sk-mp-unknown")); err == nil || errors.Is(err, auth.ErrKeyNotFound) {
		t.Errorf("KeyByHash(unknown) with a cancelled context = %v; want an error other than ErrKeyNotFound", err)
	}
}
