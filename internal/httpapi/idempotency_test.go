package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/chatterhq/chatter"
	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/store/dynamo"
	"github.com/chatterhq/chatter/internal/store/dynamo/dynamotable"
	"github.com/chatterhq/chatter/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// outcome is how one attempt of the scripted handler ends.
type outcome string

const (
	answerOK       outcome = "200"
	answer422      outcome = "422"
	answer500      outcome = "500"
	answer409      outcome = "409"
	answer429      outcome = "429"
	answerOversize outcome = "oversize" // a 200 larger than MaxReplayBytes
	answerPanic    outcome = "panic"
	answerCancel   outcome = "cancel" // waits for the client to leave, then 499 as the chat handlers do
)

// idemServer serves POST /run behind the Idempotency middleware; each request runs
// the next scripted outcome and counts as one run.
type idemServer struct {
	srv     *httptest.Server
	keys    *keys
	mu      sync.Mutex
	script  []outcome
	runs    int
	started chan struct{} // a request reached the handler
}

// notifyingStore tells the test when a key was released (which happens after the
// handler returned, possibly after the client left).
type notifyingStore struct {
	httpapi.IdempotencyStore
	released chan struct{}
}

func (s *notifyingStore) ReleaseIdempotency(ctx context.Context, r *store.IdempotencyRecord) error {
	err := s.IdempotencyStore.ReleaseIdempotency(ctx, r)
	s.released <- struct{}{}
	return err
}

func newIdemServer(t *testing.T, st *notifyingStore, script ...outcome) *idemServer {
	t.Helper()
	is := &idemServer{keys: newKeys(t), script: script, started: make(chan struct{}, 16)}
	rt := httpapi.NewRouter(httpapi.Config{Auth: is.keys.auth, Idempotency: st, Logger: slog.New(slog.DiscardHandler)})
	rt.Mount("POST /run", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		is.runs++
		n := is.runs
		o := answerOK
		if n <= len(is.script) {
			o = is.script[n-1]
		}
		is.mu.Unlock()
		is.started <- struct{}{}
		switch o {
		case answerOK:
			httpcore.WriteJSON(w, r, http.StatusOK, map[string]int{"run": n})
		case answerOversize:
			httpcore.WriteJSON(w, r, http.StatusOK, map[string]any{"run": n, "pad": strings.Repeat("x", httpapi.MaxReplayBytes)})
		case answer422:
			httpapi.Fail(w, r, &httpcore.Error{Code: errcode.NodeFailed, Message: fmt.Sprintf("run %d failed", n)})
		case answer500:
			httpapi.Fail(w, r, &httpcore.Error{Code: errcode.Internal})
		case answer409:
			httpapi.Fail(w, r, &httpcore.Error{Code: errcode.Conflict, Message: "contended"})
		case answer429:
			httpapi.Fail(w, r, &httpcore.Error{Code: errcode.RateLimited})
		case answerPanic:
			panic("handler bug")
		case answerCancel:
			<-r.Context().Done()
			httpapi.Fail(w, r, &httpcore.Error{Code: errcode.Cancelled, Message: "the run was cancelled"})
		}
	}))
	is.srv = httptest.NewServer(rt)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *idemServer) runCount() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.runs
}

type idemAnswer struct {
	status   int
	replayed bool
	body     string
}

func (is *idemServer) post(t *testing.T, ctx context.Context, key string) (idemAnswer, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "POST", is.srv.URL+"/run", strings.NewReader(`{"message":"once"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+is.keys.token(t, "alice"))
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return idemAnswer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return idemAnswer{}, err
	}
	return idemAnswer{status: resp.StatusCode, replayed: resp.Header.Get("Idempotent-Replayed") == "true", body: string(b)}, nil
}

// waitReleased fails unless the middleware releases a key before the deadline.
func waitReleased(t *testing.T, st *notifyingStore) {
	t.Helper()
	select {
	case <-st.released:
	case <-time.After(10 * time.Second):
		t.Fatal("the key was not released")
	}
}

// idemStores are the stores the middleware is tested on: the memory store and the
// DynamoDB store on moto.
func idemStores(t *testing.T) map[string]func(t *testing.T) httpapi.IdempotencyStore {
	return map[string]func(t *testing.T) httpapi.IdempotencyStore{
		"memory": func(*testing.T) httpapi.IdempotencyStore { return store.NewMemory() },
		"dynamo": func(t *testing.T) httpapi.IdempotencyStore {
			db := dynamodb.NewFromConfig(testenv.AWSConfig(t))
			name := fmt.Sprintf("httpapi-idem-%d", time.Now().UnixNano())
			if err := dynamotable.CreateTable(context.Background(), db, chatter.TemplateYAML, name); err != nil {
				t.Fatalf("CreateTable: %v", err)
			}
			return dynamo.New(db, name, dynamo.Options{})
		},
	}
}

// A first request that ends without a completed answer releases its key, so the
// retry runs anew and its answer is the one kept; a completed answer (2xx, or a 4xx
// the request caused) is replayed and the handler runs once.
func TestIdempotency_KeepsOnlyCompletedAnswersAndReleasesTheRest(t *testing.T) {
	cases := []struct {
		first       outcome
		wantFirst   int
		wantRetryOK bool // the retry runs anew and gets 200; else it replays the first answer
	}{
		{answerOK, 200, false},
		{answer422, 422, false},
		{answer500, 500, true},
		{answer409, 409, true},
		{answer429, 429, true},
		{answerOversize, 200, true},
		{answerPanic, 500, true},
	}
	for name, newStore := range idemStores(t) {
		t.Run(name, func(t *testing.T) {
			base := newStore(t)
			for _, c := range cases {
				t.Run(string(c.first), func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					st := &notifyingStore{IdempotencyStore: base, released: make(chan struct{}, 4)}
					is := newIdemServer(t, st, c.first)
					key := fmt.Sprintf("k-%s-%d", c.first, time.Now().UnixNano())
					a1, err := is.post(t, ctx, key)
					if err != nil || a1.status != c.wantFirst || a1.replayed {
						t.Fatalf("first answer %+v, %v; want %d", a1.status, err, c.wantFirst)
					}
					if c.wantRetryOK {
						waitReleased(t, st)
					}
					a2, err := is.post(t, ctx, key)
					if err != nil {
						t.Fatal(err)
					}
					if c.wantRetryOK {
						if a2.status != 200 || a2.replayed || is.runCount() != 2 {
							t.Fatalf("retry after %s: status %d replayed=%v runs=%d; want a fresh run answering 200",
								c.first, a2.status, a2.replayed, is.runCount())
						}
						// The fresh answer is the one kept now.
						a3, err := is.post(t, ctx, key)
						if err != nil || a3.status != 200 || !a3.replayed || a3.body != a2.body || is.runCount() != 2 {
							t.Fatalf("third request: %+v, %v, runs %d; want the retry's answer replayed", a3, err, is.runCount())
						}
						return
					}
					if a2.status != a1.status || !a2.replayed || a2.body != a1.body || is.runCount() != 1 {
						t.Fatalf("retry after %s: status %d replayed=%v runs=%d; want the first answer replayed",
							c.first, a2.status, a2.replayed, is.runCount())
					}
				})
			}
		})
	}
}

// The documented use: the client times out and retries with the same key. The
// cancelled first run (499) must not be replayed; the retry runs and succeeds.
func TestIdempotency_ClientThatGaveUpGetsAFreshRunOnRetry(t *testing.T) {
	for name, newStore := range idemStores(t) {
		t.Run(name, func(t *testing.T) {
			st := &notifyingStore{IdempotencyStore: newStore(t), released: make(chan struct{}, 4)}
			is := newIdemServer(t, st, answerCancel)
			key := fmt.Sprintf("k-cancel-%d", time.Now().UnixNano())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			first, giveUp := context.WithCancel(ctx)
			errc := make(chan error, 1)
			go func() {
				_, err := is.post(t, first, key)
				errc <- err
			}()
			select {
			case <-is.started:
			case <-ctx.Done():
				t.Fatal("the first request never reached the handler")
			}
			giveUp()
			if err := <-errc; err == nil {
				t.Fatal("the first request did not fail on the client side")
			}
			waitReleased(t, st)
			a, err := is.post(t, ctx, key)
			if err != nil || a.status != 200 || a.replayed || is.runCount() != 2 {
				t.Fatalf("retry: %+v, %v, runs %d; want a fresh run answering 200", a, err, is.runCount())
			}
		})
	}
}

// A run learns the Idempotency-Key record of its request (IdempotencyOf), so the
// sweep that ends it after its instance died can release exactly that record: the
// ref names the record the store holds in progress while the handler runs.
func TestIdempotency_TheHandlerSeesTheRecordItsRunMayRelease(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st := store.NewMemory()
	keys := newKeys(t)
	var seen *store.IdempotencyRef
	var held *store.IdempotencyRecord
	rt := httpapi.NewRouter(httpapi.Config{Auth: keys.auth, Idempotency: st, Logger: slog.New(slog.DiscardHandler)})
	rt.Mount("POST /run", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = httpapi.IdempotencyOf(r.Context())
		held, _ = st.GetIdempotency(r.Context(), httpcore.UserID(r.Context()), "k-sweep")
		httpapi.Fail(w, r, &httpcore.Error{Code: errcode.Internal}) // not kept: the key is released after
	}))
	srv := httptest.NewServer(rt)
	defer srv.Close()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/run", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+keys.token(t, "alice"))
	req.Header.Set("Idempotency-Key", "k-sweep")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if seen == nil || held == nil || seen.Key != "k-sweep" || seen.RequestHash != held.RequestHash || held.State != store.IdemInProgress {
		t.Fatalf("handler saw ref %+v while the store held %+v", seen, held)
	}
	// Without a key there is nothing to release.
	seen = &store.IdempotencyRef{}
	req, _ = http.NewRequestWithContext(ctx, "POST", srv.URL+"/run", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+keys.token(t, "alice"))
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if seen != nil {
		t.Fatalf("a request without a key gave its handler %+v", seen)
	}
}
