package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/documents"
)

// docsCmd is `chatter docs add FILE…` (upload, presigned past the multipart
// limit, and wait for the ingest) and `chatter docs list`.
func docsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "add" && args[0] != "list") {
		fmt.Fprint(stderr, "usage: chatter docs add [--chunk-size N] [--chunk-overlap N] [--no-wait] FILE...\n       chatter docs list\n")
		return 2
	}
	fs := flag.NewFlagSet("docs "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", envOr("CHATTER_URL", defaultURL), "chatter API base URL (env CHATTER_URL)")
	tok := fs.String("token", os.Getenv("CHATTER_TOKEN"), "bearer token (env CHATTER_TOKEN); default: a dev token minted from the dev folder")
	user := fs.String("user", "dev", "user for the minted dev token")
	dir := fs.String("dev-dir", defaultDevDir(), "dev folder holding the signing key")
	size := fs.Int("chunk-size", 0, "chunk_size (characters; default the server's 1000)")
	overlap := fs.Int("chunk-overlap", -1, "chunk_overlap (characters; default the server's)")
	noWait := fs.Bool("no-wait", false, "do not wait for the ingest to finish")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *tok == "" {
		t, err := devToken(*dir, *user)
		if err != nil {
			fmt.Fprintf(stderr, "error: no token: %s (set CHATTER_TOKEN or --token for a deployed API)\n", err)
			return 1
		}
		*tok = t
	}
	c := &chatClient{base: *base, token: *tok, http: &http.Client{Timeout: 2 * time.Minute}}
	if args[0] == "list" {
		return docsList(ctx, c, stdout, stderr)
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "docs add: name at least one file")
		return 2
	}
	code := 0
	for _, path := range fs.Args() {
		d, err := docsAdd(ctx, c, path, *size, *overlap)
		if err == nil && !*noWait {
			d, err = docsWait(ctx, c, d)
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s: %s\n", path, err)
			code = 1
			continue
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%d chunks", d.ID, d.Filename, d.Status, d.ChunkCount)
		if d.ProcessingError != nil {
			line += "\t" + *d.ProcessingError
			code = 1
		}
		fmt.Fprintln(stdout, line)
	}
	return code
}

func docsAdd(ctx context.Context, c *chatClient, path string, size, overlap int) (*documents.DocumentResponse, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(path)
	if len(data) > documents.MaxUploadBytes {
		return docsPresigned(ctx, c, name, data, size, overlap)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, name))
	h.Set("Content-Type", "application/octet-stream") // the server decides by name, then bytes
	fw, _ := mw.CreatePart(h)
	fw.Write(data)
	if size > 0 {
		mw.WriteField("chunk_size", strconv.Itoa(size))
	}
	if overlap >= 0 {
		mw.WriteField("chunk_overlap", strconv.Itoa(overlap))
	}
	mw.Close()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v1/documents/upload", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	var d documents.DocumentResponse
	return &d, c.send(req, &d)
}

// docsPresigned uploads a file past the multipart limit through a presigned PUT.
func docsPresigned(ctx context.Context, c *chatClient, name string, data []byte, size, overlap int) (*documents.DocumentResponse, error) {
	body := map[string]any{"filename": name, "size": len(data)}
	if size > 0 {
		body["chunk_size"] = size
	}
	if overlap >= 0 {
		body["chunk_overlap"] = overlap
	}
	resp, err := c.do(ctx, http.MethodPost, "/api/v1/documents/presign", body, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var pr documents.PresignResponse
	if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil {
		return nil, err
	}
	req, _ := http.NewRequestWithContext(ctx, pr.Upload.Method, pr.Upload.URL, bytes.NewReader(data))
	for k, vs := range pr.Upload.Headers {
		req.Header[k] = vs
	}
	put, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	put.Body.Close()
	if put.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("uploading to the presigned URL: HTTP %d", put.StatusCode)
	}
	return &pr.Document, nil
}

// send runs a prepared request with c's token and decodes a 2xx answer into v.
func (c *chatClient) send(req *http.Request, v any) error {
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w (is `chatter dev` running?)", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode >= 300 {
		e := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(b, e) != nil || e.Code == "" {
			e.Detail = string(bytes.TrimSpace(b))
		}
		return e
	}
	return json.Unmarshal(b, v)
}

// docsWait polls the document until the ingest is done with it.
func docsWait(ctx context.Context, c *chatClient, d *documents.DocumentResponse) (*documents.DocumentResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for d.Status == "pending" || d.Status == "processing" {
		select {
		case <-ctx.Done():
			return d, fmt.Errorf("still %s: %w", d.Status, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
		resp, err := c.do(ctx, http.MethodGet, "/api/v1/documents/"+d.ID, nil, "")
		if err != nil {
			return d, err
		}
		var next documents.DocumentResponse
		err = json.NewDecoder(resp.Body).Decode(&next)
		resp.Body.Close()
		if err != nil {
			return d, err
		}
		d = &next
	}
	return d, nil
}

func docsList(ctx context.Context, c *chatClient, stdout, stderr io.Writer) int {
	resp, err := c.do(ctx, http.MethodGet, "/api/v1/documents?limit=100", nil, "")
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	defer resp.Body.Close()
	var l documents.ListResponse
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tFILE\tTYPE\tSTATUS\tCHUNKS\tBYTES")
	for _, d := range l.Documents {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\n", d.ID, d.Filename, d.DocumentType, d.Status, d.ChunkCount, d.FileSize)
	}
	_ = w.Flush()
	fmt.Fprintf(stdout, "%d of %d documents\n", len(l.Documents), l.TotalCount)
	return 0
}
