package lambdaapp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/chatterhq/chatter"
	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/httpapi/resources"
	"github.com/chatterhq/chatter/internal/store/dynamo/dynamotable"
	"github.com/chatterhq/chatter/internal/testenv"
	"github.com/chatterhq/chatter/internal/tools"
	"github.com/chatterhq/chatter/internal/workflow/cond"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// motoApp is an App on moto with a fresh table.
func motoApp(t *testing.T) *App {
	t.Helper()
	awsCfg := testenv.AWSConfig(t)
	c, err := ConfigFromEnv(envOf(map[string]string{"CHATTER_TABLE": fmt.Sprintf("lambdaapp-%d", time.Now().UnixNano()),
		"CHATTER_CURSOR_KEY": goodKey}))
	if err != nil {
		t.Fatal(err)
	}
	if err := dynamotable.CreateTable(context.Background(), dynamodb.NewFromConfig(awsCfg), chatter.TemplateYAML, c.Table); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	return NewWith(c, awsCfg, nil)
}

const chainJSON = `{"name":"chain","nodes":[
 {"id":"start","type":"start","data":{"label":"Start"}},
 {"id":"llm","type":"llm","data":{"label":"Model","nodeType":"llm"}},
 {"id":"end","type":"end","data":{}}],
 "edges":[{"id":"e1","source":"start","target":"llm"},{"id":"e2","source":"llm","target":"end"}]}`

// apiEvent is what API Gateway sends once its JWT authorizer accepted sub's token.
func apiEvent(method, path, sub, body string) APIGatewayRequest {
	ev := APIGatewayRequest{Version: "2.0", RouteKey: method + " " + path, RawPath: path, Body: body,
		Headers: map[string]string{"content-type": "application/json"}}
	ev.RequestContext.HTTP.Method = method
	ev.RequestContext.HTTP.Path = path
	if sub != "" {
		ev.RequestContext.Authorizer = &awsevents.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &awsevents.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": sub}}}
	}
	return ev
}

func TestAPIGatewayHandler_ServesOneResourceRoutePerFunction(t *testing.T) {
	app := motoApp(t)
	app.Validation = resources.NewValidation(tools.Builtins(), cond.Compiler) // create validates
	create, get := app.Router(httpcore.APIGateway{}), app.Router(httpcore.APIGateway{})
	app.MountResource(create, resources.RouteDefinitionCreate)
	app.MountResource(get, resources.RouteDefinition)
	ctx := context.Background()
	res, err := APIGatewayHandler(create)(ctx, apiEvent("POST", "/api/v1/workflows/definitions", "alice", chainJSON))
	if err != nil || res.StatusCode != http.StatusOK { // 200: the predecessor's status of a create
		t.Fatalf("create: %v %d %s", err, res.StatusCode, res.Body)
	}
	var d struct{ ID string }
	if err := json.Unmarshal([]byte(res.Body), &d); err != nil || d.ID == "" {
		t.Fatalf("create body %s: %v", res.Body, err)
	}
	if res.Headers["Ratelimit-Limit"] == "" && res.Headers["RateLimit-Limit"] == "" {
		t.Errorf("no RateLimit-Limit header (limiter not wired): %v", res.Headers)
	}
	path := "/api/v1/workflows/definitions/" + d.ID
	tests := []struct {
		name   string
		h      http.Handler
		ev     APIGatewayRequest
		status int
	}{
		{"owner reads it", get, apiEvent("GET", path, "alice", ""), http.StatusOK},
		{"another user gets 404", get, apiEvent("GET", path, "bob", ""), http.StatusNotFound},
		{"no authorizer claims is 401", get, apiEvent("GET", path, "", ""), http.StatusUnauthorized},
		{"a route of another function is 404", get, apiEvent("GET", "/api/v1/conversations", "alice", ""), http.StatusNotFound},
		{"health is open", get, apiEvent("GET", "/health", "", ""), http.StatusOK},
		{"ready is open and reads the table", get, apiEvent("GET", "/ready", "", ""), http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := APIGatewayHandler(tt.h)(ctx, tt.ev)
			if err != nil || res.StatusCode != tt.status {
				t.Fatalf("%v %d %s, want %d", err, res.StatusCode, res.Body, tt.status)
			}
		})
	}
}

func TestFunctionURLHandler_StreamsFramesAsTheyAreWritten(t *testing.T) {
	next := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sse := httpcore.NewSSE(w, time.Hour)
		if err := sse.Event(1, "token", map[string]string{"type": "token", "content": "a"}); err != nil {
			t.Errorf("first frame: %v", err)
			return
		}
		<-next // the first frame must be readable before the handler goes on
		if err := sse.Event(2, "token", map[string]string{"type": "token", "content": "b"}); err != nil {
			t.Errorf("second frame: %v", err)
		}
		_ = sse.Close()
	})
	ev := &FunctionURLRequest{RawPath: "/s", Headers: map[string]string{}}
	ev.RequestContext.HTTP.Method = "POST"
	res, err := FunctionURLHandler(h)(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || res.Headers["Content-Type"] != "text/event-stream" {
		t.Fatalf("status %d headers %v", res.StatusCode, res.Headers)
	}
	buf := make([]byte, 256)
	n, err := res.Body.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), `"content":"a"`) {
		t.Fatalf("first read %q: %v", buf[:n], err)
	}
	close(next)
	rest, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(rest); !strings.Contains(s, `"content":"b"`) || !strings.HasSuffix(s, "data: [DONE]\n\n") {
		t.Fatalf("rest = %q", s)
	}
}
