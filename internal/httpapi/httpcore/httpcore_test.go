package httpcore_test

import (
	"strings"
	"testing"

	"github.com/chatterhq/chatter/internal/httpapi/apitest"
)

// httpcore is what the health function links: no store, so neither workflow nor
// expr (whose init keeps every exported method of a binary through
// reflect.Value.MethodByName), nor any AWS SDK.
func TestPackage_ImportsNoStoreWorkflowOrExpr(t *testing.T) {
	for _, d := range apitest.Deps(t) {
		for _, banned := range []string{"github.com/chatterhq/chatter/internal/store", "github.com/chatterhq/chatter/internal/workflow",
			"github.com/expr-lang/expr", "github.com/aws/aws-sdk-go-v2"} {
			if d == banned || strings.HasPrefix(d, banned+"/") {
				t.Errorf("imports %s", d)
			}
		}
	}
}
