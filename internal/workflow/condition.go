package workflow

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/chatterhq/chatter/internal/wire/errcode"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/chatterhq/chatter/internal/userexpr"
)

// Env is what a condition sees of the run state. The doc tags document each name in
// the node-types catalogue (ConditionLanguage).
type Env struct {
	HasToolCalls bool                 `expr:"has_tool_calls" doc:"bool: the last model turn asked for tool calls"`
	ToolCalls    int                  `expr:"tool_calls" doc:"int: tool calls made so far in this run"`
	MaxToolCalls int                  `expr:"max_tool_calls" doc:"int: the run's tool-call limit"`
	Variables    map[string]any       `expr:"variables" doc:"map: the run's variables (variables.x or variables[\"x\"])"`
	Message      string               `expr:"message" doc:"string: the user's message of this run"`
	Response     string               `expr:"response" doc:"string: the last assistant text"`
	Errors       []string             `expr:"errors" doc:"array of strings: node errors so far (\"node: message\")"`
	HasErrors    bool                 `expr:"has_errors" doc:"bool: some node failed"`
	Loop         map[string]*LoopInfo `expr:"loop" doc:"map: per loop node id, {iteration, max_iterations, continue}"`
}

// LoopInfo is a loop node's state as conditions see it.
type LoopInfo struct {
	Iteration     int  `expr:"iteration"`
	MaxIterations int  `expr:"max_iterations"`
	Continue      bool `expr:"continue"`
}

// Condition limits: the source length and the parsed tree's size, checked at
// validation; the budgets of one evaluation are userexpr.DefaultLimits.
const (
	MaxConditionLength = 4096
	MaxConditionNodes  = 500
)

// condEnv is what a condition runs against: the run state and the evaluation's meter.
// Pooled: a condition is evaluated at every routing step.
type condEnv struct {
	userexpr.Frame
	*Env
}

var condEnvs = sync.Pool{New: func() any { return new(condEnv) }}

// conditions is the condition language: expr-lang on userexpr's allowlist and budgets.
// Built on first use, not at init (see builtins): a binary that links workflow but
// never compiles a condition (health, the CRUD reads) then links none of expr's
// compiler and pays none of its set-up at cold start.
func conditions() *userexpr.Language {
	conditionsOnce.Do(func() {
		conditionLang = userexpr.MustNewLanguage(userexpr.Spec{
			Name: "conditions", Env: &condEnv{}, AsBool: true, Library: true, MaxNodes: MaxConditionNodes,
		})
	})
	return conditionLang
}

var (
	conditionsOnce sync.Once
	conditionLang  *userexpr.Language
)

// ConditionLanguage documents what a condition may use, for GET /node-types.
type ConditionLanguage struct {
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

// Conditions describes the condition language; the value is built per call, so no
// caller can change what another sees.
func Conditions() ConditionLanguage {
	vars := map[string]string{}
	t := reflect.TypeFor[Env]()
	for i := range t.NumField() {
		f := t.Field(i)
		vars[f.Tag.Get("expr")] = f.Tag.Get("doc")
	}
	return ConditionLanguage{
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
		MaxLength: MaxConditionLength,
		MaxNodes:  MaxConditionNodes,
		Budgets:   conditions().Limits(),
		OnBudget: "the run fails with " + errcode.ExpressionBudget + " (HTTP 422, an execution_failed event) naming the node or edge and the budget; " +
			"a function outside the list, or a literal range over the elements budget, is an invalid_condition at validation",
	}
}

// Condition is a compiled edge or node condition. It is immutable and safe to share.
type Condition struct {
	Source string // as written
	Expr   string // translated expression
	prog   *userexpr.Program
	fast   fastCond
}

type fastCond uint8

const (
	fastNone fastCond = iota
	fastHasToolCalls
	fastNoToolCalls
	fastHasErrors
	fastNoErrors
	fastTrue
)

// Eval evaluates the condition within the budgets of one evaluation and ctx. A
// runtime failure (e.g. comparing a number with a missing variable) is an error,
// never "true"; a budget exceeded wraps a *userexpr.BudgetError; a done ctx stops the
// evaluation with an error wrapping ctx's.
func (c *Condition) Eval(ctx context.Context, env *Env) (bool, error) {
	switch c.fast {
	case fastHasToolCalls:
		return env.HasToolCalls, nil
	case fastNoToolCalls:
		return !env.HasToolCalls, nil
	case fastHasErrors:
		return env.HasErrors, nil
	case fastNoErrors:
		return !env.HasErrors, nil
	case fastTrue:
		return true, nil
	}
	ce := condEnvs.Get().(*condEnv)
	ce.Env = env
	out, err := c.prog.Run(ctx, ce)
	*ce = condEnv{}
	condEnvs.Put(ce)
	if err != nil {
		return false, fmt.Errorf("condition %q: %w", c.Source, err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("condition %q: result is %T, not bool", c.Source, out)
	}
	return b, nil
}

// CompileCondition translates the predecessor's phrases and compiles the result
// against Env in the condition language. An expression that does not compile, or
// calls a function outside the allowlist, is an error naming the problem.
func CompileCondition(src string) (*Condition, error) {
	if len(src) > MaxConditionLength {
		return nil, fmt.Errorf("too long: %d bytes, at most %d", len(src), MaxConditionLength)
	}
	x, err := TranslateCondition(src)
	if err != nil {
		return nil, err
	}
	c := &Condition{Source: src, Expr: x}
	switch x {
	case "has_tool_calls":
		c.fast = fastHasToolCalls
	case "!has_tool_calls":
		c.fast = fastNoToolCalls
	case "has_errors":
		c.fast = fastHasErrors
	case "!has_errors":
		c.fast = fastNoErrors
	case "true":
		c.fast = fastTrue
	}
	prog, err := conditions().Compile(x)
	if err != nil {
		return nil, fmt.Errorf("does not compile: %w", err) // one line already
	}
	c.prog = prog
	return c, nil
}

// impliesPending reports whether the condition can be true only while the last
// model turn's tool calls are pending (pending true: has_tool_calls, alone or as a
// conjunct) or only while none are (pending false: !has_tool_calls, alone or as a
// conjunct). The cycle analysis uses it: an arc so guarded is taken only while the
// llm keeps asking for tools, which max_tool_calls bounds. Anything it cannot tell
// is false.
func (c *Condition) impliesPending(pending bool) bool {
	if c == nil {
		return false
	}
	switch c.fast {
	case fastHasToolCalls:
		return pending
	case fastNoToolCalls:
		return !pending
	}
	tree, err := parser.Parse(c.Expr)
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
