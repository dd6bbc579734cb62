package workflow

import (
	"context"
	"errors"
	"fmt"
)

// Env is what a condition sees of the run state. The doc tags document each name in
// the node-types catalogue (cond.Language).
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
// validation; the budgets of one evaluation are the compiler's (package cond).
const (
	MaxConditionLength = 4096
	MaxConditionNodes  = 500
)

// Program is a condition expression a ConditionCompiler compiled.
type Program interface {
	// Eval evaluates the expression against env within ctx and the language's
	// budgets. A result that is not a bool is an error.
	Eval(ctx context.Context, env *Env) (bool, error)
	// ImpliesPending is Condition.impliesPending for what the fast paths leave.
	ImpliesPending(pending bool) bool
}

// ConditionCompiler compiles a condition's expression (TranslateCondition's output)
// against Env. Package workflow/cond is chatter's; it reaches validation as
// Options.Conditions, so workflow itself links no expression engine.
type ConditionCompiler interface {
	CompileCondition(expr string) (Program, error)
}

// ErrNoConditionCompiler is every condition's problem when Options.Conditions is
// nil: validation without a compiler fails rather than accepting a condition unseen.
var ErrNoConditionCompiler = errors.New("no condition compiler: this build cannot check conditions (workflow.Options.Conditions is nil)")

// Condition is a compiled edge or node condition. It is immutable and safe to share.
type Condition struct {
	Source string // as written
	Expr   string // translated expression
	prog   Program
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
// never "true"; a budget exceeded wraps the compiler's budget error
// (*userexpr.BudgetError); a done ctx stops the evaluation with an error wrapping ctx's.
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
	b, err := c.prog.Eval(ctx, env)
	if err != nil {
		return false, fmt.Errorf("condition %q: %w", c.Source, err)
	}
	return b, nil
}

// CompileCondition translates the predecessor's phrases and compiles the result
// against Env with cc. An expression that does not compile, or calls a function
// outside the allowlist, is an error naming the problem; a nil cc is
// ErrNoConditionCompiler.
func CompileCondition(cc ConditionCompiler, src string) (*Condition, error) {
	if cc == nil {
		return nil, ErrNoConditionCompiler
	}
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
	prog, err := cc.CompileCondition(x)
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
	return c.prog.ImpliesPending(pending)
}
