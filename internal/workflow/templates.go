package workflow

import (
	_ "embed"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/chatterhq/chatter/internal/wire"
)

// MaxNameLen bounds template and definition names, in characters (the
// predecessor's contract allows 255).
const MaxNameLen = 255

// Capabilities switch the optional parts of a generated chat graph.
type Capabilities struct {
	Memory    bool `json:"memory"`
	Retrieval bool `json:"retrieval"`
	Tools     bool `json:"tools"`
}

// Params are a template's defaults; they land in the generated nodes' configs (the
// wire type a template execution sends overrides in).
type Params = wire.TemplateParams

// Template is a named chat graph recipe: params plus capabilities. It is a plain
// value: copy it with Clone (Params holds a pointer and a slice) and change params
// with WithParams.
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

	// The predecessor's template fields, kept and returned for its clients; a run
	// reads none of them. ExtraParams are default_params keys no Params field takes.
	Tags           []string       `json:"tags,omitempty"`
	BaseTemplateID string         `json:"base_template_id,omitempty"`
	DefinitionID   string         `json:"workflow_definition_id,omitempty"`
	ExtraParams    map[string]any `json:"extra_params,omitempty"`
}

// Built-in templates live for the whole process and serve every user of a warm
// Lambda, so they are never handed out: Builtins and Builtin return deep copies,
// and the compiled graph each built-in generates is cached beside it (a Graph is
// immutable). A request that changes its copy changes nothing anyone else sees.

//go:embed templates/builtin.json
var builtinJSON []byte

// builtin is one built-in template and its graph, compiled on first use.
type builtin struct {
	tpl   Template
	once  sync.Once
	graph *Graph
	err   error
}

// compiled is b's graph, compiled with cc on first use.
func (b *builtin) compiled(cc ConditionCompiler) (*Graph, error) {
	b.once.Do(func() { b.graph, b.err = Compile(b.tpl.Definition(), Options{Conditions: cc}) })
	return b.graph, b.err
}

// builtins parses the embedded templates on first use, not at init: a binary that
// links workflow only for its types (health, the CRUD functions) then neither
// parses them at cold start nor links the graph compiler their closures reach. A
// plain function, not a sync.OnceValue variable: a variable's initializer is run
// by init, which would keep the closure (and all it calls) in every binary.
func builtins() []*builtin {
	builtinsOnce.Do(func() { builtinList = loadBuiltins() })
	return builtinList
}

var (
	builtinsOnce sync.Once
	builtinList  []*builtin
)

func loadBuiltins() []*builtin {
	var ts []Template
	if err := json.Unmarshal(builtinJSON, &ts); err != nil {
		panic("workflow: embedded templates: " + err.Error())
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	bs := make([]*builtin, len(ts))
	for i := range ts {
		b := &builtin{tpl: ts[i]}
		b.tpl.Builtin, b.tpl.ID = true, b.tpl.Name
		bs[i] = b
	}
	return bs
}

func findBuiltin(name string) *builtin {
	for _, b := range builtins() {
		if b.tpl.Name == name {
			return b
		}
	}
	return nil
}

// Builtins returns copies of the built-in templates, sorted by name.
func Builtins() []*Template {
	out := make([]*Template, len(builtins()))
	for i, b := range builtins() {
		out[i] = b.tpl.Clone()
	}
	return out
}

// Builtin returns a copy of the built-in template with the given name.
func Builtin(name string) (*Template, bool) {
	if b := findBuiltin(name); b != nil {
		return b.tpl.Clone(), true
	}
	return nil, false
}

// BuiltinGraph returns the compiled graph of the built-in template with the given
// name (its id), shared and compiled once per process, without copying the
// template: what a run of a built-in without param overrides needs. cc compiles
// its conditions the first time.
func BuiltinGraph(cc ConditionCompiler, name string) (*Graph, bool, error) {
	b := findBuiltin(name)
	if b == nil {
		return nil, false, nil
	}
	g, err := b.compiled(cc)
	return g, true, err
}

// Clone returns a deep copy of t.
func (t *Template) Clone() *Template {
	c := *t
	c.Params = cloneParams(t.Params)
	c.Tags = slices.Clone(t.Tags)
	c.ExtraParams = maps.Clone(t.ExtraParams) // values are decoded JSON, never changed in place
	return &c
}

// WithParams returns a copy of t with the set fields of o (non-zero; a non-empty
// allowed_tools) over t's params. Neither t nor o is changed, and the copy shares
// no memory with either.
func (t *Template) WithParams(o Params) *Template {
	c := t.Clone()
	p := &c.Params
	if o.Provider != "" {
		p.Provider = o.Provider
	}
	if o.Model != "" {
		p.Model = o.Model
	}
	if o.SystemPrompt != "" {
		p.SystemPrompt = o.SystemPrompt
	}
	if o.Temperature != nil {
		temp := *o.Temperature
		p.Temperature = &temp
	}
	if o.MaxTokens != 0 {
		p.MaxTokens = o.MaxTokens
	}
	if o.MemoryWindow != 0 {
		p.MemoryWindow = o.MemoryWindow
	}
	if o.TopK != 0 {
		p.TopK = o.TopK
	}
	if o.MaxToolCalls != 0 {
		p.MaxToolCalls = o.MaxToolCalls
	}
	if len(o.AllowedTools) > 0 {
		p.AllowedTools = slices.Clone(o.AllowedTools)
	}
	return c
}

func cloneParams(p Params) Params {
	if p.Temperature != nil {
		temp := *p.Temperature
		p.Temperature = &temp
	}
	p.AllowedTools = slices.Clone(p.AllowedTools)
	return p
}

// generates reports whether t generates the same graph as b: the fields Definition
// reads are equal.
func (b *builtin) generates(t *Template) bool {
	x := &b.tpl
	return t.ID == x.ID && t.Name == x.Name && t.Description == x.Description && t.Capabilities == x.Capabilities &&
		reflect.DeepEqual(t.Params, x.Params)
}

// Definition generates the template's graph.
func (t *Template) Definition() *Definition {
	d := Generate(t.Capabilities, t.Params)
	d.ID, d.Name, d.Description = t.ID, t.Name, t.Description
	return d
}

// Graph compiles the template's graph with cc. A template that generates exactly a
// built-in's graph (an unchanged copy of a built-in) gets that built-in's graph,
// compiled once per process (with the first caller's cc) and shared; any other
// template compiles afresh.
func (t *Template) Graph(cc ConditionCompiler) (*Graph, error) {
	if b := findBuiltin(t.Name); b != nil && b.generates(t) {
		return b.compiled(cc)
	}
	return Compile(t.Definition(), Options{Conditions: cc})
}

var dynamicGraphs [8]struct {
	once  sync.Once
	graph *Graph
	err   error
}

// DynamicGraph returns the universal chat graph for the given capabilities, compiled
// with cc once per combination.
func DynamicGraph(cc ConditionCompiler, c Capabilities) (*Graph, error) {
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
		d := Generate(c, findBuiltin("universal_chat").tpl.Params)
		d.Name = "universal_chat"
		slot.graph, slot.err = Compile(d, Options{Conditions: cc})
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
	_, ps := compileTemplate(t, opts)
	return ps
}

// CompileTemplate compiles t's graph afresh. A *ValidationError's problems point
// into the template document (/name, /params/temperature), as ValidateTemplate's.
func CompileTemplate(t *Template, opts Options) (*Graph, error) {
	return compiled(compileTemplate(t, opts))
}

func compileTemplate(t *Template, opts Options) (*Graph, []Problem) {
	var ps []Problem
	if strings.TrimSpace(t.Name) == "" {
		ps = append(ps, Problem{Code: CodeInvalidConfig, Pointer: "/name", Message: "name is required"})
	} else if utf8.RuneCountInString(t.Name) > MaxNameLen {
		ps = append(ps, Problem{Code: CodeInvalidConfig, Pointer: "/name",
			Message: "name must be at most " + strconv.Itoa(MaxNameLen) + " characters"})
	}
	g, gps := compile(t.Definition(), opts)
	for _, p := range gps {
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
	if len(ps) > 0 {
		return nil, ps
	}
	return g, nil
}

// paramOf maps generated node config fields back to template params.
var paramOf = map[string]string{"window": "memory_window", "tools": "allowed_tools"}
