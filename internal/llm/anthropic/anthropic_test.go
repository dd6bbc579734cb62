package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/text"
)

func userRequest(text string) *llm.Request {
	return &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: text}}}
}

func asLLMError(t *testing.T, err error) *llm.Error {
	t.Helper()
	var e *llm.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *llm.Error", err, err)
	}
	return e
}

func TestStream_CollectsRepliesFromRealEventSequences(t *testing.T) {
	weatherFragments := []string{"", `{"location":`, ` "San`, ` Francisc`, `o, CA"`, `, `, `"unit": "fah`, `renheit"}`}
	var toolFrames []frame
	toolFrames = append(toolFrames, messageStart(472, 0, 0), toolStart(0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather"))
	for _, f := range weatherFragments {
		toolFrames = append(toolFrames, jsonDelta(0, f))
	}
	toolFrames = append(toolFrames, blockStop(0), messageDelta("tool_use", 89), messageStop())

	tests := []struct {
		name string
		body string
		want llm.Response
	}{
		{
			name: "plain text",
			body: textReply("Hello", "! How can", " I help?"),
			want: llm.Response{Text: "Hello! How can I help?", FinishReason: llm.FinishStop, Usage: llm.Usage{InputTokens: 25, OutputTokens: 15}},
		},
		{
			name: "tool_use input in many partial_json fragments",
			body: sse(toolFrames...),
			want: llm.Response{
				ToolCalls:    []llm.ToolCall{{ID: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", Name: "get_weather", Arguments: json.RawMessage(`{"location": "San Francisco, CA", "unit": "fahrenheit"}`)}},
				FinishReason: llm.FinishToolCalls,
				Usage:        llm.Usage{InputTokens: 472, OutputTokens: 89},
			},
		},
		{
			name: "text then two tool_uses numbered by ordinal",
			body: sse(
				messageStart(500, 0, 0),
				textStart(0), ping(), textDelta(0, "Let me check"), textDelta(0, " both."), blockStop(0),
				toolStart(1, "toolu_A", "get_weather"), jsonDelta(1, ""), jsonDelta(1, `{"city":`), jsonDelta(1, `"Paris"}`), blockStop(1),
				toolStart(2, "toolu_B", "get_time"), jsonDelta(2, `{"tz":"Europe/Paris"}`), blockStop(2),
				messageDelta("tool_use", 120), messageStop(),
			),
			want: llm.Response{
				Text: "Let me check both.",
				ToolCalls: []llm.ToolCall{
					{ID: "toolu_A", Name: "get_weather", Arguments: json.RawMessage(`{"city":"Paris"}`)},
					{ID: "toolu_B", Name: "get_time", Arguments: json.RawMessage(`{"tz":"Europe/Paris"}`)},
				},
				FinishReason: llm.FinishToolCalls,
				Usage:        llm.Usage{InputTokens: 500, OutputTokens: 120},
			},
		},
		{
			name: "tool without arguments gets an empty object",
			body: sse(messageStart(30, 0, 0), toolStart(0, "toolu_C", "now"), jsonDelta(0, ""), blockStop(0), messageDelta("tool_use", 12), messageStop()),
			want: llm.Response{
				ToolCalls:    []llm.ToolCall{{ID: "toolu_C", Name: "now", Arguments: json.RawMessage(`{}`)}},
				FinishReason: llm.FinishToolCalls,
				Usage:        llm.Usage{InputTokens: 30, OutputTokens: 12},
			},
		},
		{
			name: "usage with cache read and cache creation tokens",
			body: sse(messageStart(12, 2048, 512), textStart(0), textDelta(0, "cached"), blockStop(0), messageDelta("end_turn", 7), messageStop()),
			want: llm.Response{Text: "cached", FinishReason: llm.FinishStop, Usage: llm.Usage{InputTokens: 12, OutputTokens: 7, CacheReadTokens: 2048, CacheWriteTokens: 512}},
		},
		{
			name: "max_tokens stop is length",
			body: sse(messageStart(10, 0, 0), textStart(0), textDelta(0, "cut"), blockStop(0), messageDelta("max_tokens", 4096), messageStop()),
			want: llm.Response{Text: "cut", FinishReason: llm.FinishLength, Usage: llm.Usage{InputTokens: 10, OutputTokens: 4096}},
		},
		{
			name: "refusal stop is content_filter",
			body: sse(messageStart(10, 0, 0), messageDelta("refusal", 3), messageStop()),
			want: llm.Response{FinishReason: llm.FinishFiltered, Usage: llm.Usage{InputTokens: 10, OutputTokens: 3}},
		},
		{
			name: "thinking blocks and unknown events are skipped",
			body: sse(
				messageStart(10, 0, 0),
				frame{"content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}`},
				frame{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}`},
				frame{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQB"}}`},
				blockStop(0),
				frame{"future_event", `{"type":"future_event","x":1}`},
				textStart(1), textDelta(1, "answer"), blockStop(1),
				messageDelta("end_turn", 9), messageStop(),
			),
			want: llm.Response{Text: "answer", FinishReason: llm.FinishStop, Usage: llm.Usage{InputTokens: 10, OutputTokens: 9}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := newTestProvider(t, serveBody(tt.body))
			got, err := llm.Collect(p.Stream(t.Context(), userRequest("hi")))
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("response:\n got %+v\nwant %+v", got, tt.want)
			}
			for _, tc := range got.ToolCalls {
				var v map[string]any
				if err := json.Unmarshal(tc.Arguments, &v); err != nil {
					t.Errorf("tool call %s arguments %s are not a JSON object: %v", tc.ID, tc.Arguments, err)
				}
			}
		})
	}
}

func TestStream_DeltasArriveInWireOrder(t *testing.T) {
	p, _ := newTestProvider(t, serveBody(sse(
		messageStart(5, 0, 0), textStart(0), textDelta(0, "a"), blockStop(0),
		toolStart(1, "toolu_X", "f"), jsonDelta(1, `{"k":1}`), blockStop(1),
		messageDelta("tool_use", 6), messageStop(),
	)))
	s := p.Stream(t.Context(), userRequest("hi"))
	defer s.Close()
	var got []llm.Delta
	for s.Next() {
		got = append(got, s.Current())
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Err: %v", err)
	}
	want := []llm.Delta{
		{Kind: llm.DeltaUsage, Usage: llm.Usage{InputTokens: 5, OutputTokens: 1}},
		{Kind: llm.DeltaText, Text: "a"},
		{Kind: llm.DeltaToolCall, ToolCall: llm.ToolCallDelta{Index: 0, ID: "toolu_X", Name: "f"}},
		{Kind: llm.DeltaToolCall, ToolCall: llm.ToolCallDelta{Index: 0, Arguments: `{"k":1}`}},
		{Kind: llm.DeltaUsage, Usage: llm.Usage{OutputTokens: 6}},
		{Kind: llm.DeltaFinish, FinishReason: llm.FinishToolCalls},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deltas:\n got %+v\nwant %+v", got, want)
	}
	if s.Next() {
		t.Error("Next after the end returned true")
	}
}

func TestStream_ErrorEventMidStreamDeliversPartialTextThenTypedError(t *testing.T) {
	tests := []struct {
		name      string
		errType   string
		wantCode  llm.ErrorCode
		retryable bool
	}{
		{"overloaded", "overloaded_error", llm.CodeUnavailable, true},
		{"api error", "api_error", llm.CodeUnavailable, true},
		{"rate limit", "rate_limit_error", llm.CodeRateLimited, true},
		{"invalid request", "invalid_request_error", llm.CodeInvalidRequest, false},
		{"authentication", "authentication_error", llm.CodeAuth, false},
		{"unknown type", "brand_new_error", llm.CodeModel, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := newTestProvider(t, serveBody(sse(
				messageStart(25, 0, 0), textStart(0), textDelta(0, "The answer"), textDelta(0, " is"),
				errorEvent(tt.errType, "Overloaded"),
			)))
			got, err := llm.Collect(p.Stream(t.Context(), userRequest("hi")))
			if got.Text != "The answer is" {
				t.Errorf("partial text = %q, want %q", got.Text, "The answer is")
			}
			e := asLLMError(t, err)
			if e.Code != tt.wantCode || e.Retryable() != tt.retryable {
				t.Errorf("code %s retryable %v, want %s %v (%v)", e.Code, e.Retryable(), tt.wantCode, tt.retryable, e)
			}
			if e.Status != 0 {
				t.Errorf("status = %d, want 0 for an in-stream error", e.Status)
			}
			if !strings.Contains(e.Message, tt.errType) {
				t.Errorf("message %q does not name the error type %q", e.Message, tt.errType)
			}
		})
	}
}

func TestStream_HTTPErrorsAreTyped(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		wantCode llm.ErrorCode
	}{
		{"429 rate limit", 429, errorBody("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"), llm.CodeRateLimited},
		{"529 overloaded", 529, errorBody("overloaded_error", "Overloaded"), llm.CodeUnavailable},
		{"500 api error", 500, errorBody("api_error", "Internal server error"), llm.CodeUnavailable},
		{"502 from a proxy with an HTML body", 502, "<html><body>Bad Gateway</body></html>", llm.CodeUnavailable},
		{"401 authentication", 401, errorBody("authentication_error", "invalid x-api-key"), llm.CodeAuth},
		{"403 permission", 403, errorBody("permission_error", "Your API key does not have permission to use the specified resource."), llm.CodeAuth},
		{"400 invalid request", 400, errorBody("invalid_request_error", "messages: roles must alternate"), llm.CodeInvalidRequest},
		{"404 unknown model", 404, errorBody("not_found_error", "model: claude-nope"), llm.CodeInvalidRequest},
		{"413 too large with no known type", 413, errorBody("request_too_large", "Request exceeds the maximum allowed number of bytes."), llm.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, hits := newTestProvider(t, func(w http.ResponseWriter, r *http.Request) { writeError(w, tt.status, tt.body) })
			s := p.Stream(t.Context(), userRequest("hi"))
			if s.Next() {
				t.Fatal("Next returned true on an error response")
			}
			e := asLLMError(t, s.Err())
			if e.Code != tt.wantCode || e.Status != tt.status || e.Provider != ProviderName {
				t.Errorf("got %s status %d provider %q, want %s status %d", e.Code, e.Status, e.Provider, tt.wantCode, tt.status)
			}
			if n := hits.Load(); n != 1 {
				t.Errorf("server saw %d requests, want 1: the SDK must not retry", n)
			}
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func TestStream_RateLimitedCallFailsOnceThenNextCallSucceeds(t *testing.T) {
	var calls int
	p, hits := newTestProvider(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			w.Header().Set("retry-after", "1")
			writeError(w, http.StatusTooManyRequests, errorBody("rate_limit_error", "rate limited"))
			return
		}
		writeSSE(w, textReply("ok"))
	})
	_, err := llm.Collect(p.Stream(t.Context(), userRequest("hi")))
	if e := asLLMError(t, err); e.Code != llm.CodeRateLimited || !llm.IsRetryable(err) {
		t.Fatalf("first call: %v, want retryable rate_limited", err)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("after the first call the server saw %d requests, want 1", n)
	}
	got, err := llm.Collect(p.Stream(t.Context(), userRequest("hi")))
	if err != nil || got.Text != "ok" {
		t.Fatalf("second call: %q, %v; want \"ok\", nil", got.Text, err)
	}
}

func TestStream_AuthErrorNeverContainsAPIKey(t *testing.T) {
	// A server (or proxy) that echoes the key back must not get it into our errors.
	p, _ := newTestProvider(t, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusUnauthorized, errorBody("authentication_error", "invalid x-api-key "+testKey))
	})
	_, err := llm.Collect(p.Stream(t.Context(), userRequest("hi")))
	e := asLLMError(t, err)
	if e.Code != llm.CodeAuth || e.Status != 401 {
		t.Fatalf("got %s %d, want auth 401", e.Code, e.Status)
	}
	for err := error(e); err != nil; err = errors.Unwrap(err) {
		for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
			if strings.Contains(text, testKey) || strings.Contains(text, "TESTKEY") {
				t.Fatalf("error text contains the API key: %s", text)
			}
		}
	}
	if !strings.Contains(e.Message, "[redacted]") {
		t.Errorf("message %q: want the echoed key replaced by [redacted]", e.Message)
	}
}

func TestStream_CancelStopsRequestPromptly(t *testing.T) {
	handlerDone := make(chan struct{})
	p, _ := newTestProvider(t, func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		writeSSE(w, sse(messageStart(5, 0, 0), textStart(0), textDelta(0, "first")))
		<-r.Context().Done() // hold the stream open, as a slow model would
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := p.Stream(ctx, userRequest("hi"))
	defer s.Close()
	var text string
	for s.Next() {
		if d := s.Current(); d.Kind == llm.DeltaText {
			text += d.Text
			cancel()
		}
	}
	if text != "first" {
		t.Errorf("text before cancel = %q, want %q", text, "first")
	}
	e := asLLMError(t, s.Err())
	if e.Code != llm.CodeCancelled || !errors.Is(e, context.Canceled) {
		t.Errorf("got %v, want cancelled wrapping context.Canceled", e)
	}
	<-handlerDone // the server saw the client go away: nothing is left reading
}

func TestStream_CloseMidStreamReleasesConnectionAndIsIdempotent(t *testing.T) {
	handlerDone := make(chan struct{})
	p, _ := newTestProvider(t, func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		writeSSE(w, sse(messageStart(5, 0, 0), textStart(0), textDelta(0, "one")))
		<-r.Context().Done()
	})
	s := p.Stream(t.Context(), userRequest("hi"))
	for s.Next() {
		if s.Current().Kind == llm.DeltaText {
			break
		}
	}
	for i := range 3 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if s.Next() {
		t.Error("Next after Close returned true")
	}
	if err := s.Err(); err != nil {
		t.Errorf("Err after Close = %v, want nil", err)
	}
	<-handlerDone
}

func TestStream_BadStreamsAreTypedErrors(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantText string
		wantCode llm.ErrorCode
	}{
		{
			name:     "frame that is not JSON",
			body:     sse(messageStart(5, 0, 0), textStart(0), textDelta(0, "ok so far"), frame{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"br`}),
			wantText: "ok so far",
			wantCode: llm.CodeMalformed,
		},
		{
			name:     "error event that is not JSON",
			body:     sse(messageStart(5, 0, 0), frame{"error", `upstream exploded`}),
			wantCode: llm.CodeMalformed,
		},
		{
			name:     "connection closed before message_stop",
			body:     sse(messageStart(5, 0, 0), textStart(0), textDelta(0, "half")),
			wantText: "half",
			wantCode: llm.CodeUnavailable,
		},
		{
			name:     "empty 200 body",
			body:     "",
			wantCode: llm.CodeUnavailable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := newTestProvider(t, serveBody(tt.body))
			got, err := llm.Collect(p.Stream(t.Context(), userRequest("hi")))
			if got.Text != tt.wantText {
				t.Errorf("text = %q, want %q", got.Text, tt.wantText)
			}
			if e := asLLMError(t, err); e.Code != tt.wantCode {
				t.Errorf("code = %s, want %s (%v)", e.Code, tt.wantCode, e)
			}
		})
	}
}

func TestStream_ConnectionRefusedIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	p, err := New(Config{APIKey: testKey, BaseURL: url})
	if err != nil {
		t.Fatal(err)
	}
	_, err = llm.Collect(p.Stream(t.Context(), userRequest("hi")))
	if e := asLLMError(t, err); e.Code != llm.CodeUnavailable || e.Err == nil {
		t.Errorf("got %v (wrapped %v), want unavailable wrapping the transport error", e, e.Err)
	}
}

func TestStream_AlreadyCancelledContextIsCancelled(t *testing.T) {
	p, hits := newTestProvider(t, serveBody(textReply("never")))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := llm.Collect(p.Stream(ctx, userRequest("hi")))
	if e := asLLMError(t, err); e.Code != llm.CodeCancelled {
		t.Errorf("code = %s, want cancelled", e.Code)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("server saw %d requests for a cancelled context, want 0", n)
	}
}

func TestStream_InvalidRequestsFailWithoutCallingTheAPI(t *testing.T) {
	tests := []struct {
		name string
		req  *llm.Request
	}{
		{"nil request", nil},
		{"unknown role", &llm.Request{Messages: []llm.Message{{Role: "narrator", Content: "x"}}}},
		{"tool result without call id", &llm.Request{Messages: []llm.Message{{Role: llm.RoleTool, Content: "x"}}}},
		{"tool schema that is not an object", &llm.Request{
			Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}},
			Tools:    []llm.ToolSpec{{Name: "f", Parameters: json.RawMessage(`{"type":"string"}`)}},
		}},
		{"tool schema that is not JSON", &llm.Request{
			Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}},
			Tools:    []llm.ToolSpec{{Name: "f", Parameters: json.RawMessage(`{nope`)}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, hits := newTestProvider(t, serveBody(textReply("never")))
			_, err := llm.Collect(p.Stream(t.Context(), tt.req))
			if e := asLLMError(t, err); e.Code != llm.CodeInvalidRequest {
				t.Errorf("code = %s, want invalid_request (%v)", e.Code, e)
			}
			if n := hits.Load(); n != 0 {
				t.Errorf("server saw %d requests, want 0", n)
			}
		})
	}
}

func TestNew_ValidatesConfigAndAppliesDefaults(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without a key succeeded")
	} else if e := asLLMError(t, err); e.Code != llm.CodeAuth || !strings.Contains(e.Error(), "ANTHROPIC_API_KEY") {
		t.Errorf("missing key error = %v, want auth naming ANTHROPIC_API_KEY", err)
	}
	if _, err := New(Config{APIKey: "k", BaseURL: "not a url"}); err == nil {
		t.Error("New with an invalid base URL succeeded")
	}
	if _, err := New(Config{APIKey: "k", MaxTokensDefault: -1}); err == nil {
		t.Error("New with negative MaxTokensDefault succeeded")
	}
	p, err := New(Config{APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if p.model != DefaultModel || p.maxTokens != DefaultMaxTokens || p.Name() != "anthropic" {
		t.Errorf("defaults: model %q max %d name %q", p.model, p.maxTokens, p.Name())
	}
}

func TestConfigFromEnv_ReadsAnthropicVariables(t *testing.T) {
	env := map[string]string{
		"ANTHROPIC_API_KEY":  "sk-env",
		"ANTHROPIC_BASE_URL": "http://127.0.0.1:9999",
		"ANTHROPIC_MODEL":    "claude-haiku-5-5",
		"OPENAI_API_KEY":     "unrelated",
	}
	got := ConfigFromEnv(func(k string) string { return env[k] })
	want := Config{APIKey: "sk-env", BaseURL: "http://127.0.0.1:9999", Model: "claude-haiku-5-5"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ConfigFromEnv = %+v, want %+v", got, want)
	}
}

func TestNew_IgnoresSDKEnvironmentDefaults(t *testing.T) {
	// The SDK would otherwise read these itself; configuration must come from Config
	// only, so ConfigFromEnv stays the one place the environment is read.
	t.Setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:1")
	t.Setenv("ANTHROPIC_CUSTOM_HEADERS", "X-Leaked-Header: yes")
	t.Setenv("ANTHROPIC_AUTH_TOKEN", "env-token")
	var header http.Header
	p, _ := newTestProvider(t, func(w http.ResponseWriter, r *http.Request) {
		header = r.Header.Clone()
		writeSSE(w, textReply("ok"))
	})
	got, err := llm.Collect(p.Stream(t.Context(), userRequest("hi")))
	if err != nil || got.Text != "ok" {
		t.Fatalf("Collect = %q, %v; want the configured server to answer", got.Text, err)
	}
	if header.Get("X-Leaked-Header") != "" || header.Get("Authorization") != "" || header.Get("X-Api-Key") != testKey {
		t.Errorf("environment leaked into the request: %v", header)
	}
}

func FuzzStream_AnyBodyEndsWithDeltasOrTypedError(f *testing.F) {
	f.Add(textReply("Hello", " world"))
	f.Add(sse(messageStart(1, 2, 3), toolStart(0, "toolu_1", "f"), jsonDelta(0, `{"a":`), jsonDelta(0, `1}`), blockStop(0), messageDelta("tool_use", 4), messageStop()))
	f.Add(sse(messageStart(1, 0, 0), textStart(0), textDelta(0, "x"), errorEvent("overloaded_error", "Overloaded")))
	f.Add("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":7,\"delta\":{\"type\":\"input_json_delta\"}}\n\n")
	f.Add("data: {\n\n")
	f.Fuzz(func(t *testing.T, body string) {
		p, err := New(Config{APIKey: testKey, BaseURL: "http://127.0.0.1:1", HTTPClient: &http.Client{Transport: replayTransport{body: []byte(body)}}})
		if err != nil {
			t.Fatal(err)
		}
		s := p.Stream(t.Context(), userRequest("hi"))
		for s.Next() {
			if d := s.Current(); d.Kind < llm.DeltaText || d.Kind > llm.DeltaFinish {
				t.Fatalf("delta of unknown kind %d", d.Kind)
			}
		}
		if err := s.Err(); err != nil {
			var e *llm.Error
			if !errors.As(err, &e) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			if strings.Contains(e.Error(), testKey) {
				t.Fatalf("error contains the key: %v", e)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
}

// An undecodable error event is quoted cut short: after the key is redacted (a key
// straddling the cut must not leave its prefix), on a character boundary, marked.
func TestStream_LongUndecodableErrorIsCutAfterTheKeyIsRedacted(t *testing.T) {
	raw := strings.Repeat("x", 190) + testKey + strings.Repeat("é", 200)
	p, _ := newTestProvider(t, serveBody(sse(messageStart(5, 0, 0), frame{"error", raw})))
	_, err := llm.Collect(p.Stream(t.Context(), userRequest("hi")))
	e := asLLMError(t, err)
	if e.Code != llm.CodeMalformed {
		t.Fatalf("code = %s, want %s", e.Code, llm.CodeMalformed)
	}
	if strings.Contains(e.Message, testKey[:8]) {
		t.Fatalf("message %q holds the start of the API key", e.Message)
	}
	quoted := e.Message[strings.Index(e.Message, "xxx"):]
	if len(quoted) > 200 || !utf8.ValidString(quoted) || !strings.HasSuffix(quoted, text.Marker) {
		t.Fatalf("quoted %d bytes %q, want at most 200 on a character boundary ending with the marker", len(quoted), quoted)
	}
}
