package library_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatterhq/chatter/internal/documents/blob"
	"github.com/chatterhq/chatter/internal/documents/embed"
	"github.com/chatterhq/chatter/internal/documents/library"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/retrieval"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var seq atomic.Int64

type env struct {
	ctx    context.Context
	st     *store.Memory
	blobs  *blob.Store
	lib    *library.Library
	embed  *flaky
	now    time.Time
	handle func(context.Context, string) error // delivers the Object Created event of a key
}

// flaky is the hashed embedder that fails with a retryable provider error while
// fail > 0.
type flaky struct {
	embed.Embedder
	fail atomic.Int64
}

func (f *flaky) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if f.fail.Add(-1) >= 0 {
		return nil, &llm.Error{Code: llm.CodeUnavailable, Message: "throttled"}
	}
	return f.Embedder.Embed(ctx, texts)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	client := s3.NewFromConfig(testenv.AWSConfig(t), func(o *s3.Options) { o.UsePathStyle = true })
	name := fmt.Sprintf("lib-test-%d-%d", time.Now().UnixNano(), seq.Add(1))
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	h, err := embed.NewHashed(embed.DefaultHashedDimensions)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{ctx: ctx, st: store.NewMemory(), blobs: blob.New(client, name), embed: &flaky{Embedder: h},
		now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	e.st.Now = func() time.Time { return e.now }
	e.lib = library.New(library.Options{Store: e.st, Blobs: e.blobs, Now: func() time.Time { return e.now },
		Embed: func(spec string) (embed.Embedder, error) {
			if spec != h.Model() {
				return nil, fmt.Errorf("%w %q", embed.ErrUnknownModel, spec)
			}
			return e.embed, nil
		}})
	handler := e.lib.HandleEvent(name)
	e.handle = func(ctx context.Context, key string) error {
		return handler(ctx, library.ObjectCreatedEvent(name, key, "etag", 1))
	}
	return e
}

// upload stores a document as the upload route does: metadata pending, then the
// original.
func (e *env) upload(t *testing.T, user, filename, contentType, body string) *store.Document {
	t.Helper()
	id := fmt.Sprintf("doc%d", seq.Add(1))
	d := &store.Document{ID: id, UserID: user, Filename: filename, ContentType: contentType, Size: int64(len(body)),
		BlobKey: blob.Key(user, id), ChunkSize: 200, ChunkOverlap: 40, EmbeddingModel: embed.HashedModel}
	if err := e.st.CreateDocument(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := e.blobs.Put(e.ctx, d.BlobKey, contentType, []byte(body)); err != nil {
		t.Fatal(err)
	}
	return d
}

func (e *env) get(t *testing.T, user, id string) *store.Document {
	t.Helper()
	d, err := e.st.GetDocument(e.ctx, user, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

const guide = `# Garden guide

## Tomatoes

Tomatoes need full sun and deep watering twice a week. Stake the tomato plants early.

## Roses

Prune roses in late winter, just above an outward-facing bud. Feed roses with compost in spring.

## Compost

A compost heap needs greens and browns in equal parts, turned every two weeks.
`

func TestIngest_MarkdownIsProcessedAndSearchFindsTheRightChunkForItsOwnerOnly(t *testing.T) {
	e := newEnv(t)
	d := e.upload(t, "alice", "garden.md", "text/markdown", guide)
	if err := e.handle(e.ctx, d.BlobKey); err != nil {
		t.Fatalf("ingest: %v", err)
	}
	got := e.get(t, "alice", d.ID)
	if got.Status != store.DocProcessed || got.ChunkCount < 2 || got.Type != "markdown" || got.Hash == "" ||
		got.EmbeddingModel != embed.HashedModel || got.ProcessingCompletedAt.IsZero() || got.Attempts != 1 {
		t.Fatalf("after ingest: %+v", got)
	}
	hits, err := e.lib.Search(e.ctx, library.Query{UserID: "alice", Text: "when should I prune roses?", TopK: 3})
	if err != nil || len(hits) == 0 {
		t.Fatalf("search = %v %v", hits, err)
	}
	if !strings.Contains(hits[0].Chunk.Text, "Prune roses") || hits[0].Document.ID != d.ID {
		t.Fatalf("best hit = %q, want the roses chunk", hits[0].Chunk.Text)
	}
	ps, err := e.lib.Retrieve(e.ctx, retrieval.Query{UserID: "alice", Text: "prune roses", DocumentIDs: []string{d.ID}, TopK: 1})
	if err != nil || len(ps) != 1 || ps[0].ChunkID != store.ChunkID(d.ID, hits[0].Chunk.Index) || ps[0].Title != "garden.md" {
		t.Fatalf("retrieve = %+v %v", ps, err)
	}
	// Another user: nothing, by default scope or by naming alice's id.
	for _, ids := range [][]string{nil, {d.ID}} {
		if hs, err := e.lib.Search(e.ctx, library.Query{UserID: "bob", Text: "prune roses", DocumentIDs: ids}); err != nil || len(hs) != 0 {
			t.Fatalf("bob's search with ids %v = %v %v", ids, hs, err)
		}
	}
	// An unknown id beside a real one is absent, not an error.
	if hs, err := e.lib.Search(e.ctx, library.Query{UserID: "alice", Text: "compost", DocumentIDs: []string{"nope", d.ID}}); err != nil || len(hs) == 0 {
		t.Fatalf("search with an unknown id = %v %v", hs, err)
	}
}

func TestIngest_RedeliveryDoesNothingAndALiveClaimIsLeftAlone(t *testing.T) {
	e := newEnv(t)
	d := e.upload(t, "alice", "notes.txt", "text/plain", "Plain notes about kayaks and paddles.")
	for range 3 {
		if err := e.handle(e.ctx, d.BlobKey); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.get(t, "alice", d.ID); got.Status != store.DocProcessed || got.Attempts != 1 {
		t.Fatalf("after 3 deliveries: status %s attempts %d", got.Status, got.Attempts)
	}
	// A claim in flight (processing, started within the lease) is not taken over.
	d2 := e.upload(t, "alice", "b.txt", "text/plain", "Another note on canoes.")
	if _, err := e.st.UpdateDocument(e.ctx, "alice", d2.ID, func(x *store.Document) error {
		x.Status, x.ProcessingStartedAt, x.Attempts = store.DocProcessing, e.now, 1
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.handle(e.ctx, d2.BlobKey); err != nil {
		t.Fatal(err)
	}
	if got := e.get(t, "alice", d2.ID); got.Status != store.DocProcessing || got.Attempts != 1 {
		t.Fatalf("live claim taken over: %+v", got)
	}
	// Past the lease, the claim is stale and a delivery finishes the document.
	e.now = e.now.Add(library.Lease + time.Second)
	if err := e.handle(e.ctx, d2.BlobKey); err != nil {
		t.Fatal(err)
	}
	if got := e.get(t, "alice", d2.ID); got.Status != store.DocProcessed || got.Attempts != 2 {
		t.Fatalf("stale claim: %+v", got)
	}
}

func TestIngest_PoisonFilesEndFailedWithTheReasonAndNeverRetry(t *testing.T) {
	cases := []struct {
		name, filename, contentType, body, reason string
	}{
		{"unsupported", "image.png", "image/png", "\x89PNG\r\n\x1a\n....", "unsupported"},
		{"corrupt pdf", "broken.pdf", "application/pdf", "%PDF-1.7 not really a pdf", ""},
		{"no text", "empty.md", "text/markdown", "\n\n   \n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			d := e.upload(t, "alice", tc.filename, tc.contentType, tc.body)
			if err := e.handle(e.ctx, d.BlobKey); err != nil {
				t.Fatalf("a poison file returned %v: it would be retried", err)
			}
			got := e.get(t, "alice", d.ID)
			if got.Status != store.DocFailed || got.Error == "" || !strings.Contains(got.Error, tc.reason) {
				t.Fatalf("status %s error %q", got.Status, got.Error)
			}
			if err := e.handle(e.ctx, d.BlobKey); err != nil || e.get(t, "alice", d.ID).Attempts != 1 {
				t.Fatalf("redelivery of a failed document: %v", err)
			}
		})
	}
	t.Run("missing original", func(t *testing.T) {
		e := newEnv(t)
		d := e.upload(t, "alice", "a.txt", "text/plain", "text")
		if err := e.blobs.Delete(e.ctx, d.BlobKey); err != nil {
			t.Fatal(err)
		}
		if err := e.lib.Ingest(e.ctx, "alice", d.ID); err != nil {
			t.Fatal(err)
		}
		if got := e.get(t, "alice", d.ID); got.Status != store.DocFailed || !strings.Contains(got.Error, "never stored") {
			t.Fatalf("%+v", got)
		}
	})
}

func TestIngest_ProviderFailureIsRetriedThenGivesUpAfterMaxAttempts(t *testing.T) {
	e := newEnv(t)
	d := e.upload(t, "alice", "a.txt", "text/plain", "Notes on bicycles and their chains.")
	e.embed.fail.Store(1)
	if err := e.handle(e.ctx, d.BlobKey); err == nil {
		t.Fatal("a retryable failure returned nil: the event would not come again")
	}
	if got := e.get(t, "alice", d.ID); got.Status != store.DocProcessing || !got.ProcessingStartedAt.IsZero() || got.Attempts != 1 {
		t.Fatalf("after a retryable failure the claim must be released: %+v", got)
	}
	if err := e.handle(e.ctx, d.BlobKey); err != nil {
		t.Fatalf("second delivery: %v", err)
	}
	if got := e.get(t, "alice", d.ID); got.Status != store.DocProcessed || got.Attempts != 2 {
		t.Fatalf("after the retry: %+v", got)
	}

	d2 := e.upload(t, "alice", "b.txt", "text/plain", "Notes on trains.")
	e.embed.fail.Store(1000)
	for i := range library.MaxAttempts {
		if err := e.handle(e.ctx, d2.BlobKey); err == nil {
			t.Fatalf("delivery %d: nil error while the provider fails", i+1)
		}
	}
	if err := e.handle(e.ctx, d2.BlobKey); err != nil {
		t.Fatalf("the delivery after MaxAttempts: %v", err)
	}
	got := e.get(t, "alice", d2.ID)
	if got.Status != store.DocFailed || !strings.Contains(got.Error, "gave up after 3 attempts") {
		t.Fatalf("after MaxAttempts: %+v", got)
	}
	if err := e.handle(e.ctx, d2.BlobKey); err != nil {
		t.Fatal(err)
	}
}

func TestReprocess_ResetsToPendingAndTheNextIngestRedoesIt(t *testing.T) {
	e := newEnv(t)
	d := e.upload(t, "alice", "g.md", "text/markdown", guide)
	if err := e.lib.Ingest(e.ctx, "alice", d.ID); err != nil {
		t.Fatal(err)
	}
	first := e.get(t, "alice", d.ID).ChunkCount
	r, err := e.lib.Reprocess(e.ctx, "alice", d.ID)
	if err != nil || r.Status != store.DocPending || r.Generation != 1 || r.ChunkCount != 0 {
		t.Fatalf("reprocess = %+v %v", r, err)
	}
	if hs, _ := e.lib.Search(e.ctx, library.Query{UserID: "alice", Text: "roses"}); len(hs) != 0 {
		t.Fatalf("a pending document is searched: %v", hs)
	}
	if err := e.blobs.Touch(e.ctx, d.BlobKey, r.Generation); err != nil {
		t.Fatal(err)
	}
	if err := e.handle(e.ctx, d.BlobKey); err != nil {
		t.Fatal(err)
	}
	if got := e.get(t, "alice", d.ID); got.Status != store.DocProcessed || got.ChunkCount != first || got.Attempts != 1 {
		t.Fatalf("after reprocess: %+v", got)
	}
	if _, err := e.lib.Reprocess(e.ctx, "bob", d.ID); store.CodeOf(err) != "not_found" {
		t.Fatalf("bob reprocesses alice's: %v", err)
	}
}

func TestHandleEvent_DropsWhatIsNotADocumentsObject(t *testing.T) {
	e := newEnv(t)
	h := e.lib.HandleEvent("the-bucket")
	for _, ev := range []struct{ bucket, key string }{{"other", blob.Key("a", "d")}, {"the-bucket", "random/key"}, {"the-bucket", blob.Key("a", "missing")}} {
		if err := h(e.ctx, library.ObjectCreatedEvent(ev.bucket, ev.key, "e", 1)); err != nil {
			t.Errorf("%v: %v", ev, err)
		}
	}
	bad := library.ObjectCreatedEvent("the-bucket", "k", "e", 1)
	bad.DetailType = "Object Deleted"
	if err := h(e.ctx, bad); err != nil {
		t.Error(err)
	}
}
