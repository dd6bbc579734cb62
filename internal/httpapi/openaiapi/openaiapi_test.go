package openaiapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/httpapi/jwtauth"
	"github.com/chatterhq/chatter/internal/httpapi/openaiapi"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
)

const (
	issuer   = "https://auth.chatter.test"
	audience = "chatter-api"
)

// scripted answers every call with its deltas and records the requests.
type scripted struct {
	mu     sync.Mutex
	reqs   []llm.Request
	deltas []llm.Delta
}

func (s *scripted) Name() string { return "scripted" }

func (s *scripted) Stream(_ context.Context, req *llm.Request) llm.Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, *req)
	return &llm.SliceStream{Deltas: s.deltas}
}

func (s *scripted) last() llm.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs[len(s.reqs)-1]
}

type env struct {
	srv *httptest.Server
	st  *store.Memory
	key jwk.Key
}

type envOpts struct {
	rates     map[httpcore.Class]httpcore.Rate
	providers []llm.Provider
	heartbeat time.Duration
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	key, err := jwtauth.NewSigningKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	set := jwk.NewSet()
	_ = set.AddKey(key)
	auth, err := jwtauth.NewStaticKeys(jwtauth.StaticKeysConfig{Keys: set, Issuer: issuer, Audience: audience})
	if err != nil {
		t.Fatal(err)
	}
	st := store.NewMemory()
	providers := o.providers
	if len(providers) == 0 {
		providers = []llm.Provider{devllm.New(devllm.Options{})}
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	x, err := executor.New(executor.Options{Store: st, Emitter: &events.Recorder{}, Providers: providers,
		DefaultModels: map[string]string{"devllm": "devllm", "scripted": "scripted-1"}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	cfg := httpapi.Config{Auth: auth, Logger: logger}
	if o.rates != nil {
		cfg.Limiter, cfg.Rates = st, o.rates
	}
	rt := httpapi.NewRouter(cfg)
	openaiapi.Register(rt, openaiapi.Deps{Executor: x, Catalog: st, Heartbeat: o.heartbeat})
	e := &env{srv: httptest.NewServer(rt), st: st, key: key}
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) post(t *testing.T, ctx context.Context, user, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/v1/chat/completions", strings.NewReader(body))
	tok, err := jwtauth.MintToken(e.key, issuer, audience, user, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func openaiError(t *testing.T, b []byte) wire.OpenAIError {
	t.Helper()
	var e wire.OpenAIErrorResponse
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Message == "" {
		t.Fatalf("not an OpenAI error: %s", b)
	}
	return e.Error
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestCompletions_RefusesWhatAWorkflowCannotHonourNamingTheParam(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := newEnv(t, envOpts{})
	user := `"messages":[{"role":"user","content":"hi"}]`
	for _, tc := range []struct{ body, param string }{
		{`{"model":"devllm",` + user + `,"n":2}`, "n"},
		{`{"model":"devllm",` + user + `,"logprobs":true}`, "logprobs"},
		{`{"model":"devllm",` + user + `,"top_logprobs":3}`, "top_logprobs"},
		{`{"model":"devllm",` + user + `,"response_format":{"type":"json_object"}}`, "response_format"},
		{`{"model":"devllm",` + user + `,"tool_choice":"required"}`, "tool_choice"},
		{`{"model":"devllm",` + user + `,"tool_choice":{"type":"function","function":{"name":"f"}}}`, "tool_choice"},
		{`{"model":"devllm",` + user + `,"stream_options":{"include_usage":true}}`, "stream_options"},
		{`{"model":"devllm",` + user + `,"temperature":2.5}`, "temperature"},
		{`{"model":"devllm",` + user + `,"max_tokens":0}`, "max_tokens"},
		{`{"model":"devllm",` + user + `,"max_completion_tokens":-1}`, "max_completion_tokens"},
		{`{"model":"devllm",` + user + `,"modalities":["text","audio"]}`, "modalities"},
		{`{"model":"devllm",` + user + `,"frobnicate":1}`, "frobnicate"},
		{`{"model":"devllm","messages":[]}`, "messages"},
		{`{"model":"devllm","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}`, "messages.1.role"},
		{`{"model":"devllm","messages":[{"role":"wizard","content":"hi"}]}`, "messages.0.role"},
		{`{"model":"devllm","messages":[{"role":"user","content":"  "}]}`, "messages.0.content"},
		{`{"model":"devllm","messages":[{"role":"user","content":[{"type":"input_audio"}]}]}`, "messages.0.content.0.type"},
		{`{"model":"devllm","messages":[{"role":"user","content":7}]}`, "messages.0.content"},
		{`{` + user + `}`, "model"},
		{`{"model":"definition/01JSAMPLEDEFINITION0000000@0",` + user + `}`, "model"},
	} {
		resp, b := e.post(t, ctx, "alice", tc.body)
		oe := openaiError(t, b)
		if resp.StatusCode != 400 || oe.Type != wire.OpenAIInvalidRequest || deref(oe.Param) != tc.param {
			t.Errorf("%s: %d %+v (param %q)", tc.body, resp.StatusCode, oe, deref(oe.Param))
		}
	}
	// A header and metadata naming two conversations.
	resp, b := e.post(t, ctx, "alice", `{"model":"devllm",`+user+`,"metadata":{"conversation_id":"01JSAMPLECONVERSATION00000"}}`,
		openaiapi.HeaderConversationID, "01JSAMPLECONVERSATION00001")
	if oe := openaiError(t, b); resp.StatusCode != 400 || deref(oe.Param) != "metadata.conversation_id" {
		t.Errorf("two conversations: %d %+v", resp.StatusCode, oe)
	}
	// Another user's (or no) conversation is not found.
	resp, b = e.post(t, ctx, "alice", `{"model":"devllm",`+user+`}`, openaiapi.HeaderConversationID, "01JSAMPLECONVERSATION00000")
	if oe := openaiError(t, b); resp.StatusCode != 404 || deref(oe.Code) != "not_found" {
		t.Errorf("unknown conversation: %d %+v", resp.StatusCode, oe)
	}
}

func TestCompletions_AcceptsAndIgnoresTheClientsToolsAndSamplingKnobs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := newEnv(t, envOpts{})
	resp, b := e.post(t, ctx, "alice", `{"model":"devllm","messages":[{"role":"user","content":"hi"},`+
		`{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},`+
		`{"role":"tool","tool_call_id":"c1","content":"42"},{"role":"user","content":"again","name":"me"}],`+
		`"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"auto","parallel_tool_calls":true,`+
		`"top_p":0.5,"frequency_penalty":0,"presence_penalty":0,"stop":["x"],"seed":1,"store":false,"n":1,`+
		`"response_format":{"type":"text"},"logprobs":false,"reasoning_effort":"low","service_tier":"auto"}`)
	var c wire.ChatCompletion
	if err := json.Unmarshal(b, &c); resp.StatusCode != 200 || err != nil || deref(c.Choices[0].Message.Content) != "You said: again." {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

func TestCompletions_TemperatureMaxTokensSystemAndHistoryReachTheModel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := &scripted{deltas: []llm.Delta{{Kind: llm.DeltaText, Text: "cut"},
		{Kind: llm.DeltaUsage, Usage: llm.Usage{InputTokens: 7, CacheReadTokens: 5, OutputTokens: 3}},
		{Kind: llm.DeltaFinish, FinishReason: llm.FinishLength}}}
	e := newEnv(t, envOpts{providers: []llm.Provider{p}})
	resp, b := e.post(t, ctx, "alice", `{"model":"scripted/any-model","temperature":0.3,"max_tokens":9,"max_completion_tokens":4,`+
		`"messages":[{"role":"system","content":"Be brief."},{"role":"developer","content":[{"type":"text","text":"Use French."}]},`+
		`{"role":"user","content":"one"},{"role":"assistant","content":"un"},{"role":"user","content":"two"}]}`)
	var c wire.ChatCompletion
	if err := json.Unmarshal(b, &c); resp.StatusCode != 200 || err != nil {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	req := p.last()
	if req.Model != "any-model" || req.Temperature == nil || *req.Temperature != 0.3 || req.MaxTokens != 4 ||
		req.System != "Be brief.\n\nUse French." {
		t.Errorf("model request: model %q temperature %v max_tokens %d system %q", req.Model, req.Temperature, req.MaxTokens, req.System)
	}
	var roles []string
	for _, m := range req.Messages {
		roles = append(roles, string(m.Role)+":"+m.Content)
	}
	if strings.Join(roles, ",") != "user:one,assistant:un,user:two" {
		t.Errorf("messages %v", roles)
	}
	u := c.Usage
	if c.Choices[0].FinishReason != "length" || u.PromptTokens != 12 || u.PromptTokensDetails.CachedTokens != 5 ||
		u.CompletionTokens != 3 || u.TotalTokens != 15 {
		t.Errorf("finish %q usage %+v", c.Choices[0].FinishReason, u)
	}
	if c.Model != "scripted/any-model" || c.Object != "chat.completion" ||
		c.ID != "chatcmpl-"+resp.Header.Get(openaiapi.HeaderExecutionID) {
		t.Errorf("completion %+v", c)
	}
}

func TestCompletions_RateLimitIsOpenAIs429(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := newEnv(t, envOpts{rates: map[httpcore.Class]httpcore.Rate{httpcore.ClassChat: {Limit: 1, Window: time.Minute}}})
	body := `{"model":"devllm","messages":[{"role":"user","content":"hi"}]}`
	if resp, b := e.post(t, ctx, "alice", body); resp.StatusCode != 200 {
		t.Fatalf("first: %d %s", resp.StatusCode, b)
	}
	resp, b := e.post(t, ctx, "alice", `{"model":"devllm","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	oe := openaiError(t, b)
	if resp.StatusCode != 429 || oe.Type != "requests" || deref(oe.Code) != "rate_limit_exceeded" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("second (streamed, same class): %d %v %+v", resp.StatusCode, resp.Header, oe)
	}
	if resp, _ := e.post(t, ctx, "bob", body); resp.StatusCode != 200 {
		t.Errorf("another user's first: %d", resp.StatusCode)
	}
}

func TestCompletions_ARunThatFailsNamesItsExecution(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := newEnv(t, envOpts{})
	// Standard: the provider's failure is a 502 server_error naming the run.
	resp, b := e.post(t, ctx, "alice", `{"model":"devllm","messages":[{"role":"user","content":"/fail invalid_request"}]}`)
	oe := openaiError(t, b)
	if resp.StatusCode != 502 || oe.Type != wire.OpenAIServerError || deref(oe.Code) != "llm_error" ||
		resp.Header.Get(openaiapi.HeaderExecutionID) == "" {
		t.Errorf("standard: %d %v %+v", resp.StatusCode, resp.Header, oe)
	}
	// Streaming, broken after the first deltas: an error frame, then [DONE].
	resp, b = e.post(t, ctx, "alice", `{"model":"devllm","stream":true,"messages":[{"role":"user","content":"/break one two three four"}]}`)
	frames := bytes.Split(bytes.TrimSpace(b), []byte("\n\n"))
	last, errFrame := frames[len(frames)-1], frames[len(frames)-2]
	if resp.StatusCode != 200 || string(last) != "data: [DONE]" || !bytes.HasPrefix(errFrame, []byte(`data: {"error":`)) ||
		!bytes.Contains(errFrame, []byte(`"code":"llm_error"`)) || resp.Header.Get(openaiapi.HeaderExecutionID) == "" {
		t.Errorf("stream: %d %v\n%s", resp.StatusCode, resp.Header, b)
	}
	exec, err := e.st.GetExecution(ctx, "alice", resp.Header.Get(openaiapi.HeaderExecutionID))
	if err != nil || exec.Status != store.ExecFailed {
		t.Errorf("execution %+v %v", exec, err)
	}
}

func TestModels_WithoutATokenIsInvalidAPIKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := newEnv(t, envOpts{})
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/v1/models", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if oe := openaiError(t, b); resp.StatusCode != 401 || deref(oe.Code) != "invalid_api_key" {
		t.Errorf("without a token: %d %s", resp.StatusCode, b)
	}
}

func TestCompletions_PingsKeepAStreamOpenAndTheOfficialClientReadsPastThem(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := newEnv(t, envOpts{heartbeat: 5 * time.Millisecond,
		providers: []llm.Provider{devllm.New(devllm.Options{Delay: 15 * time.Millisecond})}})
	body := `{"model":"devllm","stream":true,"messages":[{"role":"user","content":"slow words arrive here"}]}`
	_, raw := e.post(t, ctx, "alice", body)
	if !bytes.Contains(raw, []byte(": ping\n\n")) {
		t.Fatalf("no ping in a slow stream:\n%s", raw)
	}
	tok, err := jwtauth.MintToken(e.key, issuer, audience, "alice", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := openai.NewClient(option.WithBaseURL(e.srv.URL+"/v1/"), option.WithAPIKey(tok), option.WithMaxRetries(0))
	s := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "devllm",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("slow words arrive here")}})
	var acc openai.ChatCompletionAccumulator
	for s.Next() {
		acc.AddChunk(s.Current())
	}
	if err := s.Err(); err != nil || acc.Choices[0].Message.Content != "You said: slow words arrive here." {
		t.Errorf("%v %+v", err, acc.Choices)
	}
}
