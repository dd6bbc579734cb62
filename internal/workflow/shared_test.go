package workflow

import (
	"encoding/json"
	"reflect"
	"testing"
)

// scribble overwrites everything reachable from v that a caller could write through:
// strings, numbers and bools, the targets of pointers and interfaces, slice elements
// and map entries (existing ones changed, one added). It is what a careless or
// malicious request handler could do to a value a getter handed it.
func scribble(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			scribble(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				scribble(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			scribble(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			scribble(e)
			v.SetMapIndex(k, e)
		}
		if v.Type().Key().Kind() == reflect.String {
			v.SetMapIndex(reflect.ValueOf("scribbled").Convert(v.Type().Key()), reflect.Zero(v.Type().Elem()))
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString("scribbled")
		}
	case reflect.Bool:
		if v.CanSet() {
			v.SetBool(!v.Bool())
		}
	case reflect.Int, reflect.Int64:
		if v.CanSet() {
			v.SetInt(v.Int() + 977)
		}
	case reflect.Float64:
		if v.CanSet() {
			v.SetFloat(v.Float() + 9.5)
		}
	}
}

func snapshot(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSharedGetters_WritesThroughWhatTheyReturnDoNotReachTheNextCaller covers every
// value of this package that lives for the whole process (a warm Lambda serves many
// users with it): whatever a caller does to what it got, the next caller gets the
// original.
func TestSharedGetters_WritesThroughWhatTheyReturnDoNotReachTheNextCaller(t *testing.T) {
	getters := map[string]func() any{
		"Builtins":                func() any { return Builtins() },
		"Builtin(code_assistant)": func() any { t, _ := Builtin("code_assistant"); return t },
		"Builtin(universal_chat)": func() any { t, _ := Builtin("universal_chat"); return t },
		"Kinds":                   func() any { return Kinds() },
	}
	for name, get := range getters {
		t.Run(name, func(t *testing.T) {
			before := snapshot(t, get())
			scribble(reflect.ValueOf(get()))
			if after := snapshot(t, get()); after != before {
				t.Errorf("a write through what %s returned reached the next caller:\nbefore %s\nafter  %s", name, before, after)
			}
		})
	}
}

// TestBuiltin_GraphFollowsTheTemplateNotTheCache: a copy of a built-in with changed
// params compiles its own graph, while an unchanged copy shares the built-in's.
func TestBuiltin_GraphFollowsTheTemplateNotTheCache(t *testing.T) {
	a, _ := Builtin("code_assistant")
	b, _ := Builtin("code_assistant")
	ga, err := a.Graph(testConditions)
	if err != nil {
		t.Fatal(err)
	}
	if gb, _ := b.Graph(testConditions); gb != ga {
		t.Errorf("two unchanged copies of a built-in compiled two graphs; want the one cached graph")
	}
	hot := 1.5
	b.Params.Temperature = &hot
	gb, err := b.Graph(testConditions)
	if err != nil {
		t.Fatal(err)
	}
	if gb == ga {
		t.Fatalf("a changed copy got the built-in's cached graph")
	}
	if got := *vertexOf(gb, KindLLM).Config.(*LLMConfig).Temperature; got != 1.5 {
		t.Errorf("changed copy's llm temperature = %v, want 1.5", got)
	}
	if got := *vertexOf(ga, KindLLM).Config.(*LLMConfig).Temperature; got != 0.2 {
		t.Errorf("built-in's llm temperature = %v, want 0.2", got)
	}
}

func TestTemplate_WithParamsOverridesSetFieldsOnACopy(t *testing.T) {
	base, _ := Builtin("code_assistant")
	before := snapshot(t, base)
	hot := 1.95
	o := Params{Temperature: &hot, AllowedTools: []string{"calculator"}, MaxToolCalls: 2}
	c := base.WithParams(o)
	if *c.Params.Temperature != 1.95 || !reflect.DeepEqual(c.Params.AllowedTools, []string{"calculator"}) || c.Params.MaxToolCalls != 2 {
		t.Errorf("override not applied: %+v", c.Params)
	}
	if c.Params.SystemPrompt != base.Params.SystemPrompt || c.Params.MaxTokens != base.Params.MaxTokens {
		t.Errorf("unset fields not kept: %+v", c.Params)
	}
	if after := snapshot(t, base); after != before {
		t.Errorf("WithParams changed its receiver:\nbefore %s\nafter  %s", before, after)
	}
	// The copy shares nothing with the override either.
	hot = 0.5
	o.AllowedTools[0] = "scribbled"
	if *c.Params.Temperature != 1.95 || c.Params.AllowedTools[0] != "calculator" {
		t.Errorf("the copy shares memory with the override: %+v", c.Params)
	}
	// Nor with its base.
	*c.Params.Temperature = 0.9
	c.Params.AllowedTools[0] = "scribbled"
	if after := snapshot(t, base); after != before {
		t.Errorf("the copy shares memory with its base:\nbefore %s\nafter  %s", before, after)
	}
	// An empty override changes nothing.
	if got := snapshot(t, base.WithParams(Params{AllowedTools: []string{}})); got != before {
		t.Errorf("empty override: %s, want %s", got, before)
	}
}
