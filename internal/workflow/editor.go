package workflow

import (
	"encoding/json"
	"maps"
)

// editorType is one node type of the predecessor's editor (its palette) with the
// config keys its property panel reads, in its spelling.
type editorType struct {
	name string
	kind Kind
	keys []string
}

// editorTypes are the predecessor's editor's node types, as its GET
// /workflows/defaults listed them under node_types (and its WorkflowEditor's
// getDefaultNodeConfig).
var editorTypes = []editorType{
	{"start", KindStart, []string{"isEntryPoint"}},
	{"model", KindLLM, []string{"systemMessage", "temperature", "maxTokens", "model", "provider"}},
	{"tool", KindTools, []string{"tools", "parallel"}},
	{"memory", KindMemory, []string{"enabled", "window", "memoryType"}},
	{"retrieval", KindRetrieval, []string{"collection", "topK", "threshold"}},
	{"conditional", KindConditional, []string{"condition", "branches"}},
	{"loop", KindLoop, []string{"maxIterations", "condition", "breakCondition"}},
	{"variable", KindVariable, []string{"operation", "variableName", "value", "scope"}},
	{"errorHandler", KindErrorHandler, []string{"retryCount", "fallbackAction", "logErrors"}},
	{"delay", KindDelay, []string{"duration", "type", "unit"}},
	// Not in the predecessor's palette: chatter's own, in the editor's spelling.
	{"human", KindHuman, []string{"prompt", "input", "variable", "asMessage", "timeout"}},
}

// editorShown are values given where chatter's default is "absent" but the editor's
// panel would then show a value of its own (temperature 0.7, max tokens 1000, unit
// seconds): made explicit so a new node runs as the panel shows it. Empty strings
// and objects are the editor's own defaults for fields chatter leaves unset.
var editorShown = map[string]map[string]any{
	"start":       {"isEntryPoint": true},
	"model":       {"systemMessage": "", "temperature": 0.7, "maxTokens": 1000},
	"tool":        {"tools": []string{}},
	"memory":      {"memoryType": MemoryConversation},
	"retrieval":   {"collection": "", "threshold": 0},
	"conditional": {"condition": "", "branches": map[string]string{}},
	"loop":        {"condition": "", "breakCondition": ""},
	"variable":    {"variableName": "", "value": "", "scope": VarScopeRun},
	"delay":       {"unit": "milliseconds"},
	"human":       {"timeout": DefaultHumanTimeoutMS / 1000, "asMessage": false},
}

// EditorNodeTypes is what the predecessor's editor reads as node_types from GET
// /workflows/defaults: for each of its node types, the config a new node starts
// with, in its keys (the alias table reads them back), with chatter's defaults and
// the service's default provider and model. Each call builds fresh maps.
func EditorNodeTypes(provider, model string) map[string]map[string]any {
	out := make(map[string]map[string]any, len(editorTypes))
	for _, et := range editorTypes {
		out[et.name] = editorConfig(et, provider, model)
	}
	return out
}

// EditorNodeType returns the config a new node of the named type starts with: an
// editor type name ("model", "tool", "errorHandler") or any kind name or alias
// (for a kind the editor had no type for, an empty config). ok is false for a
// name that is neither.
func EditorNodeType(name, provider, model string) (map[string]any, bool) {
	kind, known := ParseKind(name)
	for _, et := range editorTypes {
		if et.name == name || known && et.kind == kind {
			return editorConfig(et, provider, model), true
		}
	}
	return map[string]any{}, known
}

func editorConfig(et editorType, provider, model string) map[string]any {
	spec := specByKind[et.kind]
	var defaults map[string]any
	b, _ := json.Marshal(spec.newConfig())
	_ = json.Unmarshal(b, &defaults)
	b, _ = json.Marshal(defaultSettings())
	var settings map[string]any
	_ = json.Unmarshal(b, &settings)
	shown := maps.Clone(editorShown[et.name])
	if et.kind == KindLLM {
		if shown == nil {
			shown = map[string]any{}
		}
		shown["provider"], shown["model"] = provider, model
	}
	cfg := make(map[string]any, len(et.keys))
	for _, k := range et.keys {
		if v, ok := shown[k]; ok {
			cfg[k] = v
			continue
		}
		field, _, _ := spec.resolve(k)
		if v, ok := defaults[field]; ok {
			cfg[k] = v
		} else if v, ok := settings[field]; ok {
			cfg[k] = v
		}
	}
	return cfg
}
