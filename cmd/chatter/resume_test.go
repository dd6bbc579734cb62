package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire"
)

// resumeDefinition streams the reply, then waits, so a client that leaves after a
// few tokens can come back while the run is still going.
const resumeDefinition = `{
  "name": "resume",
  "nodes": [
    {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {"label": "Start"}},
    {"id": "agent", "type": "llm", "position": {"x": 200, "y": 0}, "data": {"label": "Agent"}},
    {"id": "wait", "type": "delay", "position": {"x": 400, "y": 0}, "data": {"label": "Wait", "config": {"type": "fixed", "duration_ms": 1500}}}
  ],
  "edges": [
    {"id": "e1", "source": "start", "target": "agent"},
    {"id": "e2", "source": "agent", "target": "wait"},
    {"id": "e3", "source": "wait", "target": "END"}
  ]
}`

type devFrame struct {
	id, event string
	chunk     wire.Chunk
	done      bool
}

// readFrames calls fn for each SSE frame (pings skipped) until it returns false
// or the stream ends.
func readFrames(r io.Reader, fn func(devFrame) bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var f devFrame
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if f.id != "" || f.done {
				if !fn(f) {
					return
				}
			}
			f = devFrame{}
		case line == "data: [DONE]":
			f.done = true
		case strings.HasPrefix(line, "id: "):
			f.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			f.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			_ = json.Unmarshal([]byte(line[6:]), &f.chunk)
		}
	}
}

// On the dev stack (DynamoDB on moto): a streaming run with on_disconnect
// continue outlives its client; a reconnect with Last-Event-ID gets exactly the
// frames after it — the rest of the replayed tokens, then the live end — from the
// one run; the run is stored once; another user gets a 404.
func TestDevStack_ResumeAStreamAfterADisconnect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := devStackForTest(t, ctx)
	tok, err := s.Identity.Token("resume-user")
	if err != nil {
		t.Fatal(err)
	}
	do := func(ctx context.Context, token, method, path, body string, hdr ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, s.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	decode := func(resp *http.Response, want int, out any) {
		t.Helper()
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, b, want)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatal(err)
			}
		}
	}
	var def struct{ ID string }
	decode(do(ctx, tok, "POST", "/api/v1/workflows/definitions", resumeDefinition), 200, &def)

	first, leave := context.WithCancel(ctx)
	resp := do(first, tok, "POST", "/api/v1/workflows/definitions/"+def.ID+"/execute?stream=true",
		`{"message":"one two three four five six seven eight nine ten eleven twelve","on_disconnect":"continue"}`)
	var got []devFrame
	tokens := 0
	readFrames(resp.Body, func(f devFrame) bool {
		got = append(got, f)
		if f.chunk.Type == wire.ChunkToken {
			tokens++
		}
		return tokens < 5
	})
	leave()
	resp.Body.Close()
	if tokens < 5 || got[0].chunk.Type != wire.ChunkStart {
		t.Fatalf("first connection: %d tokens, frames %+v", tokens, got)
	}
	execID, last := got[0].chunk.ExecutionID, got[len(got)-1].id

	var rec struct {
		Status         string `json:"status"`
		ConversationID string `json:"conversation_id"`
	}
	decode(do(ctx, tok, "GET", "/api/v1/executions/"+execID, ""), 200, &rec)
	if rec.Status != "running" {
		t.Fatalf("the run is %s before the resume; the test wants to follow it live", rec.Status)
	}
	decode(do(ctx, "", "GET", "/api/v1/executions/"+execID+"/stream", ""), 401, nil)
	other, err := s.Identity.Token("someone-else")
	if err != nil {
		t.Fatal(err)
	}
	decode(do(ctx, other, "GET", "/api/v1/executions/"+execID+"/stream", ""), 404, nil)

	resumed := do(ctx, tok, "GET", "/api/v1/executions/"+execID+"/stream", "", "Last-Event-ID", last)
	if resumed.StatusCode != 200 {
		decode(resumed, 200, nil)
	}
	var rest []devFrame
	readFrames(resumed.Body, func(f devFrame) bool { rest = append(rest, f); return true })
	resumed.Body.Close()
	want, _ := strconv.Atoi(last)
	var text strings.Builder
	for _, f := range got {
		if f.chunk.Type == wire.ChunkToken {
			text.WriteString(f.chunk.Content)
		}
	}
	for i, f := range rest {
		if f.done {
			if i != len(rest)-1 {
				t.Fatalf("[DONE] before the end")
			}
			continue
		}
		if want++; f.id != strconv.Itoa(want) {
			t.Fatalf("resumed frame %d has id %s, want %d", i, f.id, want)
		}
		if f.chunk.Type == wire.ChunkToken {
			text.WriteString(f.chunk.Content)
		}
	}
	if n := len(rest); n < 3 || !rest[n-1].done || rest[n-2].event != wire.ChunkDone || rest[n-3].event != wire.ChunkComplete {
		t.Fatalf("the resumed stream does not end complete, done, [DONE]: %+v", rest)
	}

	decode(do(ctx, tok, "GET", "/api/v1/executions/"+execID, ""), 200, &rec)
	var msgs []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	decode(do(ctx, tok, "GET", "/api/v1/conversations/"+rec.ConversationID+"/messages", ""), 200, &msgs)
	if rec.Status != "completed" || len(msgs) != 2 || msgs[1].Content != text.String() {
		t.Fatalf("after the run: status %s, messages %+v; want completed, the user message once and the reply %q",
			rec.Status, msgs, text.String())
	}
}
