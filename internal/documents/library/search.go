package library

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/chatterhq/chatter/internal/documents/embed"
	"github.com/chatterhq/chatter/internal/documents/search"
	"github.com/chatterhq/chatter/internal/retrieval"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire/errcode"
)

var _ retrieval.Retriever = (*Library)(nil)

// Query is one search of a user's documents.
type Query struct {
	UserID      string
	Text        string
	DocumentIDs []string // empty = every processed document of the user
	Types       []string // document types to keep; empty = all
	Tags        []string // keep documents with any of these tags; empty = all
	TopK        int      // 0 = search.DefaultTopK, at most search.MaxTopK
	MinScore    float64  // in [0, 1]; see search.Result.Score
}

// Hit is one ranked chunk with its document.
type Hit struct {
	Document *store.Document
	Chunk    store.Chunk
	Score    float64
}

// Search ranks the chunks of the documents in scope (see the package comment).
// Errors are *search.InputError for a bad query, else storage or embedding
// failures.
func (l *Library) Search(ctx context.Context, q Query) ([]Hit, error) {
	if q.UserID == "" {
		return nil, store.Invalid("a user id is required")
	}
	if q.MinScore < 0 || q.MinScore > 1 {
		return nil, &search.InputError{Field: "min_score", Message: "must be between 0 and 1"}
	}
	topK := q.TopK
	if topK <= 0 {
		topK = search.DefaultTopK
	}
	topK = min(topK, search.MaxTopK)
	ids := docIDs(q.DocumentIDs)
	if len(ids) == 0 {
		all, err := l.o.Store.ListDocuments(ctx, q.UserID)
		if err != nil {
			return nil, err
		}
		for _, d := range all {
			if inScope(&d) {
				ids = append(ids, d.ID)
			}
		}
	}
	if len(ids) > store.MaxDocumentIDs && len(q.DocumentIDs) > 0 {
		return nil, &search.InputError{Field: "document_ids", Message: fmt.Sprintf("at most %d", store.MaxDocumentIDs)}
	}
	loaded, err := l.load(ctx, q.UserID, ids)
	if err != nil {
		return nil, err
	}
	// One index per embedding model: vectors of different models never meet.
	byModel := map[string][]loadedDoc{}
	for _, ld := range loaded {
		if !keep(ld.doc, q) {
			continue
		}
		byModel[ld.doc.EmbeddingModel] = append(byModel[ld.doc.EmbeddingModel], ld)
	}
	var hits []Hit
	for model, docs := range byModel {
		hs, err := l.searchModel(ctx, model, docs, q.Text, topK, q.MinScore)
		if err != nil {
			return nil, err
		}
		hits = append(hits, hs...)
	}
	slices.SortStableFunc(hits, func(a, b Hit) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
	if len(hits) > topK {
		hits = hits[:topK]
	}
	return hits, nil
}

func keep(d *store.Document, q Query) bool {
	if !inScope(d) || len(q.Types) > 0 && !slices.Contains(q.Types, d.Type) {
		return false
	}
	if len(q.Tags) == 0 {
		return true
	}
	for _, t := range d.Tags {
		if slices.Contains(q.Tags, t) {
			return true
		}
	}
	return false
}

type loadedDoc struct {
	doc    *store.Document
	chunks []store.Chunk
}

// load reads the documents of ids (one Query each, loadConcurrency at once),
// leaving out what is not found.
func (l *Library) load(ctx context.Context, userID string, ids []string) ([]loadedDoc, error) {
	out := make([]loadedDoc, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, loadConcurrency)
	var wg sync.WaitGroup
	for i, id := range ids {
		if !store.ValidID(id) {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			d, cs, err := l.o.Store.DocumentChunks(ctx, userID, id)
			if store.CodeOf(err) == errcode.NotFound {
				return
			}
			out[i], errs[i] = loadedDoc{doc: d, chunks: cs}, err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	kept := out[:0]
	for _, ld := range out {
		if ld.doc != nil {
			kept = append(kept, ld)
		}
	}
	return kept, nil
}

// searchModel ranks the chunks of docs, all embedded with model.
func (l *Library) searchModel(ctx context.Context, model string, docs []loadedDoc, text string, topK int, minScore float64) ([]Hit, error) {
	var chunks []search.Chunk
	byID := map[string]*store.Document{}
	stored := map[string]store.Chunk{}
	for _, ld := range docs {
		byID[ld.doc.ID] = ld.doc
		for _, c := range ld.chunks {
			v, err := embed.Decode(c.Vector)
			if err != nil {
				return nil, fmt.Errorf("library: chunk %d of %s: %w", c.Index, ld.doc.ID, err)
			}
			id := store.ChunkID(c.DocumentID, c.Index)
			chunks = append(chunks, search.Chunk{ID: id, DocumentID: c.DocumentID, Index: c.Index, Text: c.Text, Vector: v})
			stored[id] = c
		}
	}
	if len(chunks) == 0 {
		return nil, nil
	}
	// What the index refuses here is stored data, not the caller's query: not an
	// *search.InputError (which the API reports as the caller's).
	ix, err := search.NewIndex(chunks)
	if err != nil {
		return nil, fmt.Errorf("library: indexing the chunks of model %q: %v", model, err)
	}
	e, err := l.embedder(model)
	if err != nil {
		return nil, fmt.Errorf("library: the documents' model %q: %w", model, err)
	}
	vs, err := e.Embed(ctx, []string{text})
	if err != nil {
		return nil, fmt.Errorf("library: embedding the query: %w", err)
	}
	rs, err := ix.Search(ctx, search.Query{Text: text, Vector: vs[0], TopK: topK, MinScore: minScore})
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("library: ranking: %v", err)
	}
	out := make([]Hit, len(rs))
	for i, r := range rs {
		out[i] = Hit{Document: byID[r.DocumentID], Chunk: stored[r.ID], Score: r.Score}
	}
	return out, nil
}

// Retrieve is Search as the executor's retrieval node asks it; each passage names
// its document, file name and chunk.
func (l *Library) Retrieve(ctx context.Context, q retrieval.Query) ([]retrieval.Passage, error) {
	hits, err := l.Search(ctx, Query{UserID: q.UserID, Text: q.Text, DocumentIDs: q.DocumentIDs, TopK: q.TopK, MinScore: q.MinScore})
	if err != nil {
		return nil, err
	}
	out := make([]retrieval.Passage, len(hits))
	for i, h := range hits {
		out[i] = retrieval.Passage{DocumentID: h.Document.ID, ChunkID: store.ChunkID(h.Chunk.DocumentID, h.Chunk.Index),
			Title: h.Document.Filename, Text: h.Chunk.Text, Score: h.Score}
	}
	return out, nil
}
