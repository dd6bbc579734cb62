package openai

import (
	"context"
	"net/http"
	"runtime"
	"testing"

	"github.com/chatterhq/chatter/internal/llm"
)

// BenchmarkStreamDecode measures what one streamed delta costs from HTTP body to
// llm.Delta (SSE framing, the SDK's chunk decoding, our mapping), with the body
// served from memory so no network time is counted. One op is a whole 200-chunk
// stream; ns/delta and allocs/delta divide that by the deltas produced.
func BenchmarkStreamDecode(b *testing.B) {
	const n = 200
	frames := []string{roleChunk()}
	for range n {
		frames = append(frames, textChunk("token "))
	}
	frames = append(frames, finishChunk("stop"), usageChunk(1200, n, 1024), done)
	body := []byte(sseBody(frames...))

	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return sseResponse(r, body), nil
	})}
	p, err := New(Config{APIKey: testKey, BaseURL: "http://bench.invalid/v1", Model: "gpt-4o-mini", HTTPClient: hc})
	if err != nil {
		b.Fatal(err)
	}
	req := userRequest("hi")
	ctx := context.Background()

	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	var deltas int
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mallocs := ms.Mallocs
	b.ResetTimer()
	for b.Loop() {
		s := p.Stream(ctx, req)
		for s.Next() {
			deltas++
		}
		if err := s.Err(); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms)
	if want := b.N * (n + 2); deltas != want {
		b.Fatalf("deltas = %d, want %d", deltas, want)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(deltas), "ns/delta")
	b.ReportMetric(float64(ms.Mallocs-mallocs)/float64(deltas), "allocs/delta")
}

var _ llm.Stream = (*stream)(nil)
