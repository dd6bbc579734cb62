package providers_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/providers"
	"github.com/chatterhq/chatter/internal/store"
)

// These tests run executor.Execute end to end through each real adapter, built by
// Load from the same variables a deployment sets, against a 127.0.0.1 server that
// speaks the provider's streaming wire format: OpenAI SSE chunks, Anthropic SSE
// events, Bedrock application/vnd.amazon.eventstream frames.

const (
	e2eUser    = "user-e2e"
	e2eKey     = "sk-e2e-TESTKEY-0123456789"
	answer     = "The answer is 5."
	partial    = "The answer is"
	calcCallID = "call_calc_1"
)

var (
	answerParts  = []string{"The", " answer", " is", " 5."}
	partialParts = []string{"The", " answer", " is"}
	// The calculator arguments arrive in several fragments, split mid-token.
	argFragments = []string{`{"expr`, `ession": "2`, `+3"}`}
	// Token counts of the two calls, as llm.Usage must report them (uncached input
	// apart from cache reads and writes). OpenAI reports no cache writes.
	toolCallUsage = llm.Usage{InputTokens: 412, OutputTokens: 23, CacheReadTokens: 0, CacheWriteTokens: 96}
	textUsage     = llm.Usage{InputTokens: 57, OutputTokens: 9, CacheReadTokens: 448, CacheWriteTokens: 0}
)

// reply is one scripted HTTP answer.
type reply struct {
	status int // 0 means 200
	header http.Header
	chunks [][]byte // written and flushed one at a time
	abort  bool     // drop the connection after the chunks (a stream cut mid-way)
}

// dialect is one provider's wire format and configuration.
type dialect struct {
	name       string
	model      string // must be in the price table
	authHeader string // the credential header the adapter sends; "" means Authorization
	authPrefix string // of that header's value
	cacheWrite bool   // whether the wire reports cache writes
	env        func(url string) (map[string]string, *aws.Config)
	toolCall   func(t *testing.T, id string, frags []string, u llm.Usage) reply
	// textThenToolCall is a reply with a text block before the tool call.
	textThenToolCall func(t *testing.T, text, id string, frags []string, u llm.Usage) reply
	text             func(t *testing.T, parts []string, u llm.Usage) reply
	rateLimit        func(t *testing.T) reply
	// broken streams parts, then fails: an in-stream error, or with cut a dropped
	// connection.
	broken func(t *testing.T, parts []string, cut bool) reply
	// tools lists the tool names offered in a request body.
	tools func(t *testing.T, body []byte) []string
	// toolResults lists the (call id, text) tool results sent in a request body.
	toolResults func(t *testing.T, body []byte) [][2]string
}

func (d dialect) usage(u llm.Usage) llm.Usage {
	if !d.cacheWrite {
		u.CacheWriteTokens = 0
	}
	return u
}

// fakeServer plays one reply per request, in order, and records what it was sent.
type fakeServer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	replies []reply
	bodies  [][]byte
	headers []http.Header
	times   []time.Time
}

func newFakeServer(t *testing.T, replies ...reply) *fakeServer {
	f := &fakeServer{replies: replies}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	f.headers = append(f.headers, r.Header.Clone())
	f.times = append(f.times, time.Now())
	rep := reply{status: http.StatusInternalServerError, chunks: [][]byte{[]byte(`{"message":"no scripted reply"}`)}}
	if len(f.replies) > 0 {
		rep, f.replies = f.replies[0], f.replies[1:]
	}
	f.mu.Unlock()
	for k, v := range rep.header {
		w.Header()[k] = v
	}
	if rep.status == 0 {
		rep.status = http.StatusOK
	}
	w.WriteHeader(rep.status)
	rc := http.NewResponseController(w)
	for _, c := range rep.chunks {
		if _, err := w.Write(c); err != nil {
			return
		}
		_ = rc.Flush()
	}
	if rep.abort {
		panic(http.ErrAbortHandler) // net/http drops the connection without ending the body
	}
}

func (f *fakeServer) requests() ([][]byte, []http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.bodies), slices.Clone(f.headers)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func decodeJSON(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("request body is not the expected JSON: %v\n%s", err, body)
	}
}

// OpenAI: "data: <chunk>" lines, usage in a last chunk with empty choices, then
// "data: [DONE]" (stream_options.include_usage).

func openaiSSE(frames ...string) [][]byte {
	out := make([][]byte, len(frames))
	for i, f := range frames {
		out[i] = []byte("data: " + f + "\n\n")
	}
	return out
}

const openaiPrefix = `{"id":"chatcmpl-E2E","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_06737a9306","choices":[{"index":0,"delta":`

func openaiChunk(delta, finish string) string {
	fr := "null"
	if finish != "" {
		fr = strconv.Quote(finish)
	}
	return openaiPrefix + delta + `,"logprobs":null,"finish_reason":` + fr + `}],"usage":null}`
}

func openaiUsage(u llm.Usage) string {
	prompt := u.InputTokens + u.CacheReadTokens // prompt_tokens includes cached tokens
	return fmt.Sprintf(`{"id":"chatcmpl-E2E","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,"prompt_tokens_details":{"cached_tokens":%d,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}`,
		prompt, u.OutputTokens, prompt+u.OutputTokens, u.CacheReadTokens)
}

var sseHeader = http.Header{"Content-Type": {"text/event-stream; charset=utf-8"}, "Cache-Control": {"no-cache"}}

var openaiDialect = dialect{
	name: "openai", model: "gpt-4o-mini", authPrefix: "Bearer " + e2eKey,
	env: func(url string) (map[string]string, *aws.Config) {
		return map[string]string{"OPENAI_API_KEY": e2eKey, "OPENAI_BASE_URL": url + "/v1", "OPENAI_MODEL": "gpt-4o-mini"}, nil
	},
	toolCall: func(_ *testing.T, id string, frags []string, u llm.Usage) reply {
		frames := []string{openaiChunk(`{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"`+id+`","type":"function","function":{"name":"calculator","arguments":""}}],"refusal":null}`, "")}
		for _, f := range frags {
			frames = append(frames, openaiChunk(`{"tool_calls":[{"index":0,"function":{"arguments":`+jsonString(f)+`}}]}`, ""))
		}
		frames = append(frames, openaiChunk(`{}`, "tool_calls"), openaiUsage(u), "[DONE]")
		return reply{header: sseHeader, chunks: openaiSSE(frames...)}
	},
	textThenToolCall: func(_ *testing.T, text, id string, frags []string, u llm.Usage) reply {
		frames := []string{openaiChunk(`{"role":"assistant","content":"","refusal":null}`, ""), openaiChunk(`{"content":`+jsonString(text)+`}`, ""),
			openaiChunk(`{"tool_calls":[{"index":0,"id":"`+id+`","type":"function","function":{"name":"calculator","arguments":""}}]}`, "")}
		for _, f := range frags {
			frames = append(frames, openaiChunk(`{"tool_calls":[{"index":0,"function":{"arguments":`+jsonString(f)+`}}]}`, ""))
		}
		frames = append(frames, openaiChunk(`{}`, "tool_calls"), openaiUsage(u), "[DONE]")
		return reply{header: sseHeader, chunks: openaiSSE(frames...)}
	},
	text: func(_ *testing.T, parts []string, u llm.Usage) reply {
		frames := []string{openaiChunk(`{"role":"assistant","content":"","refusal":null}`, "")}
		for _, p := range parts {
			frames = append(frames, openaiChunk(`{"content":`+jsonString(p)+`}`, ""))
		}
		frames = append(frames, openaiChunk(`{}`, "stop"), openaiUsage(u), "[DONE]")
		return reply{header: sseHeader, chunks: openaiSSE(frames...)}
	},
	rateLimit: func(*testing.T) reply {
		return reply{status: http.StatusTooManyRequests, header: http.Header{"Content-Type": {"application/json"}},
			chunks: [][]byte{[]byte(`{"error":{"message":"Rate limit reached for gpt-4o-mini in organization org-abc on requests per min (RPM): Limit 3, Used 3, Requested 1.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)}}
	},
	broken: func(_ *testing.T, parts []string, cut bool) reply {
		frames := []string{openaiChunk(`{"role":"assistant","content":"","refusal":null}`, "")}
		for _, p := range parts {
			frames = append(frames, openaiChunk(`{"content":`+jsonString(p)+`}`, ""))
		}
		if !cut {
			frames = append(frames, `{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}`)
		}
		return reply{header: sseHeader, chunks: openaiSSE(frames...), abort: cut}
	},
	tools: func(t *testing.T, body []byte) []string {
		var req struct {
			Tools []struct {
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			} `json:"tools"`
		}
		decodeJSON(t, body, &req)
		var out []string
		for _, tl := range req.Tools {
			out = append(out, tl.Function.Name)
		}
		return out
	},
	toolResults: func(t *testing.T, body []byte) [][2]string {
		var req struct {
			Messages []struct {
				Role       string          `json:"role"`
				Content    json.RawMessage `json:"content"`
				ToolCallID string          `json:"tool_call_id"`
			} `json:"messages"`
		}
		decodeJSON(t, body, &req)
		var out [][2]string
		for _, m := range req.Messages {
			if m.Role != "tool" {
				continue
			}
			var text string
			if json.Unmarshal(m.Content, &text) != nil { // or an array of text parts
				var parts []struct {
					Text string `json:"text"`
				}
				decodeJSON(t, m.Content, &parts)
				for _, p := range parts {
					text += p.Text
				}
			}
			out = append(out, [2]string{m.ToolCallID, text})
		}
		return out
	},
}

// Anthropic: named SSE events, usage in message_start (input, cache) and
// message_delta (output).

func anthropicSSE(events ...[2]string) [][]byte {
	out := make([][]byte, len(events))
	for i, e := range events {
		out[i] = []byte("event: " + e[0] + "\ndata: " + e[1] + "\n\n")
	}
	return out
}

func anthropicStart(u llm.Usage) [2]string {
	return [2]string{"message_start", fmt.Sprintf(`{"type":"message_start","message":{"id":"msg_e2e","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":%d,"cache_creation_input_tokens":%d,"cache_read_input_tokens":%d,"cache_creation":{"ephemeral_5m_input_tokens":%d,"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard"}}}`,
		u.InputTokens, u.CacheWriteTokens, u.CacheReadTokens, u.CacheWriteTokens)}
}

func anthropicTextDelta(p string) [2]string {
	return [2]string{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":` + jsonString(p) + `}}`}
}

func anthropicEnd(stop string, out int) [][2]string {
	return [][2]string{
		{"content_block_stop", `{"type":"content_block_stop","index":0}`},
		{"message_delta", fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":%q,"stop_sequence":null},"usage":{"output_tokens":%d}}`, stop, out)},
		{"message_stop", `{"type":"message_stop"}`},
	}
}

var (
	anthropicTextStart = [2]string{"content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`}
	anthropicPing      = [2]string{"ping", `{"type": "ping"}`}
	anthropicHeader    = http.Header{"Content-Type": {"text/event-stream; charset=utf-8"}, "Cache-Control": {"no-cache"}, "Request-Id": {"req_e2e"}}
)

var anthropicDialect = dialect{
	name: "anthropic", model: "claude-sonnet-4-5", authHeader: "X-Api-Key", authPrefix: e2eKey, cacheWrite: true,
	env: func(url string) (map[string]string, *aws.Config) {
		return map[string]string{"ANTHROPIC_API_KEY": e2eKey, "ANTHROPIC_BASE_URL": url, "ANTHROPIC_MODEL": "claude-sonnet-4-5"}, nil
	},
	toolCall: func(_ *testing.T, id string, frags []string, u llm.Usage) reply {
		evs := [][2]string{anthropicStart(u),
			{"content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":` + jsonString(id) + `,"name":"calculator","input":{}}}`},
			anthropicPing,
			{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}`}}
		for _, f := range frags {
			evs = append(evs, [2]string{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":` + jsonString(f) + `}}`})
		}
		evs = append(evs, anthropicEnd("tool_use", u.OutputTokens)...)
		return reply{header: anthropicHeader, chunks: anthropicSSE(evs...)}
	},
	textThenToolCall: func(_ *testing.T, text, id string, frags []string, u llm.Usage) reply {
		evs := [][2]string{anthropicStart(u), anthropicTextStart, anthropicPing, anthropicTextDelta(text),
			{"content_block_stop", `{"type":"content_block_stop","index":0}`},
			{"content_block_start", `{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":` + jsonString(id) + `,"name":"calculator","input":{}}}`},
			{"content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}`}}
		for _, f := range frags {
			evs = append(evs, [2]string{"content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":` + jsonString(f) + `}}`})
		}
		end := anthropicEnd("tool_use", u.OutputTokens)
		end[0][1] = `{"type":"content_block_stop","index":1}`
		evs = append(evs, end...)
		return reply{header: anthropicHeader, chunks: anthropicSSE(evs...)}
	},
	text: func(_ *testing.T, parts []string, u llm.Usage) reply {
		evs := [][2]string{anthropicStart(u), anthropicTextStart, anthropicPing}
		for _, p := range parts {
			evs = append(evs, anthropicTextDelta(p))
		}
		evs = append(evs, anthropicEnd("end_turn", u.OutputTokens)...)
		return reply{header: anthropicHeader, chunks: anthropicSSE(evs...)}
	},
	rateLimit: func(*testing.T) reply {
		return reply{status: http.StatusTooManyRequests, header: http.Header{"Content-Type": {"application/json"}, "Request-Id": {"req_e2e"}},
			chunks: [][]byte{[]byte(`{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"},"request_id":"req_e2e"}`)}}
	},
	broken: func(_ *testing.T, parts []string, cut bool) reply {
		evs := [][2]string{anthropicStart(llm.Usage{InputTokens: 10}), anthropicTextStart}
		for _, p := range parts {
			evs = append(evs, anthropicTextDelta(p))
		}
		if !cut {
			evs = append(evs, [2]string{"error", `{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}`})
		}
		return reply{header: anthropicHeader, chunks: anthropicSSE(evs...), abort: cut}
	},
	tools: func(t *testing.T, body []byte) []string {
		var req struct {
			Tools []struct {
				Name string `json:"name"`
			} `json:"tools"`
		}
		decodeJSON(t, body, &req)
		var out []string
		for _, tl := range req.Tools {
			out = append(out, tl.Name)
		}
		return out
	},
	toolResults: func(t *testing.T, body []byte) [][2]string {
		var req struct {
			Messages []struct {
				Role    string `json:"role"`
				Content []struct {
					Type      string          `json:"type"`
					ToolUseID string          `json:"tool_use_id"`
					Content   json.RawMessage `json:"content"`
				} `json:"content"`
			} `json:"messages"`
		}
		decodeJSON(t, body, &req)
		var out [][2]string
		for _, m := range req.Messages {
			for _, b := range m.Content {
				if b.Type != "tool_result" {
					continue
				}
				var text string
				if json.Unmarshal(b.Content, &text) != nil {
					var parts []struct {
						Text string `json:"text"`
					}
					decodeJSON(t, b.Content, &parts)
					for _, p := range parts {
						text += p.Text
					}
				}
				out = append(out, [2]string{b.ToolUseID, text})
			}
		}
		return out
	},
}

// Bedrock: binary event-stream messages whose JSON payloads carry the "p" padding
// field the real service adds; usage arrives in the final metadata event.

func bedrockFrame(t *testing.T, msgType, typeHeader, typeValue, payload string) []byte {
	t.Helper()
	var m eventstream.Message
	m.Headers.Set(typeHeader, eventstream.StringValue(typeValue))
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	m.Headers.Set(":message-type", eventstream.StringValue(msgType))
	m.Payload = []byte(payload)
	var buf bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&buf, m); err != nil {
		t.Fatalf("encode frame: %v", err)
	}
	return buf.Bytes()
}

func bedrockEvent(t *testing.T, eventType, payload string) []byte {
	return bedrockFrame(t, "event", ":event-type", eventType, payload)
}

func bedrockStart(t *testing.T) []byte {
	return bedrockEvent(t, "messageStart", `{"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS","role":"assistant"}`)
}

func bedrockText(t *testing.T, p string) []byte {
	return bedrockEvent(t, "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":`+jsonString(p)+`},"p":"abcdefghijk"}`)
}

func bedrockEnd(t *testing.T, stop string, u llm.Usage) [][]byte {
	return [][]byte{
		bedrockEvent(t, "contentBlockStop", `{"contentBlockIndex":0,"p":"abcdefghijklmnopq"}`),
		bedrockEvent(t, "messageStop", `{"p":"abcdefghijklmnopqrstuvwxy","stopReason":`+jsonString(stop)+`}`),
		bedrockEvent(t, "metadata", fmt.Sprintf(`{"metrics":{"latencyMs":431},"p":"abcdefghijklmnopqr","usage":{"cacheReadInputTokens":%d,"cacheWriteInputTokens":%d,"inputTokens":%d,"outputTokens":%d,"totalTokens":%d}}`,
			u.CacheReadTokens, u.CacheWriteTokens, u.InputTokens, u.OutputTokens, u.Total()+u.CacheReadTokens+u.CacheWriteTokens)),
	}
}

var bedrockHeader = http.Header{"Content-Type": {"application/vnd.amazon.eventstream"}, "X-Amzn-Requestid": {"4b1d7c6e-0000-4000-8000-00000000e2e0"}}

var bedrockDialect = dialect{
	name: "bedrock", model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", authPrefix: "AWS4-HMAC-SHA256 ", cacheWrite: true,
	env: func(url string) (map[string]string, *aws.Config) {
		return map[string]string{"BEDROCK_ENDPOINT_URL": url, "BEDROCK_MODEL": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"}, staticAWS()
	},
	toolCall: func(t *testing.T, id string, frags []string, u llm.Usage) reply {
		chunks := [][]byte{bedrockStart(t),
			bedrockEvent(t, "contentBlockStart", `{"contentBlockIndex":0,"p":"abcdefghij","start":{"toolUse":{"name":"calculator","toolUseId":`+jsonString(id)+`}}}`)}
		for _, f := range frags {
			chunks = append(chunks, bedrockEvent(t, "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"toolUse":{"input":`+jsonString(f)+`}},"p":"abcdefghijklmn"}`))
		}
		chunks = append(chunks, bedrockEnd(t, "tool_use", u)...)
		return reply{header: bedrockHeader, chunks: chunks}
	},
	textThenToolCall: func(t *testing.T, text, id string, frags []string, u llm.Usage) reply {
		chunks := [][]byte{bedrockStart(t), bedrockText(t, text),
			bedrockEvent(t, "contentBlockStop", `{"contentBlockIndex":0,"p":"abcdefghijklmnopq"}`),
			bedrockEvent(t, "contentBlockStart", `{"contentBlockIndex":1,"p":"abcdefghij","start":{"toolUse":{"name":"calculator","toolUseId":`+jsonString(id)+`}}}`)}
		for _, f := range frags {
			chunks = append(chunks, bedrockEvent(t, "contentBlockDelta", `{"contentBlockIndex":1,"delta":{"toolUse":{"input":`+jsonString(f)+`}},"p":"abcdefghijklmn"}`))
		}
		end := bedrockEnd(t, "tool_use", u)
		end[0] = bedrockEvent(t, "contentBlockStop", `{"contentBlockIndex":1,"p":"abcdefghijklmnopq"}`)
		chunks = append(chunks, end...)
		return reply{header: bedrockHeader, chunks: chunks}
	},
	text: func(t *testing.T, parts []string, u llm.Usage) reply {
		chunks := [][]byte{bedrockStart(t)}
		for _, p := range parts {
			chunks = append(chunks, bedrockText(t, p))
		}
		chunks = append(chunks, bedrockEnd(t, "end_turn", u)...)
		return reply{header: bedrockHeader, chunks: chunks}
	},
	rateLimit: func(*testing.T) reply {
		return reply{status: http.StatusTooManyRequests, header: http.Header{"Content-Type": {"application/json"},
			"X-Amzn-Errortype": {"ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"}},
			chunks: [][]byte{[]byte(`{"message":"Too many requests, please wait before trying again."}`)}}
	},
	broken: func(t *testing.T, parts []string, cut bool) reply {
		chunks := [][]byte{bedrockStart(t)}
		for _, p := range parts {
			chunks = append(chunks, bedrockText(t, p))
		}
		if !cut {
			chunks = append(chunks, bedrockFrame(t, "exception", ":exception-type", "internalServerException", `{"message":"Internal server error"}`))
		}
		return reply{header: bedrockHeader, chunks: chunks, abort: cut}
	},
	tools: func(t *testing.T, body []byte) []string {
		var req struct {
			ToolConfig struct {
				Tools []struct {
					ToolSpec struct {
						Name string `json:"name"`
					} `json:"toolSpec"`
				} `json:"tools"`
			} `json:"toolConfig"`
		}
		decodeJSON(t, body, &req)
		var out []string
		for _, tl := range req.ToolConfig.Tools {
			out = append(out, tl.ToolSpec.Name)
		}
		return out
	},
	toolResults: func(t *testing.T, body []byte) [][2]string {
		var req struct {
			Messages []struct {
				Content []struct {
					ToolResult *struct {
						ToolUseID string `json:"toolUseId"`
						Content   []struct {
							Text string `json:"text"`
						} `json:"content"`
					} `json:"toolResult"`
				} `json:"content"`
			} `json:"messages"`
		}
		decodeJSON(t, body, &req)
		var out [][2]string
		for _, m := range req.Messages {
			for _, b := range m.Content {
				if b.ToolResult == nil {
					continue
				}
				var text string
				for _, c := range b.ToolResult.Content {
					text += c.Text
				}
				out = append(out, [2]string{b.ToolResult.ToolUseID, text})
			}
		}
		return out
	},
}

var dialects = []dialect{openaiDialect, anthropicDialect, bedrockDialect}

// e2eRun is one provider's executor over a scripted server.
type e2eRun struct {
	srv  *fakeServer
	x    *executor.Executor
	mem  *store.Memory
	rec  *events.Recorder
	sink *executor.Collector
}

func newE2E(t *testing.T, d dialect, replies ...reply) *e2eRun {
	t.Helper()
	if _, ok := llm.LookupPrice(d.name, d.model); !ok {
		t.Fatalf("model %s/%s is not in the price table", d.name, d.model)
	}
	srv := newFakeServer(t, replies...)
	env, cfg := d.env(srv.srv.URL)
	env["CHATTER_DEFAULT_PROVIDER"] = d.name
	set, err := providers.Load(t.Context(), envOf(env), cfg, providers.Options{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := names(set.Providers); !slices.Equal(got, []string{d.name}) {
		t.Fatalf("providers = %v, want only %s", got, d.name)
	}
	x, mem, rec := newExecutor(t, set, func(o *executor.Options) { o.RetryBase = time.Microsecond })
	return &e2eRun{srv: srv, x: x, mem: mem, rec: rec, sink: &executor.Collector{}}
}

func (e *e2eRun) execute(t *testing.T, d dialect, tools bool) (*executor.Result, error) {
	t.Helper()
	req := executor.Request{Source: executor.Source{Kind: executor.SourceDynamic}, Mode: executor.ModeStreaming,
		Input: executor.Input{Message: "What is 2+3?", UserID: e2eUser, Config: executor.Config{
			EnableTools: &tools, AllowedTools: []string{"calculator"}, Model: d.model}}}
	return e.x.Execute(t.Context(), req, e.sink)
}

func (e *e2eRun) tokenUsage(t *testing.T, execID string) []events.TokenUsageData {
	t.Helper()
	var out []events.TokenUsageData
	for _, ev := range e.rec.Events() {
		if ev.ExecutionID != execID || ev.Type != events.TokenUsage {
			continue
		}
		data, ok := ev.Data.(events.TokenUsageData)
		if !ok {
			t.Fatalf("token_usage data is %T, want events.TokenUsageData", ev.Data)
		}
		out = append(out, data)
	}
	return out
}

func (e *e2eRun) assistant(t *testing.T, convID string) store.Message {
	t.Helper()
	msgs, err := e.mem.Messages(t.Context(), e2eUser, convID)
	if err != nil {
		t.Fatalf("Messages: %v", err)
	}
	if len(msgs) != 2 || msgs[0].Role != llm.RoleUser || msgs[1].Role != llm.RoleAssistant {
		t.Fatalf("stored messages = %+v, want the user message then the assistant's", msgs)
	}
	return msgs[1]
}

func sameUSD(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

func TestE2E_ToolCallThenAnswer(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			u1, u2 := d.usage(toolCallUsage), d.usage(textUsage)
			e := newE2E(t, d, d.toolCall(t, calcCallID, argFragments, u1), d.text(t, answerParts, u2))
			res, err := e.execute(t, d, true)
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}

			bodies, headers := e.srv.requests()
			if len(bodies) != 2 {
				t.Fatalf("the server got %d requests, want 2", len(bodies))
			}
			for i, h := range headers {
				name := d.authHeader
				if name == "" {
					name = "Authorization"
				} else if got := h.Get("Authorization"); got != "" {
					t.Errorf("request %d Authorization = %q, want only %s", i, got, name)
				}
				if got := h.Get(name); !strings.HasPrefix(got, d.authPrefix) {
					t.Errorf("request %d %s = %q, want prefix %q", i, name, got, d.authPrefix)
				}
			}
			if got := d.tools(t, bodies[0]); !slices.Equal(got, []string{"calculator"}) {
				t.Errorf("first request offers tools %v, want [calculator]", got)
			}
			if got := d.toolResults(t, bodies[0]); len(got) != 0 {
				t.Errorf("first request carries tool results %v", got)
			}
			if got := d.toolResults(t, bodies[1]); !slices.Equal(got, [][2]string{{calcCallID, "5"}}) {
				t.Errorf("second request tool results = %v, want [[%s 5]]", got, calcCallID)
			}

			if res.Status != store.ExecCompleted || res.Provider != d.name || res.Model != d.model {
				t.Errorf("status, provider, model = %q, %q, %q", res.Status, res.Provider, res.Model)
			}
			if res.Response != answer {
				t.Errorf("response = %q, want %q", res.Response, answer)
			}
			if got := e.sink.Text(); got != answer {
				t.Errorf("token chunks = %q, want %q", got, answer)
			}
			if len(res.ToolCalls) != 1 {
				t.Fatalf("tool calls = %+v, want one", res.ToolCalls)
			}
			tc := res.ToolCalls[0]
			var args map[string]string
			if err := json.Unmarshal(tc.Arguments, &args); err != nil || args["expression"] != "2+3" {
				t.Errorf("tool call arguments = %s (%v), want the fragments joined", tc.Arguments, err)
			}
			if tc.ID != calcCallID || tc.Name != "calculator" || tc.Result != "5" || tc.IsError {
				t.Errorf("tool call = %+v, want calculator %s -> 5", tc, calcCallID)
			}

			want := u1.Add(u2)
			if res.Usage != want {
				t.Errorf("usage = %+v, want the sum of both calls %+v", res.Usage, want)
			}
			wantCost := llm.ComputeCost(d.name, d.model, want)
			if !res.Cost.Known || !sameUSD(res.Cost.USD, wantCost.USD) || res.Cost.USD <= 0 {
				t.Errorf("cost = %+v, want known %v USD", res.Cost, wantCost.USD)
			}

			tu := e.tokenUsage(t, res.ExecutionID)
			if len(tu) != 2 {
				t.Fatalf("token_usage events = %+v, want one per model call", tu)
			}
			for i, u := range []llm.Usage{u1, u2} {
				got := llm.Usage{InputTokens: tu[i].InputTokens, OutputTokens: tu[i].OutputTokens,
					CacheReadTokens: tu[i].CacheReadTokens, CacheWriteTokens: tu[i].CacheWriteTokens}
				c := llm.ComputeCost(d.name, d.model, u)
				if got != u || tu[i].Provider != d.name || tu[i].Model != d.model || !tu[i].CostKnown || !sameUSD(tu[i].Cost, c.USD) {
					t.Errorf("token_usage %d = %+v, want usage %+v costing %v", i, tu[i], u, c.USD)
				}
			}

			am := e.assistant(t, res.ConversationID)
			if am.Content != answer || am.Status != store.StatusComplete || am.ID != res.AssistantMessageID {
				t.Errorf("assistant message = %q (%s, id %s), want %q complete", am.Content, am.Status, am.ID, answer)
			}
			if am.InputTokens != want.InputTokens || am.OutputTokens != want.OutputTokens ||
				!am.CostKnown || !sameUSD(am.Cost, wantCost.USD) || am.Provider != d.name || am.Model != d.model {
				t.Errorf("assistant message accounting = in %d out %d cost %v known %v %s/%s; want in %d out %d cost %v",
					am.InputTokens, am.OutputTokens, am.Cost, am.CostKnown, am.Provider, am.Model, want.InputTokens, want.OutputTokens, wantCost.USD)
			}
			if len(am.ToolCalls) != 1 || am.ToolCalls[0].Result != "5" {
				t.Errorf("assistant message tool calls = %+v, want the calculator call", am.ToolCalls)
			}
		})
	}
}

func TestE2E_RateLimitedFirstCallIsRetried(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			u := d.usage(textUsage)
			e := newE2E(t, d, d.rateLimit(t), d.text(t, answerParts, u))
			res, err := e.execute(t, d, false)
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if bodies, _ := e.srv.requests(); len(bodies) != 2 {
				t.Errorf("the server got %d requests, want the 429 and one retry", len(bodies))
			}
			if res.Status != store.ExecCompleted || res.Response != answer || e.sink.Text() != answer {
				t.Errorf("status %q, response %q, streamed %q; want completed %q", res.Status, res.Response, e.sink.Text(), answer)
			}
			if res.Usage != u {
				t.Errorf("usage = %+v, want only the successful call's %+v", res.Usage, u)
			}
			if tu := e.tokenUsage(t, res.ExecutionID); len(tu) != 1 {
				t.Errorf("token_usage events = %d, want 1 (the rate-limited call produced nothing)", len(tu))
			}
			if am := e.assistant(t, res.ConversationID); am.Content != answer || am.Status != store.StatusComplete {
				t.Errorf("assistant message = %q (%s), want %q complete", am.Content, am.Status, answer)
			}
		})
	}
}

func TestE2E_StreamFailingAfterTextStoresIncompleteReply(t *testing.T) {
	for _, d := range dialects {
		for _, cut := range []bool{false, true} {
			name := d.name + "/in-stream error"
			if cut {
				name = d.name + "/connection dropped"
			}
			t.Run(name, func(t *testing.T) {
				// A second scripted reply would make a wrong retry succeed; the run
				// must fail anyway, since text was already streamed.
				e := newE2E(t, d, d.broken(t, partialParts, cut), d.text(t, answerParts, d.usage(textUsage)))
				res, err := e.execute(t, d, false)
				var re *executor.RuntimeError
				if !errors.As(err, &re) || re.Code != errcode.LLM {
					t.Fatalf("Execute error = %v (%T), want *executor.RuntimeError llm_error", err, err)
				}
				if re.LLMCode != llm.CodeUnavailable {
					t.Errorf("provider error code = %q, want unavailable", re.LLMCode)
				}
				if bodies, _ := e.srv.requests(); len(bodies) != 1 {
					t.Errorf("the server got %d requests, want 1: no retry after the first token", len(bodies))
				}
				if res == nil {
					t.Fatal("no Result for a runtime error")
				}
				if res.Status != store.ExecFailed || res.Response != partial || e.sink.Text() != partial {
					t.Errorf("status %q, response %q, streamed %q; want failed with %q", res.Status, res.Response, e.sink.Text(), partial)
				}
				if !slices.Contains(e.sink.Types(), wire.ChunkError) {
					t.Errorf("chunks %v carry no error", e.sink.Types())
				}
				if am := e.assistant(t, res.ConversationID); am.Content != partial || am.Status != store.StatusIncomplete {
					t.Errorf("assistant message = %q (%s), want %q incomplete", am.Content, am.Status, partial)
				}
				ex, err := e.mem.GetExecution(t.Context(), e2eUser, res.ExecutionID)
				if err != nil {
					t.Fatalf("GetExecution: %v", err)
				}
				if ex.Status != store.ExecFailed || ex.ErrorCode != errcode.LLM {
					t.Errorf("execution record = %s / %s, want failed / llm_error", ex.Status, ex.ErrorCode)
				}
			})
		}
	}
}

func TestE2E_RetryAfterIsHonoured(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			rl := d.rateLimit(t)
			rl.header = rl.header.Clone()
			rl.header.Set("Retry-After", "1")
			e := newE2E(t, d, rl, d.text(t, answerParts, d.usage(textUsage)))
			res, err := e.execute(t, d, false)
			if err != nil || res.Response != answer {
				t.Fatalf("Execute = %v, %v; want the retry's answer", res, err)
			}
			e.srv.mu.Lock()
			times := slices.Clone(e.srv.times)
			e.srv.mu.Unlock()
			if len(times) != 2 || times[1].Sub(times[0]) < time.Second {
				t.Errorf("request times %v: the retry must wait the Retry-After second", times)
			}
		})
	}
}

// An error frame after the stream opened but before any content (Anthropic's
// documented overloaded_error after message_start and a ping; OpenAI's error
// chunk after the role chunk; Bedrock's exception after messageStart) is retried
// like an HTTP 529/503, and the failed attempt's usage is not counted.
func TestE2E_ErrorBeforeFirstContentIsRetried(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			u := d.usage(textUsage)
			e := newE2E(t, d, d.broken(t, nil, false), d.text(t, answerParts, u))
			res, err := e.execute(t, d, false)
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if bodies, _ := e.srv.requests(); len(bodies) != 2 {
				t.Errorf("the server got %d requests, want the failed one and a retry", len(bodies))
			}
			am := e.assistant(t, res.ConversationID)
			if res.Response != answer || e.sink.Text() != answer || am.Content != answer || am.Status != store.StatusComplete {
				t.Errorf("response %q, streamed %q, stored %q (%s); want %q complete", res.Response, e.sink.Text(), am.Content, am.Status, answer)
			}
			if res.Usage != u || !res.Cost.Known {
				t.Errorf("usage %+v cost %+v; want only the retry's %+v, known", res.Usage, res.Cost, u)
			}
		})
	}
}

// The reported case: a tool round whose first reply has text before the call. The
// joined token frames, the response and the stored message are one string, and the
// usage is both calls'.
func TestE2E_ToolRoundStreamEqualsStoredReply(t *testing.T) {
	const preamble = "Let me compute that."
	want := preamble + "\n\n" + answer
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			u1, u2 := d.usage(toolCallUsage), d.usage(textUsage)
			e := newE2E(t, d, d.textThenToolCall(t, preamble, calcCallID, argFragments, u1), d.text(t, answerParts, u2))
			res, err := e.execute(t, d, true)
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			am := e.assistant(t, res.ConversationID)
			if got := e.sink.Text(); got != want || res.Response != want || am.Content != want {
				t.Errorf("streamed %q, response %q, stored %q; want all %q", got, res.Response, am.Content, want)
			}
			if len(res.ToolCalls) != 1 || res.ToolCalls[0].Result != "5" {
				t.Errorf("tool calls = %+v, want the calculator's 5", res.ToolCalls)
			}
			if res.Usage != u1.Add(u2) {
				t.Errorf("usage = %+v, want %+v", res.Usage, u1.Add(u2))
			}
		})
	}
}
