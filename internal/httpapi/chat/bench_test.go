package chat_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
)

// BenchmarkChatHandler is one standard chat request through the whole chain
// (request id, access log, recover, body limit, JWT auth, rate limit, decode,
// Execute with devllm and the memory store, JSON answer).
func BenchmarkChatHandler(b *testing.B) {
	e := newEnv(b, envOpts{noServer: true, limiter: store.NewMemory(),
		rates: map[httpcore.Class]httpcore.Rate{httpcore.ClassChat: {Limit: 1 << 30, Window: time.Hour}}})
	tok := "Bearer " + e.token(b, "alice")
	body := `{"message":"hello there","enable_memory":false}`
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/api/v1/workflows/execute/chat", strings.NewReader(body))
		req.Header.Set("Authorization", tok)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// firstDeltaProvider records when the provider hands over its first text delta.
type firstDeltaProvider struct {
	llm.Provider
	first atomic.Int64 // unix nanos
}

func (p *firstDeltaProvider) Stream(ctx context.Context, req *llm.Request) llm.Stream {
	return &markStream{Stream: p.Provider.Stream(ctx, req), p: p}
}

type markStream struct {
	llm.Stream
	p *firstDeltaProvider
}

func (s *markStream) Next() bool {
	ok := s.Stream.Next()
	if ok && s.Current().Text != "" {
		s.p.first.CompareAndSwap(0, time.Now().UnixNano())
	}
	return ok
}

// BenchmarkStreamTTFB measures what the HTTP path adds to time-to-first-token: from
// the provider's first text delta to the client reading the first token frame over
// a real TCP connection. Reported as added-µs/op.
func BenchmarkStreamTTFB(b *testing.B) {
	p := &firstDeltaProvider{Provider: devllm.New(devllm.Options{})}
	e := newEnv(b, envOpts{provider: p})
	body := `{"message":"hello there","enable_memory":false}`
	var added time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p.first.Store(0)
		resp, err := http.DefaultClient.Do(e.request(b, "alice", "/api/v1/workflows/execute/chat/streaming", body))
		if err != nil {
			b.Fatal(err)
		}
		f := newFrames(resp.Body)
		for {
			fr, ok := f.next()
			if !ok {
				b.Fatal("no token frame")
			}
			if fr.Event == "token" {
				added += time.Since(time.Unix(0, p.first.Load()))
				break
			}
		}
		f.all()
		resp.Body.Close()
	}
	b.ReportMetric(float64(added.Microseconds())/float64(b.N), "added-µs/op")
}
