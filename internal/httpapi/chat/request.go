// Package chat serves chatter's execution endpoints — chat (standard and
// streaming) and the execution of templates, definitions and inline graphs — over
// the one executor.Execute. It is the only HTTP package that imports the executor;
// providers arrive as values in executor.Options, so no LLM SDK is imported here.
//
// Requests take every field of the predecessor's request schemas. Honoured: a chat
// request's workflow_config keys that are chatter config fields (provider, model,
// temperature, max_tokens, enable_tools, enable_retrieval, enable_memory,
// allowed_tools, document_ids, memory_window, max_tool_calls,
// system_prompt_override; a field sent at the top level wins over the same key in
// workflow_config), an execution's input_data (input_data.message is the message,
// the other keys are kept on the execution as its input_data), definition_id (must
// be the path's id), debug_mode (adds debug_info), and the inline route's query
// parameters message, provider, model and conversation_id. Accepted and not
// applied, because chatter has no such feature: profile_id, prompt_id,
// enable_web_search, context_limit, enable_tracing (every run is traced: events
// and an execution record), workflow_config keys that are not config fields, and
// entry_point (a run starts at the graph's one entry node; entry_point must name a
// node of the graph). Fields no schema has are refused, naming the field (422).
package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/httpapi/resources"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

// chatRequest is wire.ChatRequest with its conversion to an executor request.
type chatRequest wire.ChatRequest

// executeRequest is wire.ExecuteRequest with its conversion to an executor request.
type executeRequest wire.ExecuteRequest

// routeKind says which route decoded an ExecuteRequest.
type routeKind int

const (
	routeTemplate routeKind = iota
	routeTemplateInline
	routeDefinition
	routeInline
)

func invalid(field, format string, args ...any) error {
	return httpcore.FieldErr(errcode.InvalidInput, field, fmt.Sprintf(format, args...))
}

// request builds the executor request of a chat request.
func (c *chatRequest) request(userID string, mode executor.Mode) (executor.Request, error) {
	if len(c.WorkflowConfig) > 0 && string(c.WorkflowConfig) != "null" {
		var wc executor.Config
		if err := json.Unmarshal(c.WorkflowConfig, &wc); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) && te.Field != "" {
				return executor.Request{}, invalid("/workflow_config/"+te.Field, "workflow_config.%s has the wrong type", te.Field)
			}
			return executor.Request{}, invalid("workflow_config", "workflow_config must be an object")
		}
		c.RunConfig = c.RunConfig.Or(wc)
	}
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
	return executor.Request{Source: src, Mode: mode, OnDisconnect: c.OnDisconnect, Input: executor.Input{Message: c.Message,
		ConversationID: c.ConversationID, UserID: userID, Config: c.RunConfig, Metadata: c.Metadata}}, nil
}

// request builds the executor request of an execution route; id is the path's {id}.
func (e *executeRequest) request(kind routeKind, id, userID string, mode executor.Mode) (executor.Request, error) {
	msg, meta, err := e.message()
	if err != nil {
		return executor.Request{}, err
	}
	if strings.TrimSpace(msg) == "" {
		// The predecessor's bodies carry the message as input_data.message and may
		// omit it; a run needs one.
		return executor.Request{}, invalid("/input_data/message", "the message is required: input_data.message (or message)")
	}
	if err := e.onlyFor(kind); err != nil {
		return executor.Request{}, err
	}
	var src executor.Source
	switch kind {
	case routeTemplate:
		src = executor.Source{Kind: executor.SourceTemplate, ID: id, Params: e.Params}
	case routeTemplateInline:
		if len(e.Template) == 0 || string(e.Template) == "null" {
			return executor.Request{}, invalid("template", "an inline template (name, capabilities, params or default_params) is required")
		}
		if e.Params != nil {
			return executor.Request{}, invalid("params", "put params inside template on this route")
		}
		t, err := resources.TemplateFromDocument(e.Template, "/template")
		if err != nil {
			return executor.Request{}, err
		}
		src = executor.Source{Kind: executor.SourceInline, Definition: t.Definition()}
	case routeDefinition:
		if e.Version < 0 {
			return executor.Request{}, invalid("version", "version must be 0 (latest) or a positive version")
		}
		if e.DefinitionID != "" && e.DefinitionID != id {
			return executor.Request{}, invalid("definition_id", "definition_id must be the id in the path (%s)", id)
		}
		src = executor.Source{Kind: executor.SourceDefinition, ID: id, Version: e.Version}
	case routeInline:
		d, err := e.definition()
		if err != nil {
			return executor.Request{}, err
		}
		src = executor.Source{Kind: executor.SourceInline, Definition: d}
	}
	return executor.Request{Source: src, Mode: mode, OnDisconnect: e.OnDisconnect, Input: executor.Input{Message: msg,
		ConversationID: e.ConversationID, UserID: userID, Config: e.RunConfig, Metadata: meta}}, nil
}

// message picks message or input_data.message; the rest of input_data goes into
// the metadata under "input_data".
func (e *executeRequest) message() (string, map[string]any, error) {
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
		meta[store.MetadataInputData] = rest // without its message, which the conversation holds
	}
	return msg, meta, nil
}

// onlyFor refuses fields that belong to another route, so a client's mistake (a
// graph sent to a template route) is not silently ignored.
func (e *executeRequest) onlyFor(kind routeKind) error {
	type field struct {
		name string
		set  bool
		ok   bool
	}
	tpl := kind == routeTemplate || kind == routeTemplateInline
	for _, f := range []field{
		{"params", e.Params != nil, tpl},
		{"template", len(e.Template) > 0, kind == routeTemplateInline},
		{"definition_id", e.DefinitionID != "", kind == routeDefinition},
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

// fromQuery takes the inline route's query parameters (the predecessor sent
// message, provider, model and conversation_id there, and the graph in the body):
// each fills its body field, and one that differs from a value the body set is a
// 422 naming it.
func (e *executeRequest) fromQuery(q url.Values) error {
	for _, f := range []struct {
		name string
		dst  *string
	}{{"message", &e.Message}, {"provider", &e.Provider}, {"model", &e.Model}, {"conversation_id", &e.ConversationID}} {
		v := q.Get(f.name)
		switch {
		case v == "":
		case *f.dst == "":
			*f.dst = v
		case *f.dst != v:
			return invalid(f.name, "%s differs between the query and the body; send one", f.name)
		}
	}
	return nil
}

// checkEntry checks the predecessor's entry_point against the inline graph: it
// must name one of its nodes. The run starts at the graph's entry node.
func checkEntry(d *workflow.Definition, entry string) error {
	if entry == "" {
		return nil
	}
	for _, n := range d.Nodes {
		if n.ID == entry {
			return nil
		}
	}
	return invalid("entry_point", "entry_point %q is not a node of the graph", entry)
}

// definition decodes the inline graph the way a stored one is decoded.
func (e *executeRequest) definition() (*workflow.Definition, error) {
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
