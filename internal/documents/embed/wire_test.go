package embed_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/chatterhq/chatter/internal/documents/embed"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/bedrock"
)

// These tests speak the providers' documented wire formats: Bedrock InvokeModel
// (POST /model/{modelId}/invoke, the Titan v2 body {inputText, dimensions,
// normalize} and response {embedding, inputTextTokenCount, embeddingsByType}; errors
// as JSON with X-Amzn-Errortype) and OpenAI's POST /v1/embeddings ({model, input,
// encoding_format, dimensions} → {object: list, data: [{object, index, embedding}],
// model, usage}; errors as {error: {message, type, code}}).

func testAWSConfig() aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""),
	}
}

// vectorFor is the fake providers' embedding of a text: deterministic, so a test can
// tell which text a returned vector belongs to.
func vectorFor(text string, dims int) []float32 {
	r := rand.New(rand.NewPCG(uint64(len(text)), uint64(text[0])))
	v := make([]float32, dims)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func sameVector(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

type fakeTitan struct {
	t        *testing.T
	inFlight atomic.Int32
	maxSeen  atomic.Int32
	calls    atomic.Int32
	failOn   string // inputText answered with a throttling error
	dims     int    // dimensions answered (0: as asked)
}

func (f *fakeTitan) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	f.calls.Add(1)
	time.Sleep(5 * time.Millisecond) // let calls overlap
	w.Header().Set("X-Amzn-Requestid", "4b1d7c6e-0000-4000-8000-000000000002")
	if r.Method != http.MethodPost || r.URL.Path != "/model/"+embed.TitanV2Model+"/invoke" {
		w.Header().Set("X-Amzn-Errortype", "UnknownOperationException")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		f.t.Errorf("request not signed: %q", r.Header.Get("Authorization"))
	}
	var req map[string]any
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &req); err != nil {
		f.t.Errorf("request body %s: %v", body, err)
	}
	text, _ := req["inputText"].(string)
	dims, _ := req["dimensions"].(float64)
	if req["normalize"] != true || dims == 0 || text == "" {
		f.t.Errorf("request body %s lacks inputText, dimensions or normalize=true", body)
	}
	w.Header().Set("Content-Type", "application/json")
	if text == f.failOn {
		w.Header().Set("X-Amzn-Errortype", "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"message":"Too many requests, please wait before trying again."}`)
		return
	}
	if f.dims != 0 {
		dims = float64(f.dims)
	}
	v := vectorFor(text, int(dims))
	_ = json.NewEncoder(w).Encode(map[string]any{
		"embedding":           v,
		"inputTextTokenCount": len(strings.Fields(text)),
		"embeddingsByType":    map[string]any{"float": v},
	})
}

func newTitan(t *testing.T, f *fakeTitan, dims, concurrency int) *embed.Titan {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	e, err := embed.NewTitan(bedrock.NewClient(testAWSConfig(), srv.URL), dims, concurrency)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func texts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("chunk number %d %s", i, strings.Repeat("x", i))
	}
	return out
}

func TestTitan_OneCallPerTextBoundedConcurrencyInOrder(t *testing.T) {
	ctx := testCtx(t)
	f := &fakeTitan{t: t}
	e := newTitan(t, f, 512, 3)
	in := texts(12)
	got, usage, err := e.EmbedMetered(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	wantTokens := 0
	for _, s := range in {
		wantTokens += len(strings.Fields(s))
	}
	if usage.InputTokens != wantTokens {
		t.Errorf("usage %d tokens, the responses counted %d", usage.InputTokens, wantTokens)
	}
	if f.calls.Load() != 12 {
		t.Errorf("%d InvokeModel calls for 12 texts", f.calls.Load())
	}
	if m := f.maxSeen.Load(); m > 3 || m < 2 {
		t.Errorf("%d calls in flight at once, want 2..3 (limit 3)", m)
	}
	for i, v := range got {
		if !sameVector(v, vectorFor(in[i], 512)) {
			t.Fatalf("vector %d is not text %d's", i, i)
		}
	}
	if e.Model() != embed.TitanV2Model+"/512" || e.Dimensions() != 512 {
		t.Errorf("model %q dims %d", e.Model(), e.Dimensions())
	}
}

func TestTitan_ThrottlingIsRateLimitedAndNamesTheText(t *testing.T) {
	ctx := testCtx(t)
	in := texts(6)
	f := &fakeTitan{t: t, failOn: in[4]}
	e := newTitan(t, f, 0, 2)
	_, err := e.Embed(ctx, in)
	var le *llm.Error
	if !errors.As(err, &le) || le.Code != llm.CodeRateLimited || le.Status != http.StatusTooManyRequests {
		t.Fatalf("error %v, want a rate_limited llm.Error", err)
	}
	if !strings.Contains(err.Error(), "texts[4]") {
		t.Errorf("error %q does not name texts[4]", err)
	}
}

func TestTitan_WrongDimensionsAreMalformed(t *testing.T) {
	ctx := testCtx(t)
	e := newTitan(t, &fakeTitan{t: t, dims: 3}, 256, 1)
	_, err := e.Embed(ctx, []string{"hello"})
	var le *llm.Error
	if !errors.As(err, &le) || le.Code != llm.CodeMalformed {
		t.Fatalf("error %v, want malformed", err)
	}
}

func TestTitan_TooLongTextIsRefusedBeforeAnyCall(t *testing.T) {
	ctx := testCtx(t)
	f := &fakeTitan{t: t}
	e := newTitan(t, f, 0, 1)
	_, err := e.Embed(ctx, []string{"ok", strings.Repeat("a", embed.TitanMaxChars+1)})
	if err == nil || !strings.Contains(err.Error(), "texts[1]") || f.calls.Load() != 0 {
		t.Fatalf("error %v after %d calls", err, f.calls.Load())
	}
}

type fakeOpenAI struct {
	t      *testing.T
	mu     sync.Mutex
	inputs [][]string
	status int // non-zero: answer this error status
}

func (f *fakeOpenAI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":{"message":"Invalid URL","type":"invalid_request_error","param":null,"code":null}}`)
		return
	}
	if r.Header.Get("Authorization") != "Bearer sk-test" {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":{"message":"Incorrect API key provided: sk-wrong.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`)
		return
	}
	if f.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, `{"error":{"message":"Rate limit reached for text-embedding-3-small","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)
		return
	}
	var req struct {
		Model          string   `json:"model"`
		Input          []string `json:"input"`
		EncodingFormat string   `json:"encoding_format"`
		Dimensions     int      `json:"dimensions"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		f.t.Errorf("request body: %v", err)
	}
	if req.Model != embed.OpenAISmallModel || req.EncodingFormat != "float" {
		f.t.Errorf("request model %q encoding_format %q", req.Model, req.EncodingFormat)
	}
	dims := req.Dimensions
	if dims == 0 {
		dims = 1536
	}
	f.mu.Lock()
	f.inputs = append(f.inputs, req.Input)
	f.mu.Unlock()
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	data := make([]item, len(req.Input))
	for i, s := range req.Input {
		data[len(data)-1-i] = item{"embedding", i, vectorFor(s, dims)} // reversed: clients must use index
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"object": "list", "data": data, "model": "text-embedding-3-small",
		"usage": map[string]int{"prompt_tokens": 8 * len(req.Input), "total_tokens": 8 * len(req.Input)},
	})
}

func newOpenAI(t *testing.T, f *fakeOpenAI, key string, dims int) *embed.OpenAI {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	e, err := embed.NewOpenAI(embed.OpenAISmallModel, dims, embed.OpenAIConfig{APIKey: key, BaseURL: srv.URL + "/v1/"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestOpenAI_BatchesAndOrdersByIndex(t *testing.T) {
	ctx := testCtx(t)
	f := &fakeOpenAI{t: t}
	e := newOpenAI(t, f, "sk-test", 256)
	in := texts(embed.OpenAIBatchTexts + 10)
	got, usage, err := e.EmbedMetered(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if usage.InputTokens != 8*len(in) {
		t.Errorf("usage %d tokens, the responses counted %d", usage.InputTokens, 8*len(in))
	}
	if len(f.inputs) != 2 || len(f.inputs[0])+len(f.inputs[1]) != len(in) {
		t.Fatalf("%d requests for %d texts", len(f.inputs), len(in))
	}
	for i, v := range got {
		if !sameVector(v, vectorFor(in[i], 256)) {
			t.Fatalf("vector %d is not text %d's", i, i)
		}
	}
	if e.Model() != embed.OpenAISmallModel+"/256" {
		t.Errorf("model %q", e.Model())
	}
}

func TestOpenAI_ErrorsAreClassified(t *testing.T) {
	ctx := testCtx(t)
	_, err := newOpenAI(t, &fakeOpenAI{t: t}, "sk-wrong", 0).Embed(ctx, []string{"hello"})
	var le *llm.Error
	if !errors.As(err, &le) || le.Code != llm.CodeAuth || !strings.Contains(le.Message, "Incorrect API key") {
		t.Errorf("wrong key: %v, want auth with the provider's message", err)
	}
	_, err = newOpenAI(t, &fakeOpenAI{t: t, status: http.StatusTooManyRequests}, "sk-test", 0).Embed(ctx, []string{"hello"})
	if !errors.As(err, &le) || le.Code != llm.CodeRateLimited || le.RetryAfter != 7*time.Second {
		t.Errorf("429: %v (retry after %v), want rate_limited after 7s", err, le.RetryAfter)
	}
}

func TestTitan_CancelledContextStopsTheCalls(t *testing.T) {
	ctx, cancel := context.WithCancel(testCtx(t))
	f := &fakeTitan{t: t}
	e := newTitan(t, f, 256, 2)
	cancel()
	_, err := e.Embed(ctx, texts(50))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if n := f.calls.Load(); n > 2 {
		t.Errorf("%d calls after the context was cancelled", n)
	}
}
