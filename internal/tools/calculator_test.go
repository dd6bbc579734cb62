package tools

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestEvaluate_ComputesArithmetic(t *testing.T) {
	tests := []struct {
		expr string
		want string
	}{
		{"2+3", "5"},
		{"5/2", "2.5"},
		{"10/2", "5"},
		{"2 + 3 * 4", "14"},
		{"(2 + 3) * 4", "20"},
		{"-2^2", "-4"},
		{"2^3^2", "512"}, // right-associative
		{"2**10", "1024"},
		{"2^-1", "0.5"},
		{"7 % 3", "1"},
		{"-7 % 3", "-1"},
		{"7.5 % 2", "1.5"},
		{"0.1 + 0.2", "0.3"},
		{"1/3", "0.333333333333333"},
		{"1.5e3", "1500"},
		{"1e-9", "1e-09"},
		{"1e21", "1e+21"},
		{"-0.0", "0"},
		{"9223372036854775807", "9223372036854775807"},
		{"-9223372036854775807 - 1", "-9223372036854775808"},
		{"sqrt(16) + abs(-3)", "7"},
		{"pow(2, 0.5)", "1.4142135623731"},
		{"min(3, 1, 2)", "1"},
		{"max(1, 2.5)", "2.5"},
		{"floor(-2.5)", "-3"},
		{"ceil(2.1)", "3"},
		{"round(2.5)", "3"},
		{"log(e)", "1"},
		{"exp(0)", "1"},
		{"sin(pi / 2)", "1"},
		{"cos(0)", "1"},
		{"tan(0)", "0"},
		{"pi", "3.14159265358979"},
		{"1 < 2 ? 3 : 4", "3"},
		{"if 1 > 2 { 3 } else { 4 }", "4"},
		{"let x = 3; x * x", "9"},
		{"  42  ", "42"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := Evaluate(context.Background(), tt.expr)
			if err != nil {
				t.Fatalf("Evaluate(%q) error: %v", tt.expr, err)
			}
			if got != tt.want {
				t.Errorf("Evaluate(%q) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

func TestEvaluate_RejectsUnsafeOrInvalidInput(t *testing.T) {
	tests := []struct {
		name    string
		expr    string
		wantErr string
	}{
		{"division by zero", "1/0", "division by zero"},
		{"float division by zero", "1.5 / (2 - 2)", "division by zero"},
		{"modulo by zero", "5 % 0", "division by zero"},
		{"integer overflow", "9223372036854775807 + 1", "integer overflow"},
		{"multiplication overflow", "3037000500 * 3037000500", "integer overflow"},
		{"negation overflow", "-(-9223372036854775807 - 1)", "integer overflow"},
		{"infinite power", "10^400", "infinite or too large"},
		{"float overflow", "1e300 * 1e300", "infinite or too large"},
		{"nan", "sqrt(-1)", "not a real number"},
		{"log of zero", "log(0)", "infinite"},
		{"env identifier", "env", "unknown name env"},
		{"dollar env", "$env", "$env"},
		{"string concat", `"a" + "b"`, "strings"},
		{"array literal", "[1,2]", "arrays"},
		{"small range", "1..10", "operator .."},
		{"huge range", "1..1000000000", "operator .."},
		{"range reduced to number", "sum(1..1000000000)", "not allowed"},
		{"len builtin", `len("x")`, "not allowed"},
		{"now builtin", "now()", "not allowed in a calculator expression: now"},
		{"toJSON builtin", "toJSON(1)", "not allowed in a calculator expression: toJSON"},
		{"map builtin", "map([1], # * 2)", "not allowed"},
		{"method call", "pi.String()", "method calls"},
		{"member access", "pi.x", "member access"},
		{"map literal", "{a: 1}", "maps"},
		{"nil", "nil", "nil"},
		{"in operator", "1 in [1]", "not allowed"},
		{"matches", `"a" matches "a"`, "not allowed"},
		{"unknown identifier", "foo + 1", "unknown name foo"},
		{"unknown function", "system(1)", "unknown"},
		{"boolean result", "1 < 2", "must be a number"},
		{"boolean operand", "true + 1", "operands must be numbers"},
		{"wrong arity", "sqrt(1, 2)", "takes 1 argument"},
		{"min without args", "min()", "at least 1"},
		{"syntax error", "2 +", "invalid expression"},
		{"empty", "   ", "empty expression"},
		{"overlong", strings.Repeat("1+", 250) + "1", "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Evaluate(context.Background(), tt.expr)
			if err == nil {
				t.Fatalf("Evaluate(%q) = %q, want error containing %q", tt.expr, got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Evaluate(%q) error = %q, want it to contain %q", tt.expr, err, tt.wantErr)
			}
		})
	}
}

// The calculator's equivalents of the condition amplifiers: each is refused when
// compiled, naming what is not allowed, before anything is evaluated or allocated.
func TestEvaluate_RefusesAmplifiersNamingThem(t *testing.T) {
	for expr, what := range map[string]string{
		`len(repeat(repeat("a", 999999), 1000000))`:     "strings",
		`repeat(1, 1000000)`:                            "repeat",
		`sum(1..1000000000)`:                            "not allowed",
		`count(1..99999, {count(1..99999, # > 0) > 0})`: "not allowed",
		`let a = 1..100000; 1`:                          "operator ..",
		`split(1, 1)`:                                   "split",
		`lower(1)`:                                      "lower",
		`$meter`:                                        "$meter",
	} {
		done := make(chan error, 1)
		go func() { _, err := Evaluate(context.Background(), expr); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), what) || !strings.Contains(err.Error(), "not allowed") {
				t.Errorf("Evaluate(%q) error = %v, want a refusal naming %s", expr, err, what)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Evaluate(%q) still running after 10s", expr)
		}
	}
}

// A tool call whose context is done does not evaluate: the calculator runs on the
// same metered path as conditions.
func TestEvaluate_HonoursTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	long := strings.Repeat("abs(", 70) + "1" + strings.Repeat(")", 70) // 70 calls: past one look at the context
	if _, err := Evaluate(ctx, long); !errors.Is(err, context.Canceled) {
		t.Errorf("Evaluate on a cancelled context = %v, want context.Canceled", err)
	}
	if got, err := Evaluate(context.Background(), long); err != nil || got != "1" {
		t.Errorf("Evaluate = %q, %v", got, err)
	}
}

func TestEvaluate_DivisionByZeroIsTyped(t *testing.T) {
	for _, e := range []string{"1/0", "5 % 0", "2.5 % 0.0"} {
		if _, err := Evaluate(context.Background(), e); !errors.Is(err, ErrDivisionByZero) {
			t.Errorf("Evaluate(%q) error = %v, want ErrDivisionByZero", e, err)
		}
	}
}

func TestEvaluate_AcceptsMaximumLength(t *testing.T) {
	e := strings.Repeat("1+", (MaxExpressionLength-1)/2) + "1"
	if len(e) > MaxExpressionLength {
		t.Fatalf("test expression is %d chars", len(e))
	}
	got, err := Evaluate(context.Background(), e)
	if err != nil {
		t.Fatalf("Evaluate(%d chars) error: %v", len(e), err)
	}
	if want := strconv.Itoa((MaxExpressionLength-1)/2 + 1); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCalculator_CallReturnsResultOrModelReadableError(t *testing.T) {
	tests := []struct {
		name        string
		args        string
		wantContent string
		wantError   bool
	}{
		{"ok", `{"expression":"2+3"}`, "5", false},
		{"division by zero", `{"expression":"1/0"}`, "division by zero", true},
		{"missing expression", `{}`, `missing "expression"`, true},
		{"wrong type", `{"expression":5}`, "arguments must be", true},
		{"not json", `{"expression":`, "not valid JSON", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Builtins().Call(context.Background(), "calculator", json.RawMessage(tt.args))
			if res.IsError != tt.wantError {
				t.Errorf("IsError = %v, want %v (content %q)", res.IsError, tt.wantError, res.Content)
			}
			if !strings.Contains(res.Content, tt.wantContent) {
				t.Errorf("Content = %q, want it to contain %q", res.Content, tt.wantContent)
			}
		})
	}
}

// Any string the model might send yields a result or an error result, never a panic,
// and a successful result is always a finite number.
func TestCalculator_ArbitraryInputNeverPanics(t *testing.T) {
	reg := Builtins()
	alphabet := rapid.SampledFrom([]string{
		"1", "2.5", "0", "9223372036854775807", "1e308", "+", "-", "*", "/", "%", "^", "**",
		"(", ")", "[", "]", "{", "}", ",", ".", "..", " ", "pi", "e", "x", "sqrt", "min", "max",
		"log", "abs", "let x = ", ";", "?", ":", "<", "==", "&&", "!", "\"", "'", "#", "$env",
		"len", "now()", "true", "nil", "|", "in", "if", "else",
	})
	rapid.Check(t, func(t *rapid.T) {
		var expr string
		if rapid.Bool().Draw(t, "raw") {
			expr = rapid.String().Draw(t, "expr")
		} else {
			expr = strings.Join(rapid.SliceOfN(alphabet, 0, 40).Draw(t, "tokens"), "")
		}
		args, err := json.Marshal(map[string]string{"expression": expr})
		if err != nil {
			t.Fatal(err)
		}
		res := reg.Call(context.Background(), "calculator", args)
		if res.IsError {
			if res.Content == "" {
				t.Fatalf("error result without a message for %q", expr)
			}
			return
		}
		f, err := strconv.ParseFloat(res.Content, 64)
		if err != nil {
			t.Fatalf("Evaluate(%q) = %q, not a number", expr, res.Content)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			t.Fatalf("Evaluate(%q) = %q, not finite", expr, res.Content)
		}
	})
}

func FuzzCalculator(f *testing.F) {
	for _, s := range []string{"2+3", "5/2", "1/0", "sqrt(-1)", "1..10", `"a"+"b"`, "let x = 2; x^x", "pi.String()", "-(-9223372036854775807-1)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		got, err := Evaluate(context.Background(), expr)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("empty error for %q", expr)
			}
			return
		}
		if _, perr := strconv.ParseFloat(got, 64); perr != nil {
			t.Fatalf("Evaluate(%q) = %q, not a number", expr, got)
		}
	})
}

func BenchmarkCalculator(b *testing.B) {
	reg := Builtins()
	args := json.RawMessage(`{"expression":"(2 + 3) * sqrt(16) / 2 ^ 3 + max(1, 2, 3)"}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if res := reg.Call(ctx, "calculator", args); res.IsError {
			b.Fatal(res.Content)
		}
	}
}
