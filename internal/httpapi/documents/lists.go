package documents

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/httpapi/resources"
	"github.com/chatterhq/chatter/internal/store"
)

// DocumentResponse is the old DocumentResponse; embedding_model and generation
// are chatter's.
type DocumentResponse struct {
	ID                    string         `json:"id"`
	OwnerID               string         `json:"owner_id"`
	Filename              string         `json:"filename"`
	OriginalFilename      string         `json:"original_filename"`
	FileSize              int64          `json:"file_size"`
	FileHash              string         `json:"file_hash"`
	MimeType              string         `json:"mime_type"`
	DocumentType          string         `json:"document_type"`
	Status                string         `json:"status"`
	ProcessingStartedAt   *time.Time     `json:"processing_started_at"`
	ProcessingCompletedAt *time.Time     `json:"processing_completed_at"`
	ProcessingError       *string        `json:"processing_error"`
	ChunkSize             int            `json:"chunk_size"`
	ChunkOverlap          int            `json:"chunk_overlap"`
	ChunkCount            int            `json:"chunk_count"`
	Version               int            `json:"version"`
	ParentDocumentID      *string        `json:"parent_document_id"`
	ViewCount             int            `json:"view_count"`
	SearchCount           int            `json:"search_count"`
	LastAccessedAt        *time.Time     `json:"last_accessed_at"`
	Tags                  []string       `json:"tags"`
	ExtraMetadata         map[string]any `json:"extra_metadata"`
	IsPublic              bool           `json:"is_public"`
	CreatedAt             time.Time      `json:"created_at"`
	UpdatedAt             time.Time      `json:"updated_at"`
	EmbeddingModel        string         `json:"embedding_model,omitempty"`
	Generation            int            `json:"generation"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// Response is a document in the old shape.
func Response(d *store.Document) DocumentResponse {
	out := DocumentResponse{ID: d.ID, OwnerID: d.UserID, Filename: d.Filename, OriginalFilename: d.Filename,
		FileSize: d.Size, FileHash: d.Hash, MimeType: d.ContentType, DocumentType: d.Type, Status: d.Status,
		ProcessingStartedAt: timePtr(d.ProcessingStartedAt), ProcessingCompletedAt: timePtr(d.ProcessingCompletedAt),
		ChunkSize: d.ChunkSize, ChunkOverlap: d.ChunkOverlap, ChunkCount: d.ChunkCount, Version: 1,
		Tags: d.Tags, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(), EmbeddingModel: d.EmbeddingModel,
		Generation: d.Generation}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if out.DocumentType == "" {
		out.DocumentType = "other"
	}
	if d.Error != "" {
		e := d.Error
		out.ProcessingError = &e
	}
	return out
}

// ListResponse is the old DocumentListResponse.
type ListResponse struct {
	Documents  []DocumentResponse `json:"documents"`
	TotalCount int                `json:"total_count"`
	Limit      int                `json:"limit"`
	Offset     int                `json:"offset"`
}

func page(ds []store.Document, limit, offset int) ListResponse {
	out := ListResponse{Documents: []DocumentResponse{}, TotalCount: len(ds), Limit: limit, Offset: offset}
	for i := offset; i < len(ds) && i < offset+limit; i++ {
		out.Documents = append(out.Documents, Response(&ds[i]))
	}
	return out
}

func (d Deps) list() http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		p, err := resources.OffsetPage(r, defaultListLimit)
		if err != nil {
			return err
		}
		if p.Cursor != "" {
			return invalid("cursor", "document lists page by offset")
		}
		ds, err := d.Store.ListDocuments(r.Context(), uid)
		if err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, page(ds, p.Size(), p.Offset))
		return nil
	})
}

// ListRequest is the old DocumentListRequest.
type ListRequest struct {
	Status       *string  `json:"status"`
	DocumentType *string  `json:"document_type"`
	Tags         []string `json:"tags"`
	OwnerID      *string  `json:"owner_id"`
	Limit        *int     `json:"limit"`
	Offset       *int     `json:"offset"`
	SortBy       *string  `json:"sort_by"`
	SortOrder    *string  `json:"sort_order"`
}

// ListSorts are the sort_by values POST /documents/list takes.
var ListSorts = []string{"created_at", "updated_at", "filename", "file_size", "chunk_count", "status"}

func (d Deps) listQuery() http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		var req ListRequest
		if err := httpcore.Decode(r, &req); err != nil {
			return err
		}
		limit, offset, sortBy, desc := defaultListBodyLimit, 0, "created_at", true
		if req.Limit != nil {
			if *req.Limit < 1 {
				return invalid("limit", "limit must be at least 1")
			}
			limit = min(*req.Limit, store.MaxPageSize)
		}
		if req.Offset != nil {
			if *req.Offset < 0 || *req.Offset > store.MaxOffset {
				return invalid("offset", fmt.Sprintf("offset must be from 0 to %d", store.MaxOffset))
			}
			offset = *req.Offset
		}
		if req.SortBy != nil {
			if !slices.Contains(ListSorts, *req.SortBy) {
				return invalid("sort_by", fmt.Sprintf("sort_by must be one of %v", ListSorts))
			}
			sortBy = *req.SortBy
		}
		if req.SortOrder != nil {
			switch *req.SortOrder {
			case "asc":
				desc = false
			case "desc":
			default:
				return invalid("sort_order", "sort_order must be asc or desc")
			}
		}
		if req.Status != nil && !slices.Contains(store.DocumentStatuses, *req.Status) && *req.Status != "archived" {
			return invalid("status", fmt.Sprintf("status must be one of %v", append(slices.Clone(store.DocumentStatuses), "archived")))
		}
		if req.DocumentType != nil && !slices.Contains(DocumentTypes, *req.DocumentType) {
			return invalid("document_type", fmt.Sprintf("document_type must be one of %v", DocumentTypes))
		}
		tags, err := checkTags(req.Tags)
		if err != nil {
			return err
		}
		var ds []store.Document
		// owner_id names the caller or nobody: another user's documents are never listed.
		if req.OwnerID == nil || *req.OwnerID == uid {
			all, err := d.Store.ListDocuments(r.Context(), uid)
			if err != nil {
				return err
			}
			for _, doc := range all {
				if req.Status != nil && doc.Status != *req.Status || req.DocumentType != nil && doc.Type != *req.DocumentType {
					continue
				}
				if len(tags) > 0 && !slices.ContainsFunc(doc.Tags, func(t string) bool { return slices.Contains(tags, t) }) {
					continue
				}
				ds = append(ds, doc)
			}
		}
		sortDocs(ds, sortBy, desc)
		httpcore.WriteJSON(w, r, http.StatusOK, page(ds, limit, offset))
		return nil
	})
}

func sortDocs(ds []store.Document, by string, desc bool) {
	slices.SortStableFunc(ds, func(a, b store.Document) int {
		c := 0
		switch by {
		case "updated_at":
			c = a.UpdatedAt.Compare(b.UpdatedAt)
		case "filename":
			c = strings.Compare(strings.ToLower(a.Filename), strings.ToLower(b.Filename))
		case "file_size":
			c = cmpInt(a.Size, b.Size)
		case "chunk_count":
			c = cmpInt(a.ChunkCount, b.ChunkCount)
		case "status":
			c = strings.Compare(a.Status, b.Status)
		default:
			c = a.CreatedAt.Compare(b.CreatedAt)
		}
		if c == 0 {
			c = strings.Compare(a.ID, b.ID)
		}
		if desc {
			return -c
		}
		return c
	})
}

func cmpInt[T int | int64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ChunkResponse is the old DocumentChunkResponse.
type ChunkResponse struct {
	ID                 string         `json:"id"`
	DocumentID         string         `json:"document_id"`
	Content            string         `json:"content"`
	ChunkIndex         int            `json:"chunk_index"`
	StartChar          *int           `json:"start_char"`
	EndChar            *int           `json:"end_char"`
	ExtraMetadata      map[string]any `json:"extra_metadata"`
	TokenCount         *int           `json:"token_count"`
	Language           *string        `json:"language"`
	EmbeddingModel     *string        `json:"embedding_model"`
	EmbeddingProvider  *string        `json:"embedding_provider"`
	EmbeddingCreatedAt *time.Time     `json:"embedding_created_at"`
	ContentHash        string         `json:"content_hash"`
	CreatedAt          time.Time      `json:"created_at"`
	UpdatedAt          time.Time      `json:"updated_at"`
}

// ChunksResponse is the old DocumentChunksResponse.
type ChunksResponse struct {
	Chunks     []ChunkResponse `json:"chunks"`
	TotalCount int             `json:"total_count"`
	Limit      int             `json:"limit"`
	Offset     int             `json:"offset"`
}

// providerOf names the provider of an embed spec, as the old embedding_provider.
func providerOf(spec string) string {
	switch {
	case strings.HasPrefix(spec, "amazon."):
		return "bedrock"
	case strings.HasPrefix(spec, "text-embedding-"):
		return "openai"
	}
	return "chatter"
}

func (d Deps) chunks() http.Handler {
	return handleDoc(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		p, err := resources.OffsetPage(r, defaultChunksLimit)
		if err != nil {
			return err
		}
		if p.Cursor != "" {
			return invalid("cursor", "chunk lists page by offset")
		}
		doc, cs, err := d.Store.DocumentChunks(r.Context(), uid, id)
		if err != nil {
			return err
		}
		out := ChunksResponse{Chunks: []ChunkResponse{}, TotalCount: len(cs), Limit: p.Size(), Offset: p.Offset}
		model, provider := doc.EmbeddingModel, providerOf(doc.EmbeddingModel)
		for i := p.Offset; i < len(cs) && i < p.Offset+p.Size(); i++ {
			c := cs[i]
			start, end := c.Start, c.End
			out.Chunks = append(out.Chunks, ChunkResponse{ID: store.ChunkID(c.DocumentID, c.Index), DocumentID: c.DocumentID,
				Content: c.Text, ChunkIndex: c.Index, StartChar: &start, EndChar: &end, EmbeddingModel: &model,
				EmbeddingProvider: &provider, EmbeddingCreatedAt: timePtr(c.CreatedAt), ContentHash: contentHash(c.Text),
				CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.CreatedAt.UTC()})
		}
		httpcore.WriteJSON(w, r, http.StatusOK, out)
		return nil
	}, "limit", "offset", "cursor")
}

// StatsResponse is the old DocumentStatsResponse.
type StatsResponse struct {
	TotalDocuments    int            `json:"total_documents"`
	TotalChunks       int            `json:"total_chunks"`
	TotalSizeBytes    int64          `json:"total_size_bytes"`
	DocumentsByStatus map[string]int `json:"documents_by_status"`
	DocumentsByType   map[string]int `json:"documents_by_type"`
	ProcessingStats   map[string]any `json:"processing_stats"`
}

func (d Deps) stats() http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		if err := resources.OnlyQuery(r); err != nil {
			return err
		}
		ds, err := d.Store.ListDocuments(r.Context(), uid)
		if err != nil {
			return err
		}
		out := StatsResponse{DocumentsByStatus: map[string]int{}, DocumentsByType: map[string]int{}}
		for _, s := range store.DocumentStatuses {
			out.DocumentsByStatus[s] = 0
		}
		tokens, done := 0, 0
		var took time.Duration
		for _, doc := range ds {
			out.TotalDocuments++
			out.TotalChunks += doc.ChunkCount
			out.TotalSizeBytes += doc.Size
			out.DocumentsByStatus[doc.Status]++
			t := doc.Type
			if t == "" {
				t = "other"
			}
			out.DocumentsByType[t]++
			tokens += doc.EmbeddingTokens
			if doc.Status == store.DocProcessed && !doc.ProcessingStartedAt.IsZero() && !doc.ProcessingCompletedAt.IsZero() {
				done++
				took += doc.ProcessingCompletedAt.Sub(doc.ProcessingStartedAt)
			}
		}
		avg := 0.0
		if done > 0 {
			avg = took.Seconds() / float64(done)
		}
		out.ProcessingStats = map[string]any{"processed": out.DocumentsByStatus[store.DocProcessed],
			"failed": out.DocumentsByStatus[store.DocFailed], "pending": out.DocumentsByStatus[store.DocPending] + out.DocumentsByStatus[store.DocProcessing],
			"average_processing_seconds": avg, "embedding_tokens": tokens}
		httpcore.WriteJSON(w, r, http.StatusOK, out)
		return nil
	})
}

func contentHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
