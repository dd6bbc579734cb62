package workflow

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestKinds_ListsEveryKindOnceWithDefaults(t *testing.T) {
	want := []Kind{KindStart, KindEnd, KindLLM, KindTools, KindMemory, KindRetrieval, KindConditional, KindLoop, KindVariable, KindErrorHandler, KindDelay, KindHuman}
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
		KindTools:        &ToolsConfig{MaxToolCalls: DefaultMaxToolCalls, TimeoutMS: DefaultToolTimeoutMS, Parallel: true},
		KindMemory:       &MemoryConfig{Window: DefaultMemoryWindow, IncludeSummary: true, Enabled: true},
		KindRetrieval:    &RetrievalConfig{TopK: DefaultTopK},
		KindConditional:  &ConditionalConfig{},
		KindLoop:         &LoopConfig{MaxIterations: DefaultMaxIterations},
		KindVariable:     &VariableConfig{Operation: VarSet, Amount: 1},
		KindErrorHandler: &ErrorHandlerConfig{RetryCount: 1, FallbackAction: FallbackContinue, LogErrors: true},
		KindDelay:        &DelayConfig{Type: DelayFixed, DurationMS: 1000, MaxDurationMS: 30000, Factor: 2},
		KindHuman:        &HumanConfig{Prompt: "Approve to continue.", Input: HumanApproval, Variable: "human_input", TimeoutMS: DefaultHumanTimeoutMS},
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
	tools := func(c ToolsConfig) *ToolsConfig {
		if c.MaxToolCalls == 0 {
			c.MaxToolCalls = DefaultMaxToolCalls
		}
		if c.TimeoutMS == 0 {
			c.TimeoutMS = DefaultToolTimeoutMS
		}
		return &c
	}
	mem := func(window int, summary bool) *MemoryConfig {
		return &MemoryConfig{Window: window, IncludeSummary: summary, Enabled: true}
	}
	eh := func(c ErrorHandlerConfig) *ErrorHandlerConfig { c.LogErrors = true; return &c }
	delay := func(c DelayConfig) *DelayConfig {
		if c.Type == "" {
			c.Type = DelayFixed
		}
		if c.MaxDurationMS == 0 {
			c.MaxDurationMS = 30000
		}
		if c.Factor == 0 {
			c.Factor = 2
		}
		return &c
	}
	tests := []struct {
		kind Kind
		raw  string
		want Config
	}{
		// chatter's own earlier aliases.
		{KindLLM, `{"llm_provider":"anthropic","model_name":"claude","system_message":"hi","allowed_tools":["a"]}`,
			&LLMConfig{Provider: "anthropic", Model: "claude", SystemPrompt: "hi", Tools: []string{"a"}}},
		{KindLLM, `{"provider":"openai","temperature":0,"max_tokens":10}`,
			&LLMConfig{Provider: "openai", Temperature: f(0), MaxTokens: 10}},
		{KindMemory, `{"memory_window":7}`, mem(7, true)},
		{KindMemory, `{"max_messages":8,"include_summary":false}`, mem(8, false)},
		{KindRetrieval, `{"k":3,"similarity_threshold":0.5,"document_ids":["d1"]}`, &RetrievalConfig{TopK: 3, MinScore: 0.5, DocumentIDs: []string{"d1"}}},
		{KindRetrieval, `{"max_results":9}`, &RetrievalConfig{TopK: 9}},
		{KindConditional, `{"expression":"has_errors"}`, &ConditionalConfig{Condition: "has_errors"}},
		{KindLoop, `{"max_loops":4}`, &LoopConfig{MaxIterations: 4}},
		{KindLoop, `{"iterations":5,"condition":"true"}`, &LoopConfig{MaxIterations: 5, Condition: "true"}},
		{KindVariable, `{"variable":"count","op":"increment","amount":2}`, &VariableConfig{Name: "count", Operation: VarIncrement, Amount: 2}},
		{KindVariable, `{"name":"x","operation":"get","output":"y"}`, &VariableConfig{Name: "x", Operation: VarGet, Amount: 1, Target: "y"}},
		{KindVariable, `{"name":"x","value":{"a":[1,true]}}`, &VariableConfig{Name: "x", Operation: VarSet, Amount: 1, Value: map[string]any{"a": []any{1.0, true}}}},
		{KindErrorHandler, `{"fallback":"stop","retries":3}`, eh(ErrorHandlerConfig{RetryCount: 3, FallbackAction: FallbackStop})},
		{KindErrorHandler, `{"max_retries":0,"fallback_action":"clear_errors","retry_delay_ms":100}`, eh(ErrorHandlerConfig{FallbackAction: FallbackClearErrors, RetryDelayMS: 100})},
		{KindDelay, `{"delay_ms":250,"delay_type":"random","max_duration":500}`, delay(DelayConfig{Type: DelayRandom, DurationMS: 250, MaxDurationMS: 500})},
		{KindDelay, `{"duration":10,"type":"exponential","factor":3}`, delay(DelayConfig{Type: DelayExponential, DurationMS: 10, Factor: 3})},

		// The predecessor's engine (chatter/core/workflow_node_factory.py).
		{KindTools, `{"max_tool_calls":4,"tool_timeout_ms":3000}`, tools(ToolsConfig{MaxToolCalls: 4, TimeoutMS: 3000, Parallel: true})},
		{KindRetrieval, `{"max_documents":3,"collection":"kb"}`, &RetrievalConfig{TopK: 3, Collection: "kb"}},
		{KindVariable, `{"variable_name":"x","operation":"append","value":1}`, &VariableConfig{Name: "x", Operation: VarAppend, Amount: 1, Value: 1.0}},
		{KindErrorHandler, `{"retry_count":2,"fallback_action":"stop"}`, eh(ErrorHandlerConfig{RetryCount: 2, FallbackAction: FallbackStop})},
		{KindDelay, `{"delay_type":"exponential","duration":1500,"max_duration":9000}`, delay(DelayConfig{Type: DelayExponential, DurationMS: 1500, MaxDurationMS: 9000})},
		{KindLoop, `{"max_iterations":7,"condition":"has_errors"}`, &LoopConfig{MaxIterations: 7, Condition: "has_errors"}},

		// The predecessor's editor (PropertiesPanel, WorkflowEditor defaults).
		{KindLLM, `{"systemMessage":"s","temperature":0.7,"maxTokens":1000,"model":"m","provider":"openai"}`,
			&LLMConfig{Provider: "openai", Model: "m", Temperature: f(0.7), MaxTokens: 1000, SystemPrompt: "s"}},
		{KindTools, `{"tools":["calc"],"parallel":false}`, tools(ToolsConfig{AllowedTools: []string{"calc"}})},
		// timeout is the editor's seconds.
		{KindTools, `{"timeout":30}`, tools(ToolsConfig{TimeoutMS: 30000, Parallel: true})},
		{KindMemory, `{"enabled":true,"window":12,"memoryType":"conversation"}`,
			&MemoryConfig{Window: 12, IncludeSummary: true, Enabled: true, MemoryType: MemoryConversation}},
		{KindMemory, `{"enabled":false,"window":12,"memoryType":"summary"}`, &MemoryConfig{MemoryType: MemorySummary}},
		{KindRetrieval, `{"collection":"","topK":5,"threshold":0.7}`, &RetrievalConfig{TopK: 5, MinScore: 0.7}},
		{KindConditional, `{"condition":"","branches":{}}`, &ConditionalConfig{Branches: map[string]string{}}},
		{KindConditional, `{"condition":"has_tool_calls","branches":{"true":"t","false":"end"}}`,
			&ConditionalConfig{Condition: "has_tool_calls", Branches: map[string]string{"true": "t", "false": "end"}}},
		{KindLoop, `{"maxIterations":10,"condition":"","breakCondition":"has_errors"}`, &LoopConfig{MaxIterations: 10, BreakCondition: "has_errors"}},
		{KindVariable, `{"operation":"set","variableName":"v","value":"","scope":"workflow"}`,
			&VariableConfig{Operation: VarSet, Name: "v", Amount: 1, Value: "", Scope: VarScopeRun}},
		// The predecessor's /defaults gave variable_name "" and the panel wrote variableName.
		{KindVariable, `{"variable_name":"","variableName":"v"}`, &VariableConfig{Operation: VarSet, Name: "v", Amount: 1}},
		{KindErrorHandler, `{"retryCount":3,"fallbackAction":"continue","logErrors":true}`, eh(ErrorHandlerConfig{RetryCount: 3, FallbackAction: FallbackContinue})},
		{KindDelay, `{"duration":2,"type":"fixed","unit":"seconds"}`, delay(DelayConfig{DurationMS: 2000, Unit: "seconds"})},
		{KindDelay, `{"duration":1,"unit":"minutes"}`, delay(DelayConfig{DurationMS: 60000, Unit: "minutes"})},
		{KindDelay, `{"duration":250,"unit":"milliseconds"}`, delay(DelayConfig{DurationMS: 250, Unit: "milliseconds"})},
		// camelCase of chatter's own names and of the engine's keys.
		{KindTools, `{"maxToolCalls":2,"allowedTools":["a"],"toolTimeoutMs":700}`, tools(ToolsConfig{MaxToolCalls: 2, AllowedTools: []string{"a"}, TimeoutMS: 700, Parallel: true})},
		{KindDelay, `{"delayType":"random","maxDuration":900}`, delay(DelayConfig{Type: DelayRandom, DurationMS: 1000, MaxDurationMS: 900})},
		{KindErrorHandler, `{"retryDelay":50}`, eh(ErrorHandlerConfig{RetryCount: 1, FallbackAction: FallbackContinue, RetryDelayMS: 50})},
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

func TestDecodeConfig_NodeSettingsOnEveryKind(t *testing.T) {
	for _, spec := range Kinds() {
		t.Run(string(spec.Kind), func(t *testing.T) {
			raw := `{"isEntryPoint":true,"timeout":30,"retries":2,"enabled":true`
			if spec.Kind == KindVariable {
				raw += `,"name":"x"`
			}
			d, ps := decodeNode(spec.Kind, json.RawMessage(raw+"}"), "/c")
			if ps != nil {
				t.Fatalf("problems %+v", ps)
			}
			want := Settings{Enabled: true, EntryPoint: true, TimeoutMS: 30000, Retries: 2}
			switch spec.Kind {
			case KindTools: // its timeout is per tool call
				want.TimeoutMS = 0
				if got := d.cfg.(*ToolsConfig).TimeoutMS; got != 30000 {
					t.Errorf("tools timeout_ms %d, want 30000", got)
				}
			case KindHuman: // its timeout is how long it waits for the person
				want.TimeoutMS = 0
				if got := d.cfg.(*HumanConfig).TimeoutMS; got != 30000 {
					t.Errorf("human timeout_ms %d, want 30000", got)
				}
			case KindErrorHandler: // its retries are retry_count
				want.Retries = 0
				if got := d.cfg.(*ErrorHandlerConfig).RetryCount; got != 2 {
					t.Errorf("retry_count %d, want 2", got)
				}
			}
			if d.settings != want {
				t.Errorf("settings %+v, want %+v", d.settings, want)
			}
		})
	}
}

func TestDecodeConfig_RefusesKeysAndValuesThatMeanNothing(t *testing.T) {
	tests := []struct {
		kind        Kind
		raw         string
		wantPointer string
		wantInMsg   string
	}{
		{KindStart, `{"editor_note":"x"}`, "/c/editor_note", `unknown field "editor_note" for start node`},
		{KindEnd, `{"label":"End"}`, "/c/label", `unknown field "label"`},
		{KindStart, `"a string"`, "/c", "must be a JSON object"},
		{KindLLM, `{"topP":0.9}`, "/c/topP", `unknown field "topP" for llm node; its fields are`},
		{KindLLM, `{"maxToken":10}`, "/c/maxToken", "max_tokens"}, // a typo names the fields
		{KindRetrieval, `{"retrievalType":"mmr"}`, "/c/retrievalType", "unknown field"},
		{KindMemory, `{"memoryType":"vector"}`, "/c/memoryType", `memoryType "vector" is not supported`},
		{KindVariable, `{"name":"x","scope":"global"}`, "/c/scope", `scope "global" is not supported`},
		{KindErrorHandler, `{"logErrors":false}`, "/c/logErrors", "always recorded"},
		{KindErrorHandler, `{"fallbackAction":"skip"}`, "/c/fallbackAction", "must be one of continue, clear_errors, stop"},
		{KindDelay, `{"type":"dynamic"}`, "/c/type", "must be one of fixed, random, exponential"},
		{KindDelay, `{"duration":1,"unit":"days"}`, "/c/unit", "must be one of milliseconds"},
		{KindDelay, `{"duration":2,"unit":"hours"}`, "/c/duration", "duration 2 hours = 7200000 ms"},
		{KindDelay, `{"duration":"soon"}`, "/c/duration", "expected a number"},
		{KindLLM, `{"timeout":301}`, "/c/timeout", "timeout 301 seconds = 301000 ms"},
		{KindLLM, `{"retries":11}`, "/c/retries", "between 0 and 10"},
		{KindLLM, `{"enabled":"no"}`, "/c/enabled", "expected bool"},
		{KindTools, `{"a/b":1}`, "/c/a~1b", "unknown field"},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind)+tt.raw, func(t *testing.T) {
			_, ps := DecodeConfig(tt.kind, json.RawMessage(tt.raw), "/c")
			if len(ps) != 1 {
				t.Fatalf("problems %+v, want one", ps)
			}
			if p := ps[0]; p.Code != CodeInvalidConfig || p.Pointer != tt.wantPointer || !strings.Contains(p.Message, tt.wantInMsg) {
				t.Errorf("problem %+v, want %s at %s with %q", p, CodeInvalidConfig, tt.wantPointer, tt.wantInMsg)
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

func TestDecodeConfig_TwoSpellingsOfOneField(t *testing.T) {
	tests := []struct {
		raw        string
		wantWindow int
		wantPtr    string // the problem's pointer; "" = no problem
	}{
		{`{"window":5,"memory_window":5}`, 5, ""},
		{`{"window":5,"memoryWindow":null}`, 5, ""},
		// Different values: neither wins silently.
		{`{"window":5,"memory_window":10}`, 0, "/c/window"},
		{`{"maxMessages":5,"max_messages":6}`, 0, "/c/max_messages"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			for range 20 { // map order must not matter
				cfg, ps := DecodeConfig(KindMemory, json.RawMessage(tt.raw), "/c")
				if tt.wantPtr == "" {
					if ps != nil || cfg.(*MemoryConfig).Window != tt.wantWindow {
						t.Fatalf("config %+v problems %+v, want window %d", cfg, ps, tt.wantWindow)
					}
					continue
				}
				if len(ps) != 1 || ps[0].Pointer != tt.wantPtr || !strings.Contains(ps[0].Message, "different values") {
					t.Fatalf("problems %+v, want one at %s", ps, tt.wantPtr)
				}
			}
		})
	}
}
