package workflow

import (
	"context"
	"testing"
)

func BenchmarkCompileGeneralChat(b *testing.B) {
	tpl, _ := Builtin("general_chat")
	d := tpl.Definition()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(d, Options{Conditions: testConditions}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConditionEval(b *testing.B) {
	env := &Env{HasToolCalls: true, ToolCalls: 2, MaxToolCalls: 5, Message: "Hi there",
		Variables: map[string]any{"max_tool_calls": 3.0, "count": 4.0}}
	for _, bc := range []struct{ name, src string }{
		{"fast", "has_tool_calls"},
		{"expr", "tool_calls >= variable max_tool_calls"},
		{"expr_and", "variable count > 2 AND message contains hi"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, err := CompileCondition(testConditions, bc.src)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Eval(ctx, env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
