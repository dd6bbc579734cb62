// Package search ranks a user's document chunks for a query: hybrid search over
// chunks held in memory (as loaded from the store for one request), with no
// storage of its own.
//
// Two rankings are fused:
//
//   - BM25 over the chunk texts (k1 = 1.2, b = 0.75, Lucene's idf
//     ln(1 + (N - df + 0.5)/(df + 0.5))), with terms.Tokenize, the tokenizer the
//     Hashed embedder uses. Collection statistics (N, df, average length) are those of
//     the whole index, not of the documents a query is scoped to, so a chunk's keyword
//     score does not depend on which other documents were asked for.
//   - Cosine similarity between the query vector and each chunk vector, when the
//     query has one. Only chunks with a positive score are ranked in either list.
//
// They are fused by reciprocal rank fusion: fused = Σ 1/(RRFK + rank), rank from 1,
// RRFK = 60, over the rankings the query takes part in. Results come in fused order.
//
// What the score means: Result.Score, the score a threshold (Query.MinScore) applies
// to and the API reports as similarity_score, is the cosine similarity of the chunk to
// the query (in [0, 1]; negative similarities count as 0): a floor on meaning that
// does not move with the size or mix of the corpus, which a fused rank score would.
// A keyword-only query (no vector, e.g. while embeddings are unavailable) has no
// similarity; its Score is the chunk's BM25 divided by the best BM25 of the query, so
// the best hit scores 1. Result.Fused is the fused score divided by its maximum (first
// in every ranking = 1), and Result.BM25 the raw keyword score, for explanation only.
//
// An Index is immutable once built and safe for concurrent use. Scoring is linear
// in the chunks in scope (see BenchmarkSearch and the README for sizes).
package search

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/chatterhq/chatter/internal/documents/terms"
)

// Ranking constants.
const (
	K1   = 1.2
	B    = 0.75
	RRFK = 60
)

// Query limits.
const (
	DefaultTopK = 10 // the predecessor's search limit default
	MaxTopK     = 100
)

// Chunk is one chunk as stored: Vector may be empty (not embedded yet).
type Chunk struct {
	ID         string
	DocumentID string
	Index      int
	Text       string
	Vector     []float32
}

// Query is one search.
type Query struct {
	Text        string
	Vector      []float32 // the query embedded with the chunks' model; nil for keywords only
	DocumentIDs []string  // the documents to search; empty = every chunk of the index
	TopK        int       // 0 = DefaultTopK, at most MaxTopK
	MinScore    float64   // drop results whose Score is below it; in [0, 1]
}

// Result is one ranked chunk.
type Result struct {
	Chunk
	Score float64 // see the package comment
	Fused float64
	BM25  float64
}

// InputError is a query or index the package cannot rank; Field names what is wrong.
type InputError struct {
	Field   string
	Message string
}

func (e *InputError) Error() string { return "search: " + e.Field + ": " + e.Message }

type posting struct {
	chunk int32
	tf    int32
}

// Index holds chunks ready to be searched.
type Index struct {
	chunks   []Chunk
	docOf    []int32          // chunk -> document number
	docs     map[string]int32 // document id -> number
	length   []float32        // chunk length in terms
	avgLen   float64
	postings map[string][]posting
	norms    []float64 // vector norms, 0 without a vector
	dims     int
}

// NewIndex builds an index over chunks, which it keeps (the caller must not change
// them afterwards). Every vector must have the same number of dimensions.
func NewIndex(chunks []Chunk) (*Index, error) {
	ix := &Index{
		chunks:   chunks,
		docOf:    make([]int32, len(chunks)),
		docs:     map[string]int32{},
		length:   make([]float32, len(chunks)),
		postings: map[string][]posting{},
		norms:    make([]float64, len(chunks)),
	}
	var total int
	tf := map[string]int32{}
	for i, c := range chunks {
		d, ok := ix.docs[c.DocumentID]
		if !ok {
			d = int32(len(ix.docs))
			ix.docs[c.DocumentID] = d
		}
		ix.docOf[i] = d
		clear(tf)
		toks := terms.Tokenize(c.Text)
		for _, t := range toks {
			tf[t]++
		}
		for t, n := range tf {
			ix.postings[t] = append(ix.postings[t], posting{chunk: int32(i), tf: n})
		}
		ix.length[i] = float32(len(toks))
		total += len(toks)
		if len(c.Vector) > 0 {
			if ix.dims == 0 {
				ix.dims = len(c.Vector)
			} else if len(c.Vector) != ix.dims {
				return nil, &InputError{Field: fmt.Sprintf("chunks[%d].Vector", i), Message: fmt.Sprintf("has %d dimensions, other chunks %d (vectors of different models cannot be compared)", len(c.Vector), ix.dims)}
			}
			ix.norms[i] = norm(c.Vector)
		}
	}
	if len(chunks) > 0 {
		ix.avgLen = float64(total) / float64(len(chunks))
	}
	return ix, nil
}

// Len is the number of chunks in the index.
func (ix *Index) Len() int { return len(ix.chunks) }

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// Search ranks the chunks in the query's scope, best first. It returns an
// *InputError for a bad TopK, MinScore or query vector, and ctx's error if it ends.
func (ix *Index) Search(ctx context.Context, q Query) ([]Result, error) {
	topK := q.TopK
	switch {
	case topK == 0:
		topK = DefaultTopK
	case topK < 0 || topK > MaxTopK:
		return nil, &InputError{Field: "TopK", Message: fmt.Sprintf("must be between 1 and %d, got %d", MaxTopK, q.TopK)}
	}
	if q.MinScore < 0 || q.MinScore > 1 || math.IsNaN(q.MinScore) {
		return nil, &InputError{Field: "MinScore", Message: fmt.Sprintf("must be between 0 and 1, got %v", q.MinScore)}
	}
	if q.Vector != nil && ix.dims != 0 && len(q.Vector) != ix.dims {
		return nil, &InputError{Field: "Vector", Message: fmt.Sprintf("has %d dimensions, the chunks %d", len(q.Vector), ix.dims)}
	}
	var scope []bool // by document number; nil = everything
	if len(q.DocumentIDs) > 0 {
		scope = make([]bool, len(ix.docs))
		found := false
		for _, id := range q.DocumentIDs {
			if d, ok := ix.docs[id]; ok {
				scope[d], found = true, true
			}
		}
		if !found {
			return nil, nil
		}
	}
	in := func(c int32) bool { return scope == nil || scope[ix.docOf[c]] }

	bm25 := ix.keywordScores(q.Text, in)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	lists := []scored{bm25}
	var cos scored
	if q.Vector != nil {
		var err error
		if cos, err = ix.vectorScores(ctx, q.Vector, in); err != nil {
			return nil, err
		}
		lists = append(lists, cos)
	}

	fused := scored{score: make([]float64, len(ix.chunks))}
	for _, l := range lists {
		for rank, c := range ix.ranked(l) {
			if fused.score[c] == 0 {
				fused.hits = append(fused.hits, c)
			}
			fused.score[c] += 1 / float64(RRFK+rank+1)
		}
	}
	var bestBM25 float64
	for _, c := range bm25.hits {
		bestBM25 = max(bestBM25, bm25.score[c])
	}
	out := make([]Result, 0, min(topK, len(fused.hits)))
	for _, c := range ix.ranked(fused) {
		r := Result{Chunk: ix.chunks[c], Fused: fused.score[c] * float64(RRFK+1) / float64(len(lists)), BM25: bm25.score[c]}
		switch {
		case q.Vector != nil:
			r.Score = cos.score[c]
		case bestBM25 > 0:
			r.Score = r.BM25 / bestBM25
		}
		if r.Score < q.MinScore {
			continue
		}
		out = append(out, r)
		if len(out) == topK {
			break
		}
	}
	return out, nil
}

// scored holds one ranking's scores by chunk number, and the chunks with a
// positive score.
type scored struct {
	score []float64
	hits  []int32
}

// keywordScores are the BM25 scores of the in-scope chunks that contain a query term.
func (ix *Index) keywordScores(text string, in func(int32) bool) scored {
	s := scored{score: make([]float64, len(ix.chunks))}
	n := float64(len(ix.chunks))
	seen := map[string]bool{}
	for _, t := range terms.Tokenize(text) {
		if seen[t] {
			continue
		}
		seen[t] = true
		ps := ix.postings[t]
		if len(ps) == 0 {
			continue
		}
		df := float64(len(ps))
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		for _, p := range ps {
			if !in(p.chunk) {
				continue
			}
			tf := float64(p.tf)
			lenNorm := 1 - B + B*float64(ix.length[p.chunk])/ix.avgLen
			if s.score[p.chunk] == 0 {
				s.hits = append(s.hits, p.chunk)
			}
			s.score[p.chunk] += idf * tf * (K1 + 1) / (tf + K1*lenNorm)
		}
	}
	return s
}

// vectorScores are the positive cosine similarities of the in-scope chunks.
func (ix *Index) vectorScores(ctx context.Context, v []float32, in func(int32) bool) (scored, error) {
	s := scored{score: make([]float64, len(ix.chunks))}
	qn := norm(v)
	if qn == 0 {
		return s, nil
	}
	for i, c := range ix.chunks {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return scored{}, err
			}
		}
		if ix.norms[i] == 0 || !in(int32(i)) {
			continue
		}
		var dot float64
		for j, x := range c.Vector {
			dot += float64(x) * float64(v[j])
		}
		if sim := dot / (qn * ix.norms[i]); sim > 0 {
			s.score[i] = min(sim, 1)
			s.hits = append(s.hits, int32(i))
		}
	}
	return s, nil
}

// ranked orders the scored chunks best first; ties go by document id, then chunk
// index, so a ranking never depends on map order.
func (ix *Index) ranked(s scored) []int32 {
	out := slices.Clone(s.hits)
	slices.SortFunc(out, func(a, b int32) int {
		if c := cmp.Compare(s.score[b], s.score[a]); c != 0 {
			return c
		}
		ca, cb := &ix.chunks[a], &ix.chunks[b]
		if c := cmp.Compare(ca.DocumentID, cb.DocumentID); c != 0 {
			return c
		}
		if c := cmp.Compare(ca.Index, cb.Index); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return out
}
