package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Documents: a user's uploaded files (metadata) and their chunks (text, offsets and
// the encoded vector). A document's metadata and all of its chunks share one
// partition (the owner, then the document), so DocumentChunks reads a document
// with every chunk in one Query; searching a user's selected documents is one
// Query per document.
//
// Status only moves forward: pending -> processing -> processed | failed (a
// processing document may also go back to processing: a redelivered event takes
// over a stale claim). Reprocessing resets the status to pending and counts a new
// generation (Generation+1); that is the only way back.
//
// Writing chunks never leaves a document half-written for readers: PutChunks writes
// the new chunks and removes those past the new count, and only the final update to
// processed (with ChunkCount) makes them visible; readers take chunks 0..ChunkCount-1
// of processed documents only. Deleting marks the document Deleting first (it then
// reads as not_found and no search sees it), removes its chunks in batches of 25,
// and removes the metadata last, so a delete that failed half-way is still found by
// DeleteDocument and finishes when retried.

// Document statuses (the predecessor's DocumentStatus values chatter uses).
const (
	DocPending    = "pending"
	DocProcessing = "processing"
	DocProcessed  = "processed"
	DocFailed     = "failed"
)

// DocumentStatuses lists the statuses in their order.
var DocumentStatuses = []string{DocPending, DocProcessing, DocProcessed, DocFailed}

// MaxChunksPerDocument bounds one document's chunks (extract.MaxTextBytes of text
// at the smallest chunk settings would make more; the ingest fails such a document
// with the reason).
const MaxChunksPerDocument = 10000

// MaxDocumentTags bounds a document's tags.
const MaxDocumentTags = 20

// Document is one uploaded file of one user.
type Document struct {
	ID          string   `json:"id"`
	UserID      string   `json:"owner_id"`
	Filename    string   `json:"filename"`
	ContentType string   `json:"mime_type"`
	Type        string   `json:"document_type"` // extract.Type
	Size        int64    `json:"file_size"`
	Hash        string   `json:"file_hash,omitempty"` // SHA-256 (hex) of the original, when known
	Tags        []string `json:"tags,omitempty"`
	// BlobKey is the original's object key in the documents bucket.
	BlobKey string `json:"blob_key"`

	Status       string `json:"status"`
	Error        string `json:"processing_error,omitempty"` // why it failed
	ChunkSize    int    `json:"chunk_size"`
	ChunkOverlap int    `json:"chunk_overlap"`
	ChunkCount   int    `json:"chunk_count"`
	// EmbeddingModel is the embed spec the chunks' vectors were made with (queries
	// are embedded with it).
	EmbeddingModel string `json:"embedding_model,omitempty"`
	// EmbeddingTokens is what embedding the chunks cost, as the provider counted.
	EmbeddingTokens int `json:"embedding_tokens,omitempty"`
	// Generation counts reprocessings; Attempts the ingest claims of this generation.
	Generation int `json:"generation"`
	Attempts   int `json:"attempts"`
	// Deleting is set while a delete is under way.
	Deleting bool `json:"deleting,omitempty"`

	ProcessingStartedAt   time.Time `json:"processing_started_at,omitzero"`
	ProcessingCompletedAt time.Time `json:"processing_completed_at,omitzero"`
	CreatedAt             time.Time `json:"created_at"`
	UpdatedAt             time.Time `json:"updated_at"`
}

// Chunk is one chunk of a document: characters [Start, End) of its text.
type Chunk struct {
	DocumentID string `json:"document_id"`
	Index      int    `json:"chunk_index"`
	Start      int    `json:"start_char"`
	End        int    `json:"end_char"`
	Text       string `json:"content"`
	// Vector is embed.Encode of the chunk's vector.
	Vector    []byte    `json:"vector,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// ChunkID is the id of chunk i of a document, as the API and sources name it.
func ChunkID(docID string, i int) string { return fmt.Sprintf("%s-%05d", docID, i) }

func docRank(status string) int { return slices.Index(DocumentStatuses, status) }

func docDone(status string) bool { return status == DocProcessed || status == DocFailed }

// CheckDocument refuses a document no store should keep.
func CheckDocument(d *Document) error {
	switch {
	case d.UserID == "":
		return Invalid("a user id is required")
	case !ValidID(d.ID):
		return Invalid("document id %q is not a valid id", d.ID)
	case docRank(d.Status) < 0:
		return Invalid("document status %q is not one of %v", d.Status, DocumentStatuses)
	case len(d.Tags) > MaxDocumentTags:
		return &Error{Code: ErrInvalid.Code, Field: "tags", Message: fmt.Sprintf("at most %d tags", MaxDocumentTags)}
	}
	return CheckRecordSize("document", d)
}

// CheckDocumentTransition enforces the status order on an update of old into d:
// forward only, processing again (a stale claim taken over), or back to pending
// with the next generation (a reprocess).
func CheckDocumentTransition(old, d *Document) error {
	if d.ID != old.ID || d.UserID != old.UserID || !d.CreatedAt.Equal(old.CreatedAt) {
		return Invalid("a document's id, owner and creation time cannot change")
	}
	if d.Generation < old.Generation {
		return Conflict("document %s: generation %d is older than %d", d.ID, d.Generation, old.Generation)
	}
	if d.Generation == old.Generation+1 && d.Status == DocPending {
		return nil
	}
	if d.Generation != old.Generation {
		return Conflict("document %s: a new generation starts pending", d.ID)
	}
	if docRank(d.Status) < docRank(old.Status) || (docDone(old.Status) && d.Status != old.Status) {
		return Conflict("document %s: status cannot go from %s to %s", d.ID, old.Status, d.Status)
	}
	return nil
}

// CheckChunks refuses chunks PutChunks must not store.
func CheckChunks(docID string, chunks []Chunk) error {
	if len(chunks) > MaxChunksPerDocument {
		return &Error{Code: ErrTooLarge.Code, Message: fmt.Sprintf("%d chunks, at most %d", len(chunks), MaxChunksPerDocument)}
	}
	for i, c := range chunks {
		if c.DocumentID != docID || c.Index != i {
			return Invalid("chunk %d: want document %s index %d, got %s index %d", i, docID, i, c.DocumentID, c.Index)
		}
	}
	return nil
}

// VisibleChunks returns the chunks readers may see of d: those of a processed
// document, up to its ChunkCount.
func VisibleChunks(d *Document, chunks []Chunk) []Chunk {
	if d.Status != DocProcessed || d.Deleting {
		return nil
	}
	out := chunks[:0:0]
	for _, c := range chunks {
		if c.Index < d.ChunkCount {
			out = append(out, c)
		}
	}
	return out
}

// DocumentStore is the document part of both stores (what storetest checks).
// Every method returns not_found for a document that does not exist, belongs to
// someone else or is being deleted (DeleteDocument and MarkDocumentDeleting still
// find it, so a delete can be retried).
type DocumentStore interface {
	// CreateDocument returns conflict for a taken id.
	CreateDocument(ctx context.Context, d *Document) error
	GetDocument(ctx context.Context, userID, id string) (*Document, error)
	// ListDocuments returns the user's documents, newest first, at most MaxCounted.
	ListDocuments(ctx context.Context, userID string) ([]Document, error)
	// UpdateDocument applies fn to the current document and stores the result if
	// CheckDocumentTransition allows it (conflict if not), retrying on a race.
	UpdateDocument(ctx context.Context, userID, id string, fn func(*Document) error) (*Document, error)
	// PutChunks replaces the document's chunks by chunks (indexes 0..n-1).
	PutChunks(ctx context.Context, userID, docID string, chunks []Chunk) error
	// DocumentChunks returns the document and its visible chunks (VisibleChunks)
	// in index order, in one read.
	DocumentChunks(ctx context.Context, userID, id string) (*Document, []Chunk, error)
	// MarkDocumentDeleting sets Deleting and returns the document.
	MarkDocumentDeleting(ctx context.Context, userID, id string) (*Document, error)
	// DeleteDocument removes the document's chunks, then the document.
	DeleteDocument(ctx context.Context, userID, id string) error
}

// PrepareDocument sets what the store sets on a new document.
func PrepareDocument(d *Document, now time.Time) {
	if d.CreatedAt.IsZero() {
		d.CreatedAt = now
	}
	d.UpdatedAt = d.CreatedAt
	if d.Status == "" {
		d.Status = DocPending
	}
}

// documents of Memory, by owner key: the document (JSON, so callers never share
// it) and its chunks by index.
type memDoc struct {
	doc    []byte
	chunks map[int]Chunk
}

func (m *Memory) docOf(userID, id string) (*memDoc, *Document) {
	md := m.docs[ck(userID, id)]
	if md == nil {
		return nil, nil
	}
	var d Document
	if err := json.Unmarshal(md.doc, &d); err != nil {
		panic("store: undecodable document: " + err.Error()) // only this file writes it
	}
	return md, &d
}

// CreateDocument stores a new document.
func (m *Memory) CreateDocument(_ context.Context, d *Document) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	PrepareDocument(d, m.now())
	if err := CheckDocument(d); err != nil {
		return err
	}
	if m.docs == nil {
		m.docs = map[key]*memDoc{}
	}
	k := ck(d.UserID, d.ID)
	if m.docs[k] != nil {
		return Conflict("document %q exists", d.ID)
	}
	b, _ := json.Marshal(d)
	m.docs[k] = &memDoc{doc: b, chunks: map[int]Chunk{}}
	return nil
}

// GetDocument returns one of userID's documents.
func (m *Memory) GetDocument(_ context.Context, userID, id string) (*Document, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, d := m.docOf(userID, id)
	if d == nil || d.Deleting {
		return nil, NotFound("document", id)
	}
	return d, nil
}

// ListDocuments returns userID's documents, newest first.
func (m *Memory) ListDocuments(_ context.Context, userID string) ([]Document, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Document
	for k := range m.docs {
		if k.owner != userOwner(userID) {
			continue
		}
		if _, d := m.docOf(userID, k.id); !d.Deleting {
			out = append(out, *d)
		}
	}
	SortDocuments(out)
	if len(out) > MaxCounted {
		out = out[:MaxCounted]
	}
	return out, nil
}

// SortDocuments orders documents newest first (by creation, then id), the order
// of both stores' lists.
func SortDocuments(ds []Document) {
	slices.SortFunc(ds, func(a, b Document) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
}

// UpdateDocument applies fn to one of userID's documents.
func (m *Memory) UpdateDocument(_ context.Context, userID, id string, fn func(*Document) error) (*Document, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	md, old := m.docOf(userID, id)
	if old == nil || old.Deleting {
		return nil, NotFound("document", id)
	}
	_, d := m.docOf(userID, id)
	if err := fn(d); err != nil {
		return nil, err
	}
	if err := CheckDocumentTransition(old, d); err != nil {
		return nil, err
	}
	d.UpdatedAt = m.now()
	if err := CheckDocument(d); err != nil {
		return nil, err
	}
	md.doc, _ = json.Marshal(d)
	return d, nil
}

// PutChunks replaces a document's chunks.
func (m *Memory) PutChunks(_ context.Context, userID, docID string, chunks []Chunk) error {
	if err := CheckChunks(docID, chunks); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	md, d := m.docOf(userID, docID)
	if d == nil || d.Deleting {
		return NotFound("document", docID)
	}
	md.chunks = make(map[int]Chunk, len(chunks))
	for _, c := range chunks {
		c.Vector = slices.Clone(c.Vector)
		md.chunks[c.Index] = c
	}
	return nil
}

// DocumentChunks returns a document and its visible chunks.
func (m *Memory) DocumentChunks(_ context.Context, userID, id string) (*Document, []Chunk, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	md, d := m.docOf(userID, id)
	if d == nil || d.Deleting {
		return nil, nil, NotFound("document", id)
	}
	all := make([]Chunk, 0, len(md.chunks))
	for _, c := range md.chunks {
		c.Vector = slices.Clone(c.Vector)
		all = append(all, c)
	}
	slices.SortFunc(all, func(a, b Chunk) int { return a.Index - b.Index })
	return d, VisibleChunks(d, all), nil
}

// MarkDocumentDeleting marks a document as being deleted.
func (m *Memory) MarkDocumentDeleting(_ context.Context, userID, id string) (*Document, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	md, d := m.docOf(userID, id)
	if d == nil {
		return nil, NotFound("document", id)
	}
	d.Deleting = true
	md.doc, _ = json.Marshal(d)
	return d, nil
}

// DeleteDocument removes a document and its chunks.
func (m *Memory) DeleteDocument(_ context.Context, userID, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := ck(userID, id)
	if m.docs[k] == nil {
		return NotFound("document", id)
	}
	delete(m.docs, k)
	return nil
}
