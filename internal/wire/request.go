package wire

import "encoding/json"

// RunConfig holds a run's per-request knobs, with the predecessor's field names
// (executor.Config is this type). Zero values mean "not set": the node config, then
// the template params, then the service defaults apply. Set values win over node
// configs.
type RunConfig struct {
	Provider             string   `json:"provider,omitempty"`
	Model                string   `json:"model,omitempty"`
	Temperature          *float64 `json:"temperature,omitempty"`
	MaxTokens            int      `json:"max_tokens,omitempty"`
	EnableTools          *bool    `json:"enable_tools,omitempty"`
	EnableRetrieval      *bool    `json:"enable_retrieval,omitempty"`
	EnableMemory         *bool    `json:"enable_memory,omitempty"`
	AllowedTools         []string `json:"allowed_tools,omitempty"`
	DocumentIDs          []string `json:"document_ids,omitempty"`
	MemoryWindow         int      `json:"memory_window,omitempty"`
	MaxToolCalls         int      `json:"max_tool_calls,omitempty"`
	SystemPromptOverride string   `json:"system_prompt_override,omitempty"`
}

// Or returns c with every field c does not set taken from d: the request's own
// fields win over defaults sent beside them (a chat request's workflow_config).
func (c RunConfig) Or(d RunConfig) RunConfig {
	str := func(a, b string) string {
		if a == "" {
			return b
		}
		return a
	}
	num := func(a, b int) int {
		if a == 0 {
			return b
		}
		return a
	}
	c.Provider, c.Model = str(c.Provider, d.Provider), str(c.Model, d.Model)
	c.SystemPromptOverride = str(c.SystemPromptOverride, d.SystemPromptOverride)
	c.MaxTokens, c.MemoryWindow, c.MaxToolCalls = num(c.MaxTokens, d.MaxTokens), num(c.MemoryWindow, d.MemoryWindow),
		num(c.MaxToolCalls, d.MaxToolCalls)
	if c.Temperature == nil {
		c.Temperature = d.Temperature
	}
	for _, f := range []struct{ a, b **bool }{{&c.EnableTools, &d.EnableTools}, {&c.EnableRetrieval, &d.EnableRetrieval},
		{&c.EnableMemory, &d.EnableMemory}} {
		if *f.a == nil {
			*f.a = *f.b
		}
	}
	if c.AllowedTools == nil {
		c.AllowedTools = d.AllowedTools
	}
	if c.DocumentIDs == nil {
		c.DocumentIDs = d.DocumentIDs
	}
	return c
}

// TemplateParams are a template's defaults, which land in the generated nodes'
// configs; a template execution may send overrides (workflow.Params is this type).
type TemplateParams struct {
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

// What a streaming run does when its client goes away (a request's on_disconnect).
// Cancel, the default, ends the run, which bounds what a run nobody reads costs.
// Continue runs it to its end, stores everything as usual and keeps its SSE frames
// for a while, so the client can reconnect to GET /api/v1/executions/{id}/stream
// with Last-Event-ID and read what it missed, then the rest as it comes.
const (
	OnDisconnectCancel   = "cancel"
	OnDisconnectContinue = "continue"
)

// ChatRequest is the body of POST /api/v1/workflows/execute/chat and its streaming
// twin: the predecessor's ChatRequest. The source is the template named by
// workflow_template_name, else the definition workflow_definition_id, else the
// dynamic universal chat switched by the enable_* flags. What is honoured and what
// is accepted and ignored: package chat's comment.
type ChatRequest struct {
	Message        string `json:"message"`
	ConversationID string `json:"conversation_id,omitempty"`
	RunConfig
	WorkflowTemplateName string          `json:"workflow_template_name,omitempty"`
	WorkflowDefinitionID string          `json:"workflow_definition_id,omitempty"`
	WorkflowConfig       json.RawMessage `json:"workflow_config,omitempty"`
	Metadata             map[string]any  `json:"metadata,omitempty"`
	// OnDisconnect is what a streaming run does when its client goes away:
	// OnDisconnectCancel (the default) or OnDisconnectContinue.
	OnDisconnect string `json:"on_disconnect,omitempty"`

	// Accepted and not applied.
	ProfileID       string `json:"profile_id,omitempty"`
	PromptID        string `json:"prompt_id,omitempty"`
	EnableWebSearch bool   `json:"enable_web_search,omitempty"`
	EnableTracing   bool   `json:"enable_tracing,omitempty"`
	ContextLimit    int    `json:"context_limit,omitempty"`
}

// ExecuteRequest is the body of the template, definition and inline execution
// routes. The message is message or input_data.message (the predecessor's
// definition execution sent the latter); other input_data keys are kept as
// metadata. Fields belonging to another route are refused.
type ExecuteRequest struct {
	Message        string         `json:"message,omitempty"`
	InputData      map[string]any `json:"input_data,omitempty"`
	ConversationID string         `json:"conversation_id,omitempty"`
	RunConfig
	Metadata map[string]any `json:"metadata,omitempty"`
	// OnDisconnect: as ChatRequest's.
	OnDisconnect string `json:"on_disconnect,omitempty"`

	// Template routes: param overrides; the inline template route takes the
	// template itself.
	Params   *TemplateParams `json:"params,omitempty"`
	Template json.RawMessage `json:"template,omitempty"`
	// Definition route: the version to run (0 = latest).
	Version int `json:"version,omitempty"`
	// Inline route: the graph, in the editor's format. Nodes and edges are decoded
	// as leniently as a stored definition (editor-only keys are ignored).
	Name      string          `json:"name,omitempty"`
	Nodes     json.RawMessage `json:"nodes,omitempty"`
	Edges     json.RawMessage `json:"edges,omitempty"`
	Variables map[string]any  `json:"variables,omitempty"`

	// Definition route: the predecessor's required definition_id, which must be
	// the path's id. Every route: debug_mode adds debug_info to the answer.
	DefinitionID string `json:"definition_id,omitempty"`
	DebugMode    bool   `json:"debug_mode,omitempty"`
}

// ResumeRequest is the body of POST /api/v1/executions/{id}/resume: a person's
// answer to a run waiting at a human node — action (approve or reject) for
// approval input, text for text and edit input — and, for a streaming resume,
// what the run does when its client goes away.
type ResumeRequest struct {
	Action       string `json:"action,omitempty"`
	Text         string `json:"text,omitempty"`
	OnDisconnect string `json:"on_disconnect,omitempty"`
}
