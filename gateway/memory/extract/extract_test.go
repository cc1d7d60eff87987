package extract_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/extract"
)

const (
	scope = memory.Scope("u:alice/p:shop")
	other = memory.Scope("u:bob/p:shop")
)

var day = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

func newExtractor(s *script) *extract.Extractor {
	return &extract.Extractor{Model: "cheap", Call: s.call, Now: func() time.Time { return day }}
}

// facts is the first answer giving fact → keys.
func facts(t *testing.T, fs ...[]string) string {
	t.Helper()
	type f struct {
		Fact string   `json:"fact"`
		Keys []string `json:"keys"`
	}
	out := struct {
		Facts []f `json:"facts"`
	}{Facts: []f{}}
	for _, x := range fs {
		out.Facts = append(out.Facts, f{x[0], x[1:]})
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decisions(action, id string) string {
	return `{"decisions": [{"fact": 0, "action": "` + action + `", "id": "` + id + `"}]}`
}

// turn distils and applies one turn, failing the test on an error.
func turn(t *testing.T, e *extract.Extractor, l memory.Lifecycle, s memory.Scope, user string) (extract.Result, []memory.Memory) {
	t.Helper()
	res, err := e.Distil(t.Context(), l, extract.Turn{Scope: s, User: user, Answer: "Noted.",
		Client: "claude-code", Session: "sess-1", Turn: 3, RequestID: "req-" + user[:5]})
	if err != nil {
		t.Fatalf("Distil(%q): %v", user, err)
	}
	ms, err := extract.Apply(t.Context(), l, res)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return res, ms
}

func search(t *testing.T, l memory.Lifecycle, s memory.Scope, q string) []string {
	t.Helper()
	ms, err := l.Search(t.Context(), s, q, 10)
	if err != nil {
		t.Fatalf("Search(%q): %v", q, err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Content)
	}
	return out
}

// TestSupersede is issue 11's scenario: a port stated, later changed; only
// the new fact is found afterwards, the old one is in its history.
func TestSupersede(t *testing.T) {
	eachBackend(t, func(t *testing.T, l memory.Lifecycle) {
		const oldFact, newFact = "The staging database listens on port 6543.", "The staging database listens on port 7000."
		sc := newScript(t,
			facts(t, []string{oldFact, "staging DB port", "test environment Postgres"}),
			facts(t, []string{newFact, "staging DB port", "test environment Postgres"}),
			"") // the decision, set below once the id is known
		e := newExtractor(sc)
		res1, ms1 := turn(t, e, l, scope, "For the record: the staging DB is on port 6543.")
		if sc.n() != 1 || len(ms1) != 1 || res1.Ops[0].Action != extract.Add || !res1.Ops[0].ByRule {
			t.Fatalf("first turn: %d calls, ops %+v; want 1 call, one add by rule (no candidate)", sc.n(), res1.Ops)
		}
		old := ms1[0]
		sc.answers[1] = decisions("update", old.ID)

		res2, ms2 := turn(t, e, l, scope, "We moved staging to port 7000 yesterday.")
		if sc.n() != 3 || len(ms2) != 1 || res2.Ops[0].Action != extract.Update || res2.Ops[0].OldID != old.ID {
			t.Fatalf("second turn: %d calls, ops %+v; want 3 calls in all, an update of %s", sc.n(), res2.Ops, old.ID)
		}
		ask := sc.userOf(2)["facts"].([]any)[0].(map[string]any)
		if ask["text"] != newFact || !strings.Contains(mustJSON(t, ask["memories"]), old.ID) || !strings.Contains(mustJSON(t, ask["memories"]), oldFact) {
			t.Errorf("the decision request holds %v; want the new fact and the old memory's id and text", ask)
		}
		if got := search(t, l, scope, "staging database port"); !slices.Equal(got, []string{newFact}) {
			t.Errorf("search after the move finds %q; want only the new fact", got)
		}
		h, err := l.History(t.Context(), scope, ms2[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 2 || h[0].ID != old.ID || h[0].Status != memory.StatusSuperseded || h[0].SupersededBy != ms2[0].ID || h[1].Status != memory.StatusActive {
			t.Errorf("history %+v; want the old fact superseded by the new one", h)
		}
		want := memory.Source{Client: "claude-code", RequestID: "req-We mo", Session: "sess-1", Turn: 3}
		if h[1].Source != want || h[1].Metadata["source"] != extract.MetaSource || h[1].Metadata["model"] != "cheap" {
			t.Errorf("the new memory has source %+v, metadata %v; want %+v and source/model metadata", h[1].Source, h[1].Metadata, want)
		}
		for i, c := range sc.calls {
			if c.model != "cheap" || c.body.Model != "cheap" || c.body.ResponseFormat.Type != "json_object" || c.body.Stream {
				t.Errorf("call %d: model %q, body %+v; want cheap, a non-streaming json_object request", i, c.model, c.body)
			}
			if !c.infoOK || c.info.Turn.Scope != scope || c.info.Turn.RequestID == "" || c.info.Step == "" {
				t.Errorf("call %d: context info %+v (%v); want the turn and step", i, c.info, c.infoOK)
			}
		}
	})
}

// TestDelete: a fact saying an old memory no longer holds supersedes it.
func TestDelete(t *testing.T) {
	eachBackend(t, func(t *testing.T, l memory.Lifecycle) {
		old, _, err := l.AddWith(t.Context(), scope, "User sessions are stored in Redis.", memory.AddOptions{})
		if err != nil {
			t.Fatal(err)
		}
		const fact = "User sessions are no longer stored in Redis; they are kept in signed cookies."
		sc := newScript(t, facts(t, []string{fact, "session storage"}), decisions("delete", old.ID))
		res, ms := turn(t, newExtractor(sc), l, scope, "We dropped Redis for sessions, cookies now.")
		if res.Ops[0].Action != extract.Delete || len(ms) != 1 {
			t.Fatalf("ops %+v; want one delete", res.Ops)
		}
		if got, _ := l.Get(t.Context(), scope, old.ID); got.Status != memory.StatusSuperseded || got.SupersededBy != ms[0].ID {
			t.Errorf("the old memory is %+v; want superseded by %s", got, ms[0].ID)
		}
		if got := search(t, l, scope, "sessions Redis"); !slices.Equal(got, []string{fact}) {
			t.Errorf("search finds %q; want only the new fact", got)
		}
	})
}

// TestIDsOutsideCandidates: the model cannot reach a memory that is not a
// candidate of the fact, least of all one of another scope; the fact is
// added and nothing else changes.
func TestIDsOutsideCandidates(t *testing.T) {
	eachBackend(t, func(t *testing.T, l memory.Lifecycle) {
		mine, _, err := l.AddWith(t.Context(), scope, "Releases are cut on Fridays.", memory.AddOptions{})
		if err != nil {
			t.Fatal(err)
		}
		theirs, _, err := l.AddWith(t.Context(), other, "Releases are cut on Mondays.", memory.AddOptions{})
		if err != nil {
			t.Fatal(err)
		}
		const fact = "Releases are cut on Thursdays after the team sync."
		for _, id := range []string{theirs.ID, "mem_MADEUP", ""} {
			for _, action := range []string{"update", "delete", "none"} {
				sc := newScript(t, facts(t, []string{fact}), decisions(action, id))
				res, err := newExtractor(sc).Distil(t.Context(), l, extract.Turn{Scope: scope, User: "releases move to Thursday"})
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Ops) != 1 || res.Ops[0].Action != extract.Add || res.Ops[0].OldID != "" || !res.Ops[0].ByRule {
					t.Errorf("%s %q: ops %+v; want the fact added, the id ignored", action, id, res.Ops)
				}
			}
		}
		sc := newScript(t, facts(t, []string{fact}), decisions("update", theirs.ID))
		turn(t, newExtractor(sc), l, scope, "releases move to Thursday")
		for _, c := range []struct {
			s  memory.Scope
			id string
		}{{scope, mine.ID}, {other, theirs.ID}} {
			if m, err := l.Get(t.Context(), c.s, c.id); err != nil || m.Status != memory.StatusActive {
				t.Errorf("memory %s of %s: %+v, %v; want untouched and active", c.id, c.s, m, err)
			}
		}
		if got := search(t, l, other, "releases Thursdays"); !slices.Equal(got, []string{"Releases are cut on Mondays."}) {
			t.Errorf("the other scope holds %q; want only its own memory", got)
		}
	})
}

// TestKeysFindable: a paraphrase that shares no word with the fact finds it
// through its keys, and finds nothing where the same fact has none.
func TestKeysFindable(t *testing.T) {
	eachBackend(t, func(t *testing.T, l memory.Lifecycle) {
		const fact = "Releases go out by blue-green deploy on Fridays."
		const query = "how do we ship to production"
		sc := newScript(t, facts(t, []string{fact, "shipping to production", "how we ship", "prod rollout schedule"}))
		res, _ := turn(t, newExtractor(sc), l, scope, "Remember: blue-green deploys, Fridays.")
		if len(res.Ops) != 1 || len(res.Ops[0].Keys) != 3 {
			t.Fatalf("ops %+v; want one fact with 3 keys", res.Ops)
		}
		if _, _, err := l.AddWith(t.Context(), other, fact, memory.AddOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := search(t, l, scope, query); !slices.Equal(got, []string{fact}) {
			t.Errorf("search %q with keys finds %q; want the fact", query, got)
		}
		if got := search(t, l, other, query); len(got) != 0 {
			t.Errorf("search %q without keys finds %q; want nothing (the test's paraphrase shares a word with the fact)", query, got)
		}
	})
}

// TestRules: a fact already stored is not stored again, and a restatement
// updates its memory, both without a second model call.
func TestRules(t *testing.T) {
	eachBackend(t, func(t *testing.T, l memory.Lifecycle) {
		const fact = "The staging database listens on port 6543."
		old, _, err := l.AddWith(t.Context(), scope, fact, memory.AddOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sc := newScript(t, facts(t, []string{"the staging  database listens on port 6543."}))
		res, ms := turn(t, newExtractor(sc), l, scope, "staging is 6543, as you know")
		if sc.n() != 1 || res.Ops[0].Action != extract.None || res.Ops[0].OldID != old.ID || len(ms) != 0 {
			t.Errorf("an identical fact: %d calls, ops %+v, wrote %v; want none, by rule", sc.n(), res.Ops, ms)
		}
		const restated = "For the record, the staging database listens on port 6543."
		sc = newScript(t, facts(t, []string{restated, "staging port"}))
		res, ms = turn(t, newExtractor(sc), l, scope, "for the record, staging is 6543")
		if sc.n() != 1 || res.Ops[0].Action != extract.Update || !res.Ops[0].ByRule || len(ms) != 1 {
			t.Fatalf("a restatement: %d calls, ops %+v; want an update by rule", sc.n(), res.Ops)
		}
		if got := search(t, l, scope, "staging database port"); !slices.Equal(got, []string{restated}) {
			t.Errorf("search finds %q; want only the restatement", got)
		}
		// A shorter restatement says less than the memory: known.
		sc = newScript(t, facts(t, []string{"The staging database listens on port 6543."}))
		res, ms = turn(t, newExtractor(sc), l, scope, "staging is on 6543")
		if sc.n() != 1 || res.Ops[0].Action != extract.None || res.Ops[0].OldID != ms1(t, l) || len(ms) != 0 {
			t.Errorf("a shorter restatement: %d calls, ops %+v, wrote %v; want none by rule", sc.n(), res.Ops, ms)
		}
	})
}

// TestNoFacts: small talk gives no fact; nothing is searched or stored.
func TestNoFacts(t *testing.T) {
	eachBackend(t, func(t *testing.T, l memory.Lifecycle) {
		sc := newScript(t, "```json\n{\"facts\": []}\n```")
		res, ms := turn(t, newExtractor(sc), l, scope, "thanks, that's all for today!")
		if sc.n() != 1 || len(res.Ops) != 0 || len(ms) != 0 || res.Calls != 1 || res.Usage.PromptTokens != 40 {
			t.Errorf("%d calls, result %+v, wrote %v; want one call, nothing", sc.n(), res, ms)
		}
		if all, _, _ := l.List(t.Context(), scope, "", 10); len(all) != 0 {
			t.Errorf("the scope holds %v; want nothing", all)
		}
		// A turn with no text is not sent at all.
		if res, err := newExtractor(sc).Distil(t.Context(), l, extract.Turn{Scope: scope, User: " \n"}); err != nil || sc.n() != 1 || res.Calls != 0 {
			t.Errorf("a blank turn: %v, %d calls; want no call", err, sc.n())
		}
	})
}

// TestMalformed: output that is not the documented JSON is an error (the
// caller falls back to rules mode), with the calls' usage still reported.
func TestMalformed(t *testing.T) {
	l := openSQLite(t)
	if _, _, err := l.AddWith(t.Context(), scope, "The staging database listens on port 6543.", memory.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	const fact = "The staging database listens on port 7000."
	for name, answers := range map[string][]string{
		"prose":              {"Here are the facts: the staging DB moved."},
		"truncated":          {`{"facts": [{"fact": "The staging`},
		"no facts list":      {`{"memories": []}`},
		"fact not a string":  {`{"facts": [{"fact": 7000}]}`},
		"two objects":        {`{"facts": []} {"facts": []}`},
		"fact too long":      {`{"facts": [{"fact": "` + strings.Repeat("x", memory.MaxContentBytes+1) + `"}]}`},
		"bad decision":       {facts(t, []string{fact}), `{"decisions": [{"fact": 0, "action": "merge"}]}`},
		"no decisions list":  {facts(t, []string{fact}), `{"facts": []}`},
		"decisions not JSON": {facts(t, []string{fact}), `update the old one`},
	} {
		t.Run(name, func(t *testing.T) {
			sc := newScript(t, answers...)
			res, err := newExtractor(sc).Distil(t.Context(), l, extract.Turn{Scope: scope, User: "we moved staging to port 7000"})
			if !errors.Is(err, extract.ErrMalformed) {
				t.Fatalf("err %v; want ErrMalformed", err)
			}
			if res.Calls != len(answers) || res.Usage.PromptTokens != int64(40*len(answers)) || len(res.Ops) != 0 {
				t.Errorf("result %+v; want %d calls counted and no ops", res, len(answers))
			}
		})
	}
	sc := newScript(t)
	sc.err = errors.New("upstream 503")
	res, err := newExtractor(sc).Distil(t.Context(), l, extract.Turn{Scope: scope, User: "we moved staging to port 7000"})
	if err == nil || !strings.Contains(err.Error(), "upstream 503") || res.Calls != 1 || res.Usage.CompletionTokens != 20 {
		t.Errorf("a failed call: %v, %+v; want its error and its usage", err, res)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestApplyRaces: a memory deleted or superseded between Distil and Apply
// does not lose the fact, and two facts of a turn never supersede one
// memory twice.
func TestApplyRaces(t *testing.T) {
	eachBackend(t, func(t *testing.T, l memory.Lifecycle) {
		old, _, err := l.AddWith(t.Context(), scope, "The deploy bot posts to #releases.", memory.AddOptions{})
		if err != nil {
			t.Fatal(err)
		}
		const a, b = "The deploy bot posts to #ship-it.", "The deploy bot also posts a summary to #eng."
		sc := newScript(t, facts(t, []string{a}, []string{b}),
			`{"decisions": [{"fact": 0, "action": "update", "id": "`+old.ID+`"}, {"fact": 1, "action": "update", "id": "`+old.ID+`"}]}`)
		res, err := newExtractor(sc).Distil(t.Context(), l, extract.Turn{Scope: scope, User: "bot channel changed"})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Ops) != 2 || res.Ops[0].Action != extract.Update || res.Ops[1].Action != extract.Add || res.Ops[1].OldID != "" {
			t.Fatalf("ops %+v; want the first fact to update, the second added", res.Ops)
		}
		if err := l.Delete(t.Context(), scope, old.ID); err != nil {
			t.Fatal(err)
		}
		ms, err := extract.Apply(t.Context(), l, res)
		if err != nil || len(ms) != 2 {
			t.Fatalf("Apply after the old memory was deleted: %v, %v; want both facts added", ms, err)
		}
		if got := search(t, l, scope, "deploy bot posts"); len(got) != 2 || !slices.Contains(got, a) || !slices.Contains(got, b) {
			t.Errorf("search finds %q; want both facts", got)
		}
	})
}

// TestKeysFindCandidates: a stale memory that shares no word with the new
// fact is still found through the fact's keys, and goes to the model.
func TestKeysFindCandidates(t *testing.T) {
	eachBackend(t, func(t *testing.T, l memory.Lifecycle) {
		old, _, err := l.AddWith(t.Context(), scope, "Deploys go out from the release branch on Fridays.", memory.AddOptions{})
		if err != nil {
			t.Fatal(err)
		}
		const fact = "Production is shipped every Thursday."
		sc := newScript(t, facts(t, []string{fact, "release branch schedule", "deploy day"}), decisions("update", old.ID))
		res, ms := turn(t, newExtractor(sc), l, scope, "We ship on Thursdays now.")
		if sc.n() != 2 || res.Ops[0].Action != extract.Update || res.Ops[0].OldID != old.ID || len(ms) != 1 {
			t.Fatalf("%d calls, ops %+v; want the old memory found as a candidate and updated", sc.n(), res.Ops)
		}
		if got, _ := l.Get(t.Context(), scope, old.ID); got.Status != memory.StatusSuperseded {
			t.Errorf("the old memory is %s; want superseded", got.Status)
		}
	})
}

// plain is a backend without supersede links or hidden keys, as the
// Supermemory backend answers.
type plain struct{ memory.Lifecycle }

func (p plain) Supersede(context.Context, memory.Scope, string, string, memory.AddOptions) (memory.Memory, error) {
	return memory.Memory{}, memory.ErrUnsupported
}

func (p plain) AddWith(ctx context.Context, s memory.Scope, content string, o memory.AddOptions) (memory.Memory, bool, error) {
	if o.Keys != "" {
		return memory.Memory{}, false, memory.ErrUnsupported
	}
	return p.Lifecycle.AddWith(ctx, s, content, o)
}

// TestApplyUnsupported: a backend that cannot supersede or keep keys still
// gets every fact.
func TestApplyUnsupported(t *testing.T) {
	l := openSQLite(t)
	old, _, err := l.AddWith(t.Context(), scope, "The staging database listens on port 6543.", memory.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := extract.Result{Scope: scope, Model: "cheap", Ops: []extract.Op{
		{Action: extract.Update, Fact: "The staging database listens on port 7000.", Keys: []string{"staging port"}, OldID: old.ID},
		{Action: extract.Add, Fact: "Alice owns billing.", Keys: []string{"billing owner"}},
	}}
	ms, err := extract.Apply(t.Context(), plain{l}, res)
	if err != nil || len(ms) != 2 {
		t.Fatalf("Apply: %v, %v; want both facts added", ms, err)
	}
	if got := search(t, l, scope, "staging database port"); len(got) != 2 {
		t.Errorf("search finds %q; want the old and the new fact (no supersede on this backend)", got)
	}
}

// ms1 is the id of the one active memory of scope.
func ms1(t *testing.T, l memory.Lifecycle) string {
	t.Helper()
	all, _, err := l.List(t.Context(), scope, "", 10)
	if err != nil || len(all) != 1 {
		t.Fatalf("List: %v, %v; want one memory", all, err)
	}
	return all[0].ID
}

// TestRefused: a turn without a valid scope, or an Extractor without a
// model, makes no call; Apply refuses a bad scope and reports a failed
// write without stopping the others.
func TestRefused(t *testing.T) {
	l := openSQLite(t)
	sc := newScript(t)
	if _, err := newExtractor(sc).Distil(t.Context(), l, extract.Turn{Scope: "", User: "hi"}); !errors.Is(err, memory.ErrInvalidScope) {
		t.Errorf("no scope: %v; want ErrInvalidScope", err)
	}
	if _, err := (&extract.Extractor{Call: sc.call}).Distil(t.Context(), l, extract.Turn{Scope: scope, User: "hi"}); err == nil {
		t.Error("no model: no error")
	}
	if sc.n() != 0 {
		t.Errorf("%d calls; want none", sc.n())
	}
	if _, err := extract.Apply(t.Context(), l, extract.Result{Scope: "bad\nscope"}); !errors.Is(err, memory.ErrInvalidScope) {
		t.Errorf("Apply to a bad scope: %v; want ErrInvalidScope", err)
	}
	ms, err := extract.Apply(t.Context(), l, extract.Result{Scope: scope, Ops: []extract.Op{
		{Action: extract.Add, Fact: " "}, {Action: extract.None, Fact: "known"}, {Action: extract.Add, Fact: "Alice owns billing."}}})
	if !errors.Is(err, memory.ErrInvalidContent) || len(ms) != 1 || ms[0].Content != "Alice owns billing." {
		t.Errorf("Apply with a blank fact: %v, %v; want its error and the other fact written", ms, err)
	}
}
