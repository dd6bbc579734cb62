package bedrock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/smithy-go"

	"github.com/chatterhq/chatter/internal/llm"
)

func ptr[T any](v T) *T { return &v }

func asLLMError(t *testing.T, err error) *llm.Error {
	t.Helper()
	var le *llm.Error
	if !errors.As(err, &le) {
		t.Fatalf("error %v (%T) is not an *llm.Error", err, err)
	}
	return le
}

func simpleRequest() *llm.Request {
	return &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}
}

func TestStream_DecodesEventStream(t *testing.T) {
	corrupt := func(fr []byte) []byte {
		c := bytes.Clone(fr)
		c[len(c)-6] ^= 0xff // inside the payload, so the message CRC no longer matches
		return c
	}
	tests := []struct {
		name     string
		frames   func(t *testing.T) [][]byte
		want     llm.Response
		wantCode llm.ErrorCode // "" means success
	}{
		{
			name: "plain text ends with stop and usage",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{messageStart(t), textDelta(t, 0, "Hel"), textDelta(t, 0, "lo, "), textDelta(t, 0, "world"),
					blockStop(t, 0), messageStop(t, "end_turn"), metadata(t, 12, 3, 0, 0)}
			},
			want: llm.Response{Text: "Hello, world", FinishReason: llm.FinishStop, Usage: llm.Usage{InputTokens: 12, OutputTokens: 3}},
		},
		{
			name: "tool use input in six fragments becomes one tool call",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{messageStart(t), textDelta(t, 0, "Checking."), blockStop(t, 0),
					toolStart(t, 1, "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "get_weather"),
					toolDelta(t, 1, ""), toolDelta(t, 1, `{"loc`), toolDelta(t, 1, `ation": "Pa`), toolDelta(t, 1, `ris", "u`),
					toolDelta(t, 1, `nit": "celsius",`), toolDelta(t, 1, ` "days": `), toolDelta(t, 1, `3}`),
					blockStop(t, 1), messageStop(t, "tool_use"), metadata(t, 410, 88, 0, 0)}
			},
			want: llm.Response{
				Text:         "Checking.",
				ToolCalls:    []llm.ToolCall{{ID: "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", Name: "get_weather", Arguments: json.RawMessage(`{"location": "Paris", "unit": "celsius", "days": 3}`)}},
				FinishReason: llm.FinishToolCalls,
				Usage:        llm.Usage{InputTokens: 410, OutputTokens: 88},
			},
		},
		{
			name: "two tool calls keep their own arguments",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{messageStart(t),
					toolStart(t, 0, "tooluse_a", "add"), toolDelta(t, 0, `{"a":`), toolDelta(t, 0, `1}`), blockStop(t, 0),
					toolStart(t, 1, "tooluse_b", "mul"), toolDelta(t, 1, `{"b":`), toolDelta(t, 1, `2}`), blockStop(t, 1),
					messageStop(t, "tool_use"), metadata(t, 5, 6, 0, 0)}
			},
			want: llm.Response{
				ToolCalls: []llm.ToolCall{
					{ID: "tooluse_a", Name: "add", Arguments: json.RawMessage(`{"a":1}`)},
					{ID: "tooluse_b", Name: "mul", Arguments: json.RawMessage(`{"b":2}`)},
				},
				FinishReason: llm.FinishToolCalls,
				Usage:        llm.Usage{InputTokens: 5, OutputTokens: 6},
			},
		},
		{
			name: "usage carries cache read and write tokens",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{messageStart(t), textDelta(t, 0, "ok"), blockStop(t, 0), messageStop(t, "end_turn"), metadata(t, 20, 2, 1024, 256)}
			},
			want: llm.Response{Text: "ok", FinishReason: llm.FinishStop, Usage: llm.Usage{InputTokens: 20, OutputTokens: 2, CacheReadTokens: 1024, CacheWriteTokens: 256}},
		},
		{
			name: "max_tokens maps to length",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{messageStart(t), textDelta(t, 0, "trunc"), blockStop(t, 0), messageStop(t, "max_tokens"), metadata(t, 1, 1, 0, 0)}
			},
			want: llm.Response{Text: "trunc", FinishReason: llm.FinishLength, Usage: llm.Usage{InputTokens: 1, OutputTokens: 1}},
		},
		{
			name: "guardrail_intervened maps to content_filter",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{messageStart(t), messageStop(t, "guardrail_intervened"), metadata(t, 1, 0, 0, 0)}
			},
			want: llm.Response{FinishReason: llm.FinishFiltered, Usage: llm.Usage{InputTokens: 1}},
		},
		{
			name: "content_filtered maps to content_filter",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{messageStart(t), messageStop(t, "content_filtered"), metadata(t, 1, 0, 0, 0)}
			},
			want: llm.Response{FinishReason: llm.FinishFiltered, Usage: llm.Usage{InputTokens: 1}},
		},
		{
			name: "event types newer than the SDK are skipped",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{messageStart(t), evFrame(t, "futureEvent", `{"x":1}`), textDelta(t, 0, "still here"),
					blockStop(t, 0), messageStop(t, "end_turn"), metadata(t, 1, 2, 0, 0)}
			},
			want: llm.Response{Text: "still here", FinishReason: llm.FinishStop, Usage: llm.Usage{InputTokens: 1, OutputTokens: 2}},
		},
		{
			name: "throttling exception after text keeps the text and is rate_limited",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{messageStart(t), textDelta(t, 0, "partial "), textDelta(t, 0, "answer"),
					excFrame(t, "throttlingException", `{"message":"Too many tokens, please wait before trying again."}`)}
			},
			want:     llm.Response{Text: "partial answer", FinishReason: llm.FinishStop},
			wantCode: llm.CodeRateLimited,
		},
		{
			name: "validation exception in stream is invalid_request",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{messageStart(t), excFrame(t, "validationException", `{"message":"The model returned the following errors: input is too long"}`)}
			},
			want:     llm.Response{FinishReason: llm.FinishStop},
			wantCode: llm.CodeInvalidRequest,
		},
		{
			name: "model stream error is model_error",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{messageStart(t), textDelta(t, 0, "x"),
					excFrame(t, "modelStreamErrorException", `{"message":"Model stream error","originalStatusCode":424,"originalMessage":"upstream failed"}`)}
			},
			want:     llm.Response{Text: "x", FinishReason: llm.FinishStop},
			wantCode: llm.CodeModel,
		},
		{
			name: "internal server exception is unavailable",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{messageStart(t), excFrame(t, "internalServerException", `{"message":"Internal server error"}`)}
			},
			want:     llm.Response{FinishReason: llm.FinishStop},
			wantCode: llm.CodeUnavailable,
		},
		{
			name: "service unavailable exception is unavailable",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{excFrame(t, "serviceUnavailableException", `{"message":"Bedrock is unable to process your request."}`)}
			},
			want:     llm.Response{FinishReason: llm.FinishStop},
			wantCode: llm.CodeUnavailable,
		},
		{
			name: "unmodelled model timeout exception is unavailable",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{messageStart(t), excFrame(t, "modelTimeoutException", `{"message":"Model has timed out in processing the request."}`)}
			},
			want:     llm.Response{FinishReason: llm.FinishStop},
			wantCode: llm.CodeUnavailable,
		},
		{
			name: "frame with a bad CRC is malformed after the good text",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{messageStart(t), textDelta(t, 0, "good"), corrupt(textDelta(t, 0, "bad")), messageStop(t, "end_turn")}
			},
			want:     llm.Response{Text: "good", FinishReason: llm.FinishStop},
			wantCode: llm.CodeMalformed,
		},
		{
			name: "garbage JSON payload is malformed",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{messageStart(t), evFrame(t, "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":`), messageStop(t, "end_turn")}
			},
			want:     llm.Response{FinishReason: llm.FinishStop},
			wantCode: llm.CodeMalformed,
		},
		{
			name: "random bytes instead of frames are malformed",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{bytes.Repeat([]byte("<html>502 Bad Gateway</html>"), 8)}
			},
			want:     llm.Response{FinishReason: llm.FinishStop},
			wantCode: llm.CodeMalformed,
		},
		{
			name: "stream cut inside a frame before messageStop is unavailable",
			frames: func(t *testing.T) [][]byte {
				last := textDelta(t, 0, "never finished")
				return [][]byte{messageStart(t), textDelta(t, 0, "cut "), last[:len(last)/2]}
			},
			want:     llm.Response{Text: "cut ", FinishReason: llm.FinishStop},
			wantCode: llm.CodeUnavailable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBedrock(t, reply{frames: tt.frames(t)})
			got, err := llm.Collect(f.provider(Config{}).Stream(context.Background(), simpleRequest()))
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Collect error = %v", err)
				}
			} else {
				le := asLLMError(t, err)
				if le.Code != tt.wantCode || le.Provider != "bedrock" {
					t.Fatalf("error = %+v, want code %s from bedrock", le, tt.wantCode)
				}
			}
			if got.Text != tt.want.Text || got.FinishReason != tt.want.FinishReason || got.Usage != tt.want.Usage {
				t.Errorf("response = %+v, want %+v", got, tt.want)
			}
			if len(got.ToolCalls) != len(tt.want.ToolCalls) {
				t.Fatalf("tool calls = %+v, want %+v", got.ToolCalls, tt.want.ToolCalls)
			}
			for i, tc := range got.ToolCalls {
				w := tt.want.ToolCalls[i]
				if tc.ID != w.ID || tc.Name != w.Name || !jsonEqual(t, tc.Arguments, w.Arguments) {
					t.Errorf("tool call %d = %s %s %s, want %s %s %s", i, tc.ID, tc.Name, tc.Arguments, w.ID, w.Name, w.Arguments)
				}
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Errorf("invalid JSON %s: %v", a, err)
		return false
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

func TestStream_ThrottlingExceptionMessageAndRetryable(t *testing.T) {
	f := newFakeBedrock(t, reply{frames: [][]byte{messageStart(t), textDelta(t, 0, "a"),
		excFrame(t, "throttlingException", `{"message":"Too many tokens, please wait before trying again."}`)}})
	s := f.provider(Config{}).Stream(context.Background(), simpleRequest())
	defer s.Close()
	var deltas []llm.Delta
	for s.Next() {
		deltas = append(deltas, s.Current())
	}
	if len(deltas) != 1 || deltas[0].Kind != llm.DeltaText || deltas[0].Text != "a" {
		t.Fatalf("deltas = %+v, want the one text delta before the exception", deltas)
	}
	le := asLLMError(t, s.Err())
	if !le.Retryable() || le.Message != "Too many tokens, please wait before trying again." {
		t.Fatalf("error = %+v, want retryable with the service's message", le)
	}
	if s.Next() {
		t.Fatal("Next after the end returned true")
	}
}

func TestStream_InitialHTTPErrorsAreTyped(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		errType   string
		message   string
		wantCode  llm.ErrorCode
		retryable bool
	}{
		{"429 throttling is rate_limited", 429, "ThrottlingException", "Too many requests, please wait before trying again.", llm.CodeRateLimited, true},
		{"400 validation is invalid_request", 400, "ValidationException", "The provided model identifier is invalid.", llm.CodeInvalidRequest, false},
		{"403 access denied is auth", 403, "AccessDeniedException", "You don't have access to the model with the specified model ID.", llm.CodeAuth, false},
		{"403 bad signature is auth", 403, "UnrecognizedClientException", "The security token included in the request is invalid.", llm.CodeAuth, false},
		{"404 unknown model is invalid_request", 404, "ResourceNotFoundException", "Model not found.", llm.CodeInvalidRequest, false},
		{"503 service unavailable is unavailable", 503, "ServiceUnavailableException", "Bedrock is unable to process your request.", llm.CodeUnavailable, true},
		{"500 internal server is unavailable", 500, "InternalServerException", "Internal server error", llm.CodeUnavailable, true},
		{"408 model timeout is unavailable", 408, "ModelTimeoutException", "Model has timed out in processing the request.", llm.CodeUnavailable, true},
		{"424 model error is model_error", 424, "ModelErrorException", "Received a 500 from the model.", llm.CodeModel, false},
		{"502 unknown error type falls back to status", 502, "BadGatewayException", "upstream", llm.CodeUnavailable, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBedrock(t, reply{status: tt.status, errType: tt.errType, body: fmt.Sprintf(`{"message":%s}`, jsonString(tt.message))})
			s := f.provider(Config{}).Stream(context.Background(), simpleRequest())
			defer s.Close()
			if s.Next() {
				t.Fatal("Next returned true on an HTTP error")
			}
			le := asLLMError(t, s.Err())
			if le.Code != tt.wantCode || le.Status != tt.status || le.Message != tt.message || le.Retryable() != tt.retryable {
				t.Fatalf("error = %+v (retryable %v), want code %s status %d message %q retryable %v",
					le, le.Retryable(), tt.wantCode, tt.status, tt.message, tt.retryable)
			}
			if n := len(f.requests()); n != 1 {
				t.Fatalf("server saw %d requests, want 1 (the SDK must not retry)", n)
			}
		})
	}
}

func TestStream_ThrottledCallThenRetrySucceeds(t *testing.T) {
	f := newFakeBedrock(t,
		reply{status: 429, errType: "ThrottlingException", body: `{"message":"Too many requests, please wait before trying again."}`},
		reply{frames: [][]byte{messageStart(t), textDelta(t, 0, "second time lucky"), blockStop(t, 0), messageStop(t, "end_turn"), metadata(t, 4, 3, 0, 0)}},
	)
	p := f.provider(Config{})

	_, err := llm.Collect(p.Stream(context.Background(), simpleRequest()))
	if !llm.IsRetryable(err) || asLLMError(t, err).Code != llm.CodeRateLimited {
		t.Fatalf("first call error = %v, want retryable rate_limited", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Fatalf("after the first call the server saw %d requests, want 1", n)
	}

	got, err := llm.Collect(p.Stream(context.Background(), simpleRequest()))
	if err != nil {
		t.Fatalf("second call error = %v", err)
	}
	if got.Text != "second time lucky" || got.Usage.Total() != 7 {
		t.Fatalf("second call = %+v", got)
	}
	if n := len(f.requests()); n != 2 {
		t.Fatalf("server saw %d requests, want 2", n)
	}
}

func TestStream_SendsConverseStreamRequest(t *testing.T) {
	f := newFakeBedrock(t, reply{frames: [][]byte{messageStart(t), messageStop(t, "end_turn"), metadata(t, 1, 1, 0, 0)}})
	req := &llm.Request{
		Model:  "amazon.nova-lite-v1:0",
		System: "You are terse.",
		Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: "Answer in English."},
			{Role: llm.RoleUser, Content: "Weather in Paris and 2+2?"},
			{Role: llm.RoleAssistant, Content: "Let me check.", ToolCalls: []llm.ToolCall{
				{ID: "tooluse_1", Name: "get_weather", Arguments: json.RawMessage(`{"location":"Paris","id":12345678901234567890}`)},
				{ID: "tooluse_2", Name: "add", Arguments: json.RawMessage(``)},
			}},
			{Role: llm.RoleTool, ToolCallID: "tooluse_1", Content: "18C, cloudy"},
			{Role: llm.RoleTool, ToolCallID: "tooluse_2", Content: "adder crashed", IsError: true},
			{Role: llm.RoleUser, Content: "Thanks"},
		},
		Tools: []llm.ToolSpec{
			{Name: "get_weather", Description: "Current weather", Parameters: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}`)},
			{Name: "add", Description: "Adds", Parameters: nil},
		},
		Temperature: ptr(0.2),
		MaxTokens:   512,
	}
	if _, err := llm.Collect(f.provider(Config{}).Stream(context.Background(), req)); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.method != "POST" || r.path != "/model/amazon.nova-lite-v1:0/converse-stream" {
		t.Errorf("request line = %s %s", r.method, r.path)
	}
	if !strings.HasPrefix(r.auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(r.auth, "/us-east-1/bedrock/aws4_request") {
		t.Errorf("Authorization = %q, want a SigV4 signature for bedrock in us-east-1", r.auth)
	}
	if r.contentType != "application/json" {
		t.Errorf("Content-Type = %q", r.contentType)
	}

	want := `{
	  "system": [{"text": "You are terse."}, {"text": "Answer in English."}],
	  "messages": [
	    {"role": "user", "content": [{"text": "Weather in Paris and 2+2?"}]},
	    {"role": "assistant", "content": [
	      {"text": "Let me check."},
	      {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"location": "Paris", "id": 12345678901234567890}}},
	      {"toolUse": {"toolUseId": "tooluse_2", "name": "add", "input": {}}}
	    ]},
	    {"role": "user", "content": [
	      {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "18C, cloudy"}], "status": "success"}},
	      {"toolResult": {"toolUseId": "tooluse_2", "content": [{"text": "adder crashed"}], "status": "error"}},
	      {"text": "Thanks"}
	    ]}
	  ],
	  "toolConfig": {"tools": [
	    {"toolSpec": {"name": "get_weather", "description": "Current weather", "inputSchema": {"json":
	      {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}},
	    {"toolSpec": {"name": "add", "description": "Adds", "inputSchema": {"json": {"type": "object", "properties": {}}}}}
	  ]},
	  "inferenceConfig": {"maxTokens": 512, "temperature": 0.2}
	}`
	if got, wantV := decodeExact(t, r.body), decodeExact(t, []byte(want)); !reflect.DeepEqual(got, wantV) {
		t.Errorf("request body =\n%s\nwant\n%s", r.body, want)
	}
}

// decodeExact keeps numbers as written so large integers compare exactly.
func decodeExact(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func TestStream_DefaultsAndOverrides(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		model    string
		wantName string
		wantPath string
	}{
		{"defaults", Config{}, "", "bedrock", "/model/" + DefaultModel + "/converse-stream"},
		{"config model and name", Config{Model: "amazon.nova-pro-v1:0", Name: "aws"}, "", "aws", "/model/amazon.nova-pro-v1:0/converse-stream"},
		{"request model wins", Config{Model: "amazon.nova-pro-v1:0"}, "amazon.nova-micro-v1:0", "bedrock", "/model/amazon.nova-micro-v1:0/converse-stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBedrock(t, reply{frames: [][]byte{messageStop(t, "end_turn")}})
			p := f.provider(tt.cfg)
			if p.Name() != tt.wantName {
				t.Errorf("Name() = %q, want %q", p.Name(), tt.wantName)
			}
			req := simpleRequest()
			req.Model = tt.model
			if _, err := llm.Collect(p.Stream(context.Background(), req)); err != nil {
				t.Fatalf("Collect: %v", err)
			}
			if got := f.requests()[0].path; got != tt.wantPath {
				t.Errorf("path = %q, want %q", got, tt.wantPath)
			}
		})
	}
}

// waitGone fails the test if the server never notices the client left; the bound only
// keeps a broken implementation from hanging the suite.
func waitGone(t *testing.T, f *fakeBedrock) {
	t.Helper()
	select {
	case <-f.gone:
	case <-time.After(10 * time.Second):
		t.Fatal("server still holds the connection: the stream was not released")
	}
}

func TestStream_CancelStopsAndReleasesConnection(t *testing.T) {
	f := newFakeBedrock(t, reply{frames: [][]byte{messageStart(t), textDelta(t, 0, "one"), textDelta(t, 0, "two")}, hold: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := f.provider(Config{}).Stream(ctx, simpleRequest())
	if !s.Next() || s.Current().Text != "one" {
		t.Fatalf("first delta = %+v, err %v", s.Current(), s.Err())
	}
	cancel()
	if s.Next() {
		t.Fatalf("Next returned true after cancel: %+v", s.Current())
	}
	if le := asLLMError(t, s.Err()); le.Code != llm.CodeCancelled {
		t.Fatalf("error = %+v, want cancelled", le)
	}
	waitGone(t, f)
	if err := s.Close(); err != nil {
		t.Fatalf("Close after cancel = %v", err)
	}
}

func TestStream_CancelWhileWaitingForResponse(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	api := &fakeAPI{call: func(ctx context.Context) (*bedrockruntime.ConverseStreamOutput, error) {
		cancel()
		<-ctx.Done()
		return nil, &smithy.OperationError{ServiceID: "Bedrock Runtime", OperationName: "ConverseStream", Err: fmt.Errorf("send request: %w", ctx.Err())}
	}}
	s := New(api, Config{}).Stream(ctx, simpleRequest())
	if s.Next() {
		t.Fatal("Next returned true")
	}
	if le := asLLMError(t, s.Err()); le.Code != llm.CodeCancelled {
		t.Fatalf("error = %+v, want cancelled", le)
	}
}

func TestStream_CloseIsIdempotentAndReleasesConnection(t *testing.T) {
	f := newFakeBedrock(t, reply{frames: [][]byte{messageStart(t), textDelta(t, 0, "one"), textDelta(t, 0, "two")}, hold: true})
	s := f.provider(Config{}).Stream(context.Background(), simpleRequest())
	if !s.Next() {
		t.Fatalf("Next = false, err %v", s.Err())
	}
	for i := range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d = %v", i+1, err)
		}
	}
	if s.Next() {
		t.Fatal("Next returned true after Close")
	}
	if s.Err() != nil {
		t.Fatalf("Err after Close = %v, want nil", s.Err())
	}
	waitGone(t, f)
}

func TestStream_ClosedBeforeNextSendsNothing(t *testing.T) {
	f := newFakeBedrock(t)
	s := f.provider(Config{}).Stream(context.Background(), simpleRequest())
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if s.Next() {
		t.Fatal("Next returned true after Close")
	}
	if n := len(f.requests()); n != 0 {
		t.Fatalf("server saw %d requests, want 0", n)
	}
}

// fakeAPI stands in for the client where the failure cannot come from a server.
type fakeAPI struct {
	calls int
	call  func(ctx context.Context) (*bedrockruntime.ConverseStreamOutput, error)
}

func (f *fakeAPI) ConverseStream(ctx context.Context, _ *bedrockruntime.ConverseStreamInput, _ ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseStreamOutput, error) {
	f.calls++
	return f.call(ctx)
}

func TestStream_ClientFailuresAreTyped(t *testing.T) {
	opErr := func(err error) error {
		return &smithy.OperationError{ServiceID: "Bedrock Runtime", OperationName: "ConverseStream", Err: err}
	}
	tests := []struct {
		name     string
		out      *bedrockruntime.ConverseStreamOutput
		err      error
		wantCode llm.ErrorCode
	}{
		{"deadline is timeout", nil, opErr(fmt.Errorf("send: %w", context.DeadlineExceeded)), llm.CodeTimeout},
		{"connection refused is unavailable", nil, opErr(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}), llm.CodeUnavailable},
		{"access denied without status is auth", nil, opErr(&smithy.GenericAPIError{Code: "AccessDeniedException", Message: "denied"}), llm.CodeAuth},
		{"unknown server fault is unavailable", nil, opErr(&smithy.GenericAPIError{Code: "Weird", Fault: smithy.FaultServer}), llm.CodeUnavailable},
		{"output without stream is malformed", &bedrockruntime.ConverseStreamOutput{}, nil, llm.CodeMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{call: func(context.Context) (*bedrockruntime.ConverseStreamOutput, error) { return tt.out, tt.err }}
			s := New(api, Config{}).Stream(context.Background(), simpleRequest())
			defer s.Close()
			if s.Next() {
				t.Fatal("Next returned true")
			}
			le := asLLMError(t, s.Err())
			if le.Code != tt.wantCode {
				t.Fatalf("error = %+v, want %s", le, tt.wantCode)
			}
			if tt.err != nil && !errors.Is(le, tt.err) {
				t.Errorf("error does not wrap the SDK error")
			}
		})
	}
}

func TestStream_InvalidRequestIsDeferredAndSendsNothing(t *testing.T) {
	tests := []struct {
		name string
		req  *llm.Request
	}{
		{"nil request", nil},
		{"tool schema is not JSON", &llm.Request{Tools: []llm.ToolSpec{{Name: "t", Parameters: json.RawMessage(`{oops`)}}}},
		{"tool schema is not an object", &llm.Request{Tools: []llm.ToolSpec{{Name: "t", Parameters: json.RawMessage(`[1]`)}}}},
		{"tool arguments are not JSON", &llm.Request{Messages: []llm.Message{{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "1", Name: "t", Arguments: json.RawMessage(`{"a":`)}}}}}},
		{"unknown role", &llm.Request{Messages: []llm.Message{{Role: "narrator", Content: "x"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{call: func(context.Context) (*bedrockruntime.ConverseStreamOutput, error) {
				return nil, errors.New("must not be called")
			}}
			s := New(api, Config{}).Stream(context.Background(), tt.req)
			if s == nil {
				t.Fatal("Stream returned nil")
			}
			if s.Next() {
				t.Fatal("Next returned true")
			}
			if le := asLLMError(t, s.Err()); le.Code != llm.CodeInvalidRequest {
				t.Fatalf("error = %+v, want invalid_request", le)
			}
			if api.calls != 0 {
				t.Fatalf("client called %d times, want 0", api.calls)
			}
		})
	}
}

func TestBuildInput_ShapesConversation(t *testing.T) {
	tests := []struct {
		name      string
		msgs      []llm.Message
		wantRoles string // roles and block kinds, e.g. "user[text] assistant[toolUse]"
	}{
		{
			name: "consecutive tool results share one user message",
			msgs: []llm.Message{
				{Role: llm.RoleUser, Content: "q"},
				{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "a", Name: "x"}, {ID: "b", Name: "x"}, {ID: "c", Name: "x"}}},
				{Role: llm.RoleTool, ToolCallID: "a", Content: "1"},
				{Role: llm.RoleTool, ToolCallID: "b", Content: "2"},
				{Role: llm.RoleTool, ToolCallID: "c", Content: "3"},
				{Role: llm.RoleAssistant, Content: "done"},
			},
			wantRoles: "user[text] assistant[toolUse toolUse toolUse] user[toolResult toolResult toolResult] assistant[text]",
		},
		{
			name: "empty turns are dropped so roles still alternate",
			msgs: []llm.Message{
				{Role: llm.RoleUser, Content: "q"},
				{Role: llm.RoleAssistant},
				{Role: llm.RoleUser, Content: "again"},
			},
			wantRoles: "user[text text]",
		},
		{
			name:      "system messages leave the conversation",
			msgs:      []llm.Message{{Role: llm.RoleSystem, Content: "s"}, {Role: llm.RoleUser, Content: "q"}},
			wantRoles: "user[text]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := buildInput("m", &llm.Request{Messages: tt.msgs})
			if err != nil {
				t.Fatalf("buildInput: %v", err)
			}
			var parts []string
			for _, m := range in.Messages {
				var kinds []string
				for _, b := range m.Content {
					kinds = append(kinds, blockKind(b))
				}
				parts = append(parts, fmt.Sprintf("%s[%s]", m.Role, strings.Join(kinds, " ")))
			}
			if got := strings.Join(parts, " "); got != tt.wantRoles {
				t.Errorf("messages = %s, want %s", got, tt.wantRoles)
			}
			if in.InferenceConfig != nil {
				t.Errorf("InferenceConfig = %+v, want nil when temperature and max tokens are unset", in.InferenceConfig)
			}
		})
	}
}

func blockKind(b any) string {
	name := fmt.Sprintf("%T", b)
	name = name[strings.LastIndex(name, "Member")+len("Member"):]
	return strings.ToLower(name[:1]) + name[1:]
}

func TestToolInput_WrapsNonObjectArguments(t *testing.T) {
	tests := []struct {
		args string
		want string
	}{
		{``, `{}`},
		{`  `, `{}`},
		{`{"a":1}`, `{"a":1}`},
		{`"{\"a\":"`, `{"arguments":"{\"a\":"}`},
		{`[1,2]`, `{"arguments":[1,2]}`},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			doc, err := toolInput(json.RawMessage(tt.args))
			if err != nil {
				t.Fatalf("toolInput: %v", err)
			}
			b, err := doc.MarshalSmithyDocument()
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if !jsonEqual(t, b, []byte(tt.want)) {
				t.Errorf("input = %s, want %s", b, tt.want)
			}
		})
	}
}
