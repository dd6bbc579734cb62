package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/store"
)

func newDoc(user, id string) *store.Document {
	return &store.Document{ID: id, UserID: user, Filename: "notes.md", ContentType: "text/markdown", Type: "markdown",
		Size: 42, BlobKey: "u/" + user + "/" + id, ChunkSize: 1000, ChunkOverlap: 200, Tags: []string{"a"}}
}

func chunks(docID string, n int, text string) []store.Chunk {
	out := make([]store.Chunk, n)
	for i := range out {
		out[i] = store.Chunk{DocumentID: docID, Index: i, Start: i * 10, End: i*10 + 10,
			Text: fmt.Sprintf("%s %d", text, i), Vector: []byte{1, 2, byte(i)}}
	}
	return out
}

// testDocuments: a new document is pending; status moves forward only, a
// reprocess (next generation) resets it to pending; chunks are invisible until the
// document is processed, replaced as a whole (a shorter set drops the rest), and
// another user's id finds nothing.
func testDocuments(t *testing.T, r Repo, c *Clock) {
	alice, bob := uid("alice"), uid("bob")
	d1, d2 := uid("doc"), uid("doc")
	must(t, "create", r.CreateDocument(ctx, newDoc(alice, d1)))
	c.Advance(time.Second)
	must(t, "create 2", r.CreateDocument(ctx, newDoc(alice, d2)))
	wantCode(t, "create twice", r.CreateDocument(ctx, newDoc(alice, d1)), errcode.Conflict)
	wantCode(t, "bad status", r.CreateDocument(ctx, &store.Document{ID: uid("doc"), UserID: alice, Status: "archived"}), errcode.InvalidInput)

	got, err := r.GetDocument(ctx, alice, d1)
	must(t, "get", err)
	if got.Status != store.DocPending || got.Filename != "notes.md" || got.CreatedAt.IsZero() || !slices.Equal(got.Tags, []string{"a"}) {
		t.Fatalf("new document = %+v", got)
	}
	_, err = r.GetDocument(ctx, bob, d1)
	wantCode(t, "bob gets alice's", err, errcode.NotFound)
	_, _, err = r.DocumentChunks(ctx, bob, d1)
	wantCode(t, "bob reads alice's chunks", err, errcode.NotFound)
	_, err = r.UpdateDocument(ctx, bob, d1, func(d *store.Document) error { d.Status = store.DocFailed; return nil })
	wantCode(t, "bob updates alice's", err, errcode.NotFound)

	list, err := r.ListDocuments(ctx, alice)
	must(t, "list", err)
	if len(list) != 2 || list[0].ID != d2 || list[1].ID != d1 {
		t.Fatalf("list = %v, want newest first [%s %s]", ids(list), d2, d1)
	}
	if l, _ := r.ListDocuments(ctx, bob); len(l) != 0 {
		t.Fatalf("bob's list = %v", ids(l))
	}

	set := func(status string) func(*store.Document) error {
		return func(d *store.Document) error { d.Status = status; return nil }
	}
	_, err = r.UpdateDocument(ctx, alice, d1, set(store.DocProcessing))
	must(t, "processing", err)
	must(t, "put chunks", r.PutChunks(ctx, alice, d1, chunks(d1, 3, "first")))
	if _, cs, err := r.DocumentChunks(ctx, alice, d1); err != nil || len(cs) != 0 {
		t.Fatalf("chunks of a processing document = %d %v, want none visible", len(cs), err)
	}
	_, err = r.UpdateDocument(ctx, alice, d1, func(d *store.Document) error {
		d.Status, d.ChunkCount, d.EmbeddingModel = store.DocProcessed, 3, "chatter-hashed-v1"
		return nil
	})
	must(t, "processed", err)
	d, cs, err := r.DocumentChunks(ctx, alice, d1)
	must(t, "chunks", err)
	if d.Status != store.DocProcessed || len(cs) != 3 || cs[2].Text != "first 2" || !slices.Equal(cs[2].Vector, []byte{1, 2, 2}) || cs[1].Start != 10 {
		t.Fatalf("document %+v chunks %+v", d, cs)
	}
	_, err = r.UpdateDocument(ctx, alice, d1, set(store.DocProcessing))
	wantCode(t, "processed back to processing", err, errcode.Conflict)
	_, err = r.UpdateDocument(ctx, alice, d1, set(store.DocFailed))
	wantCode(t, "processed to failed", err, errcode.Conflict)

	// Reprocess: the next generation starts pending; fewer chunks replace the old.
	d, err = r.UpdateDocument(ctx, alice, d1, func(d *store.Document) error {
		d.Generation++
		d.Status, d.ChunkCount = store.DocPending, 0
		return nil
	})
	must(t, "reprocess", err)
	if d.Status != store.DocPending || d.Generation != 1 {
		t.Fatalf("reprocessed = %+v", d)
	}
	must(t, "put fewer chunks", r.PutChunks(ctx, alice, d1, chunks(d1, 1, "second")))
	_, err = r.UpdateDocument(ctx, alice, d1, func(d *store.Document) error {
		d.Status, d.ChunkCount = store.DocProcessed, 1
		return nil
	})
	must(t, "processed again", err)
	if _, cs, _ := r.DocumentChunks(ctx, alice, d1); len(cs) != 1 || cs[0].Text != "second 0" {
		t.Fatalf("chunks after reprocess = %+v", cs)
	}
	wantCode(t, "chunks out of order", r.PutChunks(ctx, alice, d1, []store.Chunk{{DocumentID: d1, Index: 1}}), errcode.InvalidInput)
	wantCode(t, "bob puts chunks", r.PutChunks(ctx, bob, d1, chunks(d1, 1, "x")), errcode.NotFound)
}

// testDocumentDelete: marking hides the document from get, list and search while
// the delete is under way, and a delete (even repeated) removes it and its chunks.
func testDocumentDelete(t *testing.T, r Repo, c *Clock) {
	alice := uid("alice")
	d1 := uid("doc")
	must(t, "create", r.CreateDocument(ctx, newDoc(alice, d1)))
	_, err := r.UpdateDocument(ctx, alice, d1, func(d *store.Document) error {
		d.Status, d.ChunkCount = store.DocProcessed, 30
		return nil
	})
	must(t, "processed", err)
	must(t, "put chunks", r.PutChunks(ctx, alice, d1, chunks(d1, 30, "text")))
	_, err = r.MarkDocumentDeleting(ctx, bob(), d1)
	wantCode(t, "another user marks", err, errcode.NotFound)
	m, err := r.MarkDocumentDeleting(ctx, alice, d1)
	must(t, "mark", err)
	if !m.Deleting || m.BlobKey == "" {
		t.Fatalf("marked = %+v", m)
	}
	_, err = r.GetDocument(ctx, alice, d1)
	wantCode(t, "get while deleting", err, errcode.NotFound)
	_, _, err = r.DocumentChunks(ctx, alice, d1)
	wantCode(t, "chunks while deleting", err, errcode.NotFound)
	if l, _ := r.ListDocuments(ctx, alice); len(l) != 0 {
		t.Fatalf("list while deleting = %v", ids(l))
	}
	_, err = r.MarkDocumentDeleting(ctx, alice, d1)
	must(t, "mark again (a retried delete)", err)
	must(t, "delete", r.DeleteDocument(ctx, alice, d1))
	wantCode(t, "delete again", r.DeleteDocument(ctx, alice, d1), errcode.NotFound)
	// The id is free again and the old chunks are gone.
	must(t, "create again", r.CreateDocument(ctx, newDoc(alice, d1)))
	_, err = r.UpdateDocument(ctx, alice, d1, func(d *store.Document) error {
		d.Status, d.ChunkCount = store.DocProcessed, 30
		return nil
	})
	must(t, "processed", err)
	if _, cs, err := r.DocumentChunks(ctx, alice, d1); err != nil || len(cs) != 0 {
		t.Fatalf("chunks after delete and re-create = %d %v", len(cs), err)
	}
}

func bob() string { return uid("bob") }

func ids(ds []store.Document) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}
