package workflow

import (
	_ "embed"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Capabilities switch the optional parts of a generated chat graph.
type Capabilities struct {
	Memory    bool `json:"memory"`
	Retrieval bool `json:"retrieval"`
	Tools     bool `json:"tools"`
}

// Params are a template's defaults; they land in the generated nodes' configs.
type Params struct {
	Provider     string   `json:"provider,omitempty"`
	Model        string   `json:"model,omitempty"`
	SystemPrompt string   `json:"system_prompt,omitempty"`
	Temperature  *float64 `json:"temperature,omitempty"`
	MaxTokens    int      `json:"max_tokens,omitempty"`
	MemoryWindow int      `json:"memory_window,omitempty"`
	TopK         int      `json:"top_k,omitempty"`
	MaxToolCalls int      `json:"max_tool_calls,omitempty"`
	AllowedTools []string `json:"allowed_tools,omitempty"`
}

// Template is a named chat graph recipe: params plus capabilities.
type Template struct {
	ID          string `json:"id,omitempty"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Category    string `json:"category,omitempty"`
	Builtin     bool   `json:"builtin"`
	// Public is set by stores on a template read from the public partition: anyone
	// may read and run it, only its publisher may change it.
	Public       bool         `json:"public,omitempty"`
	Capabilities Capabilities `json:"capabilities"`
	Params       Params       `json:"params"`

	once  sync.Once
	graph *Graph
	err   error
}

//go:embed templates/builtin.json
var builtinJSON []byte

var builtins = func() []*Template {
	var ts []*Template
	if err := json.Unmarshal(builtinJSON, &ts); err != nil {
		panic("workflow: embedded templates: " + err.Error())
	}
	for _, t := range ts {
		t.Builtin = true
		t.ID = t.Name
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	return ts
}()

// Builtins returns the built-in templates sorted by name. Do not modify them.
func Builtins() []*Template { return builtins }

// Builtin looks up a built-in template by name.
func Builtin(name string) (*Template, bool) {
	for _, t := range builtins {
		if t.Name == name {
			return t, true
		}
	}
	return nil, false
}

// Definition generates the template's graph.
func (t *Template) Definition() *Definition {
	d := Generate(t.Capabilities, t.Params)
	d.ID, d.Name, d.Description = t.ID, t.Name, t.Description
	return d
}

// Graph compiles the template's graph once and caches it.
func (t *Template) Graph() (*Graph, error) {
	t.once.Do(func() { t.graph, t.err = Compile(t.Definition(), Options{}) })
	return t.graph, t.err
}

var dynamicGraphs [8]struct {
	once  sync.Once
	graph *Graph
	err   error
}

// DynamicGraph returns the universal chat graph for the given capabilities, compiled
// once per combination.
func DynamicGraph(c Capabilities) (*Graph, error) {
	i := 0
	if c.Memory {
		i |= 1
	}
	if c.Retrieval {
		i |= 2
	}
	if c.Tools {
		i |= 4
	}
	slot := &dynamicGraphs[i]
	slot.once.Do(func() {
		u, _ := Builtin("universal_chat")
		d := Generate(c, u.Params)
		d.Name = "universal_chat"
		slot.graph, slot.err = Compile(d, Options{})
	})
	return slot.graph, slot.err
}

// Generate builds start -> [memory] -> [retrieval] -> llm <-> [tools] -> end. With
// tools, the llm routes to tools while the model asks for them; the tools node
// counts calls, and once max_tool_calls is reached the llm is called once more
// without tools (the finalize step) and routes to end.
func Generate(c Capabilities, p Params) *Definition {
	d := &Definition{}
	x := 0.0
	addNode := func(id string, kind Kind, label string, cfg any) {
		var raw json.RawMessage
		if cfg != nil {
			raw, _ = json.Marshal(cfg)
		}
		d.Nodes = append(d.Nodes, Node{ID: id, Type: string(kind), Position: &Position{X: x, Y: 0},
			Data: NodeData{Label: label, Config: raw}})
		x += 220
	}
	edge := func(from, to, cond string) {
		e := Edge{ID: from + "-" + to, Source: from, Target: to}
		if cond != "" {
			e.Data = &EdgeData{Condition: cond}
		}
		d.Edges = append(d.Edges, e)
	}
	addNode("start", KindStart, "Start", nil)
	prev := "start"
	if c.Memory {
		cfg := map[string]any{}
		if p.MemoryWindow > 0 {
			cfg["window"] = p.MemoryWindow
		}
		addNode("memory", KindMemory, "Memory", cfg)
		edge(prev, "memory", "")
		prev = "memory"
	}
	if c.Retrieval {
		cfg := map[string]any{}
		if p.TopK > 0 {
			cfg["top_k"] = p.TopK
		}
		addNode("retrieval", KindRetrieval, "Retrieval", cfg)
		edge(prev, "retrieval", "")
		prev = "retrieval"
	}
	addNode("llm", KindLLM, "Model", LLMConfig{Provider: p.Provider, Model: p.Model, Temperature: p.Temperature,
		MaxTokens: p.MaxTokens, SystemPrompt: p.SystemPrompt})
	edge(prev, "llm", "")
	if c.Tools {
		cfg := map[string]any{}
		if p.MaxToolCalls > 0 {
			cfg["max_tool_calls"] = p.MaxToolCalls
		}
		if len(p.AllowedTools) > 0 {
			cfg["allowed_tools"] = p.AllowedTools
		}
		addNode("tools", KindTools, "Tools", cfg)
		edge("llm", "tools", "has_tool_calls")
		edge("tools", "llm", "")
	}
	addNode("end", KindEnd, "End", nil)
	edge("llm", "end", "")
	return d
}

// ValidateTemplate checks a user template's fields; problems use JSON pointers into
// the template document.
func ValidateTemplate(t *Template, opts Options) []Problem {
	var ps []Problem
	if t.Name == "" {
		ps = append(ps, Problem{Code: CodeInvalidConfig, Pointer: "/name", Message: "name is required"})
	} else if len(t.Name) > 100 {
		ps = append(ps, Problem{Code: CodeInvalidConfig, Pointer: "/name", Message: "name must be at most 100 characters"})
	}
	for _, p := range Validate(t.Definition(), opts) {
		// Generated nodes take their config from params: point at the param.
		field := p.Pointer[strings.LastIndexByte(p.Pointer, '/')+1:]
		if _, err := strconv.Atoi(field); err == nil { // an array element, e.g. allowed_tools/0
			rest := p.Pointer[:strings.LastIndexByte(p.Pointer, '/')]
			field = rest[strings.LastIndexByte(rest, '/')+1:] + "/" + field
		}
		if f, ok := paramOf[strings.SplitN(field, "/", 2)[0]]; ok {
			field = strings.Replace(field, strings.SplitN(field, "/", 2)[0], f, 1)
		}
		p.Pointer, p.NodeID = "/params/"+field, ""
		ps = append(ps, p)
	}
	return ps
}

// paramOf maps generated node config fields back to template params.
var paramOf = map[string]string{"window": "memory_window", "tools": "allowed_tools"}
