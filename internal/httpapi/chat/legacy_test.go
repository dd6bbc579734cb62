package chat_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// oldFrontend is what the predecessor's web frontend makes of a stream. It replays
// lllucius/chatter at 50b364af: frontend/src/utils/sse-parser.ts (parseSSELine) and
// the stream loop of frontend/src/pages/ChatPage.tsx (processStreamingResponse).
// The body is split on "\n"; blank lines are skipped; only lines starting with
// "data: " count; their rest, trimmed, is {type: "done"} when it is "[DONE]" or
// empty, skipped unless it starts with "{" or "[", else JSON.parse'd (a failure is
// skipped). Then it switches on type: "start" does nothing, "token" appends
// content, "complete" takes metadata.total_tokens, metadata.model_used and
// metadata.response_time_ms, "error" throws new Error(error || message ||
// 'Workflow streaming error occurred') and stops reading, "done" and any other
// type are skipped.
type oldFrontend struct {
	content      string
	totalTokens  any // as the page reads them: JSON values, nil for undefined
	model        any
	responseTime any
	threw        bool
	errMessage   string // the thrown Error's message
	unparsed     int    // data lines JSON.parse rejected
}

// jsTruthy is JavaScript's truthiness of a decoded JSON value.
func jsTruthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case float64:
		return x != 0
	}
	return true // objects and arrays
}

// jsErrorMessage is the message of new Error(v): String(v).
func jsErrorMessage(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		return "[object Object]"
	}
	return fmt.Sprint(v)
}

func readAsOldFrontend(body string) oldFrontend {
	var f oldFrontend
	for _, line := range strings.Split(body, "\n") {
		if strings.TrimSpace(line) == "" || !strings.HasPrefix(line, "data: ") {
			continue
		}
		raw := strings.TrimSpace(line[len("data: "):])
		ev := map[string]any{"type": "done"}
		if raw != "[DONE]" && raw != "" {
			if !strings.HasPrefix(raw, "{") && !strings.HasPrefix(raw, "[") {
				continue
			}
			ev = nil
			if err := json.Unmarshal([]byte(raw), &ev); err != nil {
				f.unparsed++
				continue
			}
		}
		switch ev["type"] {
		case "token":
			if s, ok := ev["content"].(string); ok {
				f.content += s
			}
		case "complete":
			if md, ok := ev["metadata"].(map[string]any); ok {
				f.totalTokens, f.model, f.responseTime = md["total_tokens"], md["model_used"], md["response_time_ms"]
			}
		case "error":
			f.threw = true
			switch {
			case jsTruthy(ev["error"]):
				f.errMessage = jsErrorMessage(ev["error"])
			case jsTruthy(ev["message"]):
				f.errMessage = jsErrorMessage(ev["message"])
			default:
				f.errMessage = "Workflow streaming error occurred"
			}
			return f
		}
	}
	return f
}

// oldChunks are the stream's data objects but [DONE], decoded as JSON.
func oldChunks(t *testing.T, body string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(body, "\n") {
		d, ok := strings.CutPrefix(line, "data: ")
		if !ok || d == "[DONE]" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("frame data %q is not a JSON object: %v", d, err)
		}
		out = append(out, m)
	}
	return out
}

// The predecessor's chunk model (chatter/schemas/chat.py StreamingChatChunk: type,
// content, usage, conversation_id, message_id; its stream handler's error chunk
// {"type": "error", "error": str(e)}; then "data: [DONE]") and its frontend both
// read chatter's streams: a normal run, a run with tool calls and a failed run.
func TestStream_OldFrontendReadsEveryRun(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, tc := range []struct {
		name, body string
		fails      bool
		content    string // what the page shows
	}{
		{"normal", `{"message":"one two three"}`, false, "You said: one two three."},
		{"tools", `{"message":"/tool calculator {\"expression\":\"6*7\"}","enable_tools":true}`, false, "42"},
		{"failed", `{"message":"/break please now"}`, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.post(t, "alice", "/api/v1/workflows/execute/chat/streaming", tc.body)
			body := string(b)
			if resp.StatusCode != http.StatusOK || !strings.HasSuffix(body, "data: [DONE]\n\n") {
				t.Fatalf("%d, body does not end with data: [DONE]:\n%s", resp.StatusCode, body)
			}
			page := readAsOldFrontend(body)
			if page.unparsed != 0 {
				t.Errorf("the page could not parse %d data lines", page.unparsed)
			}
			chunks := oldChunks(t, body)
			var convID, msgID string
			total := -1.0
			for _, c := range chunks {
				typ, ok := c["type"].(string)
				if !ok || typ == "" {
					t.Fatalf("chunk without a string type: %v", c)
				}
				if typ == "token" {
					if _, ok := c["content"].(string); !ok {
						t.Errorf("token chunk without string content: %v", c)
					}
				}
				if typ == "start" {
					convID, _ = c["conversation_id"].(string)
				}
				if u, ok := c["usage"].(map[string]any); ok {
					if got, ok := u["total_tokens"].(float64); ok && typ == "usage" {
						total = got
					}
					if u["prompt_tokens"] != u["input_tokens"] || u["completion_tokens"] != u["output_tokens"] {
						t.Errorf("%s usage lacks the old prompt/completion token names: %v", typ, u)
					}
				}
			}
			if convID == "" || total < 0 || (total == 0) != tc.fails {
				t.Fatalf("no conversation id on start (%q) or no usage chunk with token totals (%v)", convID, total)
			}
			// The chunks that end the run carry the conversation, the stored reply
			// and the totals, under the old names.
			last := chunks[len(chunks)-1]
			end := chunks[len(chunks)-2]
			if last["type"] != "done" || last["conversation_id"] != convID {
				t.Errorf("done chunk %v", last)
			}
			if u, _ := last["usage"].(map[string]any); u == nil || u["total_tokens"] != total {
				t.Errorf("done chunk does not carry the token totals %v: %v", total, last)
			}
			if tc.fails {
				if end["type"] != "error" || end["conversation_id"] != convID {
					t.Fatalf("end chunk %v", end)
				}
				msg, ok := end["error"].(string)
				if !ok || msg == "" || end["code"] != "llm_error" {
					t.Errorf("error chunk: error %#v (want the message as a string) and code %#v beside it", end["error"], end["code"])
				}
				if !page.threw || page.errMessage != msg {
					t.Errorf("the page threw %v with %q, want the error message %q", page.threw, page.errMessage, msg)
				}
				return
			}
			if end["type"] != "complete" || end["conversation_id"] != convID {
				t.Fatalf("end chunk %v", end)
			}
			msgID, _ = end["message_id"].(string)
			resp2, _ := end["response"].(map[string]any)
			if msgID == "" || resp2 == nil || resp2["message_id"] != msgID || last["message_id"] != msgID {
				t.Errorf("complete chunk message_id %q, response %v, done %v", msgID, resp2, last)
			}
			if page.threw || !strings.Contains(page.content, tc.content) || page.content != resp2["response"] {
				t.Errorf("the page shows %q (threw %v %q), want the reply %q", page.content, page.threw, page.errMessage, resp2["response"])
			}
			if page.totalTokens != total || page.model != resp2["model"] || page.responseTime != resp2["response_time_ms"] {
				t.Errorf("the page read tokens %v model %v time %v; want %v %v %v", page.totalTokens, page.model,
					page.responseTime, total, resp2["model"], resp2["response_time_ms"])
			}
		})
	}
}
