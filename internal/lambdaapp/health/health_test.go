package health_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/apitest"
	"github.com/chatterhq/chatter/internal/lambdaapp/adapter"
	"github.com/chatterhq/chatter/internal/lambdaapp/health"
)

// The health function is this package: it must link no AWS SDK (the config chain,
// DynamoDB), no store (nor workflow and expr behind it) and not lambdaapp, so it
// stays near a bare Lambda in size and init.
func TestPackage_LinksNoAWSSDKNorStore(t *testing.T) {
	deps := apitest.Deps(t)
	for _, d := range deps {
		for _, banned := range []string{"github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go",
			"/internal/store\x00", "/internal/store/", "/internal/workflow\x00", "github.com/expr-lang/expr",
			"github.com/chatterhq/chatter/internal/lambdaapp\x00"} {
			if strings.Contains(d+"\x00", banned) {
				t.Errorf("links %s", d)
			}
		}
	}
}

func TestHandler_AnswersHealthOpenAndNothingElse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := health.Handler()
	for _, tc := range []struct {
		path   string
		status int
	}{{"/health", 200}, {"/api/v1/workflows/definitions", 404}} {
		ev := adapter.APIGatewayRequest{Version: "2.0", RawPath: tc.path}
		ev.RequestContext.HTTP.Method, ev.RequestContext.HTTP.Path = "GET", tc.path
		res, err := h(ctx, ev)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if res.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d (%s)", tc.path, res.StatusCode, tc.status, res.Body)
		}
		if tc.status == 200 {
			var body map[string]string
			if err := json.Unmarshal([]byte(res.Body), &body); err != nil || body["status"] != "ok" {
				t.Errorf("/health body %q (%v)", res.Body, err)
			}
		}
	}
}
