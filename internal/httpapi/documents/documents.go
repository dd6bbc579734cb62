// Package documents serves the predecessor's /api/v1/documents routes — upload,
// list (GET and POST), get, delete, chunks, search, reprocess, download and
// per-user stats — at its paths and in its shapes (chatter's extras ride along),
// plus chatter's POST /api/v1/documents/presign for files larger than the
// multipart upload takes. Ingest runs off the request path (package library):
// storing the original is what starts it.
//
// What chatter chose where the old contract is silent or cannot hold:
//
//   - Upload takes at most MaxUploadBytes of file (413 over it, too_large naming
//     file); larger files (up to library.MaxFileBytes) go through presign, whose
//     URL is signed for the declared size and type. A type extract does not read
//     is a 415 (unsupported_media_type naming file), decided from the content type,
//     the name's extension, then the bytes. is_public=true is refused (422): a
//     user's documents are private.
//   - Another user's document is a 404, never a result, on every route; in search
//     document_ids, an unknown or another user's id is absent (no error, no result).
//   - chunk_overlap not sent is the old 200, or half of chunk_size when that is
//     smaller (so a chunk_size alone is never refused for the default overlap).
//   - Search defaults score_threshold to the old 0.5; the score is the cosine
//     similarity of the chunk to the query (package search). content is always
//     sent (the old schema requires it), include_content is accepted.
//   - Download answers the original's bytes up to MaxUploadBytes; a larger
//     original (a presigned upload) is a 307 to a presigned S3 GET valid for
//     DownloadURLTTL.
//   - Reprocess resets the document to pending (the next generation; the chunks
//     stay hidden until the new run ends) and re-announces the original to the
//     ingest (an in-place copy, which S3 reports as Object Created).
//   - Delete removes the original, the chunks and the metadata; a delete that
//     failed part-way is found again by a retry (see store.DocumentStore).
package documents

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"

	"github.com/chatterhq/chatter/internal/documents/blob"
	"github.com/chatterhq/chatter/internal/documents/chunk"
	"github.com/chatterhq/chatter/internal/documents/extract"
	"github.com/chatterhq/chatter/internal/documents/library"
	"github.com/chatterhq/chatter/internal/documents/search"
	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/httpapi/resources"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire/errcode"
)

// Route patterns.
const (
	PathUpload    = "POST /api/v1/documents/upload"
	PathPresign   = "POST /api/v1/documents/presign"
	PathList      = "GET /api/v1/documents"
	PathListQuery = "POST /api/v1/documents/list"
	PathSearch    = "POST /api/v1/documents/search"
	PathStats     = "GET /api/v1/documents/stats/user"
	PathGet       = "GET /api/v1/documents/{document_id}"
	PathDelete    = "DELETE /api/v1/documents/{document_id}"
	PathChunks    = "GET /api/v1/documents/{document_id}/chunks"
	PathReprocess = "POST /api/v1/documents/{document_id}/reprocess"
	PathDownload  = "GET /api/v1/documents/{document_id}/download"
)

// Limits.
const (
	// MaxUploadBytes is the most file one multipart upload takes: its base64 form
	// stays under Lambda's 6 MB request payload behind API Gateway.
	MaxUploadBytes = 4 << 20
	// uploadBodyLimit is the multipart body limit: the file and its form fields.
	uploadBodyLimit = MaxUploadBytes + 64<<10
	// MaxFilenameLen bounds a file name (bytes).
	MaxFilenameLen = 255
	// MaxQueryLen is the old search query bound (characters).
	MaxQueryLen = 1000
	// UploadURLTTL and DownloadURLTTL are how long presigned URLs hold.
	UploadURLTTL   = 15 * time.Minute
	DownloadURLTTL = 5 * time.Minute
	// Old defaults.
	defaultListLimit     = 10
	defaultListBodyLimit = 50
	defaultChunksLimit   = 10
	defaultScore         = 0.5
)

// Store is what the routes need of the store.
type Store interface {
	CreateDocument(ctx context.Context, d *store.Document) error
	GetDocument(ctx context.Context, userID, id string) (*store.Document, error)
	ListDocuments(ctx context.Context, userID string) ([]store.Document, error)
	DocumentChunks(ctx context.Context, userID, id string) (*store.Document, []store.Chunk, error)
	MarkDocumentDeleting(ctx context.Context, userID, id string) (*store.Document, error)
	DeleteDocument(ctx context.Context, userID, id string) error
}

// Blobs is what the routes need of the bucket (*blob.Store).
type Blobs interface {
	Put(ctx context.Context, key, contentType string, data []byte) (string, error)
	Get(ctx context.Context, key string, max int64) (*blob.Object, error)
	Delete(ctx context.Context, key string) error
	Touch(ctx context.Context, key string, generation int) error
	PresignPut(ctx context.Context, key, contentType string, size int64, ttl time.Duration, now time.Time) (*blob.Upload, error)
	PresignGet(ctx context.Context, key, filename string, ttl time.Duration) (string, error)
}

// Library is what the routes need of the library (*library.Library).
type Library interface {
	Search(ctx context.Context, q library.Query) ([]library.Hit, error)
	Reprocess(ctx context.Context, userID, id string) (*store.Document, error)
}

// Deps are the routes' dependencies.
type Deps struct {
	Store   Store
	Blobs   Blobs
	Library Library
	// EmbeddingModel is the embed spec new documents are embedded with.
	EmbeddingModel string
	NewID          func() string // default a ULID
	Now            func() time.Time
}

func (d Deps) withDefaults() Deps {
	if d.NewID == nil {
		d.NewID = func() string { return ulid.Make().String() }
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return d
}

// Route is one route: its pattern, handler and mount options.
type Route struct {
	Pattern string
	Handler http.Handler
	Options []httpcore.RouteOption
}

// Routes returns every route built on d.
func Routes(d Deps) []Route {
	d = d.withDefaults()
	other := httpcore.RateClass(httpcore.ClassOther)
	r := func(p string, h http.Handler, opts ...httpcore.RouteOption) Route {
		return Route{Pattern: p, Handler: h, Options: append([]httpcore.RouteOption{other}, opts...)}
	}
	return []Route{
		r(PathUpload, d.upload(), httpcore.MaxBody(uploadBodyLimit)),
		r(PathPresign, d.presign()),
		r(PathList, d.list()),
		r(PathListQuery, d.listQuery()),
		r(PathSearch, d.search()),
		r(PathStats, d.stats()),
		r(PathGet, d.get()),
		r(PathDelete, d.delete()),
		r(PathChunks, d.chunks()),
		r(PathReprocess, d.reprocess()),
		r(PathDownload, d.download()),
	}
}

// Mounter is what Register needs of a router (*httpcore.Router).
type Mounter interface {
	Mount(pattern string, h http.Handler, opts ...httpcore.RouteOption)
}

// Register mounts every route on rt.
func Register(rt Mounter, d Deps) {
	for _, r := range Routes(d) {
		rt.Mount(r.Pattern, r.Handler, r.Options...)
	}
}

func handle(f func(w http.ResponseWriter, r *http.Request, uid string) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r, httpcore.UserID(r.Context())); err != nil {
			httpapi.Fail(w, r, err)
		}
	})
}

// handleDoc reads {document_id} (a 422 naming it when no id could be one) and
// refuses query parameters but those of query.
func handleDoc(f func(w http.ResponseWriter, r *http.Request, uid, id string) error, query ...string) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		id, err := resources.PathParam(r, "document_id")
		if err != nil {
			return err
		}
		if err := resources.OnlyQuery(r, query...); err != nil {
			return err
		}
		return f(w, r, uid, id)
	})
}

func invalid(field, msg string) error { return httpcore.FieldErr(errcode.InvalidInput, field, msg) }

// checkFilename keeps the base name of a client's file name.
func checkFilename(name string) (string, error) {
	name = strings.TrimSpace(path.Base(strings.ReplaceAll(name, "\\", "/")))
	switch {
	case name == "" || name == "." || name == "/":
		return "", invalid("file", "the file needs a name")
	case len(name) > MaxFilenameLen || !utf8.ValidString(name):
		return "", invalid("file", fmt.Sprintf("the file name must be valid UTF-8 of at most %d bytes", MaxFilenameLen))
	}
	return name, nil
}

// detect decides the document type, or the 415.
func detect(filename, contentType string, data []byte) (extract.Type, error) {
	t, err := extract.Detect(filename, contentType, data)
	if errors.Is(err, extract.ErrUnsupported) {
		return "", httpcore.FieldErr(errcode.UnsupportedMediaType, "file", err.Error())
	}
	return t, err
}

// chunkParams validates chunk_size and chunk_overlap (a 422 naming the field).
func chunkParams(size, overlap int) error {
	if err := (chunk.Params{Size: size, Overlap: overlap}).Validate(); err != nil {
		var pe *chunk.ParamError
		if errors.As(err, &pe) {
			return invalid(pe.Field, pe.Message)
		}
		return err
	}
	return nil
}

// defaultOverlap is the chunk_overlap of a request that sends none: the old 200,
// or half of a chunk_size too small for it.
func defaultOverlap(size int) int { return min(chunk.DefaultOverlap, size/2) }

func checkTags(tags []string) ([]string, error) {
	var out []string
	for _, t := range tags {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(out, t) {
			if utf8.RuneCountInString(t) > 64 {
				return nil, invalid("tags", "a tag is at most 64 characters")
			}
			out = append(out, t)
		}
	}
	if len(out) > store.MaxDocumentTags {
		return nil, invalid("tags", fmt.Sprintf("at most %d tags", store.MaxDocumentTags))
	}
	return out, nil
}

// parseTags reads the old form field: a JSON array or comma-separated names.
func parseTags(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		var tags []string
		if err := json.Unmarshal([]byte(s), &tags); err != nil {
			return nil, invalid("tags", "tags must be a JSON array of strings or comma-separated names")
		}
		return checkTags(tags)
	}
	return checkTags(strings.Split(s, ","))
}

func (d Deps) upload() http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/form-data" {
			return invalid("file", "the body must be multipart/form-data with a file part")
		}
		mr, err := r.MultipartReader()
		if err != nil {
			return invalid("file", "the body must be multipart/form-data with a file part")
		}
		var (
			data            []byte
			filename, ctype string
			haveFile        bool
			size, overlap   = chunk.DefaultSize, chunk.DefaultOverlap
			tags            []string
			overlapSet      bool
		)
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				var mb *http.MaxBytesError
				if errors.As(err, &mb) {
					return tooLarge()
				}
				return invalid("file", "unreadable multipart body: "+err.Error())
			}
			name := p.FormName()
			if name == "file" {
				if haveFile {
					return invalid("file", "one file per upload")
				}
				haveFile, filename, ctype = true, p.FileName(), p.Header.Get("Content-Type")
				data, err = io.ReadAll(io.LimitReader(p, MaxUploadBytes+1))
				if err != nil {
					var mb *http.MaxBytesError
					if errors.As(err, &mb) {
						return tooLarge()
					}
					return invalid("file", "unreadable file part: "+err.Error())
				}
				if len(data) > MaxUploadBytes {
					return tooLarge()
				}
				continue
			}
			v, err := io.ReadAll(io.LimitReader(p, 16<<10))
			if err != nil {
				return invalid(name, "unreadable form field")
			}
			s := strings.TrimSpace(string(v))
			switch name {
			case "chunk_size", "chunk_overlap":
				n, err := strconv.Atoi(s)
				if err != nil {
					return invalid(name, name+" must be an integer")
				}
				if name == "chunk_size" {
					size = n
				} else {
					overlap, overlapSet = n, true
				}
			case "tags":
				if tags, err = parseTags(s); err != nil {
					return err
				}
			case "is_public":
				if b, err := strconv.ParseBool(s); err != nil || b {
					return invalid("is_public", "documents are private: is_public must be false")
				}
			default:
				return invalid(name, "unknown form field "+strconv.Quote(name))
			}
		}
		if !haveFile {
			return invalid("file", "a file part is required")
		}
		if !overlapSet {
			overlap = defaultOverlap(size)
		}
		if filename, err = checkFilename(filename); err != nil {
			return err
		}
		if err := chunkParams(size, overlap); err != nil {
			return err
		}
		typ, err := detect(filename, ctype, data)
		if err != nil {
			return err
		}
		if ctype == "" || ctype == "application/octet-stream" {
			ctype = mimeOf(typ)
		}
		sum := sha256.Sum256(data)
		doc := d.newDoc(uid, filename, ctype, typ, int64(len(data)), size, overlap, tags)
		doc.Hash = hex.EncodeToString(sum[:])
		if err := d.Store.CreateDocument(r.Context(), doc); err != nil {
			return err
		}
		// The metadata first: the ingest, started by the stored object, must find it.
		if _, err := d.Blobs.Put(r.Context(), doc.BlobKey, ctype, data); err != nil {
			if _, derr := d.Store.MarkDocumentDeleting(context.WithoutCancel(r.Context()), uid, doc.ID); derr == nil {
				_ = d.Store.DeleteDocument(context.WithoutCancel(r.Context()), uid, doc.ID)
			}
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, Response(doc))
		return nil
	})
}

func tooLarge() error {
	return httpcore.FieldErr(errcode.TooLarge, "file", fmt.Sprintf("the file is larger than %d bytes; upload it with POST /api/v1/documents/presign (up to %d bytes)",
		MaxUploadBytes, library.MaxFileBytes))
}

// mimeOf is the content type recorded for a type detected from a generic one.
func mimeOf(t extract.Type) string {
	switch t {
	case extract.Markdown:
		return "text/markdown"
	case extract.HTML:
		return "text/html"
	case extract.PDF:
		return "application/pdf"
	}
	return "text/plain"
}

func (d Deps) newDoc(uid, filename, ctype string, typ extract.Type, size int64, chunkSize, overlap int, tags []string) *store.Document {
	id := d.NewID()
	return &store.Document{ID: id, UserID: uid, Filename: filename, ContentType: ctype, Type: string(typ), Size: size,
		Tags: tags, BlobKey: blob.Key(uid, id), Status: store.DocPending, ChunkSize: chunkSize, ChunkOverlap: overlap,
		EmbeddingModel: d.EmbeddingModel}
}

// PresignRequest is chatter's POST /documents/presign body.
type PresignRequest struct {
	Filename     string   `json:"filename"`
	ContentType  string   `json:"content_type"`
	Size         int64    `json:"size"`
	ChunkSize    *int     `json:"chunk_size"`
	ChunkOverlap *int     `json:"chunk_overlap"`
	Tags         []string `json:"tags"`
}

// PresignResponse is its answer: the pending document and how to PUT the file.
type PresignResponse struct {
	Document DocumentResponse `json:"document"`
	Upload   *blob.Upload     `json:"upload"`
}

func (d Deps) presign() http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		var req PresignRequest
		if err := httpcore.Decode(r, &req); err != nil {
			return err
		}
		filename, err := checkFilename(req.Filename)
		if err != nil {
			return invalid("filename", strings.TrimPrefix(err.Error(), errcode.InvalidInput+": "))
		}
		switch {
		case req.Size <= 0:
			return invalid("size", "size must be the file's length in bytes")
		case req.Size > library.MaxFileBytes:
			return httpcore.FieldErr(errcode.TooLarge, "size", fmt.Sprintf("at most %d bytes", library.MaxFileBytes))
		}
		size, overlap := chunk.DefaultSize, chunk.DefaultOverlap
		if req.ChunkSize != nil {
			size = *req.ChunkSize
		}
		overlap = defaultOverlap(size)
		if req.ChunkOverlap != nil {
			overlap = *req.ChunkOverlap
		}
		if err := chunkParams(size, overlap); err != nil {
			return err
		}
		tags, err := checkTags(req.Tags)
		if err != nil {
			return err
		}
		typ, err := detect(filename, req.ContentType, nil)
		if err != nil {
			return err
		}
		ctype := req.ContentType
		if ctype == "" {
			ctype = mimeOf(typ)
		}
		doc := d.newDoc(uid, filename, ctype, typ, req.Size, size, overlap, tags)
		if err := d.Store.CreateDocument(r.Context(), doc); err != nil {
			return err
		}
		up, err := d.Blobs.PresignPut(r.Context(), doc.BlobKey, ctype, req.Size, UploadURLTTL, d.Now())
		if err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusCreated, PresignResponse{Document: Response(doc), Upload: up})
		return nil
	})
}

func (d Deps) get() http.Handler {
	return handleDoc(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		doc, err := d.Store.GetDocument(r.Context(), uid, id)
		if err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, Response(doc))
		return nil
	})
}

// DeleteResponse is the old DocumentDeleteResponse.
type DeleteResponse struct {
	Message string `json:"message"`
}

func (d Deps) delete() http.Handler {
	return handleDoc(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		doc, err := d.Store.MarkDocumentDeleting(r.Context(), uid, id)
		if err != nil {
			return err
		}
		if err := d.Blobs.Delete(r.Context(), doc.BlobKey); err != nil {
			return err
		}
		if err := d.Store.DeleteDocument(r.Context(), uid, id); err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, DeleteResponse{Message: "Document deleted successfully"})
		return nil
	})
}

// ProcessingResponse is the old DocumentProcessingResponse.
type ProcessingResponse struct {
	DocumentID          string     `json:"document_id"`
	Status              string     `json:"status"`
	Message             string     `json:"message"`
	ProcessingStartedAt *time.Time `json:"processing_started_at"`
	Generation          int        `json:"generation"`
}

func (d Deps) reprocess() http.Handler {
	return handleDoc(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		doc, err := d.Library.Reprocess(r.Context(), uid, id)
		if err != nil {
			return err
		}
		msg := "Document queued for reprocessing"
		switch err := d.Blobs.Touch(r.Context(), doc.BlobKey, doc.Generation); {
		case errors.Is(err, blob.ErrNotFound):
			msg = "Document is waiting for its file: upload it to the presigned URL"
		case err != nil:
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, ProcessingResponse{DocumentID: doc.ID, Status: doc.Status, Message: msg,
			Generation: doc.Generation})
		return nil
	})
}

func (d Deps) download() http.Handler {
	return handleDoc(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		doc, err := d.Store.GetDocument(r.Context(), uid, id)
		if err != nil {
			return err
		}
		obj, err := d.Blobs.Get(r.Context(), doc.BlobKey, MaxUploadBytes)
		switch {
		case errors.Is(err, blob.ErrTooLarge):
			u, err := d.Blobs.PresignGet(r.Context(), doc.BlobKey, doc.Filename, DownloadURLTTL)
			if err != nil {
				return err
			}
			http.Redirect(w, r, u, http.StatusTemporaryRedirect)
			return nil
		case errors.Is(err, blob.ErrNotFound):
			return &httpcore.Error{Code: errcode.NotFound, Message: "the document's file has not been uploaded"}
		case err != nil:
			return err
		}
		ct := doc.ContentType
		if ct == "" {
			ct = obj.ContentType
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Disposition", blob.ContentDisposition(doc.Filename))
		w.Header().Set("Content-Length", strconv.Itoa(len(obj.Data)))
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(obj.Data)
		return nil
	})
}

// SearchRequest is the old DocumentSearchRequest, with chatter's document_ids.
type SearchRequest struct {
	Query          string   `json:"query"`
	Limit          *int     `json:"limit"`
	ScoreThreshold *float64 `json:"score_threshold"`
	DocumentTypes  []string `json:"document_types"`
	Tags           []string `json:"tags"`
	IncludeContent *bool    `json:"include_content"`
	DocumentIDs    []string `json:"document_ids"`
}

// SearchResult is the old SearchResultResponse.
type SearchResult struct {
	ChunkID          string  `json:"chunk_id"`
	DocumentID       string  `json:"document_id"`
	Content          string  `json:"content"`
	SimilarityScore  float64 `json:"similarity_score"`
	DocumentTitle    *string `json:"document_title"`
	DocumentFilename string  `json:"document_filename"`
	ChunkIndex       int     `json:"chunk_index"`
	StartChar        int     `json:"start_char"`
	EndChar          int     `json:"end_char"`
}

// DocumentTypes are the old DocumentType values.
var DocumentTypes = []string{"pdf", "text", "markdown", "html", "doc", "docx", "rtf", "odt", "csv", "json", "xml", "other"}

func (d Deps) search() http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		var req SearchRequest
		if err := httpcore.Decode(r, &req); err != nil {
			return err
		}
		q := library.Query{UserID: uid, Text: strings.TrimSpace(req.Query), TopK: search.DefaultTopK, MinScore: defaultScore,
			DocumentIDs: req.DocumentIDs, Types: req.DocumentTypes}
		switch n := utf8.RuneCountInString(q.Text); {
		case n == 0:
			return invalid("query", "query is required")
		case n > MaxQueryLen:
			return invalid("query", fmt.Sprintf("query is at most %d characters", MaxQueryLen))
		}
		if req.Limit != nil {
			if *req.Limit < 1 {
				return invalid("limit", "limit must be at least 1")
			}
			q.TopK = min(*req.Limit, search.MaxTopK)
		}
		if req.ScoreThreshold != nil {
			if *req.ScoreThreshold < 0 || *req.ScoreThreshold > 1 {
				return invalid("score_threshold", "score_threshold must be between 0 and 1")
			}
			q.MinScore = *req.ScoreThreshold
		}
		for _, t := range req.DocumentTypes {
			if !slices.Contains(DocumentTypes, t) {
				return invalid("document_types", fmt.Sprintf("%q is not one of %v", t, DocumentTypes))
			}
		}
		if len(req.DocumentIDs) > store.MaxDocumentIDs {
			return invalid("document_ids", fmt.Sprintf("at most %d", store.MaxDocumentIDs))
		}
		for _, id := range req.DocumentIDs {
			if !store.ValidID(id) {
				return invalid("document_ids", fmt.Sprintf("%q is not a document id", id))
			}
		}
		tags, err := checkTags(req.Tags)
		if err != nil {
			return err
		}
		q.Tags = tags
		hits, err := d.Library.Search(r.Context(), q)
		if err != nil {
			var ie *search.InputError
			if errors.As(err, &ie) {
				return invalid(ie.Field, ie.Message)
			}
			return err
		}
		out := make([]SearchResult, len(hits))
		for i, h := range hits {
			out[i] = SearchResult{ChunkID: store.ChunkID(h.Chunk.DocumentID, h.Chunk.Index), DocumentID: h.Document.ID,
				Content: h.Chunk.Text, SimilarityScore: h.Score, DocumentTitle: nil, DocumentFilename: h.Document.Filename,
				ChunkIndex: h.Chunk.Index, StartChar: h.Chunk.Start, EndChar: h.Chunk.End}
		}
		httpcore.WriteJSON(w, r, http.StatusOK, out)
		return nil
	})
}
