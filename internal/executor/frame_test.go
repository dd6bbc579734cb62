package executor_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/chatterhq/chatter/internal/wire"
)

// Every chunk type encodes with the predecessor's field meanings (error a string
// with the code beside it, usage with its token names, complete with its
// metadata) and decodes back into the same Chunk, as the CLI reads frames.
func TestChunk_JSONHasTheOldFieldsAndReadsBack(t *testing.T) {
	usage := &wire.Usage{InputTokens: 7, OutputTokens: 3, TotalTokens: 10, Cost: 0.5, CostKnown: true}
	resp := &wire.ChatResponse{Response: "hi", ConversationID: "c1", MessageID: "m1", ExecutionID: "x1",
		Status: "completed", Model: "m", Provider: "p", TokensUsed: 10, Usage: usage, Cost: 0.5, ResponseTimeMS: 12.5}
	for _, tc := range []struct {
		chunk wire.Chunk
		want  map[string]any // fields of the JSON object that must be there
		back  wire.Chunk     // what decoding gives, when not the chunk itself
	}{
		{chunk: wire.Chunk{Type: wire.ChunkToken, NodeID: "llm", Content: "hel"},
			want: map[string]any{"type": "token", "content": "hel", "node_id": "llm"}},
		{chunk: wire.Chunk{Type: wire.ChunkUsage, ExecutionID: "x1", ConversationID: "c1", MessageID: "m1", Usage: usage},
			want: map[string]any{"type": "usage", "conversation_id": "c1", "message_id": "m1",
				"usage": map[string]any{"input_tokens": 7.0, "output_tokens": 3.0, "total_tokens": 10.0, "prompt_tokens": 7.0,
					"completion_tokens": 3.0, "cost": 0.5, "cost_known": true}}},
		{chunk: wire.Chunk{Type: wire.ChunkError, ConversationID: "c1",
			Error: &wire.ErrorBody{Code: "llm_error", Message: "model provider failed", NodeID: "llm"}},
			want: map[string]any{"type": "error", "error": "model provider failed", "code": "llm_error", "node_id": "llm"},
			back: wire.Chunk{Type: wire.ChunkError, ConversationID: "c1", NodeID: "llm",
				Error: &wire.ErrorBody{Code: "llm_error", Message: "model provider failed", NodeID: "llm"}}},
		{chunk: wire.Chunk{Type: wire.ChunkError, Error: &wire.ErrorBody{Code: "timeout"}},
			want: map[string]any{"type": "error", "error": "timeout", "code": "timeout"},
			back: wire.Chunk{Type: wire.ChunkError, Error: &wire.ErrorBody{Code: "timeout", Message: "timeout"}}},
		{chunk: wire.Chunk{Type: wire.ChunkComplete, ConversationID: "c1", MessageID: "m1", Response: resp},
			want: map[string]any{"type": "complete", "message_id": "m1", "metadata": map[string]any{"total_tokens": 10.0,
				"prompt_tokens": 7.0, "completion_tokens": 3.0, "model_used": "m", "provider_used": "p",
				"response_time_ms": 12.5, "cost": 0.5}},
			back: wire.Chunk{Type: wire.ChunkComplete, ConversationID: "c1", MessageID: "m1", Response: resp, Usage: usage}},
		{chunk: wire.Chunk{Type: wire.ChunkDone, ConversationID: "c1", Usage: usage},
			want: map[string]any{"type": "done", "conversation_id": "c1"}},
	} {
		b, err := json.Marshal(tc.chunk)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for k, v := range tc.want {
			if !reflect.DeepEqual(m[k], v) {
				t.Errorf("%s: %s = %#v, want %#v (%s)", tc.chunk.Type, k, m[k], v, b)
			}
		}
		var back wire.Chunk
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		want := tc.chunk
		if tc.back.Type != "" {
			want = tc.back
		}
		if !reflect.DeepEqual(back, want) {
			t.Errorf("%s: decoded %+v, want %+v", tc.chunk.Type, back, want)
		}
	}
}
