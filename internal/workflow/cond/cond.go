// Package cond is the workflow condition language: expr-lang on userexpr's
// allowlist and budgets, compiled against workflow.Env. Package workflow translates
// the predecessor's phrases and takes the fast paths; it compiles the rest through
// Compiler, passed as workflow.Options.Conditions. workflow does not import this
// package, so only the functions that validate or run definitions link expr (~1.4
// MiB with this package; a test in internal/lambdaapp/gen checks which do).
package cond

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/chatterhq/chatter/internal/userexpr"
	"github.com/chatterhq/chatter/internal/wire/errcode"
	"github.com/chatterhq/chatter/internal/workflow"
)

// Compiler is chatter's condition compiler; it also describes the language
// (Describe).
var Compiler compiler

type compiler struct{}

var _ workflow.ConditionCompiler = Compiler

// CompileCondition compiles a translated condition against workflow.Env.
func (compiler) CompileCondition(x string) (workflow.Program, error) {
	prog, err := conditions().Compile(x)
	if err != nil {
		return nil, err
	}
	return &program{expr: x, prog: prog}, nil
}

// Describe is Language(), for a caller that knows the compiler by an interface.
func (compiler) Describe() any { return Language() }

// condEnv is what a condition runs against: the run state and the evaluation's meter.
// Pooled: a condition is evaluated at every routing step.
type condEnv struct {
	userexpr.Frame
	*workflow.Env
}

var condEnvs = sync.Pool{New: func() any { return new(condEnv) }}

// conditions is the condition language. Built on first use, not at init: a binary
// that links this package but never compiles a condition pays none of its set-up
// at cold start.
func conditions() *userexpr.Language {
	conditionsOnce.Do(func() {
		conditionLang = userexpr.MustNewLanguage(userexpr.Spec{
			Name: "conditions", Env: &condEnv{}, AsBool: true, Library: true, MaxNodes: workflow.MaxConditionNodes,
		})
	})
	return conditionLang
}

var (
	conditionsOnce sync.Once
	conditionLang  *userexpr.Language
)

type program struct {
	expr string
	prog *userexpr.Program
}

// Eval runs the program within userexpr's budgets and ctx. A budget exceeded wraps
// a *userexpr.BudgetError.
func (p *program) Eval(ctx context.Context, env *workflow.Env) (bool, error) {
	ce := condEnvs.Get().(*condEnv)
	ce.Env = env
	out, err := p.prog.Run(ctx, ce)
	*ce = condEnv{}
	condEnvs.Put(ce)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("result is %T, not bool", out)
	}
	return b, nil
}

// ImpliesPending reports whether the expression is has_tool_calls (pending true)
// or !has_tool_calls (pending false), alone or as a conjunct; see workflow's cycle
// analysis. Anything it cannot tell is false.
func (p *program) ImpliesPending(pending bool) bool {
	tree, err := parser.Parse(p.expr)
	if err != nil {
		return false
	}
	return nodeImpliesPending(tree.Node, pending)
}

func nodeImpliesPending(n ast.Node, pending bool) bool {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return pending && x.Value == "has_tool_calls"
	case *ast.BoolNode:
		return false
	case *ast.UnaryNode:
		if x.Operator == "!" || x.Operator == "not" {
			id, ok := x.Node.(*ast.IdentifierNode)
			return ok && !pending && id.Value == "has_tool_calls"
		}
	case *ast.BinaryNode:
		if x.Operator == "&&" || x.Operator == "and" {
			return nodeImpliesPending(x.Left, pending) || nodeImpliesPending(x.Right, pending)
		}
	}
	return false
}

// Doc documents what a condition may use, for GET /node-types/modern.
type Doc struct {
	Syntax    string            `json:"syntax"`
	Phrases   []string          `json:"phrases"`
	Variables map[string]string `json:"variables"`
	Functions []userexpr.Doc    `json:"functions"`
	Operators string            `json:"operators"`
	MaxLength int               `json:"max_length"`
	MaxNodes  int               `json:"max_nodes"`
	Budgets   userexpr.Limits   `json:"budgets"`
	OnBudget  string            `json:"on_budget"`
}

// Language describes the condition language; the value is built per call, so no
// caller can change what another sees.
func Language() Doc {
	vars := map[string]string{}
	t := reflect.TypeFor[workflow.Env]()
	for i := range t.NumField() {
		f := t.Field(i)
		vars[f.Tag.Get("expr")] = f.Tag.Get("doc")
	}
	return Doc{
		Syntax: "an expr-lang expression (https://expr-lang.org/docs/language-definition) over the variables below, " +
			"in which the predecessor's phrases are names and operators usable anywhere (negated, in parentheses, nested; AND / OR / NOT as well as && || ! and or not)",
		Phrases: []string{"has_tool_calls", "no_tool_calls", "has_errors", "no_errors", "always",
			"tool_calls <op> N", "tool_calls <op> variable NAME", "variable NAME equals|is|is not|not equals|contains|<op> VALUE",
			"variable NAME exists|is set|is empty", "message contains|equals|starts with|ends with TEXT",
			"loop_ID_continue|done|exit|complete"},
		Variables: vars,
		Functions: userexpr.Library(),
		Operators: "arithmetic + - * / % ** ; comparison == != < > <= >= ; logic && || ! and or not ; " +
			"in, contains, startsWith, endsWith, matches (a literal pattern only), ranges a..b, ?:, ??, ?., let, # in closures",
		MaxLength: workflow.MaxConditionLength,
		MaxNodes:  workflow.MaxConditionNodes,
		Budgets:   conditions().Limits(),
		OnBudget: "the run fails with " + errcode.ExpressionBudget + " (HTTP 422, an execution_failed event) naming the node or edge and the budget; " +
			"a function outside the list, or a literal range over the elements budget, is an invalid_condition at validation",
	}
}
