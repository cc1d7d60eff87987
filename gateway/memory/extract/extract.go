// Package extract distils the durable facts of a conversation turn with a
// model and decides how each changes a scope's memory (issue 11, "distil
// facts, update stale ones"; issue 13, "fact keys").
//
// Distil makes at most two model calls per turn, through a Caller the
// gateway provides (its router, its usage log):
//
//  1. the facts: the turn (the person's cleaned words and the final
//     answer) goes to the model, which answers JSON with the turn's durable
//     facts — decisions, conventions, preferences, names, commands, ports,
//     people — each a standalone sentence with 2–5 hidden search keys
//     (alternative phrasings, keywords). Small talk or a question with no
//     new information gives none, and nothing is stored.
//  2. the decisions: each fact is searched in the scope (top 5, the fact
//     and its keys as the query). A fact with no candidate is added; one
//     identical (memory.Normalize, any case) to a candidate is already
//     known; one that restates a candidate (memory.NearDuplicate) updates
//     it, unless the candidate is the longer (it says more: known). The rest go to the model in one call with their candidates (ids
//     and texts), which answers add, update (supersede one named memory),
//     delete (one memory is no longer true) or none (already known).
//
// Apply then writes the decisions with the memory's source and keys:
// update and delete both supersede the old memory with the new fact (the
// old one stays in History, marked superseded, and is never injected
// again); a model never erases a memory, only a person does.
//
// What the model says is checked, never trusted: the scope is the turn's,
// ids are the candidates' of that fact (another id is ignored and the fact
// added, so nothing crosses scopes), facts are capped in number and size,
// and output that is not the documented JSON is an error. On any error —
// the model failed or answered malformed JSON, a search failed, or
// ErrBudget — the caller falls back to rules mode (storing the cleaned
// turn as the gateway does without a model), so nothing is lost; and as
// Distil runs after the answer was served, the answer is never delayed.
package extract

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/memory"
)

// Caller sends one OpenAI chat completions request (the gateway's hub
// dialect), non-streaming, to model and returns the answer's body (a chat
// completion object) and its usage. The gateway's Caller goes through its
// router (so any provider serves, with retries and fallbacks) and writes
// the call's usage row itself (purpose memory_extraction, linked to the
// turn's request id found with InfoFrom(ctx)), so that the row is logged
// whatever Distil does with the answer. Usage is returned even with an
// error when the provider billed the call.
type Caller func(ctx context.Context, model string, chatBody []byte) (answer []byte, u llm.Usage, err error)

// Defaults of Extractor's limits.
const (
	// DefaultMaxFacts caps the facts kept from one turn.
	DefaultMaxFacts = 10
	// MaxKeys caps the keys kept per fact, MaxKeyBytes each key.
	MaxKeys     = 5
	MaxKeyBytes = 200
	// Candidates is how many memories are searched per fact.
	Candidates = 5
	// MaxUserBytes and MaxAnswerBytes cap what of the turn goes to the
	// model (the rest is cut, marked).
	MaxUserBytes   = 16 << 10
	MaxAnswerBytes = 8 << 10
	// maxCandidateBytes caps a candidate's text in the decision prompt.
	maxCandidateBytes = 1000
)

// Errors callers branch on.
var (
	// ErrBudget: the scope's daily extraction budget is spent.
	ErrBudget = errors.New("memory extraction budget spent for today")
	// ErrMalformed: the model's answer is not the documented JSON.
	ErrMalformed = errors.New("malformed extraction model output")
)

// Extractor distils turns with one model. Its fields are set once; it is
// safe for concurrent use.
type Extractor struct {
	// Model is a model_name of the gateway's model_list.
	Model string
	// Call sends the model calls.
	Call Caller
	// Budget caps each scope's calls and tokens per UTC day; nil means no
	// cap. Share one Budget between Extractors of one process.
	Budget *Budget
	// MaxFacts caps the facts kept per turn (the model is asked for the
	// most important first); 0 means DefaultMaxFacts.
	MaxFacts int
	// Now is the clock (the budget's day, the date given to the model);
	// nil means time.Now.
	Now func() time.Time
	// Logger gets what was ignored (an id outside the candidates, facts
	// beyond MaxFacts); nil discards. Fact texts are never logged.
	Logger *slog.Logger
}

// Turn is one conversation turn to distil. User and Answer must already be
// what the gateway stores in rules mode: the person's words cleaned of
// client wrappers and injected memories, and secrets redacted (the
// extraction model is an upstream like any other).
type Turn struct {
	// Scope is the memory scope the turn belongs to (from the request's
	// identity, never from content): the only scope searched and written.
	Scope  memory.Scope
	User   string
	Answer string
	// Where the turn came from, stored as each memory's memory.Source.
	Client    string
	Session   string
	Turn      int
	RequestID string
}

// Action is what to do with one fact.
type Action string

// The actions.
const (
	// Add stores the fact as a new memory.
	Add Action = "add"
	// Update supersedes OldID with the fact (a newer or more precise
	// version of the same thing).
	Update Action = "update"
	// Delete supersedes OldID with the fact, which says the old memory is
	// no longer true ("we no longer use Redis for sessions"). It writes as
	// Update does: the old memory is kept in History, never hard-deleted.
	Delete Action = "delete"
	// None stores nothing: the scope already knows the fact.
	None Action = "none"
)

// Op is the decision about one fact.
type Op struct {
	Action Action
	// Fact is the standalone sentence to store.
	Fact string
	// Keys are its hidden search keys.
	Keys []string
	// OldID (Update, Delete, and None when a memory says the same) is a
	// memory of the turn's scope among the fact's candidates; Old its text.
	OldID, Old string
	// ByRule is set when the decision was made without the model
	// (no candidate, identical or near-duplicate candidate, or an id the
	// model gave that was not a candidate).
	ByRule bool
}

// Result is what Distil decided for a turn, for Apply.
type Result struct {
	Scope  memory.Scope
	Source memory.Source
	// Model is the extraction model, stored in the memories' metadata.
	Model string
	Ops   []Op
	// Usage and Calls total the model calls made, also when Distil
	// failed after some.
	Usage llm.Usage
	Calls int
}

// Info is what Distil puts in the context of each model call, so that the
// Caller can link its usage row to the turn.
type Info struct {
	Turn Turn
	// Step is "facts" (the first call) or "decisions" (the second).
	Step string
}

type infoKey struct{}

// InfoFrom returns the Info of a model call's context.
func InfoFrom(ctx context.Context) (Info, bool) {
	i, ok := ctx.Value(infoKey{}).(Info)
	return i, ok
}

// Distil asks the model for t's facts and decides what each changes in
// t.Scope, searching b for candidates. It writes nothing (Apply does). A
// turn with no text, or one the model finds no fact in, gives a Result
// without Ops. Errors: ErrBudget before a call the budget does not allow,
// ErrMalformed (wrapped) for an answer that is not the documented JSON,
// the Caller's and the backend's errors; on error the Result still says
// which calls were made and their usage.
func (e *Extractor) Distil(ctx context.Context, b memory.Backend, t Turn) (Result, error) {
	res := Result{Scope: t.Scope, Model: e.Model,
		Source: memory.Source{Client: t.Client, RequestID: t.RequestID, Session: t.Session, Turn: max(t.Turn, 0)}}
	if err := t.Scope.Validate(); err != nil {
		return res, err
	}
	if e.Model == "" || e.Call == nil {
		return res, errors.New("memory extraction: no model configured")
	}
	if strings.TrimSpace(t.User) == "" && strings.TrimSpace(t.Answer) == "" {
		return res, nil
	}
	body, err := factsRequest(e.Model, e.now(), t, e.maxFacts())
	if err != nil {
		return res, err
	}
	answer, err := e.call(ctx, &res, Info{Turn: t, Step: "facts"}, body)
	if err != nil {
		return res, err
	}
	facts, err := parseFacts(answer, e.maxFacts())
	if err != nil {
		return res, err
	}
	if facts.dropped > 0 {
		e.log().Warn("memory extraction: facts beyond the cap dropped", "request_id", t.RequestID, "dropped", facts.dropped, "kept", len(facts.facts))
	}
	if len(facts.facts) == 0 {
		return res, nil
	}
	res.Ops, err = e.decide(ctx, b, &res, t, facts.facts)
	return res, err
}

// call makes one model call within the budget and folds its usage into res.
func (e *Extractor) call(ctx context.Context, res *Result, info Info, body []byte) ([]byte, error) {
	day := e.now().UTC().Format(time.DateOnly)
	if err := e.Budget.take(info.Turn.Scope, day); err != nil {
		return nil, err
	}
	answer, u, err := e.Call(context.WithValue(ctx, infoKey{}, info), e.Model, body)
	e.Budget.spend(info.Turn.Scope, day, u)
	res.Calls++
	res.Usage.Add(u)
	if err != nil {
		return nil, fmt.Errorf("memory extraction (%s): %w", info.Step, err)
	}
	return answer, nil
}

func (e *Extractor) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Extractor) maxFacts() int {
	if e.MaxFacts > 0 {
		return e.MaxFacts
	}
	return DefaultMaxFacts
}

func (e *Extractor) log() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.DiscardHandler)
}
