package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/chatterhq/chatter/internal/llm"
)

// toolConversation is a turn after one tool round trip: the assistant asked for two
// tools, one succeeded and one failed.
func toolConversation() *llm.Request {
	return &llm.Request{
		Model:  "gpt-4o-2024-08-06",
		System: "You are terse.",
		Messages: []llm.Message{
			{Role: llm.RoleUser, Content: "Weather in Paris and the time?"},
			{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{
				{ID: "call_a", Name: "get_weather", Arguments: json.RawMessage(`{"location":"Paris"}`)},
				{ID: "call_b", Name: "get_time", Arguments: nil},
			}},
			{Role: llm.RoleTool, ToolCallID: "call_a", Content: `{"temp_c":18}`},
			{Role: llm.RoleTool, ToolCallID: "call_b", Content: "clock unavailable", IsError: true},
			{Role: llm.RoleAssistant, Content: "18°C; no clock."},
			{Role: llm.RoleUser, Content: "Thanks"},
		},
		Tools: []llm.ToolSpec{
			{Name: "get_weather", Description: "Current weather for a city.", Parameters: json.RawMessage(
				`{"type":"object","properties":{"location":{"type":"string","maxLength":100}},"required":["location"],"additionalProperties":false}`)},
			{Name: "get_time"},
		},
		MaxTokens: 256,
	}
}

func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("request body is not JSON: %v\n%s", err, b)
	}
	return m
}

func TestStream_RequestBodyMatchesChatCompletionsAPI(t *testing.T) {
	rec := streamServer(t, roleChunk(), finishChunk("stop"), done)
	p := newProvider(t, rec)
	if _, err := llm.Collect(p.Stream(context.Background(), toolConversation())); err != nil {
		t.Fatal(err)
	}
	if rec.count() != 1 {
		t.Fatalf("requests = %d", rec.count())
	}
	if rec.paths[0] != "/v1/chat/completions" {
		t.Errorf("path = %q", rec.paths[0])
	}
	if got := rec.headers[0].Get("Authorization"); got != "Bearer "+testKey {
		t.Errorf("Authorization = %q", got)
	}
	body := decodeJSON(t, rec.bodies[0])

	wantMessages := []any{
		map[string]any{"role": "system", "content": "You are terse."},
		map[string]any{"role": "user", "content": "Weather in Paris and the time?"},
		map[string]any{"role": "assistant", "tool_calls": []any{
			map[string]any{"id": "call_a", "type": "function", "function": map[string]any{"name": "get_weather", "arguments": `{"location":"Paris"}`}},
			map[string]any{"id": "call_b", "type": "function", "function": map[string]any{"name": "get_time", "arguments": "{}"}},
		}},
		map[string]any{"role": "tool", "tool_call_id": "call_a", "content": `{"temp_c":18}`},
		map[string]any{"role": "tool", "tool_call_id": "call_b", "content": "Error: clock unavailable"},
		map[string]any{"role": "assistant", "content": "18°C; no clock."},
		map[string]any{"role": "user", "content": "Thanks"},
	}
	wantTools := []any{
		map[string]any{"type": "function", "function": map[string]any{
			"name": "get_weather", "description": "Current weather for a city.",
			"parameters": map[string]any{
				"type":                 "object",
				"properties":           map[string]any{"location": map[string]any{"type": "string", "maxLength": float64(100)}},
				"required":             []any{"location"},
				"additionalProperties": false,
			},
		}},
		map[string]any{"type": "function", "function": map[string]any{
			"name": "get_time", "parameters": map[string]any{"type": "object", "properties": map[string]any{}},
		}},
	}
	checks := []struct {
		field string
		want  any
	}{
		{"model", "gpt-4o-2024-08-06"},
		{"stream", true},
		{"stream_options", map[string]any{"include_usage": true}},
		{"messages", wantMessages},
		{"tools", wantTools},
		{"max_tokens", float64(256)}, // custom BaseURL: the field Ollama and LM Studio read
	}
	for _, c := range checks {
		if got := body[c.field]; !reflect.DeepEqual(got, c.want) {
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(c.want)
			t.Errorf("%s =\n  %s\nwant\n  %s", c.field, gotJSON, wantJSON)
		}
	}
	for _, absent := range []string{"temperature", "max_completion_tokens", "n", "tool_choice"} {
		if v, ok := body[absent]; ok {
			t.Errorf("%s = %v, want it omitted", absent, v)
		}
	}
}

func TestStream_RequestOptionalFields(t *testing.T) {
	zero, warm := 0.0, 0.7
	tests := []struct {
		name      string
		req       *llm.Request
		wantTemp  any // nil = absent
		wantModel string
	}{
		{"temperature nil is omitted, default model used", &llm.Request{Messages: userRequest("x").Messages}, nil, "gpt-4o-mini"},
		{"temperature zero is sent", &llm.Request{Messages: userRequest("x").Messages, Temperature: &zero}, float64(0), "gpt-4o-mini"},
		{"temperature set, request model wins", &llm.Request{Model: "llama3.1", Messages: userRequest("x").Messages, Temperature: &warm}, 0.7, "llama3.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := streamServer(t, roleChunk(), finishChunk("stop"), done)
			if _, err := llm.Collect(newProvider(t, rec).Stream(context.Background(), tt.req)); err != nil {
				t.Fatal(err)
			}
			body := decodeJSON(t, rec.bodies[0])
			if got, ok := body["temperature"]; tt.wantTemp == nil && ok || tt.wantTemp != nil && got != tt.wantTemp {
				t.Errorf("temperature = %v (present %v), want %v", got, ok, tt.wantTemp)
			}
			if body["model"] != tt.wantModel {
				t.Errorf("model = %v, want %s", body["model"], tt.wantModel)
			}
			if _, ok := body["max_tokens"]; ok {
				t.Error("max_tokens sent although MaxTokens is 0")
			}
		})
	}
}

// roundTripFunc serves requests from memory: no listener, no network.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func sseResponse(r *http.Request, body []byte) *http.Response {
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"text/event-stream"}},
		Body:       io.NopCloser(bytes.NewReader(body)),
		Request:    r,
	}
}

func TestStream_OfficialEndpointSendsMaxCompletionTokens(t *testing.T) {
	var seen *http.Request
	var body []byte
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen = r
		body, _ = io.ReadAll(r.Body)
		return sseResponse(r, []byte(sseBody(roleChunk(), finishChunk("stop"), done))), nil
	})}
	p, err := New(Config{APIKey: testKey, Model: "o4-mini", HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := llm.Collect(p.Stream(context.Background(), &llm.Request{Messages: userRequest("x").Messages, MaxTokens: 1000})); err != nil {
		t.Fatal(err)
	}
	if seen.URL.String() != "https://api.openai.com/v1/chat/completions" {
		t.Errorf("URL = %s", seen.URL)
	}
	m := decodeJSON(t, body)
	if m["max_completion_tokens"] != float64(1000) {
		t.Errorf("max_completion_tokens = %v, want 1000", m["max_completion_tokens"])
	}
	if _, ok := m["max_tokens"]; ok {
		t.Error("max_tokens sent to api.openai.com, which rejects it for reasoning models")
	}
}

func TestNew_Config(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		env      map[string]string // set in the process environment, which the SDK reads too
		wantErr  string
		wantName string
	}{
		{name: "official endpoint without key", cfg: Config{Model: "gpt-4o"}, wantErr: "OPENAI_API_KEY"},
		{name: "explicit api.openai.com without key", cfg: Config{BaseURL: "https://api.openai.com/v1"}, wantErr: "OPENAI_API_KEY"},
		{name: "key from SDK environment does not count", cfg: Config{}, env: map[string]string{"OPENAI_API_KEY": testKey}, wantErr: "OPENAI_API_KEY"},
		{name: "local server without key", cfg: Config{BaseURL: "http://localhost:11434/v1"}, wantName: "openai"},
		{name: "custom name", cfg: Config{APIKey: testKey, Name: "vllm", BaseURL: "http://127.0.0.1:8000/v1"}, wantName: "vllm"},
		{name: "base URL without scheme", cfg: Config{BaseURL: "localhost:11434"}, wantErr: "invalid base URL"},
		{name: "negative retries", cfg: Config{APIKey: testKey, MaxRetries: -1}, wantErr: "MaxRetries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			p, err := New(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "TESTKEY") {
					t.Errorf("error leaks the key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Name() != tt.wantName {
				t.Errorf("Name = %q, want %q", p.Name(), tt.wantName)
			}
		})
	}
}

func TestStream_KeylessLocalServerIgnoresSDKEnvironment(t *testing.T) {
	// The SDK reads OPENAI_API_KEY and OPENAI_BASE_URL itself; Config must win.
	t.Setenv("OPENAI_API_KEY", "sk-from-env-should-not-be-sent")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	rec := streamServer(t, roleChunk(), textChunk("local"), finishChunk("stop"), done)
	p, err := New(Config{BaseURL: rec.srv.URL + "/v1", Model: "llama3.1", HTTPClient: rec.srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := llm.Collect(p.Stream(context.Background(), userRequest("hi")))
	if err != nil || resp.Text != "local" {
		t.Fatalf("resp %+v err %v", resp, err)
	}
	if got := rec.headers[0].Get("Authorization"); got != "" {
		t.Errorf("Authorization = %q, want none for a keyless server", got)
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{"OPENAI_API_KEY": testKey, "OPENAI_BASE_URL": "http://localhost:11434/v1", "OPENAI_MODEL": "llama3.1"}
	got := ConfigFromEnv(func(k string) string { return env[k] })
	want := Config{APIKey: testKey, BaseURL: "http://localhost:11434/v1", Model: "llama3.1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ConfigFromEnv = %+v, want %+v", got, want)
	}
}

func TestRedact(t *testing.T) {
	p := &Provider{apiKey: "plainsecretvalue"}
	tests := []struct{ in, want string }{
		{"Incorrect API key provided: sk-proj-abc***xyz. See docs.", "Incorrect API key provided: [redacted]. See docs."},
		{"key plainsecretvalue rejected", "key [redacted] rejected"},
		{"sk-a and sk-b", "[redacted] and [redacted]"},
		{"task-list and disk-full stay", "task-list and disk-full stay"},
		{"no secrets here", "no secrets here"},
	}
	for _, tt := range tests {
		if got := p.redact(tt.in); got != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
