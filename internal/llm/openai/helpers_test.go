package openai

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chatterhq/chatter/internal/llm"
)

// testKey is long and shaped like a real key so redaction is exercised for real.
const testKey = "sk-proj-TESTKEY0123456789abcdefSECRET"

// The frames below copy the shapes api.openai.com sends for a streamed chat
// completion with stream_options.include_usage (every chunk has "usage":null except
// the last, whose "choices" is empty).
const chunkPrefix = `{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_06737a9306","choices":[{"index":0,"delta":`

// chunk is one choice-0 frame with delta (a JSON object) and an optional finish reason.
func chunk(delta, finish string) string {
	fr := "null"
	if finish != "" {
		fr = strconv.Quote(finish)
	}
	return chunkPrefix + delta + `,"logprobs":null,"finish_reason":` + fr + `}],"usage":null,"obfuscation":"yS3Ffc"}`
}

func roleChunk() string { return chunk(`{"role":"assistant","content":"","refusal":null}`, "") }

func textChunk(s string) string { return chunk(`{"content":`+jsonString(s)+`}`, "") }

func finishChunk(reason string) string { return chunk(`{}`, reason) }

// toolStart opens call index with id and name, as OpenAI's first tool fragment does.
func toolStart(index int, id, name string) string {
	return chunk(`{"role":"assistant","content":null,"tool_calls":[{"index":`+strconv.Itoa(index)+`,"id":"`+id+`","type":"function","function":{"name":"`+name+`","arguments":""}}],"refusal":null}`, "")
}

// toolArgs is a later fragment: only index and an arguments piece.
func toolArgs(index int, frag string) string {
	return chunk(`{"tool_calls":[{"index":`+strconv.Itoa(index)+`,"function":{"arguments":`+jsonString(frag)+`}}]}`, "")
}

func usageChunk(prompt, completion, cached int) string {
	return `{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_06737a9306","choices":[],"usage":{"prompt_tokens":` +
		strconv.Itoa(prompt) + `,"completion_tokens":` + strconv.Itoa(completion) + `,"total_tokens":` + strconv.Itoa(prompt+completion) +
		`,"prompt_tokens_details":{"cached_tokens":` + strconv.Itoa(cached) + `,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"obfuscation":"Qm3T"}`
}

const done = "[DONE]"

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// sseBody renders frames the way OpenAI writes them: "data: <json>" and a blank line.
func sseBody(frames ...string) string {
	var b strings.Builder
	for _, f := range frames {
		b.WriteString("data: ")
		b.WriteString(f)
		b.WriteString("\n\n")
	}
	return b.String()
}

func writeSSEHeader(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
}

// writeFrames flushes after every frame so the client sees a real stream, not one
// buffered body.
func writeFrames(w http.ResponseWriter, frames ...string) {
	rc := http.NewResponseController(w)
	for _, f := range frames {
		_, _ = io.WriteString(w, sseBody(f))
		_ = rc.Flush()
	}
}

// recorder is a test server that keeps every request it was sent.
type recorder struct {
	srv     *httptest.Server
	mu      sync.Mutex
	bodies  [][]byte
	headers []http.Header
	paths   []string
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

// newServer starts a server whose handler gets the request number (0-based).
func newServer(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		n := len(rec.bodies)
		rec.bodies = append(rec.bodies, body)
		rec.headers = append(rec.headers, r.Header.Clone())
		rec.paths = append(rec.paths, r.URL.Path)
		rec.mu.Unlock()
		h(w, r, n)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

// streamServer replays frames to every request.
func streamServer(t *testing.T, frames ...string) *recorder {
	return newServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		writeSSEHeader(w)
		writeFrames(w, frames...)
	})
}

func newProvider(t *testing.T, rec *recorder) *Provider {
	t.Helper()
	p, err := New(Config{APIKey: testKey, BaseURL: rec.srv.URL + "/v1", Model: "gpt-4o-mini", HTTPClient: rec.srv.Client()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func userRequest(text string) *llm.Request {
	return &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: text}}}
}

// drain reads a stream to the end, returning every delta and the final error.
func drain(s llm.Stream) ([]llm.Delta, error) {
	defer s.Close()
	var out []llm.Delta
	for s.Next() {
		out = append(out, s.Current())
	}
	return out, s.Err()
}

// errCode returns the *llm.Error code of err, failing the test if err is not one.
func errCode(t *testing.T, err error) *llm.Error {
	t.Helper()
	var le *llm.Error
	if !errors.As(err, &le) {
		t.Fatalf("error %v (%T) is not an *llm.Error", err, err)
	}
	return le
}
