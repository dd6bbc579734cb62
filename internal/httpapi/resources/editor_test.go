package resources_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chatterhq/chatter/internal/httpapi/apitest"

	"github.com/chatterhq/chatter/internal/httpapi/resources"
	"github.com/chatterhq/chatter/internal/workflow"
)

// checkContract validates a real response against the predecessor's contract: its
// old clients read it.
func checkContract(t testing.TB, r response) {
	t.Helper()
	apitest.Old(t).Response(t, r.Request, nil, r.StatusCode, r.Header, r.body)
}

// The predecessor's editor (frontend/src/services/workflow-defaults-service.ts)
// reads node_types from GET /workflows/defaults and starts each new node with that
// config; such nodes must validate.
func TestDefaults_NodeTypesStartNodesThePredecessorsEditorSaves(t *testing.T) {
	e := newEnv(t, envOpts{})
	r := e.get(t, "alice", "/api/v1/workflows/defaults")
	checkContract(t, r)
	var d struct {
		resources.Defaults
		NodeTypes map[string]map[string]any `json:"node_types"`
	}
	r.json(t, &d)
	if r.StatusCode != 200 || d.DefaultProvider != "devllm" || d.Limits.MaxNodes != workflow.MaxNodes {
		t.Fatalf("%d %s: chatter's own fields must stay", r.StatusCode, r.body)
	}
	wantTypes := []string{"conditional", "delay", "errorHandler", "human", "loop", "memory", "model", "retrieval", "start", "tool", "variable"}
	if got := slices.Sorted(maps.Keys(d.NodeTypes)); !slices.Equal(got, wantTypes) {
		t.Fatalf("node_types %v, want the editor's and human %v", got, wantTypes)
	}
	if m := d.NodeTypes["model"]; m["provider"] != "devllm" || m["maxTokens"] != float64(1000) || m["temperature"] != 0.7 {
		t.Errorf("node_types.model %v, want the default provider and the values the editor shows", m)
	}

	// A graph as the editor builds it: each node's type and nodeType its palette
	// name, its config node_types' (the user named the variable).
	n := func(id, typ string, edit map[string]any) map[string]any {
		cfg := maps.Clone(d.NodeTypes[typ])
		maps.Copy(cfg, edit)
		return map[string]any{"id": id, "type": typ, "position": map[string]any{"x": 0, "y": 0},
			"data": map[string]any{"label": id, "nodeType": typ, "config": cfg}}
	}
	ed := func(id, src, tgt string, data map[string]any) map[string]any {
		return map[string]any{"id": id, "source": src, "target": tgt, "type": "custom", "animated": true, "data": data}
	}
	body, _ := json.Marshal(map[string]any{"name": "from the old editor",
		"nodes": []any{n("start-1", "start", nil), n("memory-2", "memory", nil), n("retrieval-3", "retrieval", nil),
			n("variable-4", "variable", map[string]any{"variableName": "turns", "operation": "increment"}),
			n("model-5", "model", nil), n("tool-6", "tool", map[string]any{"tools": []string{"calculator"}}),
			n("delay-7", "delay", nil), n("errorHandler-8", "errorHandler", nil)},
		"edges": []any{ed("e1", "start-1", "memory-2", nil), ed("e2", "memory-2", "retrieval-3", nil), ed("e3", "retrieval-3", "variable-4", nil),
			ed("e4", "variable-4", "model-5", nil), ed("e5", "model-5", "tool-6", map[string]any{"condition": "has_tool_calls"}),
			ed("e6", "tool-6", "model-5", nil), ed("e7", "model-5", "delay-7", nil)}})
	v := e.post(t, "alice", "/api/v1/workflows/definitions/validate", string(body))
	var res resources.ValidationResult
	v.json(t, &res)
	if v.StatusCode != 200 || !res.IsValid {
		t.Fatalf("%d %s", v.StatusCode, v.body)
	}
}

func TestDefaults_OneNodeTypeAsThePredecessorAnswered(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, name := range []string{"model", "errorHandler", "llm", "end"} {
		r := e.get(t, "alice", "/api/v1/workflows/defaults?node_type="+name)
		checkContract(t, r)
		var nd resources.NodeDefaults
		r.json(t, &nd)
		want, _ := workflow.EditorNodeType(name, "devllm", "")
		if r.StatusCode != 200 || nd.NodeType != name || !jsonEqual(t, nd.Config, want) {
			t.Errorf("node_type=%s: %d %s, want config %v", name, r.StatusCode, r.body, want)
		}
	}
	r := e.get(t, "alice", "/api/v1/workflows/defaults?node_type=laser")
	if p := r.problem(t); r.StatusCode != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Field != "node_type" {
		t.Errorf("unknown node_type: %d %s, want 422 naming node_type (the contract's status)", r.StatusCode, r.body)
	}
}

func jsonEqual(t testing.TB, a, b any) bool {
	t.Helper()
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestNodeTypes_ListTheAcceptedConfigAliases(t *testing.T) {
	e := newEnv(t, envOpts{})
	r := e.get(t, "alice", "/api/v1/workflows/node-types")
	var items []struct { // the predecessor's bare array
		Type          string            `json:"type"`
		ConfigAliases map[string]string `json:"config_aliases"`
		Fields        map[string]string `json:"fields"`
	}
	r.json(t, &items)
	if len(items) == 0 {
		t.Fatalf("no node types: %s", r.body)
	}
	want := map[string]map[string]string{
		"llm":       {"systemMessage": "system_prompt", "maxTokens": "max_tokens", "timeout": "timeout_ms", "isEntryPoint": "is_entry_point"},
		"retrieval": {"max_documents": "top_k", "topK": "top_k", "threshold": "min_score"},
		"variable":  {"variable_name": "name", "variableName": "name"},
		"tools":     {"tools": "allowed_tools", "tool_timeout_ms": "timeout_ms", "timeout": "timeout_ms"},
		"human":     {"timeout": "timeout_ms", "question": "prompt", "asMessage": "as_message", "input_type": "input"},
	}
	seen := map[string]bool{}
	for _, it := range items {
		seen[it.Type] = true
		for k, f := range want[it.Type] {
			if it.ConfigAliases[k] != f {
				t.Errorf("%s config_aliases[%q] = %q, want %q", it.Type, k, it.ConfigAliases[k], f)
			}
		}
		if it.Fields["enabled"] == "" || !strings.Contains(it.Fields["retries"]+it.Fields["retry_count"], "0..10") {
			t.Errorf("%s fields %v lack the node settings", it.Type, it.Fields)
		}
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("node type %s is not listed", k)
		}
	}
}
