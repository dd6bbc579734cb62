package devllm

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/llm"
)

func user(s string) llm.Message { return llm.Message{Role: llm.RoleUser, Content: s} }

func tools(names ...string) []llm.ToolSpec {
	out := make([]llm.ToolSpec, len(names))
	for i, n := range names {
		out[i] = llm.ToolSpec{Name: n, Parameters: json.RawMessage(`{"type":"object"}`)}
	}
	return out
}

// drain reads a stream to the end, keeping every delta.
func drain(t *testing.T, s llm.Stream) ([]llm.Delta, error) {
	t.Helper()
	defer s.Close()
	var ds []llm.Delta
	for s.Next() {
		ds = append(ds, s.Current())
	}
	return ds, s.Err()
}

func textOf(ds []llm.Delta) (text string, n int) {
	var b strings.Builder
	for _, d := range ds {
		if d.Kind == llm.DeltaText {
			b.WriteString(d.Text)
			n++
		}
	}
	return b.String(), n
}

func TestProvider_NameDefaultsToDevllm(t *testing.T) {
	tests := []struct {
		opts Options
		want string
	}{
		{Options{}, "devllm"},
		{Options{Name: "offline"}, "offline"},
	}
	for _, tt := range tests {
		if got := New(tt.opts).Name(); got != tt.want {
			t.Errorf("Name() = %q, want %q", got, tt.want)
		}
	}
}

func TestStream_TextReplies(t *testing.T) {
	tests := []struct {
		name string
		req  llm.Request
		want string
	}{
		{"echo", llm.Request{Messages: []llm.Message{user("hello there")}}, "You said: hello there."},
		{"trims user text", llm.Request{Messages: []llm.Message{user("  hi \n")}}, "You said: hi."},
		{"keeps inner whitespace", llm.Request{Messages: []llm.Message{user("a  b\n\tc")}}, "You said: a  b\n\tc."},
		{"retrieval context in system prompt", llm.Request{System: "Be brief.\nContext:\n[1] doc", Messages: []llm.Message{user("q")}},
			"You said: q. I used the provided context."},
		{"retrieval context in system message", llm.Request{Messages: []llm.Message{{Role: llm.RoleSystem, Content: "Context: x"}, user("q")}},
			"You said: q. I used the provided context."},
		{"system prompt without context", llm.Request{System: "You are helpful.", Messages: []llm.Message{user("q")}}, "You said: q."},
		{"no messages", llm.Request{}, "You said: ."},
		{"last message from assistant echoes last user text", llm.Request{Messages: []llm.Message{user("first"), {Role: llm.RoleAssistant, Content: "ok"}}},
			"You said: first."},
		{"unknown command is echoed", llm.Request{Messages: []llm.Message{user("/nope x")}}, "You said: /nope x."},
		{"bare /tool is echoed", llm.Request{Messages: []llm.Message{user("/tool")}}, "You said: /tool."},
		{"tool results", llm.Request{Messages: []llm.Message{
			user("go"),
			{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "c1", Name: "search"}, {ID: "c2", Name: "calc"}}},
			{Role: llm.RoleTool, ToolCallID: "c1", Content: " 3 hits "},
			{Role: llm.RoleTool, ToolCallID: "c2", Name: "calculator", Content: "division by zero", IsError: true},
		}}, "The search tool returned: 3 hits. The calculator tool failed: division by zero."},
		{"tool result with unknown call", llm.Request{Messages: []llm.Message{
			user("go"), {Role: llm.RoleTool, ToolCallID: "zz", Content: "42"},
		}}, "The unknown tool returned: 42."},
		{"only trailing tool results are quoted", llm.Request{Messages: []llm.Message{
			{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "c1", Name: "old"}}},
			{Role: llm.RoleTool, ToolCallID: "c1", Content: "stale"},
			{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "c2", Name: "new"}}},
			{Role: llm.RoleTool, ToolCallID: "c2", Content: "fresh"},
		}}, "The new tool returned: fresh."},
		{"tool not offered", llm.Request{Messages: []llm.Message{user(`/tool search {"q":"x"}`)}}, "I cannot use the search tool here."},
		{"one of two tools not offered", llm.Request{Tools: tools("a"), Messages: []llm.Message{user("/tool a ; /tool b {}")}},
			"I cannot use the b tool here."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := drain(t, New(Options{}).Stream(context.Background(), &tt.req))
			if err != nil {
				t.Fatalf("Err() = %v", err)
			}
			got, n := textOf(ds)
			if got != tt.want {
				t.Fatalf("reply = %q, want %q", got, tt.want)
			}
			words := len(strings.Fields(tt.want))
			if n != words {
				t.Errorf("%d text deltas, want one per word (%d)", n, words)
			}
			for i, d := range ds[:n] {
				if d.Kind != llm.DeltaText || len(strings.Fields(d.Text)) != 1 {
					t.Errorf("delta %d = %+v, want one word", i, d)
				}
				if i == 0 && strings.TrimSpace(d.Text) != d.Text {
					t.Errorf("first delta %q has surrounding space", d.Text)
				}
			}
			if len(ds) != n+2 || ds[n].Kind != llm.DeltaUsage || ds[n+1].Kind != llm.DeltaFinish {
				t.Fatalf("deltas after text = %+v, want usage then finish", ds[n:])
			}
			if ds[n].Usage.OutputTokens != n {
				t.Errorf("OutputTokens = %d, want %d", ds[n].Usage.OutputTokens, n)
			}
			if ds[n+1].FinishReason != llm.FinishStop {
				t.Errorf("finish = %q, want stop", ds[n+1].FinishReason)
			}
		})
	}
}

func TestStream_ToolCommandEmitsCallsInThreeFragments(t *testing.T) {
	req := &llm.Request{
		Tools:    tools("search", "clock", "calc"),
		Messages: []llm.Message{user(`/tool search {"query": "café prices", "k": 3} ; /tool clock ; /tool calc not-json`)},
	}
	ds, err := drain(t, New(Options{}).Stream(context.Background(), req))
	if err != nil {
		t.Fatal(err)
	}
	perIndex := map[int]int{}
	for _, d := range ds {
		if d.Kind == llm.DeltaText {
			t.Fatalf("unexpected text delta %q", d.Text)
		}
		if d.Kind != llm.DeltaToolCall {
			continue
		}
		tc := d.ToolCall
		first := perIndex[tc.Index] == 0
		if first != (tc.ID != "" && tc.Name != "") {
			t.Errorf("fragment %d of call %d: ID %q Name %q; want both on the first fragment only", perIndex[tc.Index], tc.Index, tc.ID, tc.Name)
		}
		if !first && (tc.ID != "" || tc.Name != "") {
			t.Errorf("later fragment repeats ID/Name: %+v", tc)
		}
		perIndex[tc.Index]++
	}
	for i := range 3 {
		if perIndex[i] != 3 {
			t.Errorf("call %d has %d fragments, want 3", i, perIndex[i])
		}
	}
	last := ds[len(ds)-2:]
	if last[0].Kind != llm.DeltaUsage || last[0].Usage.OutputTokens != 12 {
		t.Errorf("usage delta = %+v, want OutputTokens 12 (4 per call)", last[0])
	}
	if last[1].Kind != llm.DeltaFinish || last[1].FinishReason != llm.FinishToolCalls {
		t.Errorf("finish delta = %+v, want tool_calls", last[1])
	}

	resp, err := llm.Collect(New(Options{}).Stream(context.Background(), req))
	if err != nil {
		t.Fatal(err)
	}
	want := []llm.ToolCall{
		{ID: "call_1", Name: "search", Arguments: json.RawMessage(`{"query": "café prices", "k": 3}`)},
		{ID: "call_2", Name: "clock", Arguments: json.RawMessage(`{}`)},
		{ID: "call_3", Name: "calc", Arguments: json.RawMessage(`"not-json"`)}, // invalid JSON reaches the caller
	}
	if len(resp.ToolCalls) != len(want) {
		t.Fatalf("tool calls = %+v, want %+v", resp.ToolCalls, want)
	}
	for i, w := range want {
		g := resp.ToolCalls[i]
		if g.ID != w.ID || g.Name != w.Name || string(g.Arguments) != string(w.Arguments) {
			t.Errorf("call %d = {%s %s %s}, want {%s %s %s}", i, g.ID, g.Name, g.Arguments, w.ID, w.Name, w.Arguments)
		}
	}
	if resp.FinishReason != llm.FinishToolCalls || resp.Text != "" {
		t.Errorf("finish %q text %q, want tool_calls and no text", resp.FinishReason, resp.Text)
	}
}

func TestStream_ToolCallIDsAreDeterministicAcrossRounds(t *testing.T) {
	p := New(Options{})
	ctx := context.Background()
	history := []llm.Message{user("/tool a {}")}
	var ids []string
	for round := range 3 {
		req := &llm.Request{Tools: tools("a", "b"), Messages: history}
		resp, err := llm.Collect(p.Stream(ctx, req))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		// Repeating the same request gives the same IDs.
		again, err := llm.Collect(p.Stream(ctx, req))
		if err != nil || len(again.ToolCalls) != len(resp.ToolCalls) || again.ToolCalls[0].ID != resp.ToolCalls[0].ID {
			t.Fatalf("round %d: repeat gave %+v, %v; first gave %+v", round, again.ToolCalls, err, resp.ToolCalls)
		}
		for _, c := range resp.ToolCalls {
			ids = append(ids, c.ID)
		}
		history = append(history, llm.Message{Role: llm.RoleAssistant, ToolCalls: resp.ToolCalls})
		for _, c := range resp.ToolCalls {
			history = append(history, llm.Message{Role: llm.RoleTool, ToolCallID: c.ID, Content: "ok"})
		}
		history = append(history, user("/tool a {} ; /tool b {}"))
	}
	want := "call_1 call_2 call_3 call_4 call_5"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("ids = %s, want %s", got, want)
	}
}

func TestStream_FailReturnsTypedErrorBeforeFirstDelta(t *testing.T) {
	tests := []struct {
		msg    string
		code   llm.ErrorCode
		status int
	}{
		{"/fail 429", llm.CodeRateLimited, 429},
		{"/fail 500", llm.CodeUnavailable, 500},
		{"/fail 503", llm.CodeUnavailable, 503},
		{"/fail 529", llm.CodeUnavailable, 529},
		{"/fail 401", llm.CodeAuth, 401},
		{"/fail 404", llm.CodeInvalidRequest, 404},
		{"/fail 200", llm.CodeInvalidRequest, 0},
		{"/fail rate_limited", llm.CodeRateLimited, 0},
		{"/fail unavailable", llm.CodeUnavailable, 0},
		{"/fail auth", llm.CodeAuth, 0},
		{"/fail model_error", llm.CodeModel, 0},
		{"/fail bogus", llm.CodeInvalidRequest, 0},
		{"/fail", llm.CodeInvalidRequest, 0},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			p := New(Options{Name: "dev2"})
			for range 2 { // fails every time
				ds, err := drain(t, p.Stream(context.Background(), &llm.Request{Messages: []llm.Message{user(tt.msg)}}))
				if len(ds) != 0 {
					t.Fatalf("got %d deltas before the failure, want 0", len(ds))
				}
				var e *llm.Error
				if !errors.As(err, &e) || e.Code != tt.code || e.Provider != "dev2" || e.Status != tt.status {
					t.Fatalf("Err() = %#v, want *llm.Error code %s status %d provider dev2", err, tt.code, tt.status)
				}
			}
		})
	}
}

func TestStream_FailOnceFailsFirstCallThenSucceeds(t *testing.T) {
	p := New(Options{})
	req := &llm.Request{Messages: []llm.Message{user("/fail-once rate_limited")}}
	_, err := llm.Collect(p.Stream(context.Background(), req))
	if !llm.IsRetryable(err) {
		t.Fatalf("first call: Err() = %v, want retryable rate_limited", err)
	}
	for range 2 {
		resp, err := llm.Collect(p.Stream(context.Background(), req))
		if err != nil || resp.Text != "You said: /fail-once rate_limited." {
			t.Fatalf("retry: %q, %v; want the echo reply", resp.Text, err)
		}
	}
	// Another message and another provider each have their own first failure.
	other := &llm.Request{Messages: []llm.Message{user("/fail-once 503")}}
	if _, err := llm.Collect(p.Stream(context.Background(), other)); !llm.IsRetryable(err) {
		t.Errorf("other message: Err() = %v, want a failure", err)
	}
	if _, err := llm.Collect(New(Options{}).Stream(context.Background(), req)); !llm.IsRetryable(err) {
		t.Errorf("new provider: Err() = %v, want a failure", err)
	}
}

func TestStream_BreakSendsHalfTheReplyThenModelError(t *testing.T) {
	tests := []struct {
		msg, partial string
	}{
		{"/break", "You"}, // "You said: /break." has 3 words
		{"/break one two three four five", "You said: /break one"}, // 8 words
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			ds, err := drain(t, New(Options{}).Stream(context.Background(), &llm.Request{Messages: []llm.Message{user(tt.msg)}}))
			text, n := textOf(ds)
			if text != tt.partial || n != len(ds) {
				t.Errorf("deltas = %+v, want only text %q", ds, tt.partial)
			}
			var e *llm.Error
			if !errors.As(err, &e) || e.Code != llm.CodeModel || e.Message != "stream broke" || e.Provider != "devllm" {
				t.Errorf("Err() = %#v, want model_error \"stream broke\"", err)
			}
		})
	}
}

func TestStream_ContextEndsStream(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	tests := []struct {
		name  string
		ctx   func() (context.Context, context.CancelFunc)
		delay time.Duration
		want  llm.ErrorCode
	}{
		{"already cancelled, no delay", func() (context.Context, context.CancelFunc) { return cancelled, func() {} }, 0, llm.CodeCancelled},
		{"deadline passed, no delay", func() (context.Context, context.CancelFunc) { return expired, func() {} }, 0, llm.CodeTimeout},
		// An hour-long delay: if cancellation were ignored the test would hang, not pass.
		{"cancelled during delay", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			go func() { time.Sleep(5 * time.Millisecond); cancel() }()
			return ctx, cancel
		}, time.Hour, llm.CodeCancelled},
		{"deadline during delay", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 5*time.Millisecond)
		}, time.Hour, llm.CodeTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			ds, err := drain(t, New(Options{Delay: tt.delay}).Stream(ctx, &llm.Request{Messages: []llm.Message{user("hi")}}))
			if len(ds) != 0 {
				t.Errorf("got deltas %+v, want none", ds)
			}
			var e *llm.Error
			if !errors.As(err, &e) || e.Code != tt.want {
				t.Fatalf("Err() = %#v, want code %s", err, tt.want)
			}
		})
	}
}

func TestStream_DelayStillDeliversWholeReply(t *testing.T) {
	resp, err := llm.Collect(New(Options{Delay: time.Microsecond}).Stream(context.Background(),
		&llm.Request{Tools: tools("t"), Messages: []llm.Message{user(`/tool t {"a":1}`)}}))
	if err != nil || len(resp.ToolCalls) != 1 || string(resp.ToolCalls[0].Arguments) != `{"a":1}` {
		t.Fatalf("got %+v, %v", resp, err)
	}
	resp, err = llm.Collect(New(Options{Delay: time.Microsecond}).Stream(context.Background(),
		&llm.Request{Messages: []llm.Message{user("slow words here")}}))
	if err != nil || resp.Text != "You said: slow words here." {
		t.Fatalf("got %q, %v", resp.Text, err)
	}
}

func TestStream_UsageCountsInput(t *testing.T) {
	req := &llm.Request{
		System: "be brief please", // 3 words
		Messages: []llm.Message{
			user("one two"), // 3 + 2
			{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{
				{ID: "c1", Name: "a", Arguments: json.RawMessage(`{"query":"x"}`)}, // 13 bytes -> 3
				{ID: "c2", Name: "b", Arguments: json.RawMessage(`{}`)},            // 2 bytes -> 1
			}}, // 3 + 0
			{Role: llm.RoleTool, ToolCallID: "c1", Content: "r1 r2 r3"}, // 3 + 3
			{Role: llm.RoleTool, ToolCallID: "c2", Content: ""},         // 3
		},
	}
	resp, err := llm.Collect(New(Options{}).Stream(context.Background(), req))
	if err != nil {
		t.Fatal(err)
	}
	want := llm.Usage{InputTokens: 3 + 5 + 3 + 3 + 1 + 6 + 3, OutputTokens: 7 + 5}
	if resp.Usage != want {
		t.Errorf("usage = %+v, want %+v (reply %q)", resp.Usage, want, resp.Text)
	}
}

func TestStream_CloseIsIdempotent(t *testing.T) {
	s := New(Options{}).Stream(context.Background(), &llm.Request{Messages: []llm.Message{user("a b c")}})
	if !s.Next() || s.Current().Text != "You" {
		t.Fatalf("first delta = %+v", s.Current())
	}
	for range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
	}
	if s.Next() {
		t.Error("Next() after Close = true")
	}
	if err := s.Err(); err != nil {
		t.Errorf("Err() after Close = %v, want nil", err)
	}
}

func TestStream_NilRequestIsInvalid(t *testing.T) {
	_, err := llm.Collect(New(Options{}).Stream(context.Background(), nil))
	var e *llm.Error
	if !errors.As(err, &e) || e.Code != llm.CodeInvalidRequest {
		t.Errorf("Err() = %v, want invalid_request", err)
	}
}

func BenchmarkStream(b *testing.B) {
	p := New(Options{})
	// "You said: " + 18 words + "." is a 20-word reply.
	req := &llm.Request{System: "You are helpful.", Messages: []llm.Message{
		user("w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w14 w15 w16 w17 w18"),
	}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s := p.Stream(ctx, req)
		n := 0
		for s.Next() {
			if s.Current().Kind == llm.DeltaText {
				n++
			}
		}
		if s.Err() != nil || n != 20 {
			b.Fatalf("n=%d err=%v", n, s.Err())
		}
		s.Close()
	}
}

func TestStream_SummaryRequestFoldsEachMessageOnceAfterThePreviousSummary(t *testing.T) {
	asst := func(s string) llm.Message { return llm.Message{Role: llm.RoleAssistant, Content: s} }
	tests := []struct {
		name      string
		previous  string
		msgs      []llm.Message
		maxTokens int
		want      string
	}{
		{"first summary", "", []llm.Message{user("note-1 tell me"), asst("You said: note-1 tell me.")},
			0, "user:note-1; assistant:You"},
		{"folds onto the previous summary", "user:note-1; assistant:You", []llm.Message{user("  note-2 more")},
			0, "user:note-1; assistant:You; user:note-2"},
		{"a previous summary of another writer is kept as is", "The user likes tea.", []llm.Message{user("note-3")},
			0, "The user likes tea.; user:note-3"},
		{"bounded by max_tokens, oldest items dropped", "user:a; user:b; user:c", []llm.Message{user("d")},
			2, "user:c; user:d"},
		{"the newest item stays however small the bound", "", []llm.Message{user("x y"), user("z")},
			1, "user:z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ds, err := drain(t, New(Options{}).Stream(ctx, llm.SummaryRequest("m", tt.previous, tt.msgs, tt.maxTokens)))
			if err != nil {
				t.Fatalf("Err() = %v", err)
			}
			got, n := textOf(ds)
			if got != tt.want {
				t.Fatalf("summary = %q, want %q", got, tt.want)
			}
			if u := ds[n].Usage; u.OutputTokens != len(strings.Fields(tt.want)) || u.InputTokens == 0 {
				t.Errorf("usage %+v; want one output token per word and the input counted", u)
			}
		})
	}
}
