package workflow

// testConditions is cond.Compiler, which this package's tests cannot import (cond
// imports workflow): cond_external_test.go, in package workflow_test, sets it.
var testConditions ConditionCompiler

// SetTestConditions is how cond_external_test.go hands over cond.Compiler.
func SetTestConditions(c ConditionCompiler) { testConditions = c }
