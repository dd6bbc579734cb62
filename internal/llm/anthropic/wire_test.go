package anthropic

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// The frames below follow the Messages streaming wire format byte for byte: named
// events, one JSON object per data line, ping events, and the field sets the API
// sends (message_start carries the whole empty message with its usage).

const testKey = "sk-ant-api03-TESTKEY-do-not-leak-0123456789"

type frame struct{ event, data string }

func sse(frames ...frame) string {
	var b strings.Builder
	for _, f := range frames {
		fmt.Fprintf(&b, "event: %s\ndata: %s\n\n", f.event, f.data)
	}
	return b.String()
}

func messageStart(inputTokens, cacheRead, cacheWrite int) frame {
	return frame{"message_start", fmt.Sprintf(`{"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-sonnet-5-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":%d,"cache_creation_input_tokens":%d,"cache_read_input_tokens":%d,"cache_creation":{"ephemeral_5m_input_tokens":%d,"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard"}}}`,
		inputTokens, cacheWrite, cacheRead, cacheWrite)}
}

func ping() frame { return frame{"ping", `{"type": "ping"}`} }

func textStart(index int) frame {
	return frame{"content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"text","text":""}}`, index)}
}

func textDelta(index int, text string) frame {
	return frame{"content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"text_delta","text":%q}}`, index, text)}
}

func toolStart(index int, id, name string) frame {
	return frame{"content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"tool_use","id":%q,"name":%q,"input":{}}}`, index, id, name)}
}

func jsonDelta(index int, partial string) frame {
	return frame{"content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"input_json_delta","partial_json":%q}}`, index, partial)}
}

func blockStop(index int) frame {
	return frame{"content_block_stop", fmt.Sprintf(`{"type":"content_block_stop","index":%d}`, index)}
}

func messageDelta(stopReason string, outputTokens int) frame {
	return frame{"message_delta", fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":%q,"stop_sequence":null},"usage":{"output_tokens":%d}}`, stopReason, outputTokens)}
}

func messageStop() frame { return frame{"message_stop", `{"type":"message_stop"}`} }

func errorEvent(typ, msg string) frame {
	return frame{"error", fmt.Sprintf(`{"type": "error", "error": {"type": %q, "message": %q}}`, typ, msg)}
}

func errorBody(typ, msg string) string {
	return fmt.Sprintf(`{"type":"error","error":{"type":%q,"message":%q},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}`, typ, msg)
}

// textReply is a complete plain-text message as the API streams it.
func textReply(parts ...string) string {
	frames := []frame{messageStart(25, 0, 0), textStart(0), ping()}
	for _, p := range parts {
		frames = append(frames, textDelta(0, p))
	}
	frames = append(frames, blockStop(0), messageDelta("end_turn", 15), messageStop())
	return sse(frames...)
}

// writeSSE writes body as a 200 event stream, flushed so the client sees it at once.
func writeSSE(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("request-id", "req_018EeWyXxfu5pfWkrYcMdjWG")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(body))
	http.NewResponseController(w).Flush()
}

func writeError(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("request-id", "req_011CSHoEeqs5C35K2UUqR7Fy")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// newTestProvider serves handler on 127.0.0.1 and returns a Provider pointed at it
// and a counter of requests received.
func newTestProvider(t *testing.T, handler http.HandlerFunc) (*Provider, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	p, err := New(Config{APIKey: testKey, BaseURL: srv.URL, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p, &hits
}

func serveBody(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { writeSSE(w, body) }
}
