package httpapi_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
)

type frame struct{ Type string }

func TestSSE_FramesHeadersAndDone(t *testing.T) {
	rec := httptest.NewRecorder()
	s := httpcore.NewSSE(rec, time.Hour)
	if s.Started() || rec.Header().Get("Content-Type") != "" {
		t.Fatal("header written before the first event")
	}
	if err := s.Event(1, "token", map[string]string{"type": "token", "content": "hi"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Event(2, "done", frame{Type: "done"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_ = s.Close() // twice is fine and writes nothing more
	want := "id: 1\nevent: token\ndata: {\"content\":\"hi\",\"type\":\"token\"}\n\n" +
		"id: 2\nevent: done\ndata: {\"Type\":\"done\"}\n\n" +
		"data: [DONE]\n\n"
	if got := rec.Body.String(); got != want {
		t.Errorf("body =\n%q\nwant\n%q", got, want)
	}
	h := rec.Header()
	if h.Get("Content-Type") != "text/event-stream" || h.Get("Cache-Control") != "no-cache" || h.Get("X-Accel-Buffering") != "no" {
		t.Errorf("headers = %v", h)
	}
	if !rec.Flushed {
		t.Error("frames were not flushed")
	}
	if err := s.Event(3, "token", frame{}); !errors.Is(err, httpcore.ErrStreamClosed) {
		t.Errorf("event after close: %v", err)
	}
}

func TestSSE_HeartbeatPingsWhileIdle(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpcore.NewSSE(w, 5*time.Millisecond)
		_ = s.Event(1, "start", frame{Type: "start"})
		<-r.Context().Done() // idle until the client has seen pings and leaves
		_ = s.Close()
	}))
	defer srv.Close()
	// Its own deadline: a writer that never pings ends the read here, not at the
	// package timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	pings := 0
	for pings < 2 && sc.Scan() {
		if sc.Text() == ": ping" {
			pings++
		}
	}
	if pings < 2 {
		t.Fatalf("saw %d pings before the deadline: %v", pings, sc.Err())
	}
}

// brokenWriter fails every write, as a connection whose client left does.
type brokenWriter struct{ h http.Header }

func (b *brokenWriter) Header() http.Header       { return b.h }
func (b *brokenWriter) WriteHeader(int)           {}
func (b *brokenWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestSSE_WriteErrorIsReturnedAndSticks(t *testing.T) {
	s := httpcore.NewSSE(&brokenWriter{h: http.Header{}}, time.Hour)
	err := s.Event(1, "token", frame{})
	if err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("first write: %v", err)
	}
	if err2 := s.Event(2, "token", frame{}); err2 != err {
		t.Errorf("second write: %v", err2)
	}
	if err3 := s.Close(); err3 != err {
		t.Errorf("close: %v", err3)
	}
}

func TestWantsStream(t *testing.T) {
	cases := []struct {
		target, accept string
		want           bool
	}{
		{"/x", "", false},
		{"/x?stream=true", "", true},
		{"/x?stream=1", "", true},
		{"/x?stream=false", "text/event-stream", false},
		{"/x", "text/event-stream", true},
		{"/x", "application/json", false},
	}
	for _, c := range cases {
		r := httptest.NewRequest("POST", c.target, nil)
		if c.accept != "" {
			r.Header.Set("Accept", c.accept)
		}
		if got := httpcore.WantsStream(r); got != c.want {
			t.Errorf("%s %q: %v", c.target, c.accept, got)
		}
	}
}
