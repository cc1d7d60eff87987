package auth

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestMint(t *testing.T) {
	st := newMemStore()
	budget := 25.0
	spec := KeyRecord{User: "alice", Project: "shop", Models: []string{"a", "b"}, RPM: 60, TPM: 1000,
		MaxBudget: &budget, BudgetPeriod: "30d", ID: "key_chosen", RevokedAt: time.Now()}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("x", 3600))
	key, rec, err := Mint(t.Context(), st, Principal{Admin: true}, spec, at)
	if err != nil {
		t.Fatal(err)
	}
	if !userKeyShape(key) {
		t.Errorf("minted key %q does not have the key shape", key)
	}
	if !regexp.MustCompile(`^key_[a-z2-7]{12}$`).MatchString(rec.ID) {
		t.Errorf("ID = %q, want key_ and 12 base32 characters", rec.ID)
	}
	if rec.Revoked() || !rec.CreatedAt.Equal(at) || rec.CreatedAt.Location() != time.UTC {
		t.Errorf("record times: %+v", rec)
	}
	stored, ok := st.keys[HashKey(key)]
	if !ok || stored.ID != rec.ID || stored.User != "alice" || stored.RPM != 60 || *stored.MaxBudget != 25 {
		t.Errorf("stored under the key's hash: %+v, %v", stored, ok)
	}

	for _, by := range []Principal{{User: "alice"}, {User: "alice", KeyID: "key_x"}, {}} {
		if _, _, err := Mint(t.Context(), st, by, KeyRecord{User: "alice"}, at); !errors.Is(err, ErrForbidden) {
			t.Errorf("Mint by %+v = %v, want ErrForbidden", by, err)
		}
	}
	if len(st.keys) != 1 {
		t.Errorf("refused mints stored keys: %d", len(st.keys))
	}
}

func TestValidate(t *testing.T) {
	neg, nan, zero := -1.0, 0.0, 0.0
	nan = nan / zero
	ok := KeyRecord{ID: "key_a", User: "o'brien\"; DROP TABLE api_keys; --"}
	if err := ok.Validate(); err != nil {
		t.Errorf("SQL metacharacters are just text: %v", err)
	}
	tests := []struct {
		name string
		edit func(r *KeyRecord)
	}{
		{"no user", func(r *KeyRecord) { r.User = "" }},
		{"no id", func(r *KeyRecord) { r.ID = "" }},
		{"NUL in user", func(r *KeyRecord) { r.User = "a\x00b" }},
		{"invalid UTF-8 project", func(r *KeyRecord) { r.Project = "\xff" }},
		{"newline in model", func(r *KeyRecord) { r.Models = []string{"a\nb"} }},
		{"empty model", func(r *KeyRecord) { r.Models = []string{""} }},
		{"long user", func(r *KeyRecord) { r.User = strings.Repeat("u", 257) }},
		{"negative rpm", func(r *KeyRecord) { r.RPM = -1 }},
		{"negative budget", func(r *KeyRecord) { r.MaxBudget = &neg }},
		{"NaN budget", func(r *KeyRecord) { r.MaxBudget = &nan }},
		{"period without budget", func(r *KeyRecord) { r.BudgetPeriod = "30d" }},
		{"bad period", func(r *KeyRecord) { r.MaxBudget, r.BudgetPeriod = &zero, "30 days" }},
	}
	for _, tt := range tests {
		r := ok
		tt.edit(&r)
		if err := r.Validate(); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: Validate = %v, want ErrInvalidKey", tt.name, err)
		}
	}
}

// TestKeyHashNeverPrints: a hash formatted, logged or marshalled shows a
// placeholder, never its bytes.
func TestKeyHashNeverPrints(t *testing.T) {
	h := HashKey("sk-mp-secret")
	raw := hex.EncodeToString(h[:])
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "hash", h)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "hash", h)
	j, _ := json.Marshal(map[string]any{"h": h})
	out := fmt.Sprintf("%v %s %x %X %q %#v %+v", h, h, h, h, h, h, h) + buf.String() + string(j)
	if strings.Contains(strings.ToLower(out), raw[:16]) || !strings.Contains(out, hashPlaceholder) {
		t.Errorf("hash printed: %s", out)
	}
}

func TestPrincipalAllows(t *testing.T) {
	admin := Principal{Admin: true}
	open := Principal{User: "a"}
	tight := Principal{User: "a", Project: "shop", Models: []string{"m1", "m2"}}
	for _, tt := range []struct {
		p              Principal
		model, project string
		wantM, wantP   bool
	}{
		{admin, "any", "any", true, true},
		{open, "any", "any", true, true},
		{tight, "m2", "shop", true, true},
		{tight, "m3", "other", false, false},
		{tight, "M1", "", false, false},
	} {
		if got := tt.p.AllowsModel(tt.model); got != tt.wantM {
			t.Errorf("%+v.AllowsModel(%q) = %v", tt.p, tt.model, got)
		}
		if got := tt.p.AllowsProject(tt.project); got != tt.wantP {
			t.Errorf("%+v.AllowsProject(%q) = %v", tt.p, tt.project, got)
		}
	}
}

func TestResolveKeyProject(t *testing.T) {
	r := &Resolver{}
	p := Principal{User: "alice", KeyID: "key_1", Project: "shop"}
	if id := r.Resolve(http.Header{}, p); id.Project != "shop" || id.User != "alice" || id.Key.KeyID != "key_1" {
		t.Errorf("no project header: %+v, want the key's project", id)
	}
	// Another project is kept as asked, for the caller to refuse.
	if id := r.Resolve(http.Header{"X-Memory-Project": {"other"}}, p); id.Project != "other" || id.Key.AllowsProject(id.Project) {
		t.Errorf("other project: %+v", id)
	}
	if id := r.Resolve(http.Header{}, Principal{Admin: true}); id.Project != "" {
		t.Errorf("admin without a header got project %q", id.Project)
	}
}
