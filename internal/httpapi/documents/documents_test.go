package documents_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chatterhq/chatter/internal/documents/blob"
	"github.com/chatterhq/chatter/internal/httpapi/apitest"
	"github.com/chatterhq/chatter/internal/httpapi/documents"
	"github.com/chatterhq/chatter/internal/store"
)

const guide = `# Garden guide

## Tomatoes

Tomatoes need full sun and deep watering twice a week. Stake the tomato plants early
so the stems do not break under the fruit.

## Roses

Prune roses in late winter, just above an outward-facing bud. Feed roses with compost
in spring and water them at the base, never on the leaves.

## Compost

A compost heap needs greens and browns in equal parts, turned every two weeks, and
kept as damp as a wrung-out sponge.
`

type docResp struct {
	ID              string   `json:"id"`
	OwnerID         string   `json:"owner_id"`
	Filename        string   `json:"filename"`
	Status          string   `json:"status"`
	DocumentType    string   `json:"document_type"`
	ChunkCount      int      `json:"chunk_count"`
	ChunkSize       int      `json:"chunk_size"`
	ChunkOverlap    int      `json:"chunk_overlap"`
	FileSize        int      `json:"file_size"`
	FileHash        string   `json:"file_hash"`
	Tags            []string `json:"tags"`
	ProcessingError *string  `json:"processing_error"`
	EmbeddingModel  string   `json:"embedding_model"`
}

type searchHit struct {
	ChunkID          string  `json:"chunk_id"`
	DocumentID       string  `json:"document_id"`
	Content          string  `json:"content"`
	SimilarityScore  float64 `json:"similarity_score"`
	DocumentFilename string  `json:"document_filename"`
}

// uploadDoc uploads a file as user and runs its ingest; the processed document.
func (e *env) uploadDoc(t *testing.T, user, filename, ctype, body string) docResp {
	t.Helper()
	r := e.upload(t, user, filename, ctype, []byte(body), map[string]string{"chunk_size": "200", "chunk_overlap": "40", "tags": "garden,howto"})
	wantStatus(t, "upload", r, http.StatusOK)
	var d docResp
	r.json(t, &d)
	if d.Status != store.DocPending || d.ChunkSize != 200 || d.ChunkOverlap != 40 || d.OwnerID != user || len(d.Tags) != 2 {
		t.Fatalf("uploaded = %s", r.body)
	}
	e.ingest(t, user, d.ID)
	r = e.json(t, http.MethodGet, user, "/api/v1/documents/"+d.ID, nil, true)
	wantStatus(t, "get", r, http.StatusOK)
	r.json(t, &d)
	return d
}

var pdfDoc = func() string {
	// A minimal one-page PDF with a text layer.
	content := "BT /F1 12 Tf 72 720 Td (Prune roses in late winter above a bud.) Tj ET"
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b strings.Builder
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.String()
}()

// The whole path for each file type: upload -> ingest -> processed -> search finds
// the right chunk -> a document_qa chat cites it; another user finds nothing.
func TestDocuments_UploadIngestSearchAndChatCiteTheRightChunkForEveryType(t *testing.T) {
	cases := []struct{ name, filename, ctype, body string }{
		{"markdown", "garden.md", "text/markdown", guide},
		{"text", "garden.txt", "text/plain", strings.ReplaceAll(guide, "#", "")},
		{"html", "garden.html", "text/html", "<html><head><title>Garden</title></head><body><h1>Garden</h1><p>" +
			strings.ReplaceAll(strings.ReplaceAll(guide, "#", ""), "\n\n", "</p><p>") + "</p></body></html>"},
		{"pdf", "roses.pdf", "application/pdf", pdfDoc},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { testWholePath(t, newEnv(t), tc.name, tc.filename, tc.ctype, tc.body) })
	}
	t.Run("markdown on DynamoDB", func(t *testing.T) { testWholePath(t, newDynamoEnv(t), "markdown", "garden.md", "text/markdown", guide) })
}

// testWholePath: upload, ingest, search and chat over one file of type typ.
func testWholePath(t *testing.T, e *env, typ, filename, ctype, body string) {
	d := e.uploadDoc(t, "alice", filename, ctype, body)
	if d.Status != store.DocProcessed || d.ChunkCount < 1 || d.DocumentType != typ || d.FileHash == "" {
		t.Fatalf("after ingest: %+v (error %v)", d, d.ProcessingError)
	}
	r := e.json(t, http.MethodPost, "alice", "/api/v1/documents/search",
		map[string]any{"query": "when to prune roses", "limit": 3, "score_threshold": 0.05}, true)
	wantStatus(t, "search", r, http.StatusOK)
	var hits []searchHit
	r.json(t, &hits)
	if len(hits) == 0 || hits[0].DocumentID != d.ID || !strings.Contains(hits[0].Content, "Prune roses") ||
		hits[0].DocumentFilename != filename || !strings.HasPrefix(hits[0].ChunkID, d.ID+"-") {
		t.Fatalf("search = %s", r.body)
	}
	// Another user's search finds nothing, even naming the document.
	r = e.json(t, http.MethodPost, "bob", "/api/v1/documents/search",
		map[string]any{"query": "when to prune roses", "score_threshold": 0, "document_ids": []string{d.ID}}, false)
	if wantStatus(t, "bob's search", r, http.StatusOK); strings.TrimSpace(string(r.body)) != "[]" {
		t.Fatalf("bob's search = %s", r.body)
	}

	// A document_qa chat over the document answers with it as a source.
	r = e.json(t, http.MethodPost, "alice", "/api/v1/workflows/execute/chat", map[string]any{
		"message": "When should I prune roses?", "workflow_template_name": "document_qa",
		"enable_retrieval": true, "document_ids": []string{d.ID}}, true)
	wantStatus(t, "chat", r, http.StatusOK)
	var ans struct {
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
		Sources []struct {
			DocumentID string  `json:"document_id"`
			ChunkID    string  `json:"chunk_id"`
			Title      string  `json:"title"`
			Text       string  `json:"text"`
			Score      float64 `json:"score"`
		} `json:"sources"`
	}
	r.json(t, &ans)
	if len(ans.Sources) == 0 || ans.Sources[0].DocumentID != d.ID || !strings.HasPrefix(ans.Sources[0].ChunkID, d.ID+"-") ||
		ans.Sources[0].Title != filename || !strings.Contains(ans.Sources[0].Text, "roses") ||
		!strings.HasSuffix(ans.Message.Content, "I used the provided context.") {
		t.Fatalf("chat sources = %s", r.body)
	}
	// Bob's chat naming alice's document has no sources.
	r = e.json(t, http.MethodPost, "bob", "/api/v1/workflows/execute/chat", map[string]any{
		"message": "When should I prune roses?", "workflow_template_name": "document_qa",
		"enable_retrieval": true, "document_ids": []string{d.ID}}, false)
	wantStatus(t, "bob's chat", r, http.StatusOK)
	ans.Sources = nil
	r.json(t, &ans)
	if len(ans.Sources) != 0 || strings.Contains(ans.Message.Content, "provided context") {
		t.Fatalf("bob's chat cites alice's document: %s", r.body)
	}
}

// Every route with a document id answers another user 404, and every list or
// search of another user leaves the document out.
func TestDocuments_AnotherUsersDocumentIsNotFoundOnEveryRoute(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testIsolation(t, newEnv(t)) })
	t.Run("dynamodb", func(t *testing.T) { testIsolation(t, newDynamoEnv(t)) })
}

func testIsolation(t *testing.T, e *env) {
	d := e.uploadDoc(t, "alice", "garden.md", "text/markdown", guide)
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/documents/" + d.ID},
		{http.MethodGet, "/api/v1/documents/" + d.ID + "/chunks"},
		{http.MethodGet, "/api/v1/documents/" + d.ID + "/download"},
		{http.MethodPost, "/api/v1/documents/" + d.ID + "/reprocess"},
		{http.MethodDelete, "/api/v1/documents/" + d.ID},
	} {
		wantProblem(t, c.method+" "+c.path, e.json(t, c.method, "bob", c.path, nil, false), http.StatusNotFound, "not_found", "")
	}
	var l struct {
		Documents  []docResp `json:"documents"`
		TotalCount int       `json:"total_count"`
	}
	e.json(t, http.MethodGet, "bob", "/api/v1/documents", nil, true).json(t, &l)
	if l.TotalCount != 0 || len(l.Documents) != 0 {
		t.Fatalf("bob's list: %+v", l)
	}
	e.json(t, http.MethodPost, "bob", "/api/v1/documents/list", map[string]any{"owner_id": "alice"}, true).json(t, &l)
	if l.TotalCount != 0 {
		t.Fatalf("bob's list naming alice: %+v", l)
	}
	var st struct {
		TotalDocuments int `json:"total_documents"`
	}
	e.json(t, http.MethodGet, "bob", "/api/v1/documents/stats/user", nil, true).json(t, &st)
	if st.TotalDocuments != 0 {
		t.Fatalf("bob's stats: %+v", st)
	}
	// Alice still has it all.
	wantStatus(t, "alice gets", e.json(t, http.MethodGet, "alice", "/api/v1/documents/"+d.ID, nil, true), http.StatusOK)
}

// Each old operation once, validated against the predecessor's contract.
func TestDocuments_EveryOldOperationAnswersAsTheOldContractSays(t *testing.T) {
	e := newEnv(t)
	d := e.uploadDoc(t, "alice", "garden.md", "text/markdown", guide)
	covered := map[string]bool{"POST /api/v1/documents/upload": true, "GET /api/v1/documents/{document_id}": true}

	var l struct {
		Documents  []docResp `json:"documents"`
		TotalCount int       `json:"total_count"`
		Limit      int       `json:"limit"`
		Offset     int       `json:"offset"`
	}
	e.json(t, http.MethodGet, "alice", "/api/v1/documents?limit=5&offset=0", nil, true).json(t, &l)
	if l.TotalCount != 1 || l.Limit != 5 || len(l.Documents) != 1 || l.Documents[0].ID != d.ID {
		t.Fatalf("list = %+v", l)
	}
	covered["GET /api/v1/documents"] = true
	e.json(t, http.MethodPost, "alice", "/api/v1/documents/list", map[string]any{"status": "processed", "document_type": "markdown",
		"tags": []string{"garden"}, "limit": 10, "offset": 0, "sort_by": "filename", "sort_order": "asc"}, true).json(t, &l)
	if l.TotalCount != 1 || l.Documents[0].ID != d.ID {
		t.Fatalf("list by POST = %+v", l)
	}
	e.json(t, http.MethodPost, "alice", "/api/v1/documents/list", map[string]any{"status": "failed"}, true).json(t, &l)
	if l.TotalCount != 0 {
		t.Fatalf("list of failed = %+v", l)
	}
	covered["POST /api/v1/documents/list"] = true

	var cs struct {
		Chunks []struct {
			ID         string `json:"id"`
			ChunkIndex int    `json:"chunk_index"`
			Content    string `json:"content"`
			StartChar  int    `json:"start_char"`
			EndChar    int    `json:"end_char"`
		} `json:"chunks"`
		TotalCount int `json:"total_count"`
	}
	e.json(t, http.MethodGet, "alice", "/api/v1/documents/"+d.ID+"/chunks?limit=2&offset=1", nil, true).json(t, &cs)
	if cs.TotalCount != d.ChunkCount || len(cs.Chunks) != min(2, d.ChunkCount-1) || cs.Chunks[0].ChunkIndex != 1 ||
		cs.Chunks[0].ID != store.ChunkID(d.ID, 1) || cs.Chunks[0].EndChar <= cs.Chunks[0].StartChar {
		t.Fatalf("chunks = %+v (count %d)", cs, d.ChunkCount)
	}
	covered["GET /api/v1/documents/{document_id}/chunks"] = true

	r := e.json(t, http.MethodPost, "alice", "/api/v1/documents/search", map[string]any{"query": "compost greens browns"}, true)
	wantStatus(t, "search", r, http.StatusOK)
	covered["POST /api/v1/documents/search"] = true

	r = e.json(t, http.MethodGet, "alice", "/api/v1/documents/"+d.ID+"/download", nil, false)
	if wantStatus(t, "download", r, http.StatusOK); string(r.body) != guide || !strings.HasPrefix(r.header.Get("Content-Type"), "text/markdown") ||
		!strings.Contains(r.header.Get("Content-Disposition"), `filename="garden.md"`) {
		t.Fatalf("download = %v %q", r.header, r.body)
	}
	covered["GET /api/v1/documents/{document_id}/download"] = true

	var st struct {
		TotalDocuments    int            `json:"total_documents"`
		TotalChunks       int            `json:"total_chunks"`
		TotalSizeBytes    int            `json:"total_size_bytes"`
		DocumentsByStatus map[string]int `json:"documents_by_status"`
		DocumentsByType   map[string]int `json:"documents_by_type"`
	}
	e.json(t, http.MethodGet, "alice", "/api/v1/documents/stats/user", nil, true).json(t, &st)
	if st.TotalDocuments != 1 || st.TotalChunks != d.ChunkCount || st.TotalSizeBytes != len(guide) ||
		st.DocumentsByStatus["processed"] != 1 || st.DocumentsByType["markdown"] != 1 {
		t.Fatalf("stats = %+v", st)
	}
	covered["GET /api/v1/documents/stats/user"] = true

	var pr struct {
		DocumentID string `json:"document_id"`
		Status     string `json:"status"`
		Generation int    `json:"generation"`
	}
	e.json(t, http.MethodPost, "alice", "/api/v1/documents/"+d.ID+"/reprocess", nil, true).json(t, &pr)
	if pr.DocumentID != d.ID || pr.Status != "pending" || pr.Generation != 1 {
		t.Fatalf("reprocess = %+v", pr)
	}
	e.ingest(t, "alice", d.ID)
	var again docResp
	e.json(t, http.MethodGet, "alice", "/api/v1/documents/"+d.ID, nil, true).json(t, &again)
	if again.Status != "processed" || again.ChunkCount != d.ChunkCount {
		t.Fatalf("after reprocess: %+v", again)
	}
	covered["POST /api/v1/documents/{document_id}/reprocess"] = true

	var del struct {
		Message string `json:"message"`
	}
	e.json(t, http.MethodDelete, "alice", "/api/v1/documents/"+d.ID, nil, true).json(t, &del)
	if del.Message == "" {
		t.Fatal("delete: no message")
	}
	wantProblem(t, "get after delete", e.json(t, http.MethodGet, "alice", "/api/v1/documents/"+d.ID, nil, false), http.StatusNotFound, "not_found", "")
	if _, err := e.blobs.Get(e.ctx, blob.Key("alice", d.ID), 1<<20); err == nil {
		t.Fatal("the original is still in the bucket")
	}
	if _, err := e.st.MarkDocumentDeleting(e.ctx, "alice", d.ID); store.CodeOf(err) != "not_found" {
		t.Fatalf("the metadata is still stored: %v", err)
	}
	covered["DELETE /api/v1/documents/{document_id}"] = true

	ops := apitest.Old(t).Ops("/api/v1/workflows", "/api/v1/conversations")
	for _, op := range ops {
		if !covered[op] {
			t.Errorf("no contract case for %s", op)
		}
	}
	if len(ops) != 10 {
		t.Errorf("the old contract has %d /documents operations, want 10", len(ops))
	}
}

func TestUpload_LimitsTypesAndFieldsAreCheckedNamingTheField(t *testing.T) {
	e := newEnv(t)
	wantProblem(t, "over the limit", e.upload(t, "alice", "big.txt", "text/plain", bytes.Repeat([]byte("a"), documents.MaxUploadBytes+1), nil),
		http.StatusRequestEntityTooLarge, "too_large", "")
	wantProblem(t, "image", e.upload(t, "alice", "cat.png", "image/png", []byte("\x89PNG\r\n\x1a\nxxxx"), nil),
		http.StatusUnsupportedMediaType, "unsupported_media_type", "file")
	wantProblem(t, "chunk_size", e.upload(t, "alice", "a.txt", "text/plain", []byte("hello"), map[string]string{"chunk_size": "10"}),
		http.StatusUnprocessableEntity, "invalid_input", "chunk_size")
	wantProblem(t, "chunk_overlap", e.upload(t, "alice", "a.txt", "text/plain", []byte("hello"), map[string]string{"chunk_overlap": "900"}),
		http.StatusUnprocessableEntity, "invalid_input", "chunk_overlap")
	wantProblem(t, "chunk_size not a number", e.uploadChecked(t, "alice", "a.txt", "text/plain", []byte("hello"), map[string]string{"chunk_size": "big"}, false),
		http.StatusUnprocessableEntity, "invalid_input", "chunk_size")
	wantProblem(t, "is_public", e.upload(t, "alice", "a.txt", "text/plain", []byte("hello"), map[string]string{"is_public": "true"}),
		http.StatusUnprocessableEntity, "invalid_input", "is_public")
	wantProblem(t, "not multipart", e.send(t, http.MethodPost, "alice", "/api/v1/documents/upload", "application/json", []byte(`{}`), false),
		http.StatusUnprocessableEntity, "invalid_input", "file")
	wantProblem(t, "search without query", e.json(t, http.MethodPost, "alice", "/api/v1/documents/search", map[string]any{"query": " "}, false),
		http.StatusUnprocessableEntity, "invalid_input", "query")
	wantProblem(t, "search threshold", e.json(t, http.MethodPost, "alice", "/api/v1/documents/search", map[string]any{"query": "x", "score_threshold": 2}, false),
		http.StatusUnprocessableEntity, "invalid_input", "score_threshold")
	wantProblem(t, "list sort", e.json(t, http.MethodPost, "alice", "/api/v1/documents/list", map[string]any{"sort_order": "up"}, false),
		http.StatusUnprocessableEntity, "invalid_input", "sort_order")
	wantProblem(t, "bad id", e.json(t, http.MethodGet, "alice", "/api/v1/documents/"+strings.Repeat("x", 200), nil, false),
		http.StatusUnprocessableEntity, "invalid_input", "document_id")
	wantProblem(t, "unknown query parameter", e.json(t, http.MethodGet, "alice", "/api/v1/documents/doc1?verbose=1", nil, false),
		http.StatusUnprocessableEntity, "invalid_input", "verbose")
	var l struct {
		TotalCount int `json:"total_count"`
	}
	e.json(t, http.MethodGet, "alice", "/api/v1/documents", nil, false).json(t, &l)
	if l.TotalCount != 0 {
		t.Fatalf("a refused upload left %d documents", l.TotalCount)
	}
}

// chatter's presigned upload: the URL takes exactly the declared file, and its
// Object Created event ingests it.
func TestPresign_UploadToTheURLThenIngestProcessesIt(t *testing.T) {
	e := newEnv(t)
	body := []byte(guide)
	r := e.json(t, http.MethodPost, "alice", "/api/v1/documents/presign",
		map[string]any{"filename": "garden.md", "content_type": "text/markdown", "size": len(body), "chunk_size": 300}, false)
	wantStatus(t, "presign", r, http.StatusCreated)
	var pr struct {
		Document docResp `json:"document"`
		Upload   struct {
			URL     string              `json:"url"`
			Method  string              `json:"method"`
			Headers map[string][]string `json:"headers"`
		} `json:"upload"`
	}
	r.json(t, &pr)
	if pr.Document.Status != "pending" || pr.Document.ChunkSize != 300 || pr.Upload.Method != http.MethodPut {
		t.Fatalf("presign = %s", r.body)
	}
	req, _ := http.NewRequestWithContext(e.ctx, pr.Upload.Method, pr.Upload.URL, bytes.NewReader(body))
	for k, vs := range pr.Upload.Headers {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT to the presigned URL: %d", resp.StatusCode)
	}
	e.ingest(t, "alice", pr.Document.ID)
	var d docResp
	e.json(t, http.MethodGet, "alice", "/api/v1/documents/"+pr.Document.ID, nil, true).json(t, &d)
	if d.Status != "processed" || d.ChunkCount == 0 {
		t.Fatalf("after ingest: %+v", d)
	}
	wantProblem(t, "too large", e.json(t, http.MethodPost, "alice", "/api/v1/documents/presign",
		map[string]any{"filename": "big.pdf", "size": 1 << 40}, false), http.StatusRequestEntityTooLarge, "too_large", "size")
	wantProblem(t, "unsupported", e.json(t, http.MethodPost, "alice", "/api/v1/documents/presign",
		map[string]any{"filename": "a.png", "content_type": "image/png", "size": 10}, false), http.StatusUnsupportedMediaType, "unsupported_media_type", "file")
}

// A delete that fails part-way leaves no half-document: the document is hidden
// (404, absent from lists and searches) and a retried delete finishes it.
func TestDelete_FailingPartWayHidesTheDocumentAndARetryFinishes(t *testing.T) {
	e := newEnv(t)
	d := e.uploadDoc(t, "alice", "garden.md", "text/markdown", guide)
	e.failDelete.Store(true)
	wantStatus(t, "delete with S3 down", e.json(t, http.MethodDelete, "alice", "/api/v1/documents/"+d.ID, nil, false), http.StatusInternalServerError)
	wantProblem(t, "get after the failed delete", e.json(t, http.MethodGet, "alice", "/api/v1/documents/"+d.ID, nil, false),
		http.StatusNotFound, "not_found", "")
	r := e.json(t, http.MethodPost, "alice", "/api/v1/documents/search", map[string]any{"query": "prune roses", "score_threshold": 0}, false)
	if strings.TrimSpace(string(r.body)) != "[]" {
		t.Fatalf("search after the failed delete = %s", r.body)
	}
	e.failDelete.Store(false)
	wantStatus(t, "retried delete", e.json(t, http.MethodDelete, "alice", "/api/v1/documents/"+d.ID, nil, false), http.StatusOK)
	if _, err := e.blobs.Get(e.ctx, blob.Key("alice", d.ID), 1<<20); err == nil {
		t.Fatal("the original is still stored")
	}
	if _, err := e.st.MarkDocumentDeleting(e.ctx, "alice", d.ID); store.CodeOf(err) != "not_found" {
		t.Fatalf("the metadata is still stored: %v", err)
	}
	wantProblem(t, "a third delete", e.json(t, http.MethodDelete, "alice", "/api/v1/documents/"+d.ID, nil, false), http.StatusNotFound, "not_found", "")
}
