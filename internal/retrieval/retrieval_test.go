package retrieval_test

import (
	"context"
	"testing"

	"github.com/chatterhq/chatter/internal/retrieval"
)

func TestMemory_RanksTheUsersDocumentsOnly(t *testing.T) {
	m := &retrieval.Memory{}
	m.Add(
		retrieval.Document{ID: "d1", UserID: "alice", Title: "Refunds", Text: "Refunds are issued within 14 days of a return."},
		retrieval.Document{ID: "d2", UserID: "alice", Title: "Shipping", Text: "Shipping takes 3 days; returns are free."},
		retrieval.Document{ID: "d3", UserID: "bob", Title: "Bob's refunds", Text: "Refunds for bob within 14 days."},
	)
	ctx := context.Background()
	got, err := m.Retrieve(ctx, retrieval.Query{UserID: "alice", Text: "How many days for refunds?", TopK: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].DocumentID != "d1" || got[1].DocumentID != "d2" || got[0].Score <= got[1].Score {
		t.Fatalf("ranking = %+v", got)
	}
	for _, p := range got {
		if p.DocumentID == "d3" {
			t.Fatal("another user's document was returned")
		}
	}
	got, _ = m.Retrieve(ctx, retrieval.Query{UserID: "alice", Text: "refunds days", TopK: 1})
	if len(got) != 1 {
		t.Fatalf("TopK ignored: %d passages", len(got))
	}
	got, _ = m.Retrieve(ctx, retrieval.Query{UserID: "alice", Text: "refunds days", DocumentIDs: []string{"d2"}})
	if len(got) != 1 || got[0].DocumentID != "d2" {
		t.Fatalf("DocumentIDs filter ignored: %+v", got)
	}
	got, _ = m.Retrieve(ctx, retrieval.Query{UserID: "alice", Text: "refunds shipping weather", MinScore: 0.5})
	if len(got) != 0 {
		t.Fatalf("MinScore ignored: %+v", got)
	}
	if got, _ := m.Retrieve(ctx, retrieval.Query{UserID: "alice", Text: "   "}); got != nil {
		t.Fatalf("empty query returned %+v", got)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Retrieve(cctx, retrieval.Query{UserID: "alice", Text: "refunds"}); err == nil {
		t.Fatal("cancelled context not reported")
	}
}
