package resources_test

import (
	"strings"
	"testing"

	"github.com/chatterhq/chatter/internal/httpapi/apitest"
)

// The CRUD functions import this package; it must not bring in the executor, a
// provider SDK or kin-openapi (each costs cold-start time and binary size).
func TestPackage_ImportsNeitherExecutorNorSDKsNorKinOpenAPI(t *testing.T) {
	deps := apitest.Deps(t)
	if len(deps) < 10 {
		t.Fatalf("go list gave %d packages", len(deps))
	}
	for _, d := range deps {
		for _, banned := range []string{"/internal/executor", "/internal/llm/", "openai-go", "anthropic-sdk-go",
			"service/bedrockruntime", "kin-openapi", "modelcontextprotocol"} {
			if strings.Contains(d, banned) {
				t.Errorf("imports %s", d)
			}
		}
	}
}
