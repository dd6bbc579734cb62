package openai

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/llm"
)

type wantCall struct{ id, name, args string }

func TestStream_CollectsReplayedOpenAIStreams(t *testing.T) {
	tests := []struct {
		name       string
		frames     []string
		wantText   string
		wantCalls  []wantCall
		wantFinish string
		wantUsage  llm.Usage
		wantCode   llm.ErrorCode // "" means success
	}{
		{
			name: "plain text",
			frames: []string{roleChunk(), textChunk("Hello"), textChunk(", wor"), textChunk("ld! ✓"),
				finishChunk("stop"), usageChunk(12, 4, 0), done},
			wantText: "Hello, world! ✓", wantFinish: llm.FinishStop,
			wantUsage: llm.Usage{InputTokens: 12, OutputTokens: 4},
		},
		{
			name: "tool call split across many fragments",
			frames: []string{toolStart(0, "call_DdmO9pD3xa9XTPNJ32zg2hcA", "get_weather"),
				toolArgs(0, `{"`), toolArgs(0, `loc`), toolArgs(0, `ation":"`), toolArgs(0, `Paris,`), toolArgs(0, ` France`),
				toolArgs(0, `","unit":"c`), toolArgs(0, `elsius"}`),
				finishChunk("tool_calls"), usageChunk(80, 21, 0), done},
			wantCalls:  []wantCall{{"call_DdmO9pD3xa9XTPNJ32zg2hcA", "get_weather", `{"location":"Paris, France","unit":"celsius"}`}},
			wantFinish: llm.FinishToolCalls, wantUsage: llm.Usage{InputTokens: 80, OutputTokens: 21},
		},
		{
			// OpenAI streams parallel calls one after the other, each with its index.
			name: "two parallel tool calls",
			frames: []string{toolStart(0, "call_a", "get_weather"), toolArgs(0, `{"location":`), toolArgs(0, `"Paris"}`),
				toolStart(1, "call_b", "get_time"), toolArgs(1, `{"tz":"Europe/`), toolArgs(1, `Paris"}`),
				finishChunk("tool_calls"), usageChunk(90, 40, 0), done},
			wantCalls: []wantCall{
				{"call_a", "get_weather", `{"location":"Paris"}`},
				{"call_b", "get_time", `{"tz":"Europe/Paris"}`},
			},
			wantFinish: llm.FinishToolCalls, wantUsage: llm.Usage{InputTokens: 90, OutputTokens: 40},
		},
		{
			name:     "usage chunk with cached tokens",
			frames:   []string{roleChunk(), textChunk("ok"), finishChunk("stop"), usageChunk(2006, 300, 1920), done},
			wantText: "ok", wantFinish: llm.FinishStop,
			wantUsage: llm.Usage{InputTokens: 86 /* 2006 prompt - 1920 cached */, OutputTokens: 300, CacheReadTokens: 1920},
		},
		{
			name: "text then tool call in one reply",
			frames: []string{roleChunk(), textChunk("Let me check."), toolStart(0, "call_x", "search"),
				toolArgs(0, `{"q":"go"}`), finishChunk("tool_calls"), done},
			wantText: "Let me check.", wantCalls: []wantCall{{"call_x", "search", `{"q":"go"}`}},
			wantFinish: llm.FinishToolCalls,
		},
		{
			name: "whole tool call in one chunk and finish stop, as Ollama sends it",
			frames: []string{
				`{"id":"chatcmpl-420","object":"chat.completion.chunk","created":1730000000,"model":"llama3.1","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":"","tool_calls":[{"id":"call_0t7v","index":0,"type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},"finish_reason":null}]}`,
				`{"id":"chatcmpl-420","object":"chat.completion.chunk","created":1730000000,"model":"llama3.1","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"stop"}]}`,
				`{"id":"chatcmpl-420","object":"chat.completion.chunk","created":1730000000,"model":"llama3.1","system_fingerprint":"fp_ollama","choices":[],"usage":{"prompt_tokens":150,"completion_tokens":18,"total_tokens":168}}`,
				done},
			wantCalls:  []wantCall{{"call_0t7v", "get_weather", `{"city":"Oslo"}`}},
			wantFinish: llm.FinishToolCalls, wantUsage: llm.Usage{InputTokens: 150, OutputTokens: 18},
		},
		{
			name:     "length finish",
			frames:   []string{roleChunk(), textChunk("Once upon"), finishChunk("length"), done},
			wantText: "Once upon", wantFinish: llm.FinishLength,
		},
		{
			name:     "content filter finish",
			frames:   []string{roleChunk(), finishChunk("content_filter"), done},
			wantText: "", wantFinish: llm.FinishFiltered,
		},
		{
			name:     "refusal streams as text",
			frames:   []string{roleChunk(), chunk(`{"refusal":"I can't help with that."}`, ""), finishChunk("stop"), done},
			wantText: "I can't help with that.", wantFinish: llm.FinishStop,
		},
		{
			name: "error object mid-stream keeps partial text",
			frames: []string{roleChunk(), textChunk("Partial "), textChunk("answer"),
				`{"error":{"message":"The model produced invalid content.","type":"model_error","param":null,"code":null}}`},
			wantText: "Partial answer", wantCode: llm.CodeModel,
		},
		{
			name: "server_error object mid-stream is unavailable",
			frames: []string{roleChunk(), textChunk("Hi"),
				`{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}`},
			wantText: "Hi", wantCode: llm.CodeUnavailable,
		},
		{
			name:     "rate limit object before any token",
			frames:   []string{`{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`},
			wantCode: llm.CodeRateLimited,
		},
		{
			name:     "malformed frame after text",
			frames:   []string{roleChunk(), textChunk("Hel"), chunkPrefix + `{"content":"lo"`, textChunk("never")},
			wantText: "Hel", wantCode: llm.CodeMalformed,
		},
		{
			name:     "frame that is not JSON at all",
			frames:   []string{roleChunk(), "<html>bad gateway</html>"},
			wantCode: llm.CodeMalformed,
		},
		{
			name:     "body ends without a finish reason",
			frames:   []string{roleChunk(), textChunk("cut sh")},
			wantText: "cut sh", wantCode: llm.CodeUnavailable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, streamServer(t, tt.frames...))
			resp, err := llm.Collect(p.Stream(context.Background(), userRequest("hi")))
			if resp.Text != tt.wantText {
				t.Errorf("text = %q, want %q", resp.Text, tt.wantText)
			}
			if tt.wantCode != "" {
				if got := errCode(t, err); got.Code != tt.wantCode || got.Provider != "openai" {
					t.Fatalf("error = %v (code %s), want code %s", err, got.Code, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			if resp.FinishReason != tt.wantFinish {
				t.Errorf("finish = %q, want %q", resp.FinishReason, tt.wantFinish)
			}
			if resp.Usage != tt.wantUsage {
				t.Errorf("usage = %+v, want %+v", resp.Usage, tt.wantUsage)
			}
			if len(resp.ToolCalls) != len(tt.wantCalls) {
				t.Fatalf("tool calls = %+v, want %d", resp.ToolCalls, len(tt.wantCalls))
			}
			for i, w := range tt.wantCalls {
				got := resp.ToolCalls[i]
				if got.ID != w.id || got.Name != w.name || string(got.Arguments) != w.args {
					t.Errorf("call %d = {%s %s %s}, want {%s %s %s}", i, got.ID, got.Name, got.Arguments, w.id, w.name, w.args)
				}
			}
		})
	}
}

func TestStream_DeltaSequenceForTextReply(t *testing.T) {
	p := newProvider(t, streamServer(t, roleChunk(), textChunk("a"), textChunk("b"), finishChunk("stop"), usageChunk(3, 2, 1), done))
	deltas, err := drain(p.Stream(context.Background(), userRequest("hi")))
	if err != nil {
		t.Fatal(err)
	}
	want := []llm.Delta{
		{Kind: llm.DeltaText, Text: "a"},
		{Kind: llm.DeltaText, Text: "b"},
		{Kind: llm.DeltaFinish, FinishReason: llm.FinishStop},
		{Kind: llm.DeltaUsage, Usage: llm.Usage{InputTokens: 2 /* 3 prompt - 1 cached */, OutputTokens: 2, CacheReadTokens: 1}},
	}
	if len(deltas) != len(want) {
		t.Fatalf("deltas = %+v, want %+v", deltas, want)
	}
	for i := range want {
		if deltas[i] != want[i] {
			t.Errorf("delta %d = %+v, want %+v", i, deltas[i], want[i])
		}
	}
}

func TestStream_ToolFragmentsCarryIndexIDAndName(t *testing.T) {
	p := newProvider(t, streamServer(t, toolStart(0, "call_1", "f"), toolArgs(0, `{"a"`), toolArgs(0, `:1}`), finishChunk("tool_calls"), done))
	deltas, err := drain(p.Stream(context.Background(), userRequest("hi")))
	if err != nil {
		t.Fatal(err)
	}
	want := []llm.ToolCallDelta{{Index: 0, ID: "call_1", Name: "f"}, {Arguments: `{"a"`}, {Arguments: `:1}`}}
	for i, w := range want {
		if deltas[i].Kind != llm.DeltaToolCall || deltas[i].ToolCall != w {
			t.Errorf("delta %d = %+v, want tool call %+v", i, deltas[i], w)
		}
	}
}

// Interleaved fragments are checked as deltas, not through llm.Collect: the
// Accumulator copies strings.Builders when its call slice grows and panics on them
// (reported; llm is not this package's to change).
func TestStream_InterleavedToolCallsKeepTheirIndex(t *testing.T) {
	p := newProvider(t, streamServer(t, toolStart(0, "call_a", "a"), toolStart(1, "call_b", "b"),
		toolArgs(1, `{"y"`), toolArgs(0, `{"x"`), toolArgs(0, `:1}`), toolArgs(1, `:2}`), finishChunk("tool_calls"), done))
	deltas, err := drain(p.Stream(context.Background(), userRequest("hi")))
	if err != nil {
		t.Fatal(err)
	}
	args := map[int]string{}
	ids := map[int]string{}
	for _, d := range deltas {
		if d.Kind == llm.DeltaToolCall {
			args[d.ToolCall.Index] += d.ToolCall.Arguments
			ids[d.ToolCall.Index] += d.ToolCall.ID
		}
	}
	if args[0] != `{"x":1}` || args[1] != `{"y":2}` || ids[0] != "call_a" || ids[1] != "call_b" {
		t.Errorf("calls by index: ids %v args %v", ids, args)
	}
}

func TestStream_ConnectionDropMidStreamIsUnavailableAfterPartialText(t *testing.T) {
	rec := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		writeSSEHeader(w)
		writeFrames(w, roleChunk(), textChunk("The answer is"))
		panic(http.ErrAbortHandler) // net/http drops the connection without ending the chunked body
	})
	p := newProvider(t, rec)
	var texts []string
	s := p.Stream(context.Background(), userRequest("hi"))
	for s.Next() {
		texts = append(texts, s.Current().Text)
	}
	err := s.Err()
	if got := strings.Join(texts, ""); got != "The answer is" {
		t.Errorf("partial text = %q, want %q", got, "The answer is")
	}
	le := errCode(t, err)
	if le.Code != llm.CodeUnavailable || !le.Retryable() {
		t.Errorf("error = %v, want retryable unavailable", err)
	}
}

func TestStream_HTTPErrorStatusesAreTyped(t *testing.T) {
	tests := []struct {
		status   int
		ctype    string
		body     string
		wantCode llm.ErrorCode
		wantMsg  string
	}{
		{429, "application/json", `{"error":{"message":"Rate limit reached for gpt-4o-mini in organization org-abc on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`, llm.CodeRateLimited, "Rate limit reached"},
		{401, "application/json", `{"error":{"message":"Incorrect API key provided: ` + testKey + `. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, llm.CodeAuth, "Incorrect API key provided"},
		{403, "application/json", `{"error":{"message":"Project does not have access to model gpt-4o","type":"invalid_request_error","param":null,"code":"model_not_found"}}`, llm.CodeAuth, "does not have access"},
		{400, "application/json", `{"error":{"message":"Invalid 'messages[1].content': string too long.","type":"invalid_request_error","param":"messages[1].content","code":"string_above_max_length"}}`, llm.CodeInvalidRequest, "string too long"},
		{404, "application/json", `{"error":{"message":"The model 'gpt-9' does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}`, llm.CodeInvalidRequest, "does not exist"},
		{422, "application/json", `{"object":"error","message":"[{'type': 'missing'}]","type":"BadRequestError","param":null,"code":422}`, llm.CodeInvalidRequest, ""},
		{500, "application/json", `{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}`, llm.CodeUnavailable, "server had an error"},
		{502, "text/html", `<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>`, llm.CodeUnavailable, ""},
		{503, "application/json", `{"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error","param":null,"code":null}}`, llm.CodeUnavailable, "overloaded"},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			rec := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			p := newProvider(t, rec)
			deltas, err := drain(p.Stream(context.Background(), userRequest("hi")))
			if len(deltas) != 0 {
				t.Errorf("got deltas %+v from an error response", deltas)
			}
			le := errCode(t, err)
			if le.Code != tt.wantCode || le.Status != tt.status {
				t.Errorf("error = %v (code %s, status %d), want code %s status %d", err, le.Code, le.Status, tt.wantCode, tt.status)
			}
			if !strings.Contains(le.Message, tt.wantMsg) {
				t.Errorf("message %q does not contain %q", le.Message, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "TESTKEY") {
				t.Errorf("error text leaks the API key: %q", err.Error())
			}
			if n := rec.count(); n != 1 {
				t.Errorf("server saw %d requests, want 1 (SDK retries must be off)", n)
			}
		})
	}
}

func TestStream_RateLimitedThenRetrySucceeds(t *testing.T) {
	rec := newServer(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 0 {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`))
			return
		}
		writeSSEHeader(w)
		writeFrames(w, roleChunk(), textChunk("second time lucky"), finishChunk("stop"), done)
	})
	p := newProvider(t, rec)

	_, err := llm.Collect(p.Stream(context.Background(), userRequest("hi")))
	if le := errCode(t, err); le.Code != llm.CodeRateLimited || !llm.IsRetryable(err) {
		t.Fatalf("first call error = %v, want retryable rate_limited", err)
	}
	if n := rec.count(); n != 1 {
		t.Fatalf("after the first call the server saw %d requests, want 1", n)
	}
	resp, err := llm.Collect(p.Stream(context.Background(), userRequest("hi")))
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if resp.Text != "second time lucky" {
		t.Errorf("retry text = %q", resp.Text)
	}
}

func TestStream_ConnectionRefusedIsUnavailable(t *testing.T) {
	rec := newServer(t, func(http.ResponseWriter, *http.Request, int) {})
	p := newProvider(t, rec)
	rec.srv.Close()
	_, err := llm.Collect(p.Stream(context.Background(), userRequest("hi")))
	if le := errCode(t, err); le.Code != llm.CodeUnavailable {
		t.Errorf("error = %v, want unavailable", err)
	}
}

// slowServer sends one token, then holds the stream open until the client leaves;
// gone is closed when the handler sees the request context end.
func slowServer(t *testing.T) (*recorder, chan struct{}) {
	gone := make(chan struct{})
	rec := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		defer close(gone)
		writeSSEHeader(w)
		writeFrames(w, roleChunk(), textChunk("first"))
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second): // only so a broken client cannot hang the suite
		}
	})
	return rec, gone
}

func waitGone(t *testing.T, gone chan struct{}) {
	t.Helper()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("server never saw the client go away")
	}
}

func TestStream_CancelStopsRequestAndReportsCancelled(t *testing.T) {
	rec, gone := slowServer(t)
	p := newProvider(t, rec)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	s := p.Stream(ctx, userRequest("hi"))
	defer s.Close()
	if !s.Next() || s.Current().Text != "first" {
		t.Fatalf("first delta = %+v, err %v", s.Current(), s.Err())
	}
	go func() {
		// cancel while Next is blocked reading, as the executor does when a client leaves
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	if s.Next() {
		t.Fatalf("Next returned %+v after cancel", s.Current())
	}
	if le := errCode(t, s.Err()); le.Code != llm.CodeCancelled {
		t.Errorf("error = %v, want cancelled", s.Err())
	}
	waitGone(t, gone)
}

func TestStream_CancelBeforeResponseHeaders(t *testing.T) {
	started := make(chan struct{})
	rec := newServer(t, func(_ http.ResponseWriter, r *http.Request, _ int) {
		close(started)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	p := newProvider(t, rec)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	_, err := llm.Collect(p.Stream(ctx, userRequest("hi")))
	if le := errCode(t, err); le.Code != llm.CodeCancelled {
		t.Errorf("error = %v, want cancelled", err)
	}
}

func TestStream_DeadlineIsTimeout(t *testing.T) {
	rec, gone := slowServer(t)
	p := newProvider(t, rec)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	resp, err := llm.Collect(p.Stream(ctx, userRequest("hi")))
	if resp.Text != "first" {
		t.Errorf("text = %q, want the token sent before the deadline", resp.Text)
	}
	if le := errCode(t, err); le.Code != llm.CodeTimeout {
		t.Errorf("error = %v, want timeout", err)
	}
	waitGone(t, gone)
}

func TestStream_CloseReleasesConnectionAndGoroutines(t *testing.T) {
	rec, gone := slowServer(t)
	p := newProvider(t, rec)
	before := runtime.NumGoroutine()

	s := p.Stream(context.Background(), userRequest("hi"))
	if !s.Next() {
		t.Fatalf("no first delta: %v", s.Err())
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if s.Next() {
		t.Error("Next after Close returned true")
	}
	if s.Err() != nil {
		t.Errorf("Err after an early Close = %v, want nil", s.Err())
	}
	waitGone(t, gone)

	rec.srv.Client().CloseIdleConnections()
	after := runtime.NumGoroutine()
	for i := 0; i < 200 && after > before; i++ {
		time.Sleep(10 * time.Millisecond)
		after = runtime.NumGoroutine()
	}
	if after > before {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d before, %d after Close\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

func TestStream_ErrorsNeverContainTheKey(t *testing.T) {
	// The worst case: a server that echoes the whole key, in a 401 and mid-stream.
	rec := newServer(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"message":"bad key ` + testKey + ` (also sk-otherkey_123*** and Bearer ` + testKey + `)","type":"invalid_request_error","code":"invalid_api_key"}}`))
			return
		}
		writeSSEHeader(w)
		writeFrames(w, `{"error":{"message":"key `+testKey+` revoked","type":"invalid_request_error","code":"invalid_api_key"}}`)
	})
	p := newProvider(t, rec)
	for i, wantCode := range []llm.ErrorCode{llm.CodeAuth, llm.CodeAuth} {
		_, err := llm.Collect(p.Stream(context.Background(), userRequest("hi")))
		le := errCode(t, err)
		if le.Code != wantCode {
			t.Errorf("call %d: code %s, want %s", i, le.Code, wantCode)
		}
		for _, secret := range []string{testKey, "TESTKEY", "sk-otherkey"} {
			if strings.Contains(err.Error(), secret) || strings.Contains(le.Message, secret) {
				t.Errorf("call %d: error %q contains %q", i, err.Error(), secret)
			}
		}
	}
}

func TestStream_InvalidRequestFailsWithoutRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		req  *llm.Request
	}{
		{"nil request", nil},
		{"unknown role", &llm.Request{Messages: []llm.Message{{Role: "narrator", Content: "x"}}}},
		{"tool result without call id", &llm.Request{Messages: []llm.Message{{Role: llm.RoleTool, Content: "x"}}}},
		{"tool schema is not JSON", &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}},
			Tools: []llm.ToolSpec{{Name: "t", Parameters: []byte(`{"type":`)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := streamServer(t, done)
			p := newProvider(t, rec)
			_, err := llm.Collect(p.Stream(context.Background(), tt.req))
			if le := errCode(t, err); le.Code != llm.CodeInvalidRequest {
				t.Errorf("error = %v, want invalid_request", err)
			}
			if rec.count() != 0 {
				t.Errorf("server saw %d requests, want none", rec.count())
			}
		})
	}
}

func TestStream_NoModelAnywhereIsInvalidRequest(t *testing.T) {
	rec := streamServer(t, done)
	p, err := New(Config{BaseURL: rec.srv.URL + "/v1", HTTPClient: rec.srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = llm.Collect(p.Stream(context.Background(), userRequest("hi")))
	if le := errCode(t, err); le.Code != llm.CodeInvalidRequest || !strings.Contains(le.Message, "model") {
		t.Errorf("error = %v, want invalid_request about the model", err)
	}
}

var _ = errors.New
