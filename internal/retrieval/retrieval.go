// Package retrieval finds passages of a user's documents relevant to a query. The
// Retriever interface is the seam the executor's retrieval node calls; the
// deployed implementation is documents/library (hybrid search over the stored
// chunks, wired by lambdaapp/docsapp), and Memory is a keyword retriever over
// in-memory documents for offline runs and logic tests.
package retrieval

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/chatterhq/chatter/internal/wire"
)

// Query asks for passages of one user's documents.
type Query struct {
	UserID      string
	Text        string
	DocumentIDs []string // empty = all of the user's documents
	TopK        int
	MinScore    float64
}

// Passage is one retrieved piece of a document (the wire shape).
type Passage = wire.Passage

// Retriever finds passages. Implementations never return another user's documents.
type Retriever interface {
	Retrieve(ctx context.Context, q Query) ([]Passage, error)
}

// Document is a stored document of Memory.
type Document struct {
	ID, UserID, Title, Text string
}

// Memory scores documents by the share of query words they contain.
type Memory struct {
	mu   sync.RWMutex
	docs []Document
}

// Add stores documents.
func (m *Memory) Add(docs ...Document) {
	m.mu.Lock()
	m.docs = append(m.docs, docs...)
	m.mu.Unlock()
}

// Retrieve returns the user's best-matching documents, best first.
func (m *Memory) Retrieve(ctx context.Context, q Query) ([]Passage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	words := strings.Fields(strings.ToLower(q.Text))
	if len(words) == 0 {
		return nil, nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []Passage
	for _, d := range m.docs {
		if d.UserID != q.UserID || (len(q.DocumentIDs) > 0 && !slices.Contains(q.DocumentIDs, d.ID)) {
			continue
		}
		text := strings.ToLower(d.Text)
		hits := 0
		for _, w := range words {
			if strings.Contains(text, strings.Trim(w, ".,;:!?\"'")) {
				hits++
			}
		}
		score := float64(hits) / float64(len(words))
		if hits == 0 || score < q.MinScore {
			continue
		}
		out = append(out, Passage{DocumentID: d.ID, Title: d.Title, Text: d.Text, Score: score})
	}
	slices.SortStableFunc(out, func(a, b Passage) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
	if q.TopK > 0 && len(out) > q.TopK {
		out = out[:q.TopK]
	}
	return out, nil
}
