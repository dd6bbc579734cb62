package documents_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/lestrrat-go/jwx/v3/jwk"

	chatter "github.com/chatterhq/chatter"

	"github.com/chatterhq/chatter/internal/documents/blob"
	"github.com/chatterhq/chatter/internal/documents/embed"
	"github.com/chatterhq/chatter/internal/documents/library"
	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/httpapi/apitest"
	"github.com/chatterhq/chatter/internal/httpapi/chat"
	"github.com/chatterhq/chatter/internal/httpapi/documents"
	"github.com/chatterhq/chatter/internal/httpapi/jwtauth"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/store/dynamo"
	"github.com/chatterhq/chatter/internal/store/dynamo/dynamotable"
	"github.com/chatterhq/chatter/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	issuer   = "https://auth.chatter.test"
	audience = "chatter-api"
)

var seq atomic.Int64

type env struct {
	ctx    context.Context
	srv    *httptest.Server
	st     docStore
	blobs  *blob.Store
	lib    *library.Library
	bucket string
	key    jwk.Key
	// ingested counts the Object Created events delivered.
	ingested atomic.Int64
	// failDelete makes the bucket refuse the next deletes (S3 unreachable).
	failDelete atomic.Bool
}

// faultyBlobs is the bucket, whose deletes fail while failDelete is set.
type faultyBlobs struct {
	*blob.Store
	failDelete *atomic.Bool
}

func (f faultyBlobs) Delete(ctx context.Context, key string) error {
	if f.failDelete.Load() {
		return errors.New("s3 unreachable")
	}
	return f.Store.Delete(ctx, key)
}

// s3Client is a client of moto's S3 (path-style: moto has no per-bucket hosts).
func s3Client(t testing.TB) *s3.Client {
	return s3.NewFromConfig(testenv.AWSConfig(t), func(o *s3.Options) { o.UsePathStyle = true })
}

// docStore is what the env's store serves: the routes, the library and the
// executor (both store.Memory and the DynamoDB store).
type docStore interface {
	executor.Store
	documents.Store
	library.Store
}

// newEnv serves the documents routes and the chat routes (an executor whose
// retriever is the library) on a real router, over the memory store and a bucket
// of its own on moto.
func newEnv(t *testing.T) *env { return newEnvOn(t, store.NewMemory()) }

var tableOnce sync.Once

// newDynamoEnv is newEnv over the DynamoDB store on moto.
func newDynamoEnv(t *testing.T) *env {
	t.Helper()
	db := dynamodb.NewFromConfig(testenv.AWSConfig(t))
	const table = "docs-api-test"
	var err error
	tableOnce.Do(func() { err = dynamotable.CreateTable(context.Background(), db, chatter.TemplateYAML, table) })
	if err != nil {
		t.Fatal(err)
	}
	return newEnvOn(t, dynamo.New(db, table, dynamo.Options{}))
}

func newEnvOn(t *testing.T, st docStore) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	client := s3Client(t)
	name := fmt.Sprintf("docs-api-%d-%d", time.Now().UnixNano(), seq.Add(1))
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	key, err := jwtauth.NewSigningKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(key); err != nil {
		t.Fatal(err)
	}
	auth, err := jwtauth.NewStaticKeys(jwtauth.StaticKeysConfig{Keys: set, Issuer: issuer, Audience: audience})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{ctx: ctx, st: st, blobs: blob.New(client, name), bucket: name, key: key}
	e.lib = library.New(library.Options{Store: st, Blobs: e.blobs, Logger: slog.New(slog.DiscardHandler)})
	x, err := executor.New(executor.Options{Store: st, Emitter: &events.Recorder{}, Retriever: e.lib,
		Providers: []llm.Provider{devllm.New(devllm.Options{})}, RetryBase: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rt := httpapi.NewRouter(httpapi.Config{Auth: auth, Logger: slog.New(slog.DiscardHandler)})
	chat.Register(rt, x)
	documents.Register(rt, documents.Deps{Store: st, Blobs: faultyBlobs{Store: e.blobs, failDelete: &e.failDelete},
		Library: e.lib, EmbeddingModel: embed.HashedModel})
	e.srv = httptest.NewServer(rt)
	t.Cleanup(e.srv.Close)
	return e
}

// ingest delivers the Object Created event of a document's original, as the rule
// passes it to the ingest function.
func (e *env) ingest(t *testing.T, user, id string) {
	t.Helper()
	e.ingested.Add(1)
	if err := e.lib.HandleEvent(e.bucket)(e.ctx, library.ObjectCreatedEvent(e.bucket, blob.Key(user, id), "etag", 1)); err != nil {
		t.Fatalf("ingest: %v", err)
	}
}

func (e *env) token(t testing.TB, sub string) string {
	t.Helper()
	tok, err := jwtauth.MintToken(e.key, issuer, audience, sub, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// send makes one request as user and, when checkOld, validates it and the answer
// against the predecessor's contract; every answer is validated against chatter's
// own document.
func (e *env) send(t *testing.T, method, user, path, contentType string, body []byte, checkOld bool) response {
	t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+e.token(t, user))
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := response{status: resp.StatusCode, header: resp.Header, body: b}
	if checkOld {
		old := apitest.Old(t)
		old.Request(t, req, body)
		old.Response(t, req, body, out.status, out.header, out.body)
	}
	ours := apitest.Ours(t)
	ours.Response(t, req, body, out.status, out.header, out.body)
	return out
}

func (e *env) json(t *testing.T, method, user, path string, v any, checkOld bool) response {
	t.Helper()
	var b []byte
	ct := ""
	if v != nil {
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
		ct = "application/json"
	}
	return e.send(t, method, user, path, ct, b, checkOld)
}

// upload posts a multipart upload as the old clients did.
func (e *env) upload(t *testing.T, user, filename, contentType string, data []byte, fields map[string]string) response {
	t.Helper()
	return e.uploadChecked(t, user, filename, contentType, data, fields, true)
}

// uploadChecked is upload that checks the request against the old contract only
// when checkOld (a test of a request old clients could not send turns it off).
func (e *env) uploadChecked(t *testing.T, user, filename, contentType string, data []byte, fields map[string]string, checkOld bool) response {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, filename))
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	fw, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	return e.send(t, http.MethodPost, user, "/api/v1/documents/upload", mw.FormDataContentType(), buf.Bytes(), checkOld)
}

func wantStatus(t *testing.T, what string, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, want, r.body)
	}
}

// wantProblem checks a problem answer's status, code and field.
func wantProblem(t *testing.T, what string, r response, status int, code, field string) {
	t.Helper()
	wantStatus(t, what, r, status)
	var p struct {
		Code   string `json:"code"`
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	r.json(t, &p)
	if p.Code != code || field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != field) {
		t.Fatalf("%s: problem %s, want code %s field %s", what, r.body, code, field)
	}
}
