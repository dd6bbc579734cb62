package workflow

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Env is what a condition sees of the run state.
type Env struct {
	HasToolCalls bool                 `expr:"has_tool_calls"`
	ToolCalls    int                  `expr:"tool_calls"`
	MaxToolCalls int                  `expr:"max_tool_calls"`
	Variables    map[string]any       `expr:"variables"`
	Message      string               `expr:"message"`  // the user's message of this run
	Response     string               `expr:"response"` // the last assistant text
	Errors       []string             `expr:"errors"`
	HasErrors    bool                 `expr:"has_errors"`
	Loop         map[string]*LoopInfo `expr:"loop"`
}

// LoopInfo is a loop node's state as conditions see it.
type LoopInfo struct {
	Iteration     int  `expr:"iteration"`
	MaxIterations int  `expr:"max_iterations"`
	Continue      bool `expr:"continue"`
}

// Condition is a compiled edge or node condition.
type Condition struct {
	Source string // as written
	Expr   string // translated expression
	prog   *vm.Program
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

// Eval evaluates the condition. A runtime failure (e.g. comparing a number with a
// missing variable) is an error, never "true".
func (c *Condition) Eval(env *Env) (bool, error) {
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
	out, err := expr.Run(c.prog, env)
	if err != nil {
		return false, fmt.Errorf("condition %q: %w", c.Source, err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("condition %q: result is %T, not bool", c.Source, out)
	}
	return b, nil
}

// CompileCondition translates the predecessor's phrases and compiles the result with
// expr-lang against Env. An expression that does not compile is an error.
func CompileCondition(src string) (*Condition, error) {
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
	prog, err := expr.Compile(x, expr.Env(Env{}), expr.AsBool(), expr.MaxNodes(500))
	if err != nil {
		return nil, fmt.Errorf("does not compile: %s", firstLine(err.Error()))
	}
	c.prog = prog
	return c, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

var (
	reToolCallsVar = regexp.MustCompile(`^tool_calls\s*(<=|>=|==|!=|<|>)\s*variable\s+([A-Za-z_][\w.-]*)$`)
	reVariable     = regexp.MustCompile(`^variable\s+([A-Za-z_][\w.-]*)\s+(equals|not equals|is not|is|==|!=|>=|<=|>|<|contains)\s+(.+)$`)
	reVariableSet  = regexp.MustCompile(`^variable\s+([A-Za-z_][\w.-]*)\s+(exists|is set|is empty)$`)
	reMessage      = regexp.MustCompile(`^message\s+(contains|equals|starts with|ends with)\s+(.+)$`)
	reLoop         = regexp.MustCompile(`^loop_(.+)_(continue|done|exit|complete)$`)
)

// TranslateCondition turns a predecessor phrase into an expr expression; anything
// that is not a known phrase is returned unchanged to be compiled as an expression.
// "a AND b" / "a OR b" translate each side.
func TranslateCondition(src string) (string, error) {
	s := strings.TrimSpace(src)
	if s == "" {
		return "", fmt.Errorf("empty condition")
	}
	// OR is split first so that AND binds tighter: "a AND b OR c" is (a && b) || c.
	for _, op := range []struct{ word, sym string }{{" OR ", " || "}, {" AND ", " && "}} {
		if parts := strings.Split(s, op.word); len(parts) > 1 {
			out := make([]string, len(parts))
			for i, p := range parts {
				t, err := TranslateCondition(p)
				if err != nil {
					return "", err
				}
				out[i] = "(" + t + ")"
			}
			return strings.Join(out, op.sym), nil
		}
	}
	switch strings.ToLower(s) {
	case "has_tool_calls", "has tool calls", "tool_calls_pending", "should_use_tools":
		return "has_tool_calls", nil
	case "no_tool_calls", "no tool calls", "!has_tool_calls", "not has_tool_calls":
		return "!has_tool_calls", nil
	case "has_errors", "has errors":
		return "has_errors", nil
	case "no_errors", "no errors", "!has_errors":
		return "!has_errors", nil
	case "true", "always":
		return "true", nil
	}
	if m := reToolCallsVar.FindStringSubmatch(s); m != nil {
		v := varRef(m[2])
		if m[2] == "max_tool_calls" {
			v = "(" + v + " ?? max_tool_calls)"
		}
		return "tool_calls " + m[1] + " " + v, nil
	}
	if m := reVariableSet.FindStringSubmatch(s); m != nil {
		if m[2] == "is empty" {
			return "(" + varRef(m[1]) + " ?? \"\") in [\"\", nil]", nil
		}
		return varRef(m[1]) + " != nil", nil
	}
	if m := reVariable.FindStringSubmatch(s); m != nil {
		ops := map[string]string{"equals": "==", "is": "==", "not equals": "!=", "is not": "!="}
		op := m[2]
		if o, ok := ops[op]; ok {
			op = o
		}
		return varRef(m[1]) + " " + op + " " + literal(m[3]), nil
	}
	if m := reMessage.FindStringSubmatch(s); m != nil {
		lit := strconv.Quote(strings.ToLower(unquote(m[2])))
		switch m[1] {
		case "contains":
			return "lower(message) contains " + lit, nil
		case "equals":
			return "lower(message) == " + lit, nil
		case "starts with":
			return "lower(message) startsWith " + lit, nil
		default:
			return "lower(message) endsWith " + lit, nil
		}
	}
	if m := reLoop.FindStringSubmatch(s); m != nil {
		x := "(loop[" + strconv.Quote(m[1]) + "]?.continue ?? false)"
		if m[2] != "continue" {
			x = "!" + x
		}
		return x, nil
	}
	return s, nil
}

func varRef(name string) string { return "variables[" + strconv.Quote(name) + "]" }

// literal renders a phrase value: numbers and booleans stay typed, everything else
// becomes a string.
func literal(v string) string {
	v = strings.TrimSpace(v)
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return v
	}
	switch v {
	case "true", "false", "nil":
		return v
	}
	return strconv.Quote(unquote(v))
}

func unquote(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		return v[1 : len(v)-1]
	}
	return v
}
