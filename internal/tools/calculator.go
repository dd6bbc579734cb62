package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/expr-lang/expr/ast"

	"github.com/chatterhq/chatter/internal/userexpr"
)

// Limits of the calculator. The expression length bounds parse and compile work; the
// node and element budgets are defence in depth, since the grammar left after the
// whitelist below cannot allocate collections at all. Evaluation runs within
// userexpr's budgets and the tool call's context.
const (
	MaxExpressionLength = 500
	calcMaxNodes        = 1000
	calcMaxElements     = 1000
)

// ErrDivisionByZero is returned (wrapped) for x/0 and x%0.
var ErrDivisionByZero = errors.New("division by zero")

const calculatorDescription = "Evaluate an arithmetic expression and return the number. " +
	"Operators: + - * / (always exact division, 5/2 = 2.5), % (remainder), ^ or ** (power, right-associative), " +
	"parentheses, comparisons with ?: (e.g. 2 > 1 ? 3 : 4). " +
	"Functions: abs, sqrt, pow(x, y), min, max, floor, ceil, round, log (natural), exp, sin, cos, tan (radians). " +
	"Constants: pi, e. Results are rounded to 15 significant digits."

var calculatorSchema = json.RawMessage(`{"type":"object","properties":{"expression":{"type":"string","maxLength":500,` +
	`"description":"Arithmetic expression, e.g. (2 + 3) * sqrt(16) / 2 ^ 3"}},"required":["expression"],"additionalProperties":false}`)

// Calculator returns the calculator tool: args {"expression": string}, result the
// number as text ("5" for 2+3, "2.5" for 5/2).
func Calculator() Tool {
	return Tool{
		Name:        "calculator",
		Description: calculatorDescription,
		Parameters:  calculatorSchema,
		Bounded:     true, // userexpr's budgets bound every evaluation
		Handler: func(ctx context.Context, args json.RawMessage) (string, error) {
			var in struct {
				Expression *string `json:"expression"`
			}
			if err := json.Unmarshal(args, &in); err != nil {
				return "", fmt.Errorf("arguments must be {\"expression\": string}: %w", err)
			}
			if in.Expression == nil {
				return "", errors.New(`missing "expression"`)
			}
			return Evaluate(ctx, *in.Expression)
		},
	}
}

// calcEnv is the whole environment an expression sees. A struct (not a map) keeps the
// checker strict: any other identifier is a compile error.
type calcEnv struct {
	userexpr.Frame
	Pi float64 `expr:"pi"`
	E  float64 `expr:"e"`
}

// Evaluate computes an arithmetic expression and formats the number. It is what the
// calculator tool runs; exported so other packages can reuse the same rules.
//
// Safety rests on three things: the expression is compiled by userexpr with no
// builtin at all, only the math functions below; a whitelist rule rejects every
// syntax that is not arithmetic (strings, arrays, maps, ranges, member access,
// predicates, $env); and the arithmetic operators are rewritten into our functions,
// which check for overflow, division by zero and non-finite values, so no wrapped or
// infinite number reaches the model. The language keeps what it compiled
// (userexpr.CacheSize), so an expression the model sends again is not compiled again.
func Evaluate(ctx context.Context, expression string) (string, error) {
	if strings.TrimSpace(expression) == "" {
		return "", errors.New("empty expression")
	}
	if len(expression) > MaxExpressionLength {
		return "", fmt.Errorf("expression too long: %d characters, at most %d", len(expression), MaxExpressionLength)
	}
	program, err := calculator().Compile(expression)
	if err != nil {
		var ne *userexpr.NotAllowedError
		if errors.As(err, &ne) {
			return "", err
		}
		return "", fmt.Errorf("invalid expression: %w", err)
	}
	out, err := program.Run(ctx, &calcEnv{Pi: math.Pi, E: math.E})
	if errors.Is(err, ErrDivisionByZero) {
		return "", ErrDivisionByZero
	}
	if err != nil {
		return "", err
	}
	return formatNumber(out)
}

// calculator is the calculator's language, built on first use (as workflow's
// conditions are): where no calculation can run, nothing of expr's compiler is
// linked or set up at init.
func calculator() *userexpr.Language {
	calculatorOnce.Do(func() {
		calculatorLang = userexpr.MustNewLanguage(userexpr.Spec{
			Name:      "a calculator expression",
			Env:       &calcEnv{},
			Functions: calcFunctionList(),
			Rule:      calcRule,
			MaxNodes:  calcMaxNodes,
			Limits:    userexpr.Limits{Elements: calcMaxElements},
		})
	})
	return calculatorLang
}

var (
	calculatorOnce sync.Once
	calculatorLang *userexpr.Language
)

func calcFunctionList() []userexpr.Function {
	fns := make([]userexpr.Function, 0, len(calcFunctions))
	for name, fn := range calcFunctions {
		fns = append(fns, userexpr.Function{Name: name, Fn: func(_ *userexpr.Meter, args ...any) (any, error) { return fn(args...) }})
	}
	return fns
}

// Operators rewritten into functions, so checks run on every operation regardless of
// what the checker knows about operand types. The leading underscore keeps the names
// out of the documented function set.
var operatorFuncs = map[string]string{
	"+": "_add", "-": "_sub", "*": "_mul", "/": "_div", "%": "_mod", "^": "_pow", "**": "_pow",
}

// Operators left to expr: they yield booleans, which are only useful inside ?: and are
// rejected as a final result.
var passThroughOperators = map[string]bool{
	"==": true, "!=": true, "<": true, ">": true, "<=": true, ">=": true,
	"and": true, "or": true, "&&": true, "||": true,
}

func notAllowed(what string) error { return &userexpr.NotAllowedError{What: what} }

// calcRule whitelists arithmetic syntax and rewrites arithmetic operators into
// checked function calls. userexpr applies it post-order, so the operands of a node
// are already rewritten when the node is visited, and the last refusal wins: the
// outermost construct names the problem (a method call, not its name's string node).
func calcRule(node *ast.Node) error {
	switch n := (*node).(type) {
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.ConditionalNode,
		*ast.VariableDeclaratorNode, *ast.SequenceNode:
	case *ast.IdentifierNode:
		if strings.HasPrefix(n.Value, "$") {
			return notAllowed(n.Value)
		}
	case *ast.CallNode:
		// Only plain function names; the checker rejects names not registered.
		if _, ok := n.Callee.(*ast.IdentifierNode); !ok {
			return notAllowed("method calls")
		}
	case *ast.UnaryNode:
		switch n.Operator {
		case "-":
			ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: "_neg"}, Arguments: []ast.Node{n.Node}})
		case "+", "!", "not":
		default:
			return notAllowed("operator " + n.Operator)
		}
	case *ast.BinaryNode:
		if fn, ok := operatorFuncs[n.Operator]; ok {
			ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: fn}, Arguments: []ast.Node{n.Left, n.Right}})
			return nil
		}
		if !passThroughOperators[n.Operator] {
			return notAllowed("operator " + n.Operator)
		}
	case *ast.StringNode, *ast.BytesNode:
		return notAllowed("strings")
	case *ast.ArrayNode:
		return notAllowed("arrays")
	case *ast.MapNode, *ast.PairNode:
		return notAllowed("maps")
	case *ast.NilNode:
		return notAllowed("nil")
	case *ast.MemberNode, *ast.ChainNode, *ast.SliceNode:
		return notAllowed("member access")
	case *ast.BuiltinNode, *ast.PredicateNode, *ast.PointerNode:
		return notAllowed("builtin functions")
	default:
		return notAllowed(fmt.Sprintf("%T", n))
	}
	return nil
}

type calcFunc = func(params ...any) (any, error)

var calcFunctions = map[string]calcFunc{
	"abs":   unary("abs", math.Abs),
	"sqrt":  unary("sqrt", math.Sqrt),
	"floor": unary("floor", math.Floor),
	"ceil":  unary("ceil", math.Ceil),
	"round": unary("round", math.Round),
	"log":   unary("log", math.Log),
	"exp":   unary("exp", math.Exp),
	"sin":   unary("sin", math.Sin),
	"cos":   unary("cos", math.Cos),
	"tan":   unary("tan", math.Tan),
	"pow":   binaryFloat("pow", math.Pow),
	"min":   extremum("min", func(a, b float64) bool { return a < b }),
	"max":   extremum("max", func(a, b float64) bool { return a > b }),
	"_pow":  binaryFloat("^", math.Pow),
	"_add":  intOrFloat("+", addInt, func(a, b float64) float64 { return a + b }),
	"_sub":  intOrFloat("-", subInt, func(a, b float64) float64 { return a - b }),
	"_mul":  intOrFloat("*", mulInt, func(a, b float64) float64 { return a * b }),
	"_div":  divide,
	"_mod":  modulo,
	"_neg":  negate,
}

// number converts an operand; the guard leaves booleans as the only other value that
// can reach a function (true + 1).
func number(op string, v any) (float64, bool, error) {
	switch x := v.(type) {
	case int:
		return float64(x), true, nil
	case float64:
		return x, false, nil
	}
	return 0, false, fmt.Errorf("%s: operands must be numbers, got %s", op, typeName(v))
}

func typeName(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("%T", v)
}

func finite(op string, f float64) (any, error) {
	switch {
	case math.IsNaN(f):
		return nil, fmt.Errorf("%s: result is not a real number", op)
	case math.IsInf(f, 0):
		return nil, fmt.Errorf("%s: result is infinite or too large", op)
	}
	return f, nil
}

func arity(op string, params []any, n int) error {
	if len(params) != n {
		return fmt.Errorf("%s takes %d argument(s), got %d", op, n, len(params))
	}
	return nil
}

func unary(name string, f func(float64) float64) calcFunc {
	return func(params ...any) (any, error) {
		if err := arity(name, params, 1); err != nil {
			return nil, err
		}
		x, _, err := number(name, params[0])
		if err != nil {
			return nil, err
		}
		return finite(name, f(x))
	}
}

func binaryFloat(name string, f func(a, b float64) float64) calcFunc {
	return func(params ...any) (any, error) {
		if err := arity(name, params, 2); err != nil {
			return nil, err
		}
		a, _, err := number(name, params[0])
		if err != nil {
			return nil, err
		}
		b, _, err := number(name, params[1])
		if err != nil {
			return nil, err
		}
		return finite(name, f(a, b))
	}
}

func extremum(name string, better func(a, b float64) bool) calcFunc {
	return func(params ...any) (any, error) {
		if len(params) == 0 {
			return nil, fmt.Errorf("%s takes at least 1 argument", name)
		}
		var best any
		var bestF float64
		for i, p := range params {
			f, _, err := number(name, p)
			if err != nil {
				return nil, err
			}
			if i == 0 || better(f, bestF) {
				best, bestF = p, f
			}
		}
		return best, nil
	}
}

// intOrFloat keeps integer arithmetic exact while it fits in int64 and reports
// overflow instead of wrapping around.
func intOrFloat(op string, fi func(a, b int) (int, bool), ff func(a, b float64) float64) calcFunc {
	return func(params ...any) (any, error) {
		if err := arity(op, params, 2); err != nil {
			return nil, err
		}
		if a, ok := params[0].(int); ok {
			if b, ok := params[1].(int); ok {
				r, ok := fi(a, b)
				if !ok {
					return nil, fmt.Errorf("%s: integer overflow (use a decimal point, e.g. 1.0 * x, for approximate results)", op)
				}
				return r, nil
			}
		}
		a, _, err := number(op, params[0])
		if err != nil {
			return nil, err
		}
		b, _, err := number(op, params[1])
		if err != nil {
			return nil, err
		}
		return finite(op, ff(a, b))
	}
}

func addInt(a, b int) (int, bool) {
	r := a + b
	return r, (r > a) == (b > 0)
}

func subInt(a, b int) (int, bool) {
	r := a - b
	return r, (r < a) == (b > 0)
}

func mulInt(a, b int) (int, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	r := a * b
	if r/b != a || (a == -1 && b == math.MinInt) || (b == -1 && a == math.MinInt) {
		return 0, false
	}
	return r, true
}

func divide(params ...any) (any, error) {
	if err := arity("/", params, 2); err != nil {
		return nil, err
	}
	a, _, err := number("/", params[0])
	if err != nil {
		return nil, err
	}
	b, _, err := number("/", params[1])
	if err != nil {
		return nil, err
	}
	if b == 0 {
		return nil, ErrDivisionByZero
	}
	return finite("/", a/b)
}

func modulo(params ...any) (any, error) {
	if err := arity("%", params, 2); err != nil {
		return nil, err
	}
	if a, ok := params[0].(int); ok {
		if b, ok := params[1].(int); ok {
			if b == 0 {
				return nil, ErrDivisionByZero
			}
			return a % b, nil // MinInt % -1 is 0 in Go, no panic
		}
	}
	a, _, err := number("%", params[0])
	if err != nil {
		return nil, err
	}
	b, _, err := number("%", params[1])
	if err != nil {
		return nil, err
	}
	if b == 0 {
		return nil, ErrDivisionByZero
	}
	return finite("%", math.Mod(a, b))
}

func negate(params ...any) (any, error) {
	if err := arity("-", params, 1); err != nil {
		return nil, err
	}
	switch x := params[0].(type) {
	case int:
		if x == math.MinInt {
			return nil, errors.New("-: integer overflow")
		}
		return -x, nil
	case float64:
		return -x, nil
	}
	return nil, fmt.Errorf("-: operand must be a number, got %s", typeName(params[0]))
}

// formatNumber prints ints exactly and floats rounded to 15 significant digits, which
// hides binary noise (0.1+0.2 is "0.3") while keeping every digit a float64 can hold
// reliably. Integral values print without a decimal point.
func formatNumber(v any) (string, error) {
	switch x := v.(type) {
	case int:
		return strconv.Itoa(x), nil
	case float64:
		if _, err := finite("result", x); err != nil {
			return "", err
		}
		r, err := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 15, 64), 64)
		if err != nil {
			return "", fmt.Errorf("formatting %v: %w", x, err)
		}
		if r == 0 {
			return "0", nil // also turns -0 into 0
		}
		if a := math.Abs(r); a >= 1e-6 && a < 1e21 {
			return strconv.FormatFloat(r, 'f', -1, 64), nil
		}
		return strconv.FormatFloat(r, 'g', -1, 64), nil
	}
	return "", fmt.Errorf("the result must be a number, got %s", typeName(v))
}
