package workflow_test

import (
	"github.com/chatterhq/chatter/internal/workflow"
	"github.com/chatterhq/chatter/internal/workflow/cond"
)

func init() { workflow.SetTestConditions(cond.Compiler) }
