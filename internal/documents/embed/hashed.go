package embed

import (
	"context"
	"fmt"
	"math"

	"github.com/chatterhq/chatter/internal/documents/terms"
)

// DefaultHashedDimensions is the Hashed embedder's size unless a spec names another.
const DefaultHashedDimensions = 256

// Hashed is the offline embedder (see the package comment).
type Hashed struct{ dims int }

var _ Embedder = (*Hashed)(nil)

// NewHashed returns a Hashed embedder of dims dimensions (16..4096).
func NewHashed(dims int) (*Hashed, error) {
	if dims < 16 || dims > 4096 {
		return nil, fmt.Errorf("embed: %s dimensions must be between 16 and 4096, got %d", HashedModel, dims)
	}
	return &Hashed{dims: dims}, nil
}

func (h *Hashed) Model() string   { return formatSpec(HashedModel, h.dims, DefaultHashedDimensions) }
func (h *Hashed) Dimensions() int { return h.dims }

// Embed implements Embedder. A text without any meaning-bearing term (only stop
// words or punctuation) embeds as the zero vector, which is similar to nothing.
func (h *Hashed) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := checkTexts(texts); err != nil {
		return nil, err
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		out[i] = h.vector(t)
	}
	return out, nil
}

// pairWeight is the weight of an adjacent term pair relative to a single term: a
// shared phrase counts more than its words apart, without drowning them.
const pairWeight = 0.5

func (h *Hashed) vector(text string) []float32 {
	v := make([]float64, h.dims)
	toks := terms.Tokenize(text)
	for i, t := range toks {
		h.add(v, fnv64(fnvOffset, "u", t), 1)
		if i > 0 {
			h.add(v, fnv64(fnv64(fnvOffset, "b", toks[i-1]), " ", t), pairWeight)
		}
	}
	var norm float64
	for _, x := range v {
		norm += x * x
	}
	out := make([]float32, h.dims)
	if norm == 0 {
		return out
	}
	norm = math.Sqrt(norm)
	for i, x := range v {
		out[i] = float32(x / norm)
	}
	return out
}

// add puts w on the feature's bucket with the sign of one more hash bit, so
// colliding features cancel out on average instead of adding up.
func (h *Hashed) add(v []float64, hash uint64, w float64) {
	if hash>>63 == 1 {
		w = -w
	}
	v[(hash&(1<<63-1))%uint64(h.dims)] += w
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// fnv64 continues an FNV-1a hash over a and b without allocating.
func fnv64(h uint64, a, b string) uint64 {
	for i := 0; i < len(a); i++ {
		h = (h ^ uint64(a[i])) * fnvPrime
	}
	for i := 0; i < len(b); i++ {
		h = (h ^ uint64(b[i])) * fnvPrime
	}
	return h
}
