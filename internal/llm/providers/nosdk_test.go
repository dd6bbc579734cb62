//go:build chatter_nosdk

package providers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/chatterhq/chatter/internal/llm/providers"
)

// A Bedrock-only build (PROVIDERS=bedrock) refuses, at load, a configuration that
// asks for a provider it did not link, saying how to get it; without one, it loads.
// make test runs it: go test -tags chatter_nosdk -run TestNoSDK.
func TestNoSDK_ConfiguredOpenAIOrAnthropicFailsTheLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, v := range []string{"OPENAI_API_KEY", "ANTHROPIC_API_KEY"} {
		_, err := providers.Load(ctx, envOf(map[string]string{v: "sk-test", "CHATTER_STAGE": "local"}), nil, providers.Options{})
		if err == nil || !strings.Contains(err.Error(), "chatter_nosdk") || strings.Contains(err.Error(), "sk-test") {
			t.Errorf("%s set: err = %v, want the no-SDK refusal without the key", v, err)
		}
	}
	// Nor does it link a Secrets Manager or SSM client to read their keys.
	for _, v := range []string{"OPENAI_API_KEY_SECRET_ID", "ANTHROPIC_API_KEY_PARAMETER"} {
		_, err := providers.Load(ctx, envOf(map[string]string{v: "key-ref", "CHATTER_STAGE": "local"}), &aws.Config{Region: "us-east-1"},
			providers.Options{})
		if err == nil || !strings.Contains(err.Error(), "chatter_nosdk") {
			t.Errorf("%s set: err = %v, want the no-SDK refusal", v, err)
		}
	}
	if _, err := providers.Load(ctx, envOf(map[string]string{"CHATTER_STAGE": "local"}), nil, providers.Options{}); err != nil {
		t.Errorf("nothing configured: %v", err)
	}
}
