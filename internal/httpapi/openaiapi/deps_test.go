package openaiapi_test

import (
	"strings"
	"testing"

	"github.com/chatterhq/chatter/internal/httpapi/apitest"
)

// The surface speaks OpenAI's wire format through package wire; the official client
// is for tests only, and like httpapi/chat the package links no provider SDK (they
// arrive as values in the executor's options) and no kin-openapi.
func TestPackage_ImportsNoSDKNorKinOpenAPI(t *testing.T) {
	deps := apitest.Deps(t)
	if len(deps) < 10 {
		t.Fatalf("go list gave %d packages", len(deps))
	}
	for _, d := range deps {
		for _, banned := range []string{"openai-go", "anthropic-sdk-go", "service/bedrockruntime", "kin-openapi",
			"/internal/llm/openai", "/internal/llm/providers"} {
			if strings.Contains(d, banned) {
				t.Errorf("imports %s", d)
			}
		}
	}
}
