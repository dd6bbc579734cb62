// Package library is a user's documents as the rest of chatter uses them: the
// ingest (original in the bucket -> extract -> chunk -> embed -> chunks in the
// table) and search over the chunks (hybrid BM25 + vector, package search), which
// is also the executor's retrieval.Retriever. It joins the pure packages
// (extract, chunk, embed, search) to the store and the bucket.
//
// Ingest is started by the stored object: S3 sends "Object Created" to EventBridge,
// a rule invokes the ingest function with it (HandleEvent); the dev stack delivers
// the same envelope from its queue. It is idempotent under redelivery: the first
// delivery claims the document (pending -> processing, one conditional write); a
// delivery that finds it processed or failed does nothing, one that finds it
// processing under a live claim (younger than Lease) does nothing, and one that
// finds a released or stale claim takes it over (a second run writes the very
// same chunks). What the file itself causes (unsupported, corrupt, no text, too
// large, too many chunks, an unknown embedding model) ends failed with the reason
// and is never retried; a provider or storage failure releases the claim and
// returns the error, so the event is delivered again; after MaxAttempts claims the
// document ends failed ("gave up"), so nothing loops. A panic while processing
// ends the document failed too.
//
// Searching: the documents in scope are the user's processed documents, or those of
// the request's document_ids. An id that is unknown, being deleted, not processed
// or another user's is left out — absent, never an error and never a result —
// so a search or a run cannot tell another user's id from a missing one. Each
// document is one DynamoDB Query (its metadata and chunks share a partition), at
// most 8 at once; chunks are ranked in process (see package search and the README
// for the corpus size this holds to). Queries are embedded with each document's
// recorded model; documents of different models are ranked apart and merged by
// score.
package library

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/chatterhq/chatter/internal/documents/blob"
	"github.com/chatterhq/chatter/internal/documents/chunk"
	"github.com/chatterhq/chatter/internal/documents/embed"
	"github.com/chatterhq/chatter/internal/documents/extract"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire/errcode"
)

// Limits of the pipeline.
const (
	// MaxFileBytes is the largest original the ingest reads (presigned uploads go
	// up to it; the multipart route has its own, lower limit).
	MaxFileBytes = 50 << 20
	// MaxAttempts is how many claims one generation of a document gets.
	MaxAttempts = 3
	// Lease is how long a claim holds against a redelivery: the ingest function's
	// timeout (template.yaml), after which the run holding it is surely gone.
	Lease = 5 * time.Minute
	// EmbedBatch is how many chunk texts go to the embedder at once.
	EmbedBatch = 64
	// loadConcurrency bounds the document reads of one search.
	loadConcurrency = 8
)

// Store is what the library needs of the store (both implementations).
type Store interface {
	GetDocument(ctx context.Context, userID, id string) (*store.Document, error)
	ListDocuments(ctx context.Context, userID string) ([]store.Document, error)
	UpdateDocument(ctx context.Context, userID, id string, fn func(*store.Document) error) (*store.Document, error)
	PutChunks(ctx context.Context, userID, docID string, chunks []store.Chunk) error
	DocumentChunks(ctx context.Context, userID, id string) (*store.Document, []store.Chunk, error)
}

// Blobs is what the ingest reads originals with (*blob.Store).
type Blobs interface {
	Get(ctx context.Context, key string, max int64) (*blob.Object, error)
}

// Embedders returns the embedder of a model spec (embed.New with the clients).
type Embedders func(spec string) (embed.Embedder, error)

// Options configure a Library.
type Options struct {
	Store  Store
	Blobs  Blobs
	Embed  Embedders // default: embed.New without provider clients (the hashed model only)
	Now    func() time.Time
	Logger *slog.Logger
}

// Library is safe for concurrent use.
type Library struct {
	o     Options
	mu    sync.Mutex
	cache map[string]embed.Embedder
}

// New returns a library on o.
func New(o Options) *Library {
	if o.Embed == nil {
		o.Embed = func(spec string) (embed.Embedder, error) { return embed.New(spec, embed.Options{}) }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Library{o: o, cache: map[string]embed.Embedder{}}
}

// embedder returns the (cached) embedder of spec.
func (l *Library) embedder(spec string) (embed.Embedder, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.cache[spec]; ok {
		return e, nil
	}
	e, err := l.o.Embed(spec)
	if err != nil {
		return nil, err
	}
	l.cache[spec] = e
	return e, nil
}

// permanent is a failure the file (or its settings) causes: retrying cannot help.
type permanent struct{ reason string }

func (p *permanent) Error() string { return p.reason }

var errSkip = errors.New("nothing to do")

// Ingest processes one document of userID (see the package comment). It returns
// nil when the document is done with (processed, failed, or not this delivery's
// to do) and an error only when a later delivery should try again.
func (l *Library) Ingest(ctx context.Context, userID, docID string) (err error) {
	log := l.o.Logger.With("user_id", userID, "document_id", docID)
	now := l.o.Now()
	gaveUp := false
	d, err := l.o.Store.UpdateDocument(ctx, userID, docID, func(d *store.Document) error {
		switch d.Status {
		case store.DocPending:
		case store.DocProcessing:
			if !d.ProcessingStartedAt.IsZero() && now.Sub(d.ProcessingStartedAt) < Lease {
				return errSkip
			}
		default:
			return errSkip
		}
		if d.Attempts >= MaxAttempts {
			gaveUp = true
			d.Status, d.ProcessingCompletedAt = store.DocFailed, now
			d.Error = fmt.Sprintf("gave up after %d attempts: %s", d.Attempts, d.Error)
			return nil
		}
		d.Status, d.ProcessingStartedAt, d.ProcessingCompletedAt = store.DocProcessing, now, time.Time{}
		d.Attempts++
		return nil
	})
	switch {
	case errors.Is(err, errSkip):
		log.Info("ingest: nothing to do")
		return nil
	case store.CodeOf(err) == errcode.NotFound:
		log.Info("ingest: document gone")
		return nil
	case err != nil:
		return fmt.Errorf("ingest: claiming %s: %w", docID, err)
	case gaveUp:
		log.Warn("ingest: gave up", "reason", d.Error)
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			log.Error("ingest: panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = l.finish(ctx, d, nil, &permanent{reason: fmt.Sprintf("internal error while processing: %v", p)})
		}
	}()
	res, perr := l.process(ctx, d)
	if perr == nil {
		perr = l.o.Store.PutChunks(ctx, userID, docID, res.chunks)
		if store.CodeOf(perr) == errcode.TooLarge {
			perr = &permanent{reason: perr.Error()}
		}
	}
	return l.finish(ctx, d, res, perr)
}

// finish records the outcome of the claim d: processed, failed (permanent) or the
// claim released for a redelivery (anything else, whose error it returns).
func (l *Library) finish(ctx context.Context, claim *store.Document, res *result, perr error) error {
	var p *permanent
	retry := perr != nil && !errors.As(perr, &p)
	now := l.o.Now()
	_, err := l.o.Store.UpdateDocument(ctx, claim.UserID, claim.ID, func(d *store.Document) error {
		if d.Generation != claim.Generation || d.Attempts != claim.Attempts || d.Status != store.DocProcessing {
			return errSkip // reprocessed or taken over meanwhile: that run records the outcome
		}
		switch {
		case perr == nil:
			d.Status, d.ChunkCount, d.Error = store.DocProcessed, len(res.chunks), ""
			d.Type, d.Size, d.Hash, d.EmbeddingModel, d.EmbeddingTokens = res.typ, res.size, res.hash, res.model, res.tokens
			d.ProcessingCompletedAt = now
		case retry:
			d.ProcessingStartedAt, d.Error = time.Time{}, perr.Error()
		default:
			d.Status, d.Error, d.ChunkCount, d.ProcessingCompletedAt = store.DocFailed, p.reason, 0, now
		}
		return nil
	})
	log := l.o.Logger.With("user_id", claim.UserID, "document_id", claim.ID)
	switch {
	case errors.Is(err, errSkip) || store.CodeOf(err) == errcode.NotFound:
		log.Info("ingest: outcome superseded")
		return nil
	case err != nil:
		return fmt.Errorf("ingest: recording the outcome of %s: %w", claim.ID, err)
	case retry:
		return fmt.Errorf("ingest: %s: %w", claim.ID, perr)
	case perr != nil:
		log.Warn("ingest: failed", "reason", p.reason)
	default:
		log.Info("ingest: processed", "chunks", len(res.chunks), "model", res.model)
	}
	return nil
}

type result struct {
	chunks []store.Chunk
	typ    string
	size   int64
	hash   string
	model  string
	tokens int
}

// process reads, extracts, chunks and embeds one claimed document.
func (l *Library) process(ctx context.Context, d *store.Document) (*result, error) {
	obj, err := l.o.Blobs.Get(ctx, d.BlobKey, MaxFileBytes)
	switch {
	case errors.Is(err, blob.ErrNotFound):
		return nil, &permanent{reason: "the original file was never stored (upload it to the presigned URL, then reprocess)"}
	case errors.Is(err, blob.ErrTooLarge):
		return nil, &permanent{reason: fmt.Sprintf("the file is larger than %d bytes", MaxFileBytes)}
	case err != nil:
		return nil, err
	}
	ct := d.ContentType
	if ct == "" {
		ct = obj.ContentType
	}
	typ, err := extract.Detect(d.Filename, ct, obj.Data)
	if err != nil {
		return nil, &permanent{reason: err.Error()}
	}
	text, err := extract.Extract(ctx, d.Filename, ct, obj.Data)
	if err != nil {
		var xe *extract.Error
		if errors.As(err, &xe) {
			return nil, &permanent{reason: err.Error()}
		}
		return nil, err
	}
	parts, err := chunk.Split(text, chunk.Params{Size: d.ChunkSize, Overlap: d.ChunkOverlap})
	if err != nil {
		return nil, &permanent{reason: err.Error()}
	}
	if len(parts) > store.MaxChunksPerDocument {
		return nil, &permanent{reason: fmt.Sprintf("the text makes %d chunks, at most %d (raise chunk_size)", len(parts), store.MaxChunksPerDocument)}
	}
	e, err := l.embedder(d.EmbeddingModel)
	if err != nil {
		return nil, &permanent{reason: err.Error()}
	}
	sum := sha256.Sum256(obj.Data)
	res := &result{typ: string(typ), size: int64(len(obj.Data)), hash: hex.EncodeToString(sum[:]), model: e.Model(),
		chunks: make([]store.Chunk, len(parts))}
	now := l.o.Now()
	for start := 0; start < len(parts); start += EmbedBatch {
		batch := parts[start:min(start+EmbedBatch, len(parts))]
		texts := make([]string, len(batch))
		for i, c := range batch {
			texts[i] = c.Text
		}
		var vs [][]float32
		if m, ok := e.(embed.Metered); ok {
			var u embed.Usage
			vs, u, err = m.EmbedMetered(ctx, texts)
			res.tokens += u.InputTokens
		} else {
			vs, err = e.Embed(ctx, texts)
		}
		if err != nil {
			if !llm.IsRetryable(err) && ctx.Err() == nil {
				var le *llm.Error
				if errors.As(err, &le) {
					return nil, &permanent{reason: "embedding: " + err.Error()}
				}
			}
			return nil, fmt.Errorf("embedding: %w", err)
		}
		for i, c := range batch {
			res.chunks[start+i] = store.Chunk{DocumentID: d.ID, Index: c.Index, Start: c.Start, End: c.End, Text: c.Text,
				Vector: embed.Encode(vs[i]), CreatedAt: now}
		}
	}
	return res, nil
}

// Reprocess resets a document to pending with the next generation (its chunks stay
// hidden until the new run finishes); the caller then re-announces the original.
func (l *Library) Reprocess(ctx context.Context, userID, id string) (*store.Document, error) {
	return l.o.Store.UpdateDocument(ctx, userID, id, func(d *store.Document) error {
		d.Generation++
		d.Status, d.Attempts, d.Error, d.ChunkCount = store.DocPending, 0, "", 0
		d.ProcessingStartedAt, d.ProcessingCompletedAt = time.Time{}, time.Time{}
		return nil
	})
}

// inScope reports whether d is searchable.
func inScope(d *store.Document) bool { return d.Status == store.DocProcessed && !d.Deleting }

// docIDs is the list of ids without repeats, in order.
func docIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
