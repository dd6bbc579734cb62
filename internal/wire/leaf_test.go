package wire_test

import (
	"strings"
	"testing"

	"github.com/chatterhq/chatter/internal/httpapi/apitest"
)

// wire is a leaf: every chatter package may import it, so it imports none of them
// (its own errcode aside).
func TestPackage_ImportsNoOtherChatterPackage(t *testing.T) {
	deps := apitest.Deps(t)
	if len(deps) < 5 {
		t.Fatalf("go list gave %d packages", len(deps))
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/chatterhq/chatter/") && d != "github.com/chatterhq/chatter/internal/wire" &&
			d != "github.com/chatterhq/chatter/internal/wire/errcode" {
			t.Errorf("imports %s", d)
		}
	}
}
