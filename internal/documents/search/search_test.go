package search_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/documents/embed"
	"github.com/chatterhq/chatter/internal/documents/search"
)

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// corpus is a small help centre: one topic per document, a few chunks each, with
// words the topics share ("days", "account", "order") so keywords alone are not
// enough.
var corpus = map[string][]string{
	"refunds": {
		"Refunds are issued to the original payment method within 14 days after we receive the returned item.",
		"Items must be returned unused, in their original packaging, with the order number written on the slip.",
	},
	"shipping": {
		"Standard shipping takes 3 to 5 business days; express delivery arrives the next business day.",
		"Orders placed before noon leave our warehouse the same day. Tracking numbers are emailed once the parcel ships.",
	},
	"passwords": {
		"To reset your password, open account settings and choose Forgot password; we email you a reset link.",
		"Passwords must be at least twelve characters long and are never sent by email.",
	},
	"warranty": {
		"The warranty covers manufacturing defects for two years from the purchase date.",
		"Damage caused by drops, water or unauthorised repairs is not covered by the warranty.",
	},
	"billing": {
		"Subscriptions can be cancelled at any time from the billing page; cancellation takes effect at the end of the period.",
		"Invoices for every payment are available in your account under Billing history for seven years.",
	},
}

func buildIndex(t testing.TB, e embed.Embedder) *search.Index {
	t.Helper()
	var chunks []search.Chunk
	for _, doc := range []string{"billing", "passwords", "refunds", "shipping", "warranty"} {
		for i, text := range corpus[doc] {
			chunks = append(chunks, search.Chunk{ID: fmt.Sprintf("%s#%d", doc, i), DocumentID: doc, Index: i, Text: text})
		}
	}
	texts := make([]string, len(chunks))
	for i, c := range chunks {
		texts[i] = c.Text
	}
	vs, err := e.Embed(testCtx(t), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range chunks {
		// Stored vectors come back through Encode/Decode: rank what the store holds.
		if chunks[i].Vector, err = embed.Decode(embed.Encode(vs[i])); err != nil {
			t.Fatal(err)
		}
	}
	ix, err := search.NewIndex(chunks)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func hashed(t testing.TB) embed.Embedder {
	t.Helper()
	e, err := embed.New(embed.HashedModel, embed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func queryVector(t testing.TB, e embed.Embedder, text string) []float32 {
	t.Helper()
	vs, err := e.Embed(testCtx(t), []string{text})
	if err != nil {
		t.Fatal(err)
	}
	return vs[0]
}

func TestSearch_ParaphrasedQueriesFindTheRelevantChunkFirst(t *testing.T) {
	ctx := testCtx(t)
	e := hashed(t)
	ix := buildIndex(t, e)
	tests := []struct{ query, want string }{
		{"How long until I get my refund after returning an item?", "refunds#0"},
		{"I forgot my password, how can I reset it?", "passwords#0"},
		{"Which defects does the warranty cover, and for how many years?", "warranty#0"},
		{"cancelling my subscription", "billing#0"},
		{"when does express delivery arrive", "shipping#0"},
		{"is water damage covered?", "warranty#1"},
		{"how long must a password be", "passwords#1"},
		{"where can I find old invoices", "billing#1"},
		{"do you email a tracking number when my parcel ships", "shipping#1"},
	}
	for _, tt := range tests {
		got, err := ix.Search(ctx, search.Query{Text: tt.query, Vector: queryVector(t, e, tt.query), TopK: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || got[0].ID != tt.want {
			t.Errorf("%q: got %v, want %s first", tt.query, ids(got), tt.want)
			continue
		}
		for i := 1; i < len(got); i++ {
			if got[i].Fused > got[i-1].Fused {
				t.Errorf("%q: results not in fused order: %v", tt.query, got)
			}
		}
		if got[0].Score <= 0 || got[0].Score > 1 || got[0].Fused <= 0 || got[0].Fused > 1 {
			t.Errorf("%q: scores out of range: %+v", tt.query, got[0])
		}
	}
}

func ids(rs []search.Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("%s(%.2f)", r.ID, r.Score)
	}
	return out
}

func TestSearch_FirstInBothRankingsHasFusedOne(t *testing.T) {
	ctx := testCtx(t)
	e := hashed(t)
	ix := buildIndex(t, e)
	q := "reset password"
	got, err := ix.Search(ctx, search.Query{Text: q, Vector: queryVector(t, e, q)})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].ID != "passwords#0" || got[0].Fused < 0.999999 || got[0].BM25 <= 0 {
		t.Fatalf("top result %+v: want passwords#0 with Fused 1 and a BM25 score", got[0])
	}
}

func TestSearch_ThresholdFiltersByScore(t *testing.T) {
	ctx := testCtx(t)
	e := hashed(t)
	ix := buildIndex(t, e)
	q := "how many days does shipping take"
	v := queryVector(t, e, q)
	all, err := ix.Search(ctx, search.Query{Text: q, Vector: v, TopK: search.MaxTopK})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 3 {
		t.Fatalf("only %d results without a threshold", len(all))
	}
	threshold := (all[0].Score + all[len(all)-1].Score) / 2
	some, err := ix.Search(ctx, search.Query{Text: q, Vector: v, TopK: search.MaxTopK, MinScore: threshold})
	if err != nil {
		t.Fatal(err)
	}
	if len(some) == 0 || len(some) >= len(all) {
		t.Fatalf("threshold %.3f kept %d of %d results", threshold, len(some), len(all))
	}
	for _, r := range some {
		if r.Score < threshold {
			t.Errorf("%s has score %.3f below the threshold %.3f", r.ID, r.Score, threshold)
		}
	}
	none, _ := ix.Search(ctx, search.Query{Text: q, Vector: v, MinScore: 1})
	if len(none) != 0 {
		t.Errorf("threshold 1 kept %v", ids(none))
	}
}

func TestSearch_TopKAndScope(t *testing.T) {
	ctx := testCtx(t)
	e := hashed(t)
	ix := buildIndex(t, e)
	q := "account email password payment order days"
	v := queryVector(t, e, q)
	two, err := ix.Search(ctx, search.Query{Text: q, Vector: v, TopK: 2})
	if err != nil || len(two) != 2 {
		t.Fatalf("TopK 2: %v, %v", ids(two), err)
	}
	var many []search.Chunk
	for i := range search.DefaultTopK + 5 {
		many = append(many, search.Chunk{ID: fmt.Sprint(i), DocumentID: "orders", Index: i, Text: fmt.Sprintf("order %d of the shop", i)})
	}
	manyIx, err := search.NewIndex(many)
	if err != nil {
		t.Fatal(err)
	}
	if def, _ := manyIx.Search(ctx, search.Query{Text: "order"}); len(def) != search.DefaultTopK {
		t.Errorf("TopK 0 returned %d of %d matching chunks, want the default %d", len(def), len(many), search.DefaultTopK)
	}
	scoped, err := ix.Search(ctx, search.Query{Text: "refund returned item", Vector: queryVector(t, e, "refund returned item"), DocumentIDs: []string{"shipping", "warranty"}})
	if err != nil || len(scoped) == 0 {
		t.Fatalf("scoped: %v, %v", ids(scoped), err)
	}
	for _, r := range scoped {
		if r.DocumentID != "shipping" && r.DocumentID != "warranty" {
			t.Errorf("scoped search returned %s", r.ID)
		}
	}
	if got, err := ix.Search(ctx, search.Query{Text: q, Vector: v, DocumentIDs: []string{"nope"}}); err != nil || len(got) != 0 {
		t.Errorf("unknown document: %v, %v", got, err)
	}
}

func TestSearch_KeywordsOnlyWithoutVector(t *testing.T) {
	ctx := testCtx(t)
	ix := buildIndex(t, hashed(t))
	got, err := ix.Search(ctx, search.Query{Text: "warranty defects"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0].ID != "warranty#0" || got[0].Score != 1 {
		t.Fatalf("keyword search: %v", ids(got))
	}
	for _, r := range got {
		if r.BM25 <= 0 || r.Score > 1 {
			t.Errorf("%s: BM25 %v score %v", r.ID, r.BM25, r.Score)
		}
	}
}

func TestSearch_BadInputNamesTheField(t *testing.T) {
	ctx := testCtx(t)
	ix := buildIndex(t, hashed(t))
	tests := []struct {
		q     search.Query
		field string
	}{
		{search.Query{Text: "x", TopK: -1}, "TopK"},
		{search.Query{Text: "x", TopK: search.MaxTopK + 1}, "TopK"},
		{search.Query{Text: "x", MinScore: 1.5}, "MinScore"},
		{search.Query{Text: "x", MinScore: -0.1}, "MinScore"},
		{search.Query{Text: "x", Vector: make([]float32, 3)}, "Vector"},
	}
	for _, tt := range tests {
		_, err := ix.Search(ctx, tt.q)
		var ie *search.InputError
		if !errors.As(err, &ie) || ie.Field != tt.field {
			t.Errorf("%+v: error %v, want an InputError naming %s", tt.q, err, tt.field)
		}
	}
	_, err := search.NewIndex([]search.Chunk{{ID: "a", Vector: []float32{}}, {ID: "b", Vector: make([]float32, 4)}, {ID: "c", Vector: make([]float32, 5)}})
	var ie *search.InputError
	if !errors.As(err, &ie) || !strings.Contains(ie.Field, "chunks[2]") {
		t.Errorf("mixed dimensions: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := ix.Search(cctx, search.Query{Text: "warranty"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestSearch_EmptyIndexAndQuery(t *testing.T) {
	ctx := testCtx(t)
	empty, err := search.NewIndex(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := empty.Search(ctx, search.Query{Text: "anything", Vector: []float32{1, 0}}); err != nil || len(got) != 0 {
		t.Errorf("empty index: %v, %v", got, err)
	}
	ix := buildIndex(t, hashed(t))
	if got, err := ix.Search(ctx, search.Query{Text: "the of and"}); err != nil || len(got) != 0 {
		t.Errorf("stop-word query: %v, %v", ids(got), err)
	}
}

func TestSearch_ConcurrentUse(t *testing.T) {
	ctx := testCtx(t)
	e := hashed(t)
	ix := buildIndex(t, e)
	want, _ := ix.Search(ctx, search.Query{Text: "reset password", Vector: queryVector(t, e, "reset password")})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			got, err := ix.Search(ctx, search.Query{Text: "reset password", Vector: queryVector(t, e, "reset password")})
			if err != nil || len(got) != len(want) || got[0].ID != want[0].ID {
				t.Errorf("concurrent search: %v, %v", ids(got), err)
			}
		})
	}
	wg.Wait()
}

// synthetic makes n chunks of about 150 words drawn Zipf-like from a vocabulary of
// 5000 words, embedded with the Hashed embedder, as a store would hold them.
func synthetic(b *testing.B, n int) ([]search.Chunk, embed.Embedder) {
	b.Helper()
	e := hashed(b)
	vocab := make([]string, 5000)
	for i := range vocab {
		vocab[i] = fmt.Sprintf("w%dx", i)
	}
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, 1.1, 2, uint64(len(vocab)-1))
	chunks := make([]search.Chunk, n)
	texts := make([]string, n)
	var sb strings.Builder
	for i := range chunks {
		sb.Reset()
		for range 150 {
			sb.WriteString(vocab[z.Uint64()])
			sb.WriteByte(' ')
		}
		texts[i] = sb.String()
		chunks[i] = search.Chunk{ID: fmt.Sprint(i), DocumentID: fmt.Sprint(i / 50), Index: i % 50, Text: texts[i]}
	}
	vs, err := e.Embed(context.Background(), texts)
	if err != nil {
		b.Fatal(err)
	}
	for i := range chunks {
		chunks[i].Vector = vs[i]
	}
	return chunks, e
}

// BenchmarkSearch measures one query over n chunks (search), and what a request
// that loads its chunks pays before that: decoding the stored vectors and building
// the index (build).
func BenchmarkSearch(b *testing.B) {
	for _, n := range []int{1000, 10000, 50000} {
		chunks, e := synthetic(b, n)
		q := "w10x w200x w3000x w45x"
		vs, _ := e.Embed(context.Background(), []string{q})
		b.Run(fmt.Sprintf("search/chunks=%d", n), func(b *testing.B) {
			ix, err := search.NewIndex(chunks)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ix.Search(context.Background(), search.Query{Text: q, Vector: vs[0]}); err != nil {
					b.Fatal(err)
				}
			}
		})
		encoded := make([][]byte, n)
		for i, c := range chunks {
			encoded[i] = embed.Encode(c.Vector)
		}
		b.Run(fmt.Sprintf("build/chunks=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				loaded := make([]search.Chunk, n)
				for i, c := range chunks {
					loaded[i] = c
					var err error
					if loaded[i].Vector, err = embed.Decode(encoded[i]); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := search.NewIndex(loaded); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
