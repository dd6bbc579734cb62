// Package workflow is the pure core of chatter's graphs: the definition model (in the
// predecessor's editor JSON format, so its exports import unchanged), typed node
// configs with defaults, conditions (compiled by Options.Conditions, package
// workflow/cond), validation that reports every problem at once, built-in
// templates, and compilation into an index-based Graph that the executor runs. It
// does no I/O.
//
// Definitions saved by the predecessor's editor and engine validate and run: a
// node's config keys are read through one alias table (config.go: specs). Each key
// is one of: a field's name; a listed alias (the engine's snake_case keys such as
// max_documents, variable_name, tool_timeout_ms; chatter's earlier ones); or the
// camelCase form of either (the editor's maxTokens, systemMessage, topK,
// variableName, isEntryPoint, ...). Values are converted where units differ (the
// editor's timeout is seconds; a delay's duration is in its unit key, else
// milliseconds). Two spellings of one field with different values are a problem,
// except that an empty one ("" or null, as the predecessor's /defaults left beside
// the key its panel wrote) yields to the other. A key that means nothing for the
// kind is an invalid_config problem naming it, listing the kind's fields; so is a
// value chatter cannot honour (memoryType vector, scope global, logErrors false,
// fallbackAction skip, delay type dynamic).
//
// Every kind also takes the node settings the editor writes on any node (Settings):
// enabled false skips a node that does work (llm, tools, retrieval, variable,
// delay) and is refused on nodes that route (start, end, conditional, loop,
// error_handler); on memory it means no memory. is_entry_point marks the entry;
// timeout (s) / timeout_ms limits a visit (on tools: each call); retries re-runs a
// failed node. Editor-only keys accepted with a meaning: a tools node's parallel
// (false runs a turn's calls one by one), a conditional's branches (its copy of
// the true/false edges; routing follows the edges), a retrieval's collection (kept;
// chatter has no collections and searches the user's documents), memoryType
// conversation|summary (both are chatter's memory), a loop's breakCondition.
//
// What lives for the whole process (built-in templates, node kind specs, cached
// graphs) serves every user of a warm Lambda, so none of it is handed out to be
// changed: getters return deep copies, a template override (Template.WithParams)
// makes a per-run copy, and a compiled Graph is immutable and shared.
package workflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Limits on a definition's size.
const (
	MaxNodes = 100
	MaxEdges = 200
)

// EndID is the pseudo-node an edge targets to end the run; "__end__" is accepted too.
const EndID = "END"

// IsEnd reports whether id names the end of the run.
func IsEnd(id string) bool { return id == EndID || id == "__end__" }

// Definition is a workflow graph.
type Definition struct {
	ID          string         `json:"id,omitempty"`
	Name        string         `json:"name,omitempty"`
	Description string         `json:"description,omitempty"`
	Version     int            `json:"version,omitempty"`
	Nodes       []Node         `json:"nodes"`
	Edges       []Edge         `json:"edges"`
	Variables   map[string]any `json:"variables,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
	// Tags and TemplateID (the template it was made from) are kept for the
	// predecessor's clients; a run reads neither.
	Tags       []string `json:"tags,omitempty"`
	TemplateID string   `json:"template_id,omitempty"`
}

// Position is the editor position of a node; kept so exports round-trip.
type Position struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Node is one step of a workflow. Its kind is Type, or Data.NodeType when Type is an
// editor-only value such as "custom". Its config is Data.Config, or Config.
type Node struct {
	ID       string          `json:"id"`
	Type     string          `json:"type,omitempty"`
	Position *Position       `json:"position,omitempty"`
	Data     NodeData        `json:"data"`
	Config   json.RawMessage `json:"config,omitempty"`
}

// NodeData is the editor's data block of a node.
type NodeData struct {
	Label    string          `json:"label,omitempty"`
	NodeType string          `json:"nodeType,omitempty"`
	Config   json.RawMessage `json:"config,omitempty"`
}

// Edge connects two nodes; Target may be END. A condition may sit in Data or at the
// top level.
type Edge struct {
	ID           string    `json:"id,omitempty"`
	Source       string    `json:"source"`
	Target       string    `json:"target"`
	SourceHandle string    `json:"sourceHandle,omitempty"`
	TargetHandle string    `json:"targetHandle,omitempty"`
	Condition    string    `json:"condition,omitempty"`
	Data         *EdgeData `json:"data,omitempty"`
}

// EdgeData is the editor's data block of an edge.
type EdgeData struct {
	Condition string `json:"condition,omitempty"`
	Label     string `json:"label,omitempty"`
}

// KindName returns the node's declared kind before alias resolution.
func (n *Node) KindName() string {
	if _, ok := kindByName[n.Type]; ok || n.Data.NodeType == "" {
		return n.Type
	}
	return n.Data.NodeType
}

// RawConfig returns the node's config JSON (data.config wins over config).
func (n *Node) RawConfig() (json.RawMessage, string) {
	if len(bytes.TrimSpace(n.Data.Config)) > 0 && !bytes.Equal(bytes.TrimSpace(n.Data.Config), []byte("null")) {
		return n.Data.Config, "/data/config"
	}
	return n.Config, "/config"
}

// ConditionText returns the edge's condition (data.condition wins over condition).
func (e *Edge) ConditionText() (string, string) {
	if e.Data != nil && e.Data.Condition != "" {
		return e.Data.Condition, "/data/condition"
	}
	return e.Condition, "/condition"
}

// Parse decodes a definition. Malformed JSON is reported as a *ValidationError with
// code malformed_json, so callers see one error shape for every bad input.
func Parse(b []byte) (*Definition, error) {
	var d Definition
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, &ValidationError{Problems: []Problem{jsonProblem(err, "")}}
	}
	return &d, nil
}

func jsonProblem(err error, pointer string) Problem {
	p := Problem{Code: CodeMalformedJSON, Pointer: pointer, Message: "malformed JSON: " + err.Error()}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		p.Message = fmt.Sprintf("malformed JSON at byte %d: %s", se.Offset, se.Error())
	case errors.As(err, &te):
		p.Message = fmt.Sprintf("field %q: expected %s, got JSON %s", te.Field, te.Type, te.Value)
		if te.Field != "" {
			p.Pointer = pointer + "/" + jsonPath(te.Field)
		}
	}
	return p
}

// jsonPath turns encoding/json's dotted field path into a JSON pointer tail.
func jsonPath(field string) string {
	b := []byte(field)
	for i := range b {
		if b[i] == '.' {
			b[i] = '/'
		}
	}
	return string(b)
}
