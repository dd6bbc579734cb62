package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/chatterhq/chatter"
	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/httpapi/chat"
	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/lambdaapp"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/store/dynamo/dynamotable"
	"github.com/chatterhq/chatter/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// keyLimiter records the rate-limit keys it is asked about.
type keyLimiter struct {
	mu   sync.Mutex
	keys []string
}

func (l *keyLimiter) Hit(_ context.Context, k string, w time.Duration, _ int) (int, time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keys = append(l.keys, k)
	return 1, time.Now().Add(w), nil
}

type fixedUser struct{}

func (fixedUser) Authenticate(*http.Request) (string, error) { return "u1", nil }

// classesOf sends an empty POST (?stream=q) to every execution path and returns the
// rate-limit key each one was counted under.
func classesOf(t *testing.T, mount func(*httpcore.Router, *executor.Executor), q string) []string {
	t.Helper()
	x, err := executor.New(executor.Options{Store: store.NewMemory(), Emitter: &events.Recorder{},
		Providers: []llm.Provider{devllm.New(devllm.Options{})}})
	if err != nil {
		t.Fatal(err)
	}
	l := &keyLimiter{}
	rt := httpapi.NewRouter(httpapi.Config{Auth: fixedUser{}, Limiter: l})
	mount(rt, x)
	for _, p := range []string{"/api/v1/workflows/execute/chat", "/api/v1/workflows/execute/chat/streaming",
		"/api/v1/workflows/templates/t1/execute", "/api/v1/workflows/templates/execute",
		"/api/v1/workflows/definitions/d1/execute", "/api/v1/workflows/definitions/custom/execute"} {
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, httptest.NewRequest("POST", p+"?stream="+q, strings.NewReader("{")))
		if rec.Code != http.StatusUnprocessableEntity {
			t.Fatalf("%s: %d %s, want the 422 of a bad body (route not mounted?)", p, rec.Code, rec.Body)
		}
	}
	return l.keys
}

func TestMount_SameRoutesAndRateClassesAsChatRegister(t *testing.T) {
	for _, stream := range []string{"false", "true"} {
		want := classesOf(t, func(rt *httpcore.Router, x *executor.Executor) { chat.Register(rt, x) }, stream)
		got := classesOf(t, func(rt *httpcore.Router, x *executor.Executor) {
			for _, r := range chat.Routes {
				if err := Mount(rt, x, r.Pattern); err != nil {
					t.Fatal(err)
				}
			}
		}, stream)
		if !slices.Equal(got, want) {
			t.Errorf("stream=%s: rate keys %v, chat.Register gives %v", stream, got, want)
		}
	}
}

func TestMount_RefusesAnUnknownPattern(t *testing.T) {
	err := Mount(httpapi.NewRouter(httpapi.Config{Auth: fixedUser{}}), nil, "GET /api/v1/conversations")
	if !errors.Is(err, lambdaapp.ErrUnknownRoute) {
		t.Fatalf("err = %v", err)
	}
}

// downBus fails every PutEvents, as an unreachable bus would.
type downBus struct{}

func (downBus) PutEvents(context.Context, *eventbridge.PutEventsInput, ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	return nil, errors.New("bus unreachable")
}

func TestNewExecutor_RecordsTheTerminalEventWhenTheBusIsDown(t *testing.T) {
	ctx := context.Background()
	awsCfg := testenv.AWSConfig(t)
	env := map[string]string{"CHATTER_TABLE": fmt.Sprintf("runner-%d", time.Now().UnixNano()), "CHATTER_BEDROCK": "off"}
	c, err := lambdaapp.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if err := dynamotable.CreateTable(ctx, dynamodb.NewFromConfig(awsCfg), chatter.TemplateYAML, c.Table); err != nil {
		t.Fatal(err)
	}
	app := lambdaapp.NewWith(c, awsCfg, nil)
	x, err := newExecutor(ctx, app, func(k string) string { return env[k] }, downBus{})
	if err != nil {
		t.Fatal(err)
	}
	rt := app.Router(httpcore.APIGateway{})
	if err := Mount(rt, x, chat.PathChat); err != nil {
		t.Fatal(err)
	}
	ev := lambdaapp.APIGatewayRequest{Version: "2.0", RawPath: "/api/v1/workflows/execute/chat",
		Body: `{"message":"hello"}`, Headers: map[string]string{"content-type": "application/json"}}
	ev.RequestContext.HTTP.Method = "POST"
	ev.RequestContext.Authorizer = &awsevents.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &awsevents.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": "alice"}}}
	res, err := lambdaapp.APIGatewayHandler(rt)(ctx, ev)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("chat: %v %d %s", err, res.StatusCode, res.Body)
	}
	var cr wire.ChatResponse
	if err := json.Unmarshal([]byte(res.Body), &cr); err != nil || cr.Response == "" || cr.Provider != "devllm" {
		t.Fatalf("chat response %s: %v", res.Body, err)
	}
	page, err := app.Store.ListEvents(ctx, "alice", cr.ExecutionID, store.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range page.Items {
		types = append(types, e.Type)
	}
	if !slices.Contains(types, events.ExecutionCompleted) {
		t.Fatalf("event log %v lacks %s: the fallback did not record it", types, events.ExecutionCompleted)
	}
}
