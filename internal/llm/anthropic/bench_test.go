package anthropic

import (
	"bytes"
	"io"
	"net/http"
	"runtime"
	"testing"

	"github.com/chatterhq/chatter/internal/llm"
)

// replayTransport answers every request with the same event stream from memory, so
// the benchmark measures request building and decoding, not a network.
type replayTransport struct{ body []byte }

func (t replayTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK,
		Status:     "200 OK",
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"text/event-stream; charset=utf-8"}},
		Body:    io.NopCloser(bytes.NewReader(t.body)),
		Request: r,
	}, nil
}

func BenchmarkStreamDecode(b *testing.B) {
	const deltas = 200
	parts := make([]string, deltas)
	for i := range parts {
		parts[i] = " token"
	}
	body := []byte(textReply(parts...))
	p, err := New(Config{APIKey: testKey, BaseURL: "http://127.0.0.1:1", HTTPClient: &http.Client{Transport: replayTransport{body: body}}})
	if err != nil {
		b.Fatal(err)
	}
	req := userRequest("hi")
	ctx := b.Context()

	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		s := p.Stream(ctx, req)
		n := 0
		for s.Next() {
			if s.Current().Kind == llm.DeltaText {
				n++
			}
		}
		if err := s.Err(); err != nil || n != deltas {
			b.Fatalf("got %d text deltas, err %v", n, err)
		}
		_ = s.Close()
	}
	runtime.ReadMemStats(&after)
	total := float64(b.N * deltas)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/delta")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/delta")
}
