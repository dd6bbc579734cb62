package workflow

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestKinds_ListsEveryKindOnceWithDefaults(t *testing.T) {
	want := []Kind{KindStart, KindEnd, KindLLM, KindTools, KindMemory, KindRetrieval, KindConditional, KindLoop, KindVariable, KindErrorHandler, KindDelay}
	var got []Kind
	for _, s := range Kinds() {
		got = append(got, s.Kind)
		if s.Defaults == nil || s.Description == "" {
			t.Errorf("kind %s: defaults %v, description %q", s.Kind, s.Defaults, s.Description)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kinds %v, want %v", got, want)
	}
}

func TestDecodeConfig_AbsentConfigYieldsKindDefaults(t *testing.T) {
	want := map[Kind]Config{
		KindStart:        &StartConfig{},
		KindEnd:          &EndConfig{},
		KindLLM:          &LLMConfig{},
		KindTools:        &ToolsConfig{MaxToolCalls: DefaultMaxToolCalls, TimeoutMS: DefaultToolTimeoutMS},
		KindMemory:       &MemoryConfig{Window: DefaultMemoryWindow, IncludeSummary: true},
		KindRetrieval:    &RetrievalConfig{TopK: DefaultTopK},
		KindConditional:  &ConditionalConfig{},
		KindLoop:         &LoopConfig{MaxIterations: DefaultMaxIterations},
		KindVariable:     &VariableConfig{Operation: VarSet, Amount: 1},
		KindErrorHandler: &ErrorHandlerConfig{RetryCount: 1, FallbackAction: FallbackContinue},
		KindDelay:        &DelayConfig{Type: DelayFixed, DurationMS: 1000, MaxDurationMS: 30000, Factor: 2},
	}
	for _, spec := range Kinds() {
		for _, raw := range []string{"", "null", "{}", "  {}  "} {
			t.Run(string(spec.Kind)+"/"+raw, func(t *testing.T) {
				cfg, ps := DecodeConfig(spec.Kind, json.RawMessage(raw), "/c")
				if spec.Kind == KindVariable && raw == "{}" || spec.Kind == KindVariable && raw == "  {}  " {
					// An explicit empty object is checked: variable needs a name.
					if len(ps) != 1 || ps[0].Pointer != "/c/name" {
						t.Errorf("problems %+v, want /c/name required", ps)
					}
				} else if spec.Kind != KindVariable && ps != nil {
					t.Errorf("problems %+v, want none", ps)
				}
				if !reflect.DeepEqual(cfg, spec.Defaults) {
					t.Errorf("config %+v differs from Kinds() defaults %+v", cfg, spec.Defaults)
				}
				if !reflect.DeepEqual(cfg, want[spec.Kind]) {
					t.Errorf("config %+v, want %+v", cfg, want[spec.Kind])
				}
				// Zero-size configs may share an address; the others must be fresh values.
				if reflect.TypeOf(cfg).Elem().Size() > 0 && cfg == spec.Defaults {
					t.Errorf("DecodeConfig returned the shared defaults value")
				}
			})
		}
	}
}

func TestDecodeConfig_AcceptsPredecessorFieldAliases(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		kind Kind
		raw  string
		want Config
	}{
		{KindLLM, `{"llm_provider":"anthropic","model_name":"claude","system_message":"hi","allowed_tools":["a"]}`,
			&LLMConfig{Provider: "anthropic", Model: "claude", SystemPrompt: "hi", Tools: []string{"a"}}},
		{KindLLM, `{"provider":"openai","temperature":0,"max_tokens":10}`,
			&LLMConfig{Provider: "openai", Temperature: f(0), MaxTokens: 10}},
		{KindTools, `{"tools":["calc"],"timeout":500}`,
			&ToolsConfig{AllowedTools: []string{"calc"}, MaxToolCalls: DefaultMaxToolCalls, TimeoutMS: 500}},
		{KindMemory, `{"memory_window":7}`, &MemoryConfig{Window: 7, IncludeSummary: true}},
		{KindMemory, `{"max_messages":8,"include_summary":false}`, &MemoryConfig{Window: 8}},
		{KindRetrieval, `{"k":3,"similarity_threshold":0.5,"document_ids":["d1"]}`, &RetrievalConfig{TopK: 3, MinScore: 0.5, DocumentIDs: []string{"d1"}}},
		{KindRetrieval, `{"max_results":9}`, &RetrievalConfig{TopK: 9}},
		{KindConditional, `{"expression":"has_errors"}`, &ConditionalConfig{Condition: "has_errors"}},
		{KindLoop, `{"max_loops":4}`, &LoopConfig{MaxIterations: 4}},
		{KindLoop, `{"iterations":5,"condition":"true"}`, &LoopConfig{MaxIterations: 5, Condition: "true"}},
		{KindVariable, `{"variable":"count","op":"increment","amount":2}`, &VariableConfig{Name: "count", Operation: VarIncrement, Amount: 2}},
		{KindVariable, `{"variable_name":"x","operation":"get","output":"y"}`, &VariableConfig{Name: "x", Operation: VarGet, Amount: 1, Target: "y"}},
		{KindVariable, `{"name":"x","value":{"a":[1,true]}}`, &VariableConfig{Name: "x", Operation: VarSet, Amount: 1, Value: map[string]any{"a": []any{1.0, true}}}},
		{KindErrorHandler, `{"fallback":"stop","retries":3}`, &ErrorHandlerConfig{RetryCount: 3, FallbackAction: FallbackStop}},
		{KindErrorHandler, `{"max_retries":0,"fallback_action":"clear_errors","retry_delay_ms":100}`, &ErrorHandlerConfig{FallbackAction: FallbackClearErrors, RetryDelayMS: 100}},
		{KindDelay, `{"delay_ms":250,"delay_type":"random","max_duration":500}`, &DelayConfig{Type: DelayRandom, DurationMS: 250, MaxDurationMS: 500, Factor: 2}},
		{KindDelay, `{"duration":10,"type":"exponential","factor":3}`, &DelayConfig{Type: DelayExponential, DurationMS: 10, MaxDurationMS: 30000, Factor: 3}},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind)+tt.raw, func(t *testing.T) {
			cfg, ps := DecodeConfig(tt.kind, json.RawMessage(tt.raw), "/c")
			if ps != nil {
				t.Errorf("problems %+v, want none", ps)
			}
			if !reflect.DeepEqual(cfg, tt.want) {
				t.Errorf("config %+v, want %+v", cfg, tt.want)
			}
		})
	}
}

func TestParseKind_ResolvesAliases(t *testing.T) {
	tests := []struct {
		name string
		want Kind
		ok   bool
	}{
		{"model", KindLLM, true}, {"call_model", KindLLM, true}, {"llm", KindLLM, true},
		{"tool", KindTools, true}, {"execute_tools", KindTools, true}, {"tools", KindTools, true},
		{"errorHandler", KindErrorHandler, true}, {"error_handler", KindErrorHandler, true},
		{"delay", KindDelay, true}, {"variable", KindVariable, true},
		{"LLM", "", false}, {"custom", "", false}, {"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseKind(tt.name)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseKind(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCompile_KindAliasesInNodes(t *testing.T) {
	tests := []struct {
		node string
		want Kind
	}{
		{`{"id":"x","type":"model"}`, KindLLM},
		{`{"id":"x","type":"call_model"}`, KindLLM},
		{`{"id":"x","type":"tool"}`, KindTools},
		{`{"id":"x","type":"custom","data":{"nodeType":"execute_tools"}}`, KindTools},
		{`{"id":"x","type":"errorHandler"}`, KindErrorHandler},
		{`{"id":"x","type":"custom","data":{"nodeType":"errorHandler","config":{"fallback":"stop"}}}`, KindErrorHandler},
		{`{"id":"x","data":{"nodeType":"delay"}}`, KindDelay},
		// A known type wins over a stale nodeType.
		{`{"id":"x","type":"memory","data":{"nodeType":"llm"}}`, KindMemory},
	}
	for _, tt := range tests {
		t.Run(tt.node, func(t *testing.T) {
			g := mustCompile(t, `{"nodes":[{"id":"s","type":"start"},`+tt.node+`],"edges":[{"source":"s","target":"x"}]}`)
			if got := g.Nodes[mustIndex(t, g, "x")].Kind; got != tt.want {
				t.Errorf("kind %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecodeConfig_StartAndEndTolerateAnyConfig(t *testing.T) {
	for _, kind := range []Kind{KindStart, KindEnd} {
		for _, raw := range []string{`{"label":"x","anything":[1,2]}`, `"a string"`, `42`, `[]`} {
			t.Run(string(kind)+raw, func(t *testing.T) {
				cfg, ps := DecodeConfig(kind, json.RawMessage(raw), "/c")
				if ps != nil || cfg == nil {
					t.Errorf("DecodeConfig = %v, %+v; want a config and no problems", cfg, ps)
				}
			})
		}
	}
}

func TestDecodeConfig_CanonicalNameAndAliasTogetherAreDeterministic(t *testing.T) {
	// Both spellings present: keys are applied in sorted order, so "window" (after
	// "memory_window") wins every time.
	for range 20 {
		cfg, ps := DecodeConfig(KindMemory, json.RawMessage(`{"window":5,"memory_window":10}`), "/c")
		if ps != nil || cfg.(*MemoryConfig).Window != 5 {
			t.Fatalf("config %+v problems %+v, want window 5", cfg, ps)
		}
	}
}
