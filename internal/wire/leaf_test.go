package wire_test

import (
	"os/exec"
	"strings"
	"testing"
)

// wire is a leaf: every chatter package may import it, so it imports none of them
// (its own errcode aside).
func TestPackage_ImportsNoOtherChatterPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
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
