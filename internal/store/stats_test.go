package store_test

import (
	"math"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/chatterhq/chatter/internal/store"
)

func TestHistBucket_EdgesAndSteps(t *testing.T) {
	for _, tc := range []struct {
		ms   float64
		want int
	}{
		{-5, 0}, {math.NaN(), 0}, {0, 0}, {0.999, 0},
		{1, 1}, {1.18, 1}, {1.19, 2}, {2, 5}, {4, 9}, {1000, 40},
		{math.Exp2(20) - 1, store.HistBuckets - 2}, {math.Exp2(20), store.HistBuckets - 1}, {1e12, store.HistBuckets - 1},
		{math.Inf(1), store.HistBuckets - 1},
	} {
		if got := store.HistBucket(tc.ms); got != tc.want {
			t.Errorf("HistBucket(%v) = %d, want %d", tc.ms, got, tc.want)
		}
	}
	for i := range store.HistBuckets {
		lo, hi := store.HistBounds(i)
		if store.HistBucket(lo) != i || (!math.IsInf(hi, 1) && store.HistBucket(math.Nextafter(hi, 0)) != i) {
			t.Errorf("bucket %d [%v, %v) does not hold its bounds", i, lo, hi)
		}
	}
}

func TestHistogram_EmptyHasNoQuantile(t *testing.T) {
	var h store.Histogram
	if _, ok := h.Quantile(0.5); ok {
		t.Fatal("an empty histogram answered a quantile")
	}
}

// The estimate of a quantile lies in the bucket of the exact (nearest-rank) one,
// so within one bucket's width of it: a ratio of at most 2^(1/4) from 1 ms on.
func TestHistogram_QuantileWithinOneBucketOfExact(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// Durations spread over every scale the buckets cover, and beyond.
		ds := rapid.SliceOfN(rapid.Float64Range(0, 12), 1, 300).Draw(t, "log10ms")
		var h store.Histogram
		ms := make([]float64, len(ds))
		for i, d := range ds {
			ms[i] = math.Pow(10, d) - 1 // 0 .. 1e12
			h.Add(ms[i])
		}
		slices.Sort(ms)
		q := rapid.SampledFrom([]float64{0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1}).Draw(t, "q")
		exact := ms[int(math.Ceil(q*float64(len(ms))))-1]
		est, ok := h.Quantile(q)
		if !ok {
			t.Fatal("no estimate")
		}
		b := store.HistBucket(exact)
		lo, hi := store.HistBounds(b)
		if est < lo || est > hi {
			t.Fatalf("q=%v: estimate %v outside the bucket [%v, %v) of the exact %v", q, est, lo, hi, exact)
		}
		if exact >= 1 && b < store.HistBuckets-1 {
			if r := max(est/exact, exact/est); r > math.Exp2(0.25)+1e-9 {
				t.Fatalf("q=%v: estimate %v is %v× the exact %v", q, est, r, exact)
			}
		}
	})
}
