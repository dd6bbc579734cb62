package workflow

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Validation problem codes. They are stable: clients branch on them.
const (
	CodeMalformedJSON    = "malformed_json"
	CodeNoNodes          = "no_nodes"
	CodeTooManyNodes     = "too_many_nodes"
	CodeTooManyEdges     = "too_many_edges"
	CodeMissingID        = "missing_id"
	CodeReservedID       = "reserved_id"
	CodeDuplicateNodeID  = "duplicate_node_id"
	CodeDuplicateEdgeID  = "duplicate_edge_id"
	CodeUnknownNodeType  = "unknown_node_type"
	CodeInvalidConfig    = "invalid_config"
	CodeDanglingEdge     = "dangling_edge"
	CodeNoEntryPoint     = "no_entry_point"
	CodeMultipleEntries  = "multiple_entry_points"
	CodeUnreachableNode  = "unreachable_node"
	CodeEndUnreachable   = "end_unreachable"
	CodeUnboundedCycle   = "unbounded_cycle"
	CodeInvalidCondition = "invalid_condition"
	CodeUnknownTool      = "unknown_tool"
)

// Problem is one validation finding.
type Problem struct {
	Code    string `json:"code"`
	NodeID  string `json:"node_id,omitempty"`
	EdgeID  string `json:"edge_id,omitempty"`
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

// ValidationError carries every problem found in a definition.
type ValidationError struct {
	Problems []Problem `json:"problems"`
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 0 {
		return "invalid workflow"
	}
	p := e.Problems[0]
	msg := fmt.Sprintf("invalid workflow: %s at %s: %s", p.Code, p.Pointer, p.Message)
	if n := len(e.Problems) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// Options tune validation and compilation.
type Options struct {
	// ToolExists reports whether a tool name is registered; nil skips the check.
	ToolExists func(name string) bool
	// Conditions compiles conditions (cond.Compiler); nil makes every condition
	// an invalid_condition naming ErrNoConditionCompiler.
	Conditions ConditionCompiler
}

// Validate checks a definition and returns every problem at once (nil when valid).
func Validate(d *Definition, opts Options) []Problem {
	_, problems := compile(d, opts)
	return problems
}

// Compile validates d and builds its runnable Graph. Invalid definitions return a
// *ValidationError.
func Compile(d *Definition, opts Options) (*Graph, error) { return compiled(compile(d, opts)) }

// compiled turns a compile's problems into a *ValidationError.
func compiled(g *Graph, problems []Problem) (*Graph, error) {
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return g, nil
}

func nodePtr(i int) string { return "/nodes/" + strconv.Itoa(i) }
func edgePtr(i int) string { return "/edges/" + strconv.Itoa(i) }

func compile(d *Definition, opts Options) (*Graph, []Problem) {
	g, ps := build(d, opts)
	if g == nil {
		return nil, ps
	}
	// One pass: the structure (entry, reachability, cycles) is checked whatever the
	// problems build found, so every problem is reported at once.
	ps = append(ps, g.checkStructure()...)
	if len(ps) > 0 {
		return nil, ps
	}
	g.finish()
	return g, nil
}

// build makes the graph of d as far as it can and returns it with the problems of
// its nodes, configs, conditions and edges; nil only when d has no nodes or too
// many nodes or edges. A node of an unknown kind, an edge that dangles and a
// condition that does not compile are left out of the graph's arcs and routing.
func build(d *Definition, opts Options) (*Graph, []Problem) {
	var ps []Problem
	add := func(p Problem) { ps = append(ps, p) }
	if len(d.Nodes) == 0 {
		add(Problem{Code: CodeNoNodes, Pointer: "/nodes", Message: "a workflow needs at least one node"})
		return nil, ps
	}
	if len(d.Nodes) > MaxNodes {
		add(Problem{Code: CodeTooManyNodes, Pointer: "/nodes", Message: fmt.Sprintf("%d nodes; at most %d allowed", len(d.Nodes), MaxNodes)})
		return nil, ps
	}
	if len(d.Edges) > MaxEdges {
		add(Problem{Code: CodeTooManyEdges, Pointer: "/edges", Message: fmt.Sprintf("%d edges; at most %d allowed", len(d.Edges), MaxEdges)})
		return nil, ps
	}

	g := &Graph{Def: d, Nodes: make([]Vertex, len(d.Nodes)), index: make(map[string]int, len(d.Nodes)), Entry: -1}
	for i := range d.Nodes {
		n := &d.Nodes[i]
		cn := &g.Nodes[i]
		cn.ID, cn.Label, cn.Index = n.ID, n.Data.Label, i
		ptr := nodePtr(i)
		switch {
		case strings.TrimSpace(n.ID) == "":
			add(Problem{Code: CodeMissingID, Pointer: ptr + "/id", Message: "node id is required"})
		case IsEnd(n.ID) || n.ID == "START" || n.ID == "__start__":
			add(Problem{Code: CodeReservedID, NodeID: n.ID, Pointer: ptr + "/id", Message: fmt.Sprintf("node id %q is reserved", n.ID)})
		default:
			if _, dup := g.index[n.ID]; dup {
				add(Problem{Code: CodeDuplicateNodeID, NodeID: n.ID, Pointer: ptr + "/id", Message: fmt.Sprintf("node id %q is used more than once", n.ID)})
			} else {
				g.index[n.ID] = i
			}
		}
		kind, ok := ParseKind(n.KindName())
		if !ok {
			tptr := ptr + "/type"
			if n.KindName() != n.Type {
				tptr = ptr + "/data/nodeType"
			}
			add(Problem{Code: CodeUnknownNodeType, NodeID: n.ID, Pointer: tptr,
				Message: fmt.Sprintf("unknown node type %q; known types: %s", n.KindName(), kindList())})
			continue
		}
		cn.Kind = kind
		raw, cptr := n.RawConfig()
		cptr = ptr + cptr
		dc, cps := decodeNode(kind, raw, cptr)
		for _, p := range cps {
			p.NodeID = n.ID
			add(p)
		}
		at := func(field string) string { return cptr + "/" + pointerToken(dc.key(field)) }
		cn.Config = dc.cfg
		cn.Disabled, cn.entry = !dc.settings.Enabled, dc.settings.EntryPoint
		cn.Timeout = time.Duration(dc.settings.TimeoutMS) * time.Millisecond
		cn.Retries = dc.settings.Retries
		if cn.Disabled && !canBeDisabled(kind) {
			add(Problem{Code: CodeInvalidConfig, NodeID: n.ID, Pointer: at("enabled"),
				Message: fmt.Sprintf("a %s node cannot be disabled (it routes the run); remove it instead", kind)})
		}
		cond := func(field, src string) *Condition {
			c, err := CompileCondition(opts.Conditions, src)
			if err != nil {
				add(Problem{Code: CodeInvalidCondition, NodeID: n.ID, Pointer: at(field), Message: err.Error()})
			}
			return c
		}
		switch c := dc.cfg.(type) {
		case *ConditionalConfig:
			if strings.TrimSpace(c.Condition) != "" {
				cn.Cond = cond("condition", c.Condition)
			}
		case *LoopConfig:
			cn.Cond = loopCondition(c, cond)
		}
		if opts.ToolExists != nil {
			var names []string
			field := ""
			switch c := dc.cfg.(type) {
			case *LLMConfig:
				names, field = c.Tools, "tools"
			case *ToolsConfig:
				names, field = c.AllowedTools, "allowed_tools"
			}
			for j, name := range names {
				if !opts.ToolExists(name) {
					add(Problem{Code: CodeUnknownTool, NodeID: n.ID, Pointer: fmt.Sprintf("%s/%d", at(field), j),
						Message: fmt.Sprintf("tool %q is not registered", name)})
				}
			}
		}
	}

	edgeIDs := make(map[string]bool, len(d.Edges))
	g.in = make([]int, len(g.Nodes))
	for i := range d.Edges {
		e := &d.Edges[i]
		ptr := edgePtr(i)
		id := e.ID
		if id == "" {
			id = e.Source + "->" + e.Target
		} else if edgeIDs[id] {
			add(Problem{Code: CodeDuplicateEdgeID, EdgeID: id, Pointer: ptr + "/id", Message: fmt.Sprintf("edge id %q is used more than once", id)})
		}
		edgeIDs[id] = true
		src, okS := g.index[e.Source]
		if !okS {
			add(Problem{Code: CodeDanglingEdge, EdgeID: id, Pointer: ptr + "/source", Message: fmt.Sprintf("source %q is not a node", e.Source)})
		}
		tgt := -1
		if !IsEnd(e.Target) {
			t, ok := g.index[e.Target]
			if !ok {
				add(Problem{Code: CodeDanglingEdge, EdgeID: id, Pointer: ptr + "/target", Message: fmt.Sprintf("target %q is not a node or END", e.Target)})
				continue
			}
			tgt = t
		}
		if !okS {
			continue
		}
		ce := Arc{ID: id, Target: tgt, Handle: e.SourceHandle}
		if text, cptr := e.ConditionText(); strings.TrimSpace(text) != "" && !isDefaultCondition(text) {
			cond, err := CompileCondition(opts.Conditions, text)
			if err != nil {
				add(Problem{Code: CodeInvalidCondition, EdgeID: id, Pointer: ptr + cptr, Message: err.Error()})
			}
			ce.Cond = cond
		}
		g.Nodes[src].Out = append(g.Nodes[src].Out, ce)
		if tgt >= 0 {
			g.in[tgt]++
		}
	}
	for i := range g.Nodes {
		v := &g.Nodes[i]
		if v.Kind == KindConditional && v.Cond == nil && !condArcs(v) && len(v.Out) > 1 {
			cptr := nodePtr(i) + "/config/condition"
			if _, p := d.Nodes[i].RawConfig(); p != "" {
				cptr = nodePtr(i) + p + "/condition"
			}
			add(Problem{Code: CodeInvalidCondition, NodeID: v.ID, Pointer: cptr,
				Message: "the conditional node has no condition and its edges none either: it would take every branch"})
		}
	}
	return g, ps
}

func isDefaultCondition(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "default", "else", "otherwise":
		return true
	}
	return false
}

func kindList() string {
	names := make([]string, 0, len(specs))
	for _, s := range specs {
		names = append(names, string(s.Kind))
	}
	return strings.Join(names, ", ")
}

// loopCondition is a loop's continue condition: condition (if any) and not
// break_condition (if any); nil without either, or when one does not compile
// (compile has reported it under its field's key).
func loopCondition(c *LoopConfig, compile func(field, src string) *Condition) *Condition {
	var cont *Condition
	if strings.TrimSpace(c.Condition) != "" {
		if cont = compile("condition", c.Condition); cont == nil {
			return nil
		}
	}
	if strings.TrimSpace(c.BreakCondition) == "" {
		return cont
	}
	brk := compile("break_condition", c.BreakCondition)
	if brk == nil {
		return nil
	}
	x := "!(" + brk.Expr + ")"
	if cont != nil {
		x = "(" + cont.Expr + ") && " + x
	}
	return compile("break_condition", x)
}
