package embed_test

import (
	"errors"
	"math"
	"testing"

	"pgregory.net/rapid"

	"github.com/chatterhq/chatter/internal/documents/embed"
)

func normalised(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return v
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / math.Sqrt(n))
	}
	return out
}

func TestEncode_CosineError(t *testing.T) {
	ctx := testCtx(t)
	h, _ := embed.NewHashed(embed.DefaultHashedDimensions)
	hashed, err := h.Embed(ctx, []string{"Refunds are issued within 14 days.", "Shipping is free over 50 euros", "word"})
	if err != nil {
		t.Fatal(err)
	}
	rapid.Check(t, func(t *rapid.T) {
		var v []float32
		if rapid.Bool().Draw(t, "hashed") {
			v = hashed[rapid.IntRange(0, len(hashed)-1).Draw(t, "which")]
		} else {
			// Dense embeddings as providers return them: roughly Gaussian components.
			dims := rapid.SampledFrom([]int{256, 512, 1024, 1536}).Draw(t, "dims")
			seed := rapid.Uint64().Draw(t, "seed")
			v = normalised(vectorFor(string(rune('a'+seed%26))+string(make([]byte, seed%1000)), dims))
		}
		b := embed.Encode(v)
		if len(b) != 5+len(v) {
			t.Fatalf("%d bytes for %d dimensions", len(b), len(v))
		}
		got, err := embed.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if c := cosine(v, got); c < 0.999 {
			t.Fatalf("cosine(v, Decode(Encode(v))) = %v, want >= 0.999", c)
		}
	})
}

func TestEncode_ComponentErrorBound(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := rapid.SliceOfN(rapid.Float32Range(-3, 3), 1, 64).Draw(t, "v")
		got, err := embed.Decode(embed.Encode(v))
		if err != nil {
			t.Fatal(err)
		}
		var maxAbs float64
		for _, x := range v {
			maxAbs = math.Max(maxAbs, math.Abs(float64(x)))
		}
		step := maxAbs / 127
		for i := range v {
			if d := math.Abs(float64(v[i]) - float64(got[i])); d > step/2+1e-6 {
				t.Fatalf("component %d: %v decoded as %v, off by more than half a step (%v)", i, v[i], got[i], step/2)
			}
		}
	})
}

func TestEncode_EdgeCases(t *testing.T) {
	zero, err := embed.Decode(embed.Encode(make([]float32, 8)))
	if err != nil || len(zero) != 8 {
		t.Fatalf("zero vector: %v, %v", zero, err)
	}
	nan := float32(math.NaN())
	got, err := embed.Decode(embed.Encode([]float32{1, nan, float32(math.Inf(1)), -0.5}))
	if err != nil || got[1] != 0 || got[2] != 0 || math.Abs(float64(got[3])+0.5) > 0.01 {
		t.Fatalf("non-finite components: %v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, {1, 0, 0}, {2, 0, 0, 0, 0, 1}, {1, 0, 0, 0xc0, 0x7f, 1}} {
		if _, err := embed.Decode(bad); !errors.Is(err, embed.ErrBadVector) {
			t.Errorf("Decode(%v) = %v, want ErrBadVector", bad, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(embed.Encode([]float32{0.1, -0.2, 0.3}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := embed.Decode(b); err == nil && len(v) != len(b)-5 {
			t.Fatalf("%d components from %d bytes", len(v), len(b))
		}
	})
}
