package anthropic

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"testing"

	"github.com/chatterhq/chatter/internal/llm"
)

type capturedRequest struct {
	method, path string
	header       http.Header
	body         map[string]any
}

func TestStream_SendsMessagesRequestBody(t *testing.T) {
	temp := 0.2
	tests := []struct {
		name string
		req  *llm.Request
		want string // the whole JSON body the API must receive
	}{
		{
			name: "defaults for model and max_tokens, nothing optional",
			req:  userRequest("Hello"),
			want: `{
				"model": "claude-sonnet-5-5",
				"max_tokens": 4096,
				"stream": true,
				"messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]
			}`,
		},
		{
			name: "full tool round trip",
			req: &llm.Request{
				Model:       "claude-opus-5-5",
				System:      "You are terse.",
				MaxTokens:   1024,
				Temperature: &temp, // rejected by API version 2026-10-21, so never sent
				Messages: []llm.Message{
					{Role: llm.RoleSystem, Content: "Answer in English."},
					{Role: llm.RoleUser, Content: "Weather in Paris, and the time?"},
					{Role: llm.RoleAssistant, Content: "Checking.", ToolCalls: []llm.ToolCall{
						{ID: "toolu_A", Name: "get_weather", Arguments: json.RawMessage(` {"city":"Paris"} `)},
						{ID: "toolu_B", Name: "get_time", Arguments: json.RawMessage(`"{\"tz\": broken"`)},
					}},
					{Role: llm.RoleTool, ToolCallID: "toolu_A", Name: "get_weather", Content: "18C and sunny"},
					{Role: llm.RoleTool, ToolCallID: "toolu_B", Name: "get_time", Content: "invalid arguments", IsError: true},
					{Role: llm.RoleUser, Content: "Thanks. Tomorrow?"},
					{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "toolu_C", Name: "get_weather"}}},
					{Role: llm.RoleTool, ToolCallID: "toolu_C", Content: ""},
				},
				Tools: []llm.ToolSpec{
					{Name: "get_weather", Description: "Current weather for a city", Parameters: json.RawMessage(
						`{"type":"object","properties":{"city":{"type":"string","description":"City name"}},"required":["city"],"additionalProperties":false,"$defs":{"unit":{"enum":["C","F"]}}}`)},
					{Name: "get_time"},
				},
			},
			want: `{
				"model": "claude-opus-5-5",
				"max_tokens": 1024,
				"stream": true,
				"system": [{"type": "text", "text": "You are terse.\n\nAnswer in English."}],
				"messages": [
					{"role": "user", "content": [{"type": "text", "text": "Weather in Paris, and the time?"}]},
					{"role": "assistant", "content": [
						{"type": "text", "text": "Checking."},
						{"type": "tool_use", "id": "toolu_A", "name": "get_weather", "input": {"city": "Paris"}},
						{"type": "tool_use", "id": "toolu_B", "name": "get_time", "input": {}}
					]},
					{"role": "user", "content": [
						{"type": "tool_result", "tool_use_id": "toolu_A", "content": [{"type": "text", "text": "18C and sunny"}]},
						{"type": "tool_result", "tool_use_id": "toolu_B", "is_error": true, "content": [{"type": "text", "text": "invalid arguments"}]},
						{"type": "text", "text": "Thanks. Tomorrow?"}
					]},
					{"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_C", "name": "get_weather", "input": {}}]},
					{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_C"}]}
				],
				"tools": [
					{"name": "get_weather", "description": "Current weather for a city", "input_schema": {
						"type": "object",
						"properties": {"city": {"type": "string", "description": "City name"}},
						"required": ["city"],
						"additionalProperties": false,
						"$defs": {"unit": {"enum": ["C", "F"]}}
					}},
					{"name": "get_time", "input_schema": {"type": "object", "properties": {}}}
				]
			}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan capturedRequest, 1)
			p, _ := newTestProvider(t, func(w http.ResponseWriter, r *http.Request) {
				raw, _ := io.ReadAll(r.Body)
				c := capturedRequest{method: r.Method, path: r.URL.Path, header: r.Header.Clone()}
				if err := json.Unmarshal(raw, &c.body); err != nil {
					t.Errorf("request body is not JSON: %v: %s", err, raw)
				}
				got <- c
				writeSSE(w, textReply("ok"))
			})
			if _, err := llm.Collect(p.Stream(t.Context(), tt.req)); err != nil {
				t.Fatalf("Collect: %v", err)
			}
			c := <-got
			if c.method != http.MethodPost || c.path != "/v1/messages" {
				t.Errorf("request line = %s %s, want POST /v1/messages", c.method, c.path)
			}
			// The key goes in x-api-key, as the API documents, and nowhere else;
			// with the API version that matches the SDK's types.
			if h := c.header.Get("X-Api-Key"); h != testKey {
				t.Errorf("x-api-key = %q, want the API key", h)
			}
			if h := c.header.Get("Authorization"); h != "" {
				t.Errorf("Authorization = %q, want none", h)
			}
			if h := c.header.Get("Anthropic-Version"); h != "2026-10-21" {
				t.Errorf("anthropic-version = %q, want 2026-10-21", h)
			}
			if n := c.header.Get("X-Stainless-Retry-Count"); n != "0" {
				t.Errorf("X-Stainless-Retry-Count = %q, want 0", n)
			}
			var want map[string]any
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatalf("bad want JSON: %v", err)
			}
			if _, ok := c.body["temperature"]; ok {
				t.Errorf("temperature was sent: %v", c.body["temperature"])
			}
			if !reflect.DeepEqual(c.body, want) {
				gotJSON, _ := json.MarshalIndent(c.body, "", "  ")
				wantJSON, _ := json.MarshalIndent(want, "", "  ")
				t.Errorf("request body:\n got %s\nwant %s", gotJSON, wantJSON)
			}
		})
	}
}
