// Package chat serves chatter's execution endpoints — chat (standard and
// streaming) and the execution of templates, definitions and inline graphs — over
// the one executor.Execute. It is the only HTTP package that imports the executor;
// providers arrive as values in executor.Options, so no LLM SDK is imported here.
package chat

import (
	"encoding/json"
	"fmt"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/workflow"
)

// ChatRequest is the body of POST /api/v1/workflows/execute/chat and its streaming
// twin (the predecessor's field names). The source is the template named by
// workflow_template_name, else the definition workflow_definition_id, else the
// dynamic universal chat switched by the enable_* flags.
type ChatRequest struct {
	Message        string `json:"message"`
	ConversationID string `json:"conversation_id,omitempty"`
	executor.Config
	WorkflowTemplateName string         `json:"workflow_template_name,omitempty"`
	WorkflowDefinitionID string         `json:"workflow_definition_id,omitempty"`
	Metadata             map[string]any `json:"metadata,omitempty"`
}

// ExecuteRequest is the body of the template, definition and inline execution
// routes. The message is message or input_data.message (the predecessor's
// definition execution sent the latter); other input_data keys are kept as
// metadata. Fields belonging to another route are refused.
type ExecuteRequest struct {
	Message        string         `json:"message,omitempty"`
	InputData      map[string]any `json:"input_data,omitempty"`
	ConversationID string         `json:"conversation_id,omitempty"`
	executor.Config
	Metadata map[string]any `json:"metadata,omitempty"`

	// Template routes: param overrides; the inline template route takes the
	// template itself.
	Params   *workflow.Params   `json:"params,omitempty"`
	Template *workflow.Template `json:"template,omitempty"`
	// Definition route: the version to run (0 = latest).
	Version int `json:"version,omitempty"`
	// Inline route: the graph, in the editor's format. Nodes and edges are decoded
	// as leniently as a stored definition (editor-only keys are ignored).
	Name      string          `json:"name,omitempty"`
	Nodes     json.RawMessage `json:"nodes,omitempty"`
	Edges     json.RawMessage `json:"edges,omitempty"`
	Variables map[string]any  `json:"variables,omitempty"`
}

// routeKind says which route decoded an ExecuteRequest.
type routeKind int

const (
	routeTemplate routeKind = iota
	routeTemplateInline
	routeDefinition
	routeInline
)

func invalid(field, format string, args ...any) error {
	return httpapi.FieldErr(httpapi.CodeInvalidInput, field, fmt.Sprintf(format, args...))
}

// request builds the executor request of a chat request.
func (c *ChatRequest) request(userID string, mode executor.Mode) (executor.Request, error) {
	src := executor.Source{Kind: executor.SourceDynamic}
	switch {
	case c.WorkflowTemplateName != "" && c.WorkflowDefinitionID != "":
		return executor.Request{}, invalid("workflow_definition_id",
			"send workflow_template_name or workflow_definition_id, not both")
	case c.WorkflowTemplateName != "":
		src = executor.Source{Kind: executor.SourceTemplate, ID: c.WorkflowTemplateName}
	case c.WorkflowDefinitionID != "":
		src = executor.Source{Kind: executor.SourceDefinition, ID: c.WorkflowDefinitionID}
	}
	return executor.Request{Source: src, Mode: mode, Input: executor.Input{Message: c.Message,
		ConversationID: c.ConversationID, UserID: userID, Config: c.Config, Metadata: c.Metadata}}, nil
}

// request builds the executor request of an execution route; id is the path's {id}.
func (e *ExecuteRequest) request(kind routeKind, id, userID string, mode executor.Mode) (executor.Request, error) {
	msg, meta, err := e.message()
	if err != nil {
		return executor.Request{}, err
	}
	if err := e.onlyFor(kind); err != nil {
		return executor.Request{}, err
	}
	var src executor.Source
	switch kind {
	case routeTemplate:
		src = executor.Source{Kind: executor.SourceTemplate, ID: id, Params: e.Params}
	case routeTemplateInline:
		if e.Template == nil {
			return executor.Request{}, invalid("template", "an inline template (name, capabilities, params) is required")
		}
		if e.Params != nil {
			return executor.Request{}, invalid("params", "put params inside template on this route")
		}
		src = executor.Source{Kind: executor.SourceInline, Definition: e.Template.Definition()}
	case routeDefinition:
		if e.Version < 0 {
			return executor.Request{}, invalid("version", "version must be 0 (latest) or a positive version")
		}
		src = executor.Source{Kind: executor.SourceDefinition, ID: id, Version: e.Version}
	case routeInline:
		d, err := e.definition()
		if err != nil {
			return executor.Request{}, err
		}
		src = executor.Source{Kind: executor.SourceInline, Definition: d}
	}
	return executor.Request{Source: src, Mode: mode, Input: executor.Input{Message: msg,
		ConversationID: e.ConversationID, UserID: userID, Config: e.Config, Metadata: meta}}, nil
}

// message picks message or input_data.message; the rest of input_data goes into
// the metadata under "input_data".
func (e *ExecuteRequest) message() (string, map[string]any, error) {
	msg := e.Message
	meta := e.Metadata
	if e.InputData == nil {
		return msg, meta, nil
	}
	rest := make(map[string]any, len(e.InputData))
	for k, v := range e.InputData {
		if k != "message" {
			rest[k] = v
			continue
		}
		s, ok := v.(string)
		if !ok {
			return "", nil, invalid("/input_data/message", "input_data.message must be a string")
		}
		if msg != "" && s != msg {
			return "", nil, invalid("/input_data/message", "message and input_data.message differ; send one")
		}
		msg = s
	}
	if len(rest) > 0 {
		meta = make(map[string]any, len(e.Metadata)+1)
		for k, v := range e.Metadata {
			meta[k] = v
		}
		meta["input_data"] = rest
	}
	return msg, meta, nil
}

// onlyFor refuses fields that belong to another route, so a client's mistake (a
// graph sent to a template route) is not silently ignored.
func (e *ExecuteRequest) onlyFor(kind routeKind) error {
	type field struct {
		name string
		set  bool
		ok   bool
	}
	tpl := kind == routeTemplate || kind == routeTemplateInline
	for _, f := range []field{
		{"params", e.Params != nil, tpl},
		{"template", e.Template != nil, kind == routeTemplateInline},
		{"version", e.Version != 0, kind == routeDefinition},
		{"name", e.Name != "", kind == routeInline},
		{"nodes", len(e.Nodes) > 0, kind == routeInline},
		{"edges", len(e.Edges) > 0, kind == routeInline},
		{"variables", e.Variables != nil, kind == routeInline},
	} {
		if f.set && !f.ok {
			return invalid(f.name, "%s is not accepted on this route", f.name)
		}
	}
	return nil
}

// definition decodes the inline graph the way a stored one is decoded.
func (e *ExecuteRequest) definition() (*workflow.Definition, error) {
	if len(e.Nodes) == 0 {
		return nil, invalid("nodes", "an inline workflow needs nodes and edges")
	}
	d := &workflow.Definition{Name: e.Name, Variables: e.Variables}
	if err := json.Unmarshal(e.Nodes, &d.Nodes); err != nil {
		return nil, invalid("nodes", "nodes must be an array of node objects: %v", err)
	}
	if len(e.Edges) > 0 {
		if err := json.Unmarshal(e.Edges, &d.Edges); err != nil {
			return nil, invalid("edges", "edges must be an array of edge objects: %v", err)
		}
	}
	return d, nil
}
