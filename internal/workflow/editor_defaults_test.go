package workflow

import (
	"encoding/json"
	"reflect"
	"testing"
)

// What the predecessor's editor starts a node with must decode, through the alias
// table, to chatter's defaults (plus the values made explicit so the node runs as
// the editor shows it), with no problem but a variable's missing name.
func TestEditorNodeTypes_DecodeToChattersDefaults(t *testing.T) {
	types := EditorNodeTypes("devllm", "echo-1")
	if len(types) != 11 {
		t.Errorf("%d editor node types, want the editor's 10 and human", len(types))
	}
	temp := 0.7
	want := map[string]Config{
		"start":        &StartConfig{},
		"model":        &LLMConfig{Provider: "devllm", Model: "echo-1", Temperature: &temp, MaxTokens: 1000},
		"tool":         &ToolsConfig{AllowedTools: []string{}, MaxToolCalls: DefaultMaxToolCalls, TimeoutMS: DefaultToolTimeoutMS, Parallel: true},
		"memory":       &MemoryConfig{Window: DefaultMemoryWindow, IncludeSummary: true, Enabled: true, MemoryType: MemoryConversation},
		"retrieval":    &RetrievalConfig{TopK: DefaultTopK},
		"conditional":  &ConditionalConfig{Branches: map[string]string{}},
		"loop":         &LoopConfig{MaxIterations: DefaultMaxIterations},
		"variable":     &VariableConfig{Operation: VarSet, Amount: 1, Value: "", Scope: VarScopeRun},
		"errorHandler": &ErrorHandlerConfig{RetryCount: 1, FallbackAction: FallbackContinue, LogErrors: true},
		"delay":        &DelayConfig{Type: DelayFixed, DurationMS: 1000, MaxDurationMS: 30000, Factor: 2, Unit: "milliseconds"},
		"human":        &HumanConfig{Prompt: "Approve to continue.", Input: HumanApproval, Variable: "human_input", TimeoutMS: DefaultHumanTimeoutMS},
	}
	for name, cfg := range types {
		t.Run(name, func(t *testing.T) {
			kind, ok := ParseKind(name)
			if !ok {
				t.Fatalf("editor type %q is no kind alias", name)
			}
			raw, _ := json.Marshal(cfg)
			d, ps := decodeNode(kind, raw, "/c")
			if name == "variable" {
				if len(ps) != 1 || ps[0].Pointer != "/c/variableName" {
					t.Errorf("problems %+v, want only the empty variableName", ps)
				}
			} else if ps != nil {
				t.Errorf("%s problems %+v", raw, ps)
			}
			if !reflect.DeepEqual(d.cfg, want[name]) {
				t.Errorf("%s decodes to %+v, want %+v", raw, d.cfg, want[name])
			}
			wantSettings := defaultSettings()
			wantSettings.EntryPoint = name == "start"
			if d.settings != wantSettings {
				t.Errorf("settings %+v, want %+v", d.settings, wantSettings)
			}
		})
	}
	// Fresh maps every call: a caller's write reaches no one else.
	types["model"]["model"] = "scribbled"
	if EditorNodeTypes("devllm", "echo-1")["model"]["model"] != "echo-1" {
		t.Errorf("a write through EditorNodeTypes' result reached the next caller")
	}
}

func TestEditorNodeType_ByEditorOrKindName(t *testing.T) {
	for _, c := range []struct {
		name   string
		wantOK bool
		key    string // a key the config must have; "" = empty config
	}{{"model", true, "maxTokens"}, {"llm", true, "maxTokens"}, {"errorHandler", true, "retryCount"},
		{"error_handler", true, "retryCount"}, {"tools", true, "parallel"}, {"end", true, ""}, {"nope", false, ""}} {
		cfg, ok := EditorNodeType(c.name, "p", "m")
		if _, has := cfg[c.key]; ok != c.wantOK || c.key != "" && !has || c.key == "" && len(cfg) != 0 {
			t.Errorf("EditorNodeType(%q) = %v, %v; want ok %v with %q", c.name, cfg, ok, c.wantOK, c.key)
		}
	}
}
