package devstack_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/chatterhq/chatter"
	"github.com/chatterhq/chatter/internal/devstack"
)

func TestGoRuntimeEnv_ReadsTheGlobalsGoVariables(t *testing.T) {
	tpl := []byte(`Globals:
  Function:
    Environment:
      Variables:
        CHATTER_TABLE: !Ref Table
        GOGC: "400"
        GOMEMLIMIT: 200MiB
Resources:
  F:
    Properties:
      Environment:
        Variables:
          GOMEMLIMIT: 900MiB
`)
	env, err := devstack.GoRuntimeEnv(tpl)
	if err != nil || strings.Join(env, " ") != "GOGC=400 GOMEMLIMIT=200MiB" {
		t.Errorf("env %q, %v", env, err)
	}
	if _, err := devstack.GoRuntimeEnv([]byte("Resources: {}\n")); err == nil {
		t.Error("no Globals: no error")
	}
}

func TestGoRuntimeEnv_OfTheRealTemplate(t *testing.T) {
	env, err := devstack.GoRuntimeEnv(chatter.TemplateYAML)
	if err != nil || !slices.ContainsFunc(env, func(s string) bool { return strings.HasPrefix(s, "GOGC=") }) {
		t.Errorf("env %q, %v", env, err)
	}
}
