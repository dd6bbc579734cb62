package main

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"testing"
	"time"
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
