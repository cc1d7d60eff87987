package memorytest

import (
	"context"
	"fmt"
	"slices"

	"github.com/memproxy/memproxy/gateway/memory"
)

// The retrieval-quality data set: what a developer's memories look like
// (project conventions, commands, decisions, people, bugs) in ten projects,
// and questions a developer would ask, each with the memories that answer
// it. It was written for memproxy. Queries are phrased as people ask, often
// without the memory's words, so lexical backends are not flattered.

// QualityProject is one scope's memories and queries.
type QualityProject struct {
	Name     string
	Memories []string
	Queries  []QualityQuery
}

// QualityQuery is a question and the indexes (into its project's Memories)
// of the memories that answer it.
type QualityQuery struct {
	Text     string
	Relevant []int
}

// QualitySet is the data set (quality_data*.go): 10 projects, 210
// memories, 100 queries.
var QualitySet = []QualityProject{shopProject, billingProject, mobileProject, infraProject, pipelineProject,
	docsProject, mlProject, cliProject, authProject, firmwareProject}

// EvalUser is the user part of the scopes Evaluate writes: one scope per
// project, "u:memproxy-eval/p:NAME". Evaluate empties them before and
// after.
const EvalUser = "u:memproxy-eval"

// evalDepth is how many results Evaluate asks for; MRR counts a first
// relevant result at ranks 1..evalDepth.
const evalDepth = 10

// Evaluate loads QualitySet into b (one scope per project) and runs every
// query in its project's scope. It returns the mean recall@5 (the share of
// a query's relevant memories among its first five results) and the mean
// reciprocal rank of the first relevant result within the first ten (0 when
// none). It fails if a result comes from another scope. Backends that index
// asynchronously must have finished indexing before Search sees a memory.
func Evaluate(ctx context.Context, b memory.Backend) (recallAt5, mrr float64, err error) {
	return EvaluateSet(ctx, b, QualitySet)
}

// score grades one result list against the relevant memories' indexes.
func score(res []memory.Memory, ids []string, relevant []int) (recallAt5, rr float64, err error) {
	want := make([]string, len(relevant))
	for i, r := range relevant {
		want[i] = ids[r]
	}
	found := 0
	for rank, m := range res {
		if !slices.Contains(ids, m.ID) {
			return 0, 0, fmt.Errorf("result %s is not a memory of the scope", m.ID)
		}
		if !slices.Contains(want, m.ID) {
			continue
		}
		if rr == 0 && rank < evalDepth {
			rr = 1 / float64(rank+1)
		}
		if rank < 5 {
			found++
		}
	}
	return float64(found) / float64(len(want)), rr, nil
}
