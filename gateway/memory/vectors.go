package memory

import (
	"context"
	"errors"
	"fmt"
)

// Vectors is what a backend adds to Backend to keep one embedding per
// memory and search by it (hybrid recall, gateway/memory/hybrid). The
// gateway's SQLite and PostgreSQL stores implement it; find it with
// VectorsOf.
//
// A vector carries the name of the model that made it and its size, and
// search never compares vectors of another model or size: after a model
// change, memories are found by vector again only once re-embedded
// (MissingVectors lists them). Superseded and deleted memories are never
// returned, as for Search. The scope is a hard boundary, as for Backend.
type Vectors interface {
	// PutVector stores v as the embedding of memory id of s, made by
	// model, replacing the vector the memory had (of any model). An id not
	// in s gives ErrNotFound; an empty v or model gives ErrInvalidVector.
	// Backends may keep v at reduced precision (int8): only its direction
	// matters.
	PutVector(ctx context.Context, s Scope, id, model string, v []float32) error

	// SearchVectors returns up to limit active memories of s whose vector
	// was made by model and has len(q) values, by cosine similarity to q,
	// best first (ties by ID), leaving out those below minScore. Score is
	// the cosine similarity, in [-1, 1]. Limit is clamped as for Search.
	SearchVectors(ctx context.Context, s Scope, model string, q []float32, limit int, minScore float64) ([]Memory, error)

	// MissingVectors returns up to limit active memories, of every scope,
	// with no vector of model and size dims, each with its scope, in a
	// stable order. Storing their vectors removes them from the next call,
	// so a reindex that stops resumes where it was.
	MissingVectors(ctx context.Context, model string, dims, limit int) ([]Unembedded, error)
}

// Unembedded is a memory MissingVectors found, with its scope.
type Unembedded struct {
	Scope  Scope
	Memory Memory
}

// ErrInvalidVector: an empty vector or model name, or a vector too large.
var ErrInvalidVector = errors.New("invalid memory vector")

// MaxVectorDims bounds the size of a stored vector.
const MaxVectorDims = 8192

// ValidateVector reports (wrapping ErrInvalidVector) what PutVector must
// refuse, after checking the scope.
func ValidateVector(s Scope, model string, v []float32) error {
	if err := s.Validate(); err != nil {
		return err
	}
	switch {
	case model == "" || len(model) > MaxSourceBytes || !isText(model):
		return fmt.Errorf("%w: model name is empty, too long or not text", ErrInvalidVector)
	case len(v) == 0 || len(v) > MaxVectorDims:
		return fmt.Errorf("%w: %d values (want 1 to %d)", ErrInvalidVector, len(v), MaxVectorDims)
	}
	return nil
}

// VectorsOf returns b's Vectors, or an error wrapping ErrUnsupported.
func VectorsOf(b Backend) (Vectors, error) {
	v, ok := b.(Vectors)
	if !ok {
		return nil, fmt.Errorf("%w: %T keeps no embeddings", ErrUnsupported, b)
	}
	return v, nil
}
