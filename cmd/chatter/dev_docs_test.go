package main

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/documents"
)

// An upload to the dev stack is ingested by its own delivery loop (S3 Object
// Created -> the ingest rule's queue -> the ingest handler), then found by search.
func TestDevStack_UploadedDocumentIsProcessedAndSearchable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := devStackForTest(t, ctx)
	tok, err := s.Identity.Token("docs-user")
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path, ctype string, body []byte, v any) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, s.URL+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if v != nil {
			if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "kayak.md")
	fw.Write([]byte("# Kayaking\n\nA sea kayak needs a spray deck, a paddle float and a bilge pump.\n"))
	mw.Close()
	var doc struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if st := do(http.MethodPost, "/api/v1/documents/upload", mw.FormDataContentType(), buf.Bytes(), &doc); st != http.StatusOK || doc.ID == "" {
		t.Fatalf("upload: %d %+v", st, doc)
	}
	for doc.Status != "processed" {
		if ctx.Err() != nil {
			t.Fatalf("the upload was never processed: status %s", doc.Status)
		}
		time.Sleep(100 * time.Millisecond)
		do(http.MethodGet, "/api/v1/documents/"+doc.ID, "", nil, &doc)
		if doc.Status == "failed" {
			t.Fatalf("ingest failed: %+v", doc)
		}
	}
	var hits []struct {
		DocumentID string `json:"document_id"`
	}
	body, _ := json.Marshal(map[string]any{"query": "bilge pump", "score_threshold": 0})
	if st := do(http.MethodPost, "/api/v1/documents/search", "application/json", body, &hits); st != http.StatusOK || len(hits) == 0 || hits[0].DocumentID != doc.ID {
		t.Fatalf("search: %d %+v", st, hits)
	}
}

// `chatter docs add` uploads and waits for the ingest; `chatter docs list` shows
// the result; a file past the multipart limit goes through the presigned PUT.
func TestDocsCommand_AddWaitsForTheIngestAndListShowsIt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s := devStackForTest(t, ctx)
	dir := t.TempDir()
	small := filepath.Join(dir, "notes.md")
	if err := os.WriteFile(small, []byte("# Notes\n\nThe ferry leaves at nine from pier four.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Past the multipart limit, with little text (a page's script is not text).
	big := filepath.Join(dir, "big.html")
	page := "<html><body><p>Lighthouse keepers log the weather every hour.</p><script>" +
		strings.Repeat("var x = 1;\n", documents.MaxUploadBytes/10) + "</script></body></html>"
	if err := os.WriteFile(big, []byte(page), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	common := []string{"--url", s.URL, "--dev-dir", s.Identity.Dir, "--user", "cli-user"}
	if code := run(ctx, append(append([]string{"docs", "add"}, common...), "--chunk-size", "4000", small, big), &out, &errOut); code != 0 {
		t.Fatalf("docs add: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if got := out.String(); strings.Count(got, "processed") != 2 || !strings.Contains(got, "notes.md") || !strings.Contains(got, "big.html") {
		t.Fatalf("docs add printed %q", got)
	}
	out.Reset()
	if code := run(ctx, append([]string{"docs", "list"}, common...), &out, &errOut); code != 0 {
		t.Fatalf("docs list: exit %d\n%s", code, errOut.String())
	}
	if got := out.String(); !strings.Contains(got, "notes.md") || !strings.Contains(got, "2 of 2 documents") {
		t.Fatalf("docs list printed %q", got)
	}
	if code := run(ctx, []string{"docs"}, &out, &errOut); code != 2 {
		t.Fatalf("docs without a subcommand: exit %d", code)
	}
}
