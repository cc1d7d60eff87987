package extract

import (
	"context"
	"fmt"
	"strings"

	"github.com/memproxy/memproxy/gateway/memory"
)

// pending is a fact the model must decide on, with its candidates.
type pending struct {
	op         int // index in the ops
	candidates []memory.Memory
}

// decide searches each fact's candidates in t.Scope, decides by rule where
// it can and asks the model (one call) for the rest.
func (e *Extractor) decide(ctx context.Context, b memory.Backend, res *Result, t Turn, facts []fact) ([]Op, error) {
	ops := make([]Op, len(facts))
	var ask []pending
	for i, f := range facts {
		ops[i] = Op{Fact: f.Fact, Keys: f.Keys}
		// The keys widen the search: a stale memory often shares more
		// words with the fact's other phrasings than with the fact.
		cands, err := b.Search(ctx, t.Scope, strings.Join(append([]string{f.Fact}, f.Keys...), " "), Candidates)
		if err != nil {
			return nil, fmt.Errorf("memory extraction: searching the scope: %w", err)
		}
		if !byRule(&ops[i], cands) {
			ask = append(ask, pending{op: i, candidates: cands})
		}
	}
	if len(ask) > 0 {
		body, err := decisionsRequest(e.Model, ops, ask)
		if err != nil {
			return nil, err
		}
		answer, err := e.call(ctx, res, Info{Turn: t, Step: "decisions"}, body)
		if err != nil {
			return nil, err
		}
		ds, err := parseDecisions(answer, len(ask))
		if err != nil {
			return nil, err
		}
		for j, p := range ask {
			e.settle(&ops[p.op], ds[j], p.candidates, t.RequestID)
		}
	}
	oneSupersedePerMemory(ops)
	return ops, nil
}

// byRule decides op without the model when its candidates allow, and
// reports whether it did.
func byRule(op *Op, cands []memory.Memory) bool {
	op.ByRule = true
	if len(cands) == 0 {
		op.Action = Add
		return true
	}
	norm := strings.ToLower(memory.Normalize(op.Fact))
	for _, c := range cands {
		if strings.ToLower(memory.Normalize(c.Content)) == norm {
			op.Action, op.OldID, op.Old = None, c.ID, c.Content
			return true
		}
	}
	for _, c := range cands {
		if memory.NearDuplicate(c.Content, op.Fact) {
			// A restatement: at most one of the two has words the other
			// lacks. When the memory is the longer, it already says all
			// the fact does; else the fresh wording (and its keys)
			// replaces it, as rules-mode write-back does.
			op.Action, op.OldID, op.Old = Update, c.ID, c.Content
			if len(memory.Normalize(c.Content)) > len(op.Fact) {
				op.Action = None
			}
			return true
		}
	}
	op.ByRule = false
	return false
}

// settle sets op from the model's decision d, keeping ids to the fact's
// candidates: an update, delete or none that names no candidate of this
// fact (another id, of this scope or not, or none) adds the fact instead,
// so that nothing is lost and nothing crosses scopes.
func (e *Extractor) settle(op *Op, d decision, cands []memory.Memory, requestID string) {
	op.Action = d.Action
	if d.Action == Add {
		return
	}
	for _, c := range cands {
		if c.ID == d.ID {
			op.OldID, op.Old = c.ID, c.Content
			return
		}
	}
	e.log().Warn("memory extraction: the model named a memory that is not a candidate; the fact is added",
		"request_id", requestID, "action", string(d.Action), "id", d.ID)
	op.Action, op.ByRule = Add, true
}

// oneSupersedePerMemory keeps the first fact that supersedes a memory; a
// later one in the same turn is added beside it (a memory is superseded
// once).
func oneSupersedePerMemory(ops []Op) {
	taken := make(map[string]bool)
	for i := range ops {
		op := &ops[i]
		if op.Action != Update && op.Action != Delete {
			continue
		}
		if taken[op.OldID] {
			op.Action, op.OldID, op.Old, op.ByRule = Add, "", "", true
			continue
		}
		taken[op.OldID] = true
	}
}
