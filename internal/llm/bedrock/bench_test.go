package bedrock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"testing"

	"github.com/chatterhq/chatter/internal/llm"
)

// bodyTransport answers every request with one fixed event-stream body, in memory, so
// the benchmark and the fuzz target measure decoding rather than the network.
type bodyTransport struct{ body []byte }

func (t bodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK,
		Status:     "200 OK",
		Header:     http.Header{"Content-Type": {"application/vnd.amazon.eventstream"}},
		Body:       io.NopCloser(bytes.NewReader(t.body)),
		Request:    r,
	}, nil
}

func inMemoryProvider(body []byte) *Provider {
	cfg := testConfig()
	cfg.HTTPClient = &http.Client{Transport: bodyTransport{body: body}}
	return New(NewClient(cfg, "http://bedrock.invalid"), Config{})
}

func BenchmarkStreamDecode(b *testing.B) {
	const deltas = 200
	var body bytes.Buffer
	body.Write(messageStart(b))
	for i := range deltas {
		body.Write(textDelta(b, 0, fmt.Sprintf("token%03d ", i)))
	}
	body.Write(blockStop(b, 0))
	body.Write(messageStop(b, "end_turn"))
	body.Write(metadata(b, 100, deltas, 0, 0))
	p := inMemoryProvider(body.Bytes())
	req := simpleRequest()
	ctx := context.Background()

	b.ReportAllocs()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mallocs := ms.Mallocs
	n := 0
	for b.Loop() {
		s := p.Stream(ctx, req)
		got := 0
		for s.Next() {
			if s.Current().Kind == llm.DeltaText {
				got++
			}
		}
		if err := s.Err(); err != nil || got != deltas {
			b.Fatalf("got %d text deltas, err %v", got, err)
		}
		_ = s.Close()
		n++
	}
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*deltas), "ns/delta")
	b.ReportMetric(float64(ms.Mallocs-mallocs)/float64(n*deltas), "allocs/delta")
}

// FuzzStream feeds arbitrary bytes as the event-stream body: the provider must end
// with a typed error or a clean result, never panic or hang.
func FuzzStream(f *testing.F) {
	var good bytes.Buffer
	good.Write(messageStart(f))
	good.Write(textDelta(f, 0, "hi"))
	good.Write(toolStart(f, 1, "t1", "x"))
	good.Write(toolDelta(f, 1, `{"a":1}`))
	good.Write(messageStop(f, "tool_use"))
	good.Write(metadata(f, 1, 2, 3, 4))
	f.Add(good.Bytes())
	f.Add(good.Bytes()[:good.Len()/2])
	f.Add(excFrame(f, "throttlingException", `{"message":"slow down"}`))
	f.Add([]byte("garbage"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := llm.Collect(inMemoryProvider(body).Stream(context.Background(), simpleRequest()))
		var le *llm.Error
		if err != nil && !errors.As(err, &le) {
			t.Fatalf("error %v (%T) is not an *llm.Error", err, err)
		}
	})
}
