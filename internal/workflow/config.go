package workflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Kind is a canonical node kind.
type Kind string

const (
	KindStart        Kind = "start"
	KindEnd          Kind = "end"
	KindLLM          Kind = "llm"
	KindTools        Kind = "tools"
	KindMemory       Kind = "memory"
	KindRetrieval    Kind = "retrieval"
	KindConditional  Kind = "conditional"
	KindLoop         Kind = "loop"
	KindVariable     Kind = "variable"
	KindErrorHandler Kind = "error_handler"
	KindDelay        Kind = "delay"
	KindHuman        Kind = "human"
)

// kindByName maps every accepted spelling (canonical and predecessor aliases).
var kindByName = map[string]Kind{
	"start": KindStart, "end": KindEnd,
	"llm": KindLLM, "model": KindLLM, "call_model": KindLLM,
	"tools": KindTools, "tool": KindTools, "execute_tools": KindTools,
	"memory": KindMemory, "retrieval": KindRetrieval, "conditional": KindConditional,
	"loop": KindLoop, "variable": KindVariable,
	"error_handler": KindErrorHandler, "errorHandler": KindErrorHandler,
	"delay": KindDelay,
	"human": KindHuman, "human_input": KindHuman, "humanInput": KindHuman, "approval": KindHuman,
}

// ParseKind resolves a kind name or alias.
func ParseKind(name string) (Kind, bool) {
	k, ok := kindByName[name]
	return k, ok
}

// Config is a node kind's typed configuration.
type Config interface {
	// check appends problems for invalid values; ptr is the config's JSON pointer.
	check(ptr string, add func(field, msg string))
}

// normalizer is a Config that derives some fields from others once decoded.
type normalizer interface{ normalize() }

// KindSpec describes a node kind for validation and for GET /node-types.
type KindSpec struct {
	Kind        Kind              `json:"type"`
	Aliases     []string          `json:"aliases,omitempty"`
	Description string            `json:"description"`
	Defaults    Config            `json:"defaults"`
	Fields      map[string]string `json:"fields"` // field -> type and meaning; the node settings included
	// ConfigAliases maps every other accepted spelling of a config key to the field
	// it sets: the predecessor's engine and editor keys, and the camelCase form of
	// each (see the package comment).
	ConfigAliases map[string]string `json:"config_aliases"`
	aliases       []alias
	newConfig     func() Config
	kindFields    map[string]bool // the fields of the kind's own config
	alias         map[string]*alias
}

// StartConfig: the entry node. It has no config of its own (only node settings).
type StartConfig struct{}

func (*StartConfig) check(string, func(string, string)) {}

// EndConfig: ends the run. It has no config of its own (only node settings).
type EndConfig struct{}

func (*EndConfig) check(string, func(string, string)) {}

// LLMConfig configures a model call. Empty Provider/Model mean the request's or the
// service's default. Tools narrows the tools offered to this node.
type LLMConfig struct {
	Provider     string   `json:"provider,omitempty"`
	Model        string   `json:"model,omitempty"`
	Temperature  *float64 `json:"temperature,omitempty"`
	MaxTokens    int      `json:"max_tokens,omitempty"`
	SystemPrompt string   `json:"system_prompt,omitempty"`
	Tools        []string `json:"tools,omitempty"`
}

func (c *LLMConfig) check(_ string, add func(string, string)) {
	if c.Temperature != nil && (*c.Temperature < 0 || *c.Temperature > 2) {
		add("temperature", "must be between 0 and 2")
	}
	if c.MaxTokens < 0 || c.MaxTokens > 200000 {
		add("max_tokens", "must be between 0 and 200000")
	}
	if len(c.SystemPrompt) > 100000 {
		add("system_prompt", "must be at most 100000 bytes")
	}
}

// ToolsConfig configures tool execution and bounds the llm<->tools cycle. The calls
// of one model turn run concurrently unless Parallel is false.
type ToolsConfig struct {
	AllowedTools []string `json:"allowed_tools,omitempty"`
	MaxToolCalls int      `json:"max_tool_calls"`
	TimeoutMS    int      `json:"timeout_ms"`
	Parallel     bool     `json:"parallel"`
}

func (c *ToolsConfig) check(_ string, add func(string, string)) {
	if c.MaxToolCalls < 1 || c.MaxToolCalls > MaxToolCalls {
		add("max_tool_calls", "must be between 1 and "+strconv.Itoa(MaxToolCalls))
	}
	if c.TimeoutMS < 1 || c.TimeoutMS > MaxTimeoutMS {
		add("timeout_ms", fmt.Sprintf("must be between 1 and %d ms", MaxTimeoutMS))
	}
}

// Memory types accepted from the predecessor's editor: both are chatter's one
// memory, the last Window messages plus, with IncludeSummary, the stored summary.
const (
	MemoryConversation = "conversation"
	MemorySummary      = "summary"
)

// MemoryConfig trims the loaded history to Window messages and, with IncludeSummary,
// adds the conversation's stored summary as context. Enabled false is no memory:
// the model sees no earlier message and no summary.
type MemoryConfig struct {
	Window         int    `json:"window"`
	IncludeSummary bool   `json:"include_summary"`
	Enabled        bool   `json:"enabled"`
	MemoryType     string `json:"memory_type,omitempty"`
}

func (c *MemoryConfig) check(_ string, add func(string, string)) {
	if c.Window < 0 || c.Window > MaxMemoryWindow {
		add("window", "must be between 0 and "+strconv.Itoa(MaxMemoryWindow))
	}
	switch c.MemoryType {
	case "", MemoryConversation, MemorySummary:
	default:
		add("memory_type", fmt.Sprintf("%q is not supported: chatter's memory is the conversation's last messages and its summary (%s, %s)",
			c.MemoryType, MemoryConversation, MemorySummary))
	}
}

func (c *MemoryConfig) normalize() {
	if !c.Enabled {
		c.Window, c.IncludeSummary = 0, false
	}
}

// RetrievalConfig fetches TopK passages for the user message from the user's
// documents (DocumentIDs, or the request's document_ids, narrow them). Collection is
// the predecessor's collection name, kept for its editor: chatter has no collections
// and does not narrow the search by it.
type RetrievalConfig struct {
	TopK        int      `json:"top_k"`
	DocumentIDs []string `json:"document_ids,omitempty"`
	MinScore    float64  `json:"min_score,omitempty"`
	Collection  string   `json:"collection,omitempty"`
}

func (c *RetrievalConfig) check(_ string, add func(string, string)) {
	if c.TopK < 1 || c.TopK > 50 {
		add("top_k", "must be between 1 and 50")
	}
	if c.MinScore < 0 || c.MinScore > 1 {
		add("min_score", "must be between 0 and 1")
	}
}

// ConditionalConfig routes by Condition: outgoing edges with sourceHandle "true" are
// taken when it holds, "false" otherwise. Without Condition, edge conditions route.
// Branches is the predecessor's editor's copy of the true/false edges (handle ->
// node id or "end"); chatter routes by the edges and does not read it.
type ConditionalConfig struct {
	Condition string            `json:"condition,omitempty"`
	Branches  map[string]string `json:"branches,omitempty"`
}

func (*ConditionalConfig) check(string, func(string, string)) {}

// LoopConfig bounds a cycle: each visit counts one iteration; the body edges are
// taken while iteration <= MaxIterations, Condition (if any) holds and
// BreakCondition (if any) does not.
type LoopConfig struct {
	MaxIterations  int    `json:"max_iterations"`
	Condition      string `json:"condition,omitempty"`
	BreakCondition string `json:"break_condition,omitempty"`
}

func (c *LoopConfig) check(_ string, add func(string, string)) {
	if c.MaxIterations < 1 || c.MaxIterations > 100 {
		add("max_iterations", "must be between 1 and 100")
	}
}

// Variable operations.
const (
	VarSet       = "set"
	VarGet       = "get"
	VarAppend    = "append"
	VarIncrement = "increment"
	VarDecrement = "decrement"
)

// VarScopeRun is the one variable scope: a run's variables live for that run. The
// predecessor's editor calls it "workflow".
const VarScopeRun = "workflow"

// VariableConfig changes one run variable.
type VariableConfig struct {
	Operation string  `json:"operation"`
	Name      string  `json:"name"`
	Value     any     `json:"value,omitempty"`
	Amount    float64 `json:"amount"`
	Target    string  `json:"target,omitempty"` // get: copy into this variable (default "value")
	Scope     string  `json:"scope,omitempty"`
}

func (c *VariableConfig) check(_ string, add func(string, string)) {
	switch c.Operation {
	case VarSet, VarGet, VarAppend, VarIncrement, VarDecrement:
	default:
		add("operation", "must be one of set, get, append, increment, decrement")
	}
	if c.Name == "" {
		add("name", "is required")
	}
	if c.Scope != "" && c.Scope != VarScopeRun {
		add("scope", fmt.Sprintf("%q is not supported: variables live for one run (%q)", c.Scope, VarScopeRun))
	}
}

// Fallback actions of an error handler.
const (
	FallbackContinue    = "continue"
	FallbackClearErrors = "clear_errors"
	FallbackStop        = "stop"
)

// ErrorHandlerConfig retries the node that failed up to RetryCount times, then
// applies FallbackAction. Node errors are always recorded (the execution's node log
// and node_executed events), so LogErrors may only be true.
type ErrorHandlerConfig struct {
	RetryCount     int    `json:"retry_count"`
	FallbackAction string `json:"fallback_action"`
	RetryDelayMS   int    `json:"retry_delay_ms,omitempty"`
	LogErrors      bool   `json:"log_errors"`
}

func (c *ErrorHandlerConfig) check(_ string, add func(string, string)) {
	if c.RetryCount < 0 || c.RetryCount > 10 {
		add("retry_count", "must be between 0 and 10")
	}
	switch c.FallbackAction {
	case FallbackContinue, FallbackClearErrors, FallbackStop:
	default:
		add("fallback_action", "must be one of continue, clear_errors, stop")
	}
	if c.RetryDelayMS < 0 || c.RetryDelayMS > 60000 {
		add("retry_delay_ms", "must be between 0 and 60000 ms")
	}
	if !c.LogErrors {
		add("log_errors", "cannot be false: node errors are always recorded in the execution's node log and events")
	}
}

// Delay kinds.
const (
	DelayFixed       = "fixed"
	DelayRandom      = "random"
	DelayExponential = "exponential"
)

// unitMS is each accepted time unit of a delay's duration, in milliseconds.
var unitMS = map[string]float64{"milliseconds": 1, "seconds": 1000, "minutes": 60000, "hours": 3600000}

// DelayConfig pauses the run: fixed DurationMS; random uniform in [0, DurationMS];
// exponential DurationMS * Factor^(visits-1). Always capped at MaxDurationMS. Unit is
// the unit of the predecessor's duration key (its editor's default: seconds;
// without a unit, its engine's milliseconds); DurationMS is always milliseconds.
type DelayConfig struct {
	Type          string  `json:"type"`
	DurationMS    int     `json:"duration_ms"`
	MaxDurationMS int     `json:"max_duration_ms"`
	Factor        float64 `json:"factor"`
	Unit          string  `json:"unit,omitempty"`
}

func (c *DelayConfig) check(_ string, add func(string, string)) {
	switch c.Type {
	case DelayFixed, DelayRandom, DelayExponential:
	default:
		add("type", "must be one of fixed, random, exponential")
	}
	if c.DurationMS < 0 || c.DurationMS > MaxTimeoutMS {
		add("duration_ms", fmt.Sprintf("must be between 0 and %d ms", MaxTimeoutMS))
	}
	if c.MaxDurationMS < 0 || c.MaxDurationMS > MaxTimeoutMS {
		add("max_duration_ms", fmt.Sprintf("must be between 0 and %d ms", MaxTimeoutMS))
	}
	if c.Factor < 1 || c.Factor > 10 {
		add("factor", "must be between 1 and 10")
	}
	if _, ok := unitMS[c.Unit]; c.Unit != "" && !ok {
		add("unit", "must be one of milliseconds, seconds, minutes, hours")
	}
}

// Human input types: what the person answers when a run waits at a human node.
const (
	// HumanApproval: approve or reject. The node's outgoing edges with sourceHandle
	// "approve" (or "approved", "yes", "true") are taken on approve, "reject"
	// ("rejected", "no", "false") on reject; without such handles, edge conditions
	// route (on the variable).
	HumanApproval = "approval"
	// HumanText: free text from the person, e.g. an answer or an instruction.
	HumanText = "text"
	// HumanEdit: the person's edited version of the run's reply so far; it
	// replaces that reply (and the model sees the edit as its own last answer).
	HumanEdit = "edit"
)

// Human decisions (HumanApproval): the variable's value after the person answered.
const (
	HumanApprove = "approve"
	HumanReject  = "reject"
)

// HumanConfig pauses the run for a person: the run ends its invocation with status
// waiting, its state checkpointed, and Prompt shown; POST
// /api/v1/executions/{id}/resume with the person's input continues it. The input
// lands in the run variable Variable ("approve"/"reject", or the text); with
// AsMessage the text is also added as a user message for the nodes after. TimeoutMS
// is how long the run waits; past it the sweeper ends it failed (timeout).
type HumanConfig struct {
	Prompt    string `json:"prompt"`
	Input     string `json:"input"`
	Variable  string `json:"variable"`
	AsMessage bool   `json:"as_message,omitempty"`
	TimeoutMS int    `json:"timeout_ms"`
}

// Bounds of a human node's wait.
const (
	DefaultHumanTimeoutMS = 24 * 3600 * 1000     // a day
	MaxHumanTimeoutMS     = 7 * 24 * 3600 * 1000 // a week
	MaxHumanPromptBytes   = 4 << 10
)

func (c *HumanConfig) check(_ string, add func(string, string)) {
	switch c.Input {
	case HumanApproval, HumanText, HumanEdit:
	default:
		add("input", "must be one of approval, text, edit")
	}
	if c.Variable == "" {
		add("variable", "is required")
	}
	if len(c.Prompt) > MaxHumanPromptBytes {
		add("prompt", fmt.Sprintf("must be at most %d bytes", MaxHumanPromptBytes))
	}
	if c.TimeoutMS < 1000 || c.TimeoutMS > MaxHumanTimeoutMS {
		add("timeout_ms", fmt.Sprintf("must be between 1000 and %d ms (a week)", MaxHumanTimeoutMS))
	}
	if c.AsMessage && c.Input == HumanApproval {
		add("as_message", "applies to text and edit input only")
	}
}

// Settings are what every node kind accepts beside its own config, in the same
// config object: the predecessor's editor writes them on any node (its "Advanced
// settings" and the start node's flag). A kind whose config has a field of the
// same name takes that instead (tools' timeout_ms is per tool call; memory's
// enabled turns memory off).
type Settings struct {
	// Enabled false skips the node: it does no work and the run goes on along its
	// edges. Start, end, conditional, loop and error handler nodes route the run and
	// cannot be disabled.
	Enabled bool `json:"enabled"`
	// EntryPoint marks the node where the run starts (a start node is one anyway;
	// false changes nothing).
	EntryPoint bool `json:"is_entry_point"`
	// TimeoutMS limits one visit of the node; 0 leaves only the run's limit.
	TimeoutMS int `json:"timeout_ms"`
	// Retries re-runs the node after a failure, up to this many times per run,
	// before the failure goes to an error handler or fails the run.
	Retries int `json:"retries"`
}

func defaultSettings() Settings { return Settings{Enabled: true} }

func (s *Settings) check(_ string, add func(string, string)) {
	if s.TimeoutMS < 0 || s.TimeoutMS > MaxTimeoutMS {
		add("timeout_ms", fmt.Sprintf("must be between 0 and %d ms", MaxTimeoutMS))
	}
	if s.Retries < 0 || s.Retries > MaxRetries {
		add("retries", fmt.Sprintf("must be between 0 and %d", MaxRetries))
	}
}

// settingFields documents the node settings in every kind's Fields.
var settingFields = map[string]string{
	"enabled":        "boolean, default true: false skips the node (not start, end, conditional, loop, error_handler)",
	"is_entry_point": "boolean: the run starts here (a start node is the entry point anyway)",
	"timeout_ms":     fmt.Sprintf("integer 0..%d: the node's time limit per visit (0 = the run's only)", MaxTimeoutMS),
	"retries":        fmt.Sprintf("integer 0..%d: re-runs after a failure, per run", MaxRetries),
}

// canBeDisabled reports whether a node of kind k may have enabled false: nodes
// that only route the run (or are entered on failure) cannot be skipped.
func canBeDisabled(k Kind) bool {
	switch k {
	case KindStart, KindEnd, KindConditional, KindLoop, KindErrorHandler, KindHuman:
		return false
	}
	return true
}

// Default values used when a field is absent, and limits.
const (
	DefaultMaxToolCalls  = 5
	DefaultToolTimeoutMS = 10000
	DefaultMemoryWindow  = 20
	DefaultTopK          = 4
	DefaultMaxIterations = 3
	// MaxTimeoutMS bounds every time setting of a node (timeouts, delays): 5 minutes.
	MaxTimeoutMS = 300000
	// MaxRetries bounds retry counts (a node's retries, an error handler's retry_count).
	MaxRetries = 10
)

// alias is an accepted spelling of a config key other than its field's name.
type alias struct {
	key, field string
	// scale multiplies a numeric value (seconds -> ms); 0 keeps it. unitKey names a
	// sibling key whose value picks the scale from unitMS instead (absent: 1).
	scale   float64
	unitKey string
	unit    string // what the written value is in, for messages
}

// settingAliases apply to every kind (after its own). The predecessor's editor
// writes timeout in seconds.
var settingAliases = []alias{{key: "timeout", field: "timeout_ms", scale: 1000, unit: "seconds"}}

// The one alias table: for each kind, its own config (defaults) and every other
// spelling its keys had in the predecessor — its engine (chatter/core/
// workflow_node_factory.py: snake_case) and its editor (PropertiesPanel and
// WorkflowEditor defaults: camelCase, applied by the camelCase rule unless listed).
var specs = []*KindSpec{
	{Kind: KindStart, Description: "Entry point of the workflow.", newConfig: func() Config { return &StartConfig{} }},
	{Kind: KindEnd, Description: "Ends the run.", newConfig: func() Config { return &EndConfig{} }},
	{Kind: KindLLM, Aliases: []string{"model", "call_model"}, Description: "Calls the language model with the conversation so far; offers tools when a tools node follows (directly or through conditional nodes).",
		newConfig: func() Config { return &LLMConfig{} },
		aliases: []alias{{key: "llm_provider", field: "provider"}, {key: "model_name", field: "model"},
			{key: "system_message", field: "system_prompt"}, {key: "allowed_tools", field: "tools"}},
		Fields: map[string]string{"provider": "string: provider id (bedrock, openai, anthropic, devllm)", "model": "string: model id",
			"temperature": "number 0..2", "max_tokens": "integer", "system_prompt": "string", "tools": "array of tool names offered by this node"}},
	{Kind: KindTools, Aliases: []string{"tool", "execute_tools"}, Description: "Runs the tool calls the model requested; bounds the llm<->tools cycle.",
		newConfig: func() Config {
			return &ToolsConfig{MaxToolCalls: DefaultMaxToolCalls, TimeoutMS: DefaultToolTimeoutMS, Parallel: true}
		},
		aliases: []alias{{key: "tools", field: "allowed_tools"}, {key: "tool_timeout_ms", field: "timeout_ms"}},
		Fields: map[string]string{"allowed_tools": "array of tool names", "max_tool_calls": "integer 1..50",
			"timeout_ms": fmt.Sprintf("integer 1..%d: per-tool-call timeout", MaxTimeoutMS),
			"parallel":   "boolean, default true: a turn's calls run concurrently; false runs them one after another, in the model's order"}},
	{Kind: KindMemory, Description: "Keeps the last `window` messages of the conversation and its summary.",
		newConfig: func() Config { return &MemoryConfig{Window: DefaultMemoryWindow, IncludeSummary: true, Enabled: true} },
		aliases:   []alias{{key: "memory_window", field: "window"}, {key: "max_messages", field: "window"}},
		Fields: map[string]string{"window": "integer 0..200", "include_summary": "boolean",
			"enabled":     "boolean, default true: false is no memory (no earlier message, no summary)",
			"memory_type": "conversation|summary: both are this memory (window plus summary)"}},
	{Kind: KindRetrieval, Description: "Retrieves passages relevant to the user message from the user's documents.",
		newConfig: func() Config { return &RetrievalConfig{TopK: DefaultTopK} },
		aliases: []alias{{key: "k", field: "top_k"}, {key: "max_results", field: "top_k"}, {key: "max_documents", field: "top_k"},
			{key: "similarity_threshold", field: "min_score"}, {key: "threshold", field: "min_score"}},
		Fields: map[string]string{"top_k": "integer 1..50", "document_ids": "array of document ids", "min_score": "number 0..1",
			"collection": "string: the predecessor's collection name; kept, not a filter (chatter searches the user's documents)"}},
	{Kind: KindConditional, Description: "Routes on a condition: edges with sourceHandle true/false, or edge conditions.",
		newConfig: func() Config { return &ConditionalConfig{} },
		aliases:   []alias{{key: "expression", field: "condition"}},
		Fields: map[string]string{"condition": "string: expression or predecessor phrase",
			"branches": "object handle -> node id: the predecessor editor's copy of the edges; routing follows the edges"}},
	{Kind: KindLoop, Description: "Bounds a cycle: body edges are taken while iterations remain, the condition holds and the break condition does not.",
		newConfig: func() Config { return &LoopConfig{MaxIterations: DefaultMaxIterations} },
		aliases:   []alias{{key: "max_loops", field: "max_iterations"}, {key: "iterations", field: "max_iterations"}},
		Fields: map[string]string{"max_iterations": "integer 1..100", "condition": "string: continue while true",
			"break_condition": "string: leave the loop when true"}},
	{Kind: KindVariable, Description: "Sets, reads, appends to, increments or decrements a run variable.",
		newConfig: func() Config { return &VariableConfig{Operation: VarSet, Amount: 1} },
		aliases: []alias{{key: "variable", field: "name"}, {key: "variable_name", field: "name"}, {key: "op", field: "operation"},
			{key: "output", field: "target"}},
		Fields: map[string]string{"operation": "set|get|append|increment|decrement", "name": "string", "value": "any",
			"amount": "number (increment/decrement)", "target": "string (get)", "scope": "workflow: variables live for the run"}},
	{Kind: KindErrorHandler, Aliases: []string{"errorHandler"}, Description: "Retries the failed node, then continues, clears errors or stops.",
		newConfig: func() Config {
			return &ErrorHandlerConfig{RetryCount: 1, FallbackAction: FallbackContinue, LogErrors: true}
		},
		aliases: []alias{{key: "retries", field: "retry_count"}, {key: "max_retries", field: "retry_count"},
			{key: "fallback", field: "fallback_action"}, {key: "retry_delay", field: "retry_delay_ms"}},
		Fields: map[string]string{"retry_count": "integer 0..10", "fallback_action": "continue|clear_errors|stop", "retry_delay_ms": "integer",
			"log_errors": "true: node errors are always recorded"}},
	{Kind: KindDelay, Description: "Pauses the run (fixed, random or exponential), honouring cancellation.",
		newConfig: func() Config {
			return &DelayConfig{Type: DelayFixed, DurationMS: 1000, MaxDurationMS: 30000, Factor: 2}
		},
		aliases: []alias{{key: "delay_type", field: "type"}, {key: "duration", field: "duration_ms", unitKey: "unit"},
			{key: "delay_ms", field: "duration_ms"}, {key: "max_duration", field: "max_duration_ms"}},
		Fields: map[string]string{"type": "fixed|random|exponential", "duration_ms": "integer", "max_duration_ms": "integer", "factor": "number 1..10",
			"unit": "milliseconds|seconds|minutes|hours: the unit of `duration` (default milliseconds); duration_ms is always ms"}},
	{Kind: KindHuman, Aliases: []string{"human_input", "humanInput", "approval"},
		Description: "Waits for a person: the run pauses with status waiting and a prompt; POST /api/v1/executions/{id}/resume with approve/reject or text continues it.",
		newConfig: func() Config {
			return &HumanConfig{Prompt: "Approve to continue.", Input: HumanApproval, Variable: "human_input", TimeoutMS: DefaultHumanTimeoutMS}
		},
		aliases: []alias{{key: "message", field: "prompt"}, {key: "question", field: "prompt"}, {key: "input_type", field: "input"},
			{key: "output", field: "variable"}, {key: "variable_name", field: "variable"}},
		Fields: map[string]string{"prompt": fmt.Sprintf("string, at most %d bytes: shown to the person", MaxHumanPromptBytes),
			"input":      "approval|text|edit: approve/reject (routes by sourceHandle approve/reject), free text, or an edit of the reply so far",
			"variable":   "string, default human_input: the run variable that receives the input (approve, reject or the text)",
			"as_message": "boolean (text, edit): also add the text as a user message for the nodes after",
			"timeout_ms": fmt.Sprintf("integer 1000..%d (timeout: seconds): how long the run waits; then it fails with timeout", MaxHumanTimeoutMS)}},
}

var specByKind = func() map[Kind]*KindSpec {
	m := make(map[Kind]*KindSpec, len(specs))
	for _, s := range specs {
		s.kindFields = configFields(s.newConfig())
		s.alias = make(map[string]*alias, len(s.aliases))
		for i := range s.aliases {
			s.alias[s.aliases[i].key] = &s.aliases[i]
		}
		s.ConfigAliases = s.configAliases()
		m[s.Kind] = s
	}
	return m
}()

var settingAlias = func() map[string]*alias {
	m := make(map[string]*alias, len(settingAliases))
	for i := range settingAliases {
		m[settingAliases[i].key] = &settingAliases[i]
	}
	return m
}()

// known reports whether field is a field of the kind's config or a node setting.
func (s *KindSpec) known(field string) bool {
	return s.kindFields[field] || s.hasSetting(field)
}

// hasSetting reports whether the node setting named field applies to the kind: not
// when the kind's config has a field or an alias of that name (tools' timeout_ms,
// memory's enabled, an error handler's retries, which are its retry_count).
func (s *KindSpec) hasSetting(field string) bool {
	_, ok := settingFields[field]
	return ok && !s.kindFields[field] && s.alias[field] == nil
}

// resolve maps a key as written to the field it sets and the alias it used (nil for
// a field's own name); ok is false for a key that means nothing for this kind.
// Order: the kind's aliases, the fields, the settings' aliases; then the same for
// the key's snake_case form (the predecessor's editor wrote camelCase).
func (s *KindSpec) resolve(key string) (field string, a *alias, ok bool) {
	for _, k := range []string{key, snakeCase(key)} {
		if a := s.alias[k]; a != nil {
			return a.field, a, true
		}
		if s.known(k) {
			return k, nil, true
		}
		if a := settingAlias[k]; a != nil {
			return a.field, a, true
		}
	}
	return "", nil, false
}

// configAliases lists every accepted spelling other than a field's name, for the
// catalogue: the table's aliases and the camelCase form of each field and alias.
func (s *KindSpec) configAliases() map[string]string {
	out := map[string]string{}
	addAll := func(key, field string) {
		if key != field {
			out[key] = field
		}
		if c := camelCase(key); c != key && c != field {
			out[c] = field
		}
	}
	for f := range s.kindFields {
		addAll(f, f)
	}
	for f := range settingFields {
		if s.hasSetting(f) {
			addAll(f, f)
		}
	}
	for _, a := range settingAliases {
		addAll(a.key, a.field)
	}
	for _, a := range s.aliases { // last: a kind's own alias wins over a setting's
		addAll(a.key, a.field)
	}
	return out
}

// snakeCase turns a camelCase key into snake_case ("maxTokens" -> "max_tokens");
// other keys come back unchanged.
func snakeCase(k string) string {
	if k == "" || k[0] < 'a' || k[0] > 'z' || !strings.ContainsAny(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		return k
	}
	var b strings.Builder
	for _, r := range k {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// camelCase is snakeCase's inverse ("max_tokens" -> "maxTokens").
func camelCase(k string) string {
	parts := strings.Split(k, "_")
	for i := 1; i < len(parts); i++ {
		if p := parts[i]; p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "")
}

// Kinds lists every node kind with its defaults, for GET /node-types. The specs
// serve every request of the process, so each call returns fresh copies.
func Kinds() []*KindSpec {
	out := make([]*KindSpec, len(specs))
	for i, s := range specs {
		c := *s
		c.Aliases = slices.Clone(s.Aliases)
		c.Fields = maps.Clone(s.Fields)
		if c.Fields == nil {
			c.Fields = map[string]string{}
		}
		for f, doc := range settingFields {
			if s.hasSetting(f) {
				c.Fields[f] = doc
			}
		}
		c.ConfigAliases = maps.Clone(s.ConfigAliases)
		c.Defaults = s.newConfig()
		out[i] = &c
	}
	return out
}

// decoded is a node's config decoded: the kind's typed config, the node settings,
// and each field's key as written (for problem pointers).
type decoded struct {
	cfg      Config
	settings Settings
	written  map[string]string
}

// key returns the key field was written as (the field's name when absent).
func (d *decoded) key(field string) string {
	if k, ok := d.written[field]; ok {
		return k
	}
	return field
}

// DecodeConfig decodes a node kind's config JSON with defaults applied, accepting
// the predecessor's keys (the alias table) and rejecting unknown ones. ptr prefixes
// the JSON pointers of the problems returned.
func DecodeConfig(kind Kind, raw json.RawMessage, ptr string) (Config, []Problem) {
	d, ps := decodeNode(kind, raw, ptr)
	return d.cfg, ps
}

func decodeNode(kind Kind, raw json.RawMessage, ptr string) (decoded, []Problem) {
	spec := specByKind[kind]
	d := decoded{cfg: spec.newConfig(), settings: defaultSettings(), written: map[string]string{}}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return d, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return d, []Problem{{Code: CodeInvalidConfig, Pointer: ptr, Message: "config must be a JSON object"}}
	}
	var problems []Problem
	add := func(key, msg string) {
		problems = append(problems, Problem{Code: CodeInvalidConfig, Pointer: ptr + "/" + pointerToken(key), Message: msg})
	}
	canon := make(map[string]json.RawMessage, len(fields))
	notes := map[string]string{} // field -> how a scaled value was read, for messages
	for _, k := range sortedKeys(fields) {
		field, a, ok := spec.resolve(k)
		if !ok {
			add(k, fmt.Sprintf("unknown field %q for %s node; its fields are %s", k, kind, strings.Join(spec.fieldNames(), ", ")))
			continue
		}
		v := fields[k]
		if a != nil && (a.scale != 0 || a.unitKey != "") {
			sv, note, err := a.apply(v, fields)
			if err != nil {
				add(k, fmt.Sprintf("field %q: %v", k, err))
				continue
			}
			v, notes[field] = sv, note
		}
		if prev, dup := canon[field]; dup {
			switch {
			case jsonEqual(prev, v), isEmptyJSON(v):
				continue // the value already there stands
			case !isEmptyJSON(prev):
				add(k, fmt.Sprintf("%q and %q both set %s, to different values", d.written[field], k, field))
				continue
			}
		}
		canon[field] = v
		d.written[field] = k
	}
	for _, name := range sortedKeys(canon) {
		var target any = &d.settings
		if spec.kindFields[name] {
			target = d.cfg
		}
		one, _ := json.Marshal(map[string]json.RawMessage{name: canon[name]})
		if err := json.Unmarshal(one, target); err != nil {
			add(d.key(name), fmt.Sprintf("field %q: %s", d.key(name), typeMessage(err)))
		}
	}
	report := func(field, msg string) {
		k := d.key(field)
		msg = k + " " + msg
		if n := notes[field]; n != "" {
			msg += " (" + n + ")"
		}
		add(k, msg)
	}
	d.cfg.check(ptr, report)
	d.settings.check(ptr, report)
	if n, ok := d.cfg.(normalizer); ok {
		n.normalize()
	}
	return d, problems
}

// apply scales a numeric value written under the alias into the field's unit.
func (a *alias) apply(v json.RawMessage, siblings map[string]json.RawMessage) (json.RawMessage, string, error) {
	var n float64
	if err := json.Unmarshal(v, &n); err != nil {
		return nil, "", fmt.Errorf("expected a number, got JSON %s", v)
	}
	scale, unit := a.scale, a.unit
	if a.unitKey != "" {
		scale, unit = 1, "milliseconds"
		if u, ok := siblings[a.unitKey]; ok {
			var name string
			if err := json.Unmarshal(u, &name); err == nil {
				if s, ok := unitMS[name]; ok {
					scale, unit = s, name
				}
			}
		}
	}
	ms := math.Round(n * scale)
	out, _ := json.Marshal(ms)
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	return out, fmt.Sprintf("%s %s %s = %s ms", a.key, num(n), unit, num(ms)), nil
}

// fieldNames lists the kind's fields and the node settings, sorted.
func (s *KindSpec) fieldNames() []string {
	names := sortedKeys(s.kindFields)
	for f := range settingFields {
		if s.hasSetting(f) {
			names = append(names, f)
		}
	}
	sort.Strings(names)
	return names
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

// isEmptyJSON reports a null or empty-string value: the predecessor's editor left
// such defaults beside the key its panel wrote (variable_name "" and variableName).
func isEmptyJSON(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return bytes.Equal(v, []byte("null")) || bytes.Equal(v, []byte(`""`))
}

// pointerToken escapes a key for a JSON pointer (RFC 6901).
func pointerToken(k string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
}

func typeMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("expected %s, got JSON %s", te.Type, te.Value)
	}
	return err.Error()
}

// configFields lists the JSON field names of a config struct from its tags.
func configFields(cfg Config) map[string]bool {
	t := reflect.TypeOf(cfg).Elem()
	out := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
