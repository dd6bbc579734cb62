package cond

import (
	"errors"
	"testing"

	"github.com/chatterhq/chatter/internal/userexpr"
	"github.com/chatterhq/chatter/internal/workflow"
)

// The catalogue documents the allowlist and the budgets the language really has.
func TestLanguage_DocumentsTheAllowlistAndBudgets(t *testing.T) {
	doc := Language()
	if len(doc.Functions) != len(userexpr.Library()) || doc.Budgets != conditions().Limits() || doc.MaxLength != workflow.MaxConditionLength {
		t.Errorf("doc %+v", doc)
	}
	for _, name := range []string{"has_tool_calls", "tool_calls", "max_tool_calls", "variables", "message", "response", "errors", "has_errors", "loop"} {
		if doc.Variables[name] == "" {
			t.Errorf("variable %s undocumented", name)
		}
	}
	for _, f := range doc.Functions {
		if _, err := workflow.CompileCondition(Compiler, f.Name+"(1) == nil"); err != nil {
			var ne *userexpr.NotAllowedError
			if errors.As(err, &ne) {
				t.Errorf("documented function %s is refused: %v", f.Name, err)
			}
		}
	}
	doc.Functions[0].Name = "changed"
	if Language().Functions[0].Name == "changed" {
		t.Error("the catalogue hands out shared state")
	}
}
