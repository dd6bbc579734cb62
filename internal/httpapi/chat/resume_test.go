package chat_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/wire"
)

// countedProvider counts model calls.
type countedProvider struct {
	llm.Provider
	calls atomic.Int32
}

func (p *countedProvider) Stream(ctx context.Context, req *llm.Request) llm.Stream {
	p.calls.Add(1)
	return p.Provider.Stream(ctx, req)
}

func (e *env) get(ctx context.Context, t *testing.T, user, path string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token(t, user))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// A client starts a streaming run with on_disconnect continue, goes away after a
// few frames and comes back with Last-Event-ID: it gets exactly the frames after
// that id (some replayed, the rest live), the run ran once (one model call, the
// user message stored once) and ended completed; a finished run replays only;
// another user gets a 404, a run that kept no frames a 409.
func TestResumeStream_AfterADisconnectGetsExactlyTheRemainingFramesOfTheOneRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := &countedProvider{Provider: devllm.New(devllm.Options{Delay: 10 * time.Millisecond})}
	e := newEnv(t, envOpts{provider: p, frames: true})
	msg := strings.Repeat("word ", 80) // 80 deltas at 10 ms

	first, stop := context.WithCancel(ctx)
	body := fmt.Sprintf(`{"message":%q,"on_disconnect":"continue"}`, msg)
	req := e.request(t, "alice", "/api/v1/workflows/execute/chat/streaming", body).WithContext(first)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	f := newFrames(resp.Body)
	var got []sseFrame
	var execID string
	tokens := 0
	for tokens < 5 {
		fr, ok := f.next()
		if !ok {
			t.Fatalf("stream ended after %d frames", len(got))
		}
		if fr.Ping {
			continue
		}
		got = append(got, fr)
		if fr.Chunk.Type == wire.ChunkStart {
			execID = fr.Chunk.ExecutionID
		}
		if fr.Chunk.Type == wire.ChunkToken {
			tokens++
		}
	}
	stop() // the client goes away
	resp.Body.Close()
	last := got[len(got)-1].ID

	resumed := e.get(ctx, t, "alice", "/api/v1/executions/"+execID+"/stream", "Last-Event-ID", last)
	if resumed.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resumed.Body)
		t.Fatalf("resume: %d %s", resumed.StatusCode, b)
	}
	rest := newFrames(resumed.Body).all()
	resumed.Body.Close()
	if n := len(rest); n < 2 || !rest[n-1].Done || rest[n-2].Event != wire.ChunkDone {
		t.Fatalf("resumed stream does not end with done then [DONE]: %v", eventTypes(rest))
	}
	want, _ := strconv.Atoi(last)
	var text strings.Builder
	for _, fr := range got {
		text.WriteString(tokenOf(fr))
	}
	for _, fr := range rest {
		if fr.Ping || fr.Done {
			continue
		}
		if want++; fr.ID != strconv.Itoa(want) {
			t.Fatalf("resumed frame id %s, want %d: not exactly the frames after %s", fr.ID, want, last)
		}
		text.WriteString(tokenOf(fr))
	}

	ex, err := e.st.GetExecution(ctx, "alice", execID)
	if err != nil || ex.Status != "completed" {
		t.Fatalf("execution %v, %v; want completed", ex, err)
	}
	msgs, err := e.st.Messages(ctx, "alice", ex.ConversationID)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("stored %d messages, %v; want the user message once and the reply", len(msgs), err)
	}
	if msgs[1].Content != text.String() || msgs[1].Status != "complete" {
		t.Fatalf("frames' tokens %q, stored reply %q (%s)", text.String(), msgs[1].Content, msgs[1].Status)
	}
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("%d model calls, want 1: a resume must never start a run", n)
	}

	// The run is over: a resume replays what is kept and ends.
	again := e.get(ctx, t, "alice", "/api/v1/executions/"+execID+"/stream?last_event_id=0")
	all := newFrames(again.Body).all()
	again.Body.Close()
	if len(all) == 0 || all[0].ID != "1" || all[len(all)-1].Done != true || len(all) < len(got)+len(rest) {
		t.Fatalf("replay of a finished run: %v", eventTypes(all))
	}
	for i, fr := range got {
		if all[i].Data != fr.Data || all[i].ID != fr.ID || all[i].Event != fr.Event {
			t.Fatalf("replayed frame %d differs from the original:\n%s\n%s", i, all[i].Data, fr.Data)
		}
	}
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("%d model calls after the replay, want 1", n)
	}

	for _, tt := range []struct {
		name, user, path string
		hdr              []string
		status           int
	}{
		{"another user's", "mallory", "/api/v1/executions/" + execID + "/stream", nil, http.StatusNotFound},
		{"a bad Last-Event-ID", "alice", "/api/v1/executions/" + execID + "/stream", []string{"Last-Event-ID", "x"}, http.StatusUnprocessableEntity},
	} {
		resp := e.get(ctx, t, tt.user, tt.path, tt.hdr...)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s, want %d problem", tt.name, resp.StatusCode, b, tt.status)
		}
	}

	// A standard run kept no frames: 409 saying why.
	resp, b := e.post(t, "alice", "/api/v1/workflows/execute/chat", `{"message":"hi"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("standard run: %d %s", resp.StatusCode, b)
	}
	std := e.rec.Events()[len(e.rec.Events())-1].ExecutionID
	r2 := e.get(ctx, t, "alice", "/api/v1/executions/"+std+"/stream")
	b, _ = io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != http.StatusConflict || !strings.Contains(string(b), "on_disconnect") {
		t.Fatalf("resume of a standard run: %d %s, want 409 naming on_disconnect", r2.StatusCode, b)
	}
}

func tokenOf(fr sseFrame) string {
	if fr.Chunk.Type == wire.ChunkToken {
		return fr.Chunk.Content
	}
	return ""
}
