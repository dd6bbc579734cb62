package embed_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/documents/embed"
	"github.com/chatterhq/chatter/internal/llm/bedrock"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

func TestHashed_DeterministicNormalisedAndMeaningful(t *testing.T) {
	ctx := testCtx(t)
	h, err := embed.NewHashed(embed.DefaultHashedDimensions)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"Refunds are issued within 14 days after the returned item arrives.",
		"How many days until I get my refund for a returned item?",
		"Our office dog is called Biscuit and loves the garden.",
		"the of and to is",
	}
	a, err := h.Embed(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Embed(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if len(a[i]) != h.Dimensions() {
			t.Fatalf("vector %d has %d dimensions", i, len(a[i]))
		}
		if !sameVector(a[i], b[i]) {
			t.Fatalf("vector %d differs between calls", i)
		}
	}
	for i := 0; i < 3; i++ {
		var n float64
		for _, x := range a[i] {
			n += float64(x) * float64(x)
		}
		if math.Abs(n-1) > 1e-5 {
			t.Errorf("vector %d has squared norm %v, want 1", i, n)
		}
	}
	related, unrelated := cosine(a[0], a[1]), cosine(a[0], a[2])
	if related <= 0.2 || related <= unrelated+0.2 {
		t.Errorf("cos(refund policy, refund question) = %.3f, cos(refund policy, dog) = %.3f: related texts are not closer", related, unrelated)
	}
	for _, x := range a[3] {
		if x != 0 {
			t.Fatal("a text of stop words only is not the zero vector")
		}
	}
	if _, err := h.Embed(ctx, []string{"fine", "  "}); err == nil || !strings.Contains(err.Error(), "texts[1]") {
		t.Errorf("empty text: error %v, want one naming texts[1]", err)
	}
}

func TestNew_SpecRoundTrips(t *testing.T) {
	opts := embed.Options{Bedrock: bedrock.NewClient(testAWSConfig(), "http://127.0.0.1:1"), OpenAI: embed.OpenAIConfig{APIKey: "sk-test"}}
	tests := []struct {
		spec string
		dims int
	}{
		{embed.HashedModel, 256},
		{embed.HashedModel + "/512", 512},
		{embed.TitanV2Model, 1024},
		{embed.TitanV2Model + "/256", 256},
		{embed.OpenAISmallModel, 1536},
		{embed.OpenAISmallModel + "/512", 512},
		{embed.OpenAILargeModel, 3072},
	}
	for _, tt := range tests {
		e, err := embed.New(tt.spec, opts)
		if err != nil {
			t.Fatalf("New(%q): %v", tt.spec, err)
		}
		if e.Model() != tt.spec || e.Dimensions() != tt.dims {
			t.Errorf("New(%q) = model %q, %d dimensions; want %q, %d", tt.spec, e.Model(), e.Dimensions(), tt.spec, tt.dims)
		}
		again, err := embed.New(e.Model(), opts)
		if err != nil || again.Model() != e.Model() || again.Dimensions() != e.Dimensions() {
			t.Errorf("New(Model()) of %q = %v, %v", tt.spec, again, err)
		}
	}
	if _, err := embed.New("word2vec", opts); !errors.Is(err, embed.ErrUnknownModel) {
		t.Errorf("unknown model: %v", err)
	}
	for _, bad := range []string{"", embed.TitanV2Model + "/300", embed.TitanV2Model + "/x", embed.OpenAISmallModel + "/4000", embed.HashedModel + "/8"} {
		if _, err := embed.New(bad, opts); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	if _, err := embed.New(embed.TitanV2Model, embed.Options{}); err == nil || !strings.Contains(err.Error(), "Bedrock") {
		t.Errorf("Titan without a client: %v", err)
	}
	if _, err := embed.New(embed.OpenAISmallModel, embed.Options{}); err == nil || !strings.Contains(err.Error(), "API key") {
		t.Errorf("OpenAI without a key: %v", err)
	}
}
