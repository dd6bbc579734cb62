package library_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/documents/blob"
	"github.com/chatterhq/chatter/internal/documents/embed"
	"github.com/chatterhq/chatter/internal/documents/library"
	"github.com/chatterhq/chatter/internal/store"
)

// memBlobs is an in-memory bucket, for benchmarks of the pipeline itself (the
// tests use moto's S3).
type memBlobs map[string][]byte

func (m memBlobs) Get(_ context.Context, key string, max int64) (*blob.Object, error) {
	b, ok := m[key]
	if !ok {
		return nil, blob.ErrNotFound
	}
	return &blob.Object{Data: b, ContentType: "text/plain"}, nil
}

// labelled is the retrieval-quality set: documents on distinct topics, and
// questions (worded apart from the documents) with the document that answers them.
var labelled = struct {
	docs      map[string]string
	questions []struct{ q, doc string }
}{
	docs: map[string]string{
		"tomatoes":  "Tomatoes need full sun, at least six hours a day. Water tomato plants deeply twice a week and stake them early so stems carry the fruit. Pinch the side shoots.",
		"roses":     "Prune roses in late winter just above an outward-facing bud. Feed roses with compost in spring; water at the base so the leaves stay dry and free of black spot.",
		"kayak":     "A sea kayak needs a spray deck, a paddle float and a bilge pump. Practise the wet exit and the paddle-float rescue before paddling far from shore.",
		"sourdough": "Feed the sourdough starter with equal weights of flour and water. Bake the loaf in a preheated Dutch oven, lid on for twenty minutes, then uncovered until dark.",
		"invoices":  "Invoices are due thirty days after the invoice date. Late payments accrue interest of one percent per month; send reminders at seven and twenty-one days overdue.",
		"backup":    "Back up the database nightly with a full snapshot and keep hourly transaction logs. Test a restore every month; keep copies in a second region for thirty days.",
		"vpn":       "To connect to the office VPN install the client, import the profile and sign in with your single sign-on account. The VPN drops idle sessions after eight hours.",
		"onboard":   "New employees get a laptop on the first day, meet their onboarding buddy, and finish the security training within the first week before getting production access.",
	},
	questions: []struct{ q, doc string }{
		{"how much sun do tomato plants need", "tomatoes"},
		{"should I stake my tomatoes", "tomatoes"},
		{"when is the right time to prune a rose bush", "roses"},
		{"how do I avoid black spot on roses", "roses"},
		{"what safety gear does a sea kayak need", "kayak"},
		{"how to rescue yourself with a paddle float", "kayak"},
		{"how do I feed a sourdough starter", "sourdough"},
		{"how long to bake bread in a dutch oven", "sourdough"},
		{"when are invoices due", "invoices"},
		{"interest on late payment", "invoices"},
		{"how often should database backups run", "backup"},
		{"how do we test restoring a backup", "backup"},
		{"how to connect to the vpn", "vpn"},
		{"why did my vpn session drop", "vpn"},
		{"what happens on an employee's first day", "onboard"},
		{"when do new employees get production access", "onboard"},
	},
}

func newMemLibrary(tb testing.TB) (*library.Library, *store.Memory, memBlobs) {
	st := store.NewMemory()
	blobs := memBlobs{}
	return library.New(library.Options{Store: st, Blobs: blobs, Logger: slog.New(slog.DiscardHandler)}), st, blobs
}

func addDoc(tb testing.TB, ctx context.Context, lib *library.Library, st *store.Memory, blobs memBlobs, user, id, text string, size int) {
	tb.Helper()
	d := &store.Document{ID: id, UserID: user, Filename: id + ".txt", ContentType: "text/plain", BlobKey: blob.Key(user, id),
		ChunkSize: size, ChunkOverlap: size / 10, EmbeddingModel: embed.HashedModel}
	if err := st.CreateDocument(ctx, d); err != nil {
		tb.Fatal(err)
	}
	blobs[d.BlobKey] = []byte(text)
	if err := lib.Ingest(ctx, user, id); err != nil {
		tb.Fatal(err)
	}
	if got, _ := st.GetDocument(ctx, user, id); got == nil || got.Status != store.DocProcessed {
		tb.Fatalf("document %s not processed: %+v", id, got)
	}
}

// recallAt3 is the share of the labelled questions whose answering document is
// among the documents of the top 3 chunks, with the offline hashed embedder.
func recallAt3(tb testing.TB) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lib, st, blobs := newMemLibrary(tb)
	for id, text := range labelled.docs {
		addDoc(tb, ctx, lib, st, blobs, "u", id, text, 1000)
	}
	found := 0
	for _, q := range labelled.questions {
		hits, err := lib.Search(ctx, library.Query{UserID: "u", Text: q.q, TopK: 3})
		if err != nil {
			tb.Fatal(err)
		}
		for _, h := range hits {
			if h.Document.ID == q.doc {
				found++
				break
			}
		}
	}
	return float64(found) / float64(len(labelled.questions))
}

func TestRetrievalQuality_HashedEmbedderRecallAt3(t *testing.T) {
	if r := recallAt3(t); r < 0.9 {
		t.Fatalf("recall@3 = %.2f on the labelled set, want at least 0.90", r)
	}
}

// BenchmarkRetrievalRecall reports recall@3 of the labelled set (make bench).
func BenchmarkRetrievalRecall(b *testing.B) {
	var r float64
	for b.Loop() {
		r = recallAt3(b)
	}
	b.ReportMetric(r, "recall@3")
}

// corpus is n chunks' worth of varied prose (about 150 words per chunk at size
// 1000).
func corpus(n int) string {
	words := strings.Fields(strings.Join(func() []string {
		var out []string
		for _, t := range labelled.docs {
			out = append(out, t)
		}
		return out
	}(), " "))
	var b strings.Builder
	for i := 0; b.Len() < n*900; i++ {
		fmt.Fprintf(&b, "%s w%d ", words[i%len(words)], i%997)
		if i%40 == 39 {
			b.WriteString(".\n\n")
		}
	}
	return b.String()
}

// BenchmarkIngest: extract, chunk, embed (hashed) and store one document of about
// 200 chunks; chunks/s is the pipeline's throughput without network.
func BenchmarkIngest(b *testing.B) {
	ctx := context.Background()
	text := corpus(200)
	b.ReportAllocs()
	chunks, start := 0, time.Now()
	i := 0
	for b.Loop() {
		lib, st, blobs := newMemLibrary(b)
		id := fmt.Sprintf("d%d", i)
		i++
		addDoc(b, ctx, lib, st, blobs, "u", id, text, 1000)
		d, _ := st.GetDocument(ctx, "u", id)
		chunks += d.ChunkCount
	}
	b.ReportMetric(float64(chunks)/time.Since(start).Seconds(), "chunks/s")
}

// BenchmarkQuery: one search of a user's documents holding 1k and 10k chunks in
// all (10 documents), loaded from the in-memory store per query as from the table.
func BenchmarkQuery(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("chunks=%d", n), func(b *testing.B) {
			ctx := context.Background()
			lib, st, blobs := newMemLibrary(b)
			text := corpus(n / 10)
			total := 0
			for j := range 10 {
				id := fmt.Sprintf("d%d", j)
				addDoc(b, ctx, lib, st, blobs, "u", id, text, 1000)
				d, _ := st.GetDocument(ctx, "u", id)
				total += d.ChunkCount
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := lib.Search(ctx, library.Query{UserID: "u", Text: "how to prune roses in winter", TopK: 5}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(total), "chunks")
		})
	}
}
