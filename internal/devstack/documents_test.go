package devstack_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatterhq/chatter/internal/devstack"
	"github.com/chatterhq/chatter/internal/documents/blob"
	"github.com/chatterhq/chatter/internal/documents/embed"
	"github.com/chatterhq/chatter/internal/documents/library"
	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/store"
)

// An object stored in the local documents bucket reaches the ingest handler as
// S3's Object Created envelope, through the rule template.yaml defines and the
// local delivery loop, and the document ends processed (redelivery is the
// library's tests' business).
func TestDocuments_StoredObjectIsIngestedThroughTheLocalDelivery(t *testing.T) {
	s := newStack(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bucket := s.bus + "-docs"
	client := s3.NewFromConfig(s.cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if err := devstack.ProvisionDocuments(ctx, client, bucket); err != nil {
		t.Fatal(err)
	}
	if err := devstack.ProvisionDocuments(ctx, client, bucket); err != nil {
		t.Fatalf("provisioning twice: %v", err)
	}
	st := store.NewMemory()
	blobs := blob.New(client, bucket)
	lib := library.New(library.Options{Store: st, Blobs: blobs, Logger: quiet})
	d := &store.Document{ID: "doc1", UserID: "u1", Filename: "notes.md", ContentType: "text/markdown",
		BlobKey: blob.Key("u1", "doc1"), ChunkSize: 200, ChunkOverlap: 20, EmbeddingModel: embed.HashedModel}
	if err := st.CreateDocument(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := blobs.Put(ctx, d.BlobKey, "text/markdown", []byte("# Notes\n\nKayaks need paddles and spray decks.")); err != nil {
		t.Fatal(err)
	}
	dctx, stop := context.WithCancel(ctx)
	handled := 0
	handler := lib.HandleEvent(bucket)
	go func() {
		_ = devstack.Deliver(dctx, sqsClient(s.cfg), s.queues["documents-ingest"], each(func(ctx context.Context, env events.Envelope) error {
			err := handler(ctx, env)
			if err == nil {
				handled++
				if got, _ := st.GetDocument(ctx, "u1", "doc1"); got != nil && got.Status == store.DocProcessed {
					stop()
				}
			}
			return err
		}))
	}()
	<-dctx.Done()
	if ctx.Err() != nil {
		t.Fatalf("the Object Created event never arrived (handled %d)", handled)
	}
	got, err := st.GetDocument(ctx, "u1", "doc1")
	if err != nil || got.Status != store.DocProcessed || got.ChunkCount != 1 || got.Attempts != 1 {
		t.Fatalf("document = %+v %v", got, err)
	}
}
