package chat_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/httpapi/chat"
	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/httpapi/jwtauth"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
)

const (
	issuer   = "https://auth.chatter.test"
	audience = "chatter-api"
)

// hookStore is the memory store with a hook before FinishTurn (the last write of a
// run, made before the done frame is sent).
type hookStore struct {
	*store.Memory
	beforeFinish func(t store.FinishTurn)
}

func (s *hookStore) FinishTurn(ctx context.Context, userID, convID string, t store.FinishTurn) error {
	if s.beforeFinish != nil {
		s.beforeFinish(t)
	}
	return s.Memory.FinishTurn(ctx, userID, convID, t)
}

type env struct {
	srv *httptest.Server
	st  *hookStore
	rec *events.Recorder
	key jwk.Key
	x   *executor.Executor
	h   http.Handler
}

type envOpts struct {
	delay     time.Duration
	heartbeat time.Duration
	provider  llm.Provider // replaces devllm
	noServer  bool
	limiter   httpcore.Limiter
	rates     map[httpcore.Class]httpcore.Rate
	idem      bool             // keep Idempotency-Key answers in the env's store
	emitter   executor.Emitter // replaces the env's Recorder
	logger    *slog.Logger     // for the router and the executor; default discards
	frames    bool             // keep frames of on_disconnect continue runs in the env's store
}

func newEnv(t testing.TB, o envOpts) *env {
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
	st := &hookStore{Memory: store.NewMemory()}
	rec := &events.Recorder{}
	var p llm.Provider = devllm.New(devllm.Options{Delay: o.delay})
	if o.provider != nil {
		p = o.provider
	}
	var em executor.Emitter = rec
	if o.emitter != nil {
		em = o.emitter
	}
	logger := o.logger
	if logger == nil {
		logger = discardLogger()
	}
	x, err := executor.New(executor.Options{Store: st, Emitter: em, Providers: []llm.Provider{p},
		Unavailable: map[string]string{"openai": "OPENAI_API_KEY is not set"}, RetryBase: time.Millisecond, Logger: logger,
		Frames: frameLog(o.frames, st.Memory), FollowPoll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg := httpapi.Config{Auth: auth, Limiter: o.limiter, Rates: o.rates, Logger: logger}
	if o.idem {
		cfg.Idempotency = st.Memory
	}
	rt := httpapi.NewRouter(cfg)
	var opts []chat.Option
	if o.heartbeat > 0 {
		opts = append(opts, chat.WithHeartbeat(o.heartbeat))
	}
	chat.Register(rt, x, opts...)
	e := &env{st: st, rec: rec, key: key, x: x, h: rt}
	if !o.noServer {
		e.srv = httptest.NewServer(rt)
		t.Cleanup(e.srv.Close)
	}
	return e
}

func frameLog(on bool, m *store.Memory) store.FrameLog {
	if !on {
		return nil
	}
	return m
}

func (e *env) token(t testing.TB, sub string) string {
	t.Helper()
	tok, err := jwtauth.MintToken(e.key, issuer, audience, sub, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (e *env) request(t testing.TB, user, path, body string, hdr ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token(t, user))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return req
}

// post sends a request and reads the whole response.
func (e *env) post(t testing.TB, user, path, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(e.request(t, user, path, body, hdr...))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// sseFrame is one parsed SSE frame; Done marks the "data: [DONE]" line.
type sseFrame struct {
	ID    string
	Event string
	Data  string
	Ping  bool
	Done  bool
	Chunk wire.Chunk
}

// frames reads SSE frames from r as they arrive.
type frames struct{ sc *bufio.Scanner }

func newFrames(r io.Reader) *frames { return &frames{sc: bufio.NewScanner(r)} }

// next returns the next frame (pings included), or false at the end.
func (f *frames) next() (sseFrame, bool) {
	var fr sseFrame
	seen := false
	for f.sc.Scan() {
		line := f.sc.Text()
		if line == "" {
			if seen {
				if fr.Data != "" && !fr.Done {
					_ = json.Unmarshal([]byte(fr.Data), &fr.Chunk)
				}
				return fr, true
			}
			continue
		}
		seen = true
		switch {
		case line == ": ping":
			fr.Ping = true
		case line == "data: [DONE]":
			fr.Done = true
		case strings.HasPrefix(line, "id: "):
			fr.ID = line[4:]
		case strings.HasPrefix(line, "event: "):
			fr.Event = line[7:]
		case strings.HasPrefix(line, "data: "):
			fr.Data = line[6:]
		}
	}
	return fr, false
}

func (f *frames) all() []sseFrame {
	var out []sseFrame
	for {
		fr, ok := f.next()
		if !ok {
			return out
		}
		out = append(out, fr)
	}
}

func eventTypes(fs []sseFrame) []string {
	var out []string
	for _, f := range fs {
		switch {
		case f.Done:
			out = append(out, "[DONE]")
		case !f.Ping:
			out = append(out, f.Event)
		}
	}
	return out
}

func decodeProblem(t *testing.T, resp *http.Response, b []byte) httpcore.Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, status %d, body %s", ct, resp.StatusCode, b)
	}
	var p httpcore.Problem
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p
}
