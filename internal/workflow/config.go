package workflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
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

// KindSpec describes a node kind for validation and for GET /node-types.
type KindSpec struct {
	Kind        Kind              `json:"type"`
	Aliases     []string          `json:"aliases,omitempty"`
	Description string            `json:"description"`
	Defaults    Config            `json:"defaults"`
	Fields      map[string]string `json:"fields"` // field -> type and meaning
	aliases     map[string]string // config field alias -> canonical field
	newConfig   func() Config
	lenient     bool // accepts unknown config fields (start/end carry editor data)
}

// StartConfig: the entry node. Config is free-form editor data and is ignored.
type StartConfig struct{}

func (*StartConfig) check(string, func(string, string)) {}

// EndConfig: ends the run. Config is free-form editor data and is ignored.
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

// ToolsConfig configures tool execution and bounds the llm<->tools cycle.
type ToolsConfig struct {
	AllowedTools []string `json:"allowed_tools,omitempty"`
	MaxToolCalls int      `json:"max_tool_calls"`
	TimeoutMS    int      `json:"timeout_ms"`
}

func (c *ToolsConfig) check(_ string, add func(string, string)) {
	if c.MaxToolCalls < 1 || c.MaxToolCalls > MaxToolCalls {
		add("max_tool_calls", "must be between 1 and "+strconv.Itoa(MaxToolCalls))
	}
	if c.TimeoutMS < 1 || c.TimeoutMS > 300000 {
		add("timeout_ms", "must be between 1 and 300000")
	}
}

// MemoryConfig trims the loaded history to Window messages and, with IncludeSummary,
// adds the conversation's stored summary as context.
type MemoryConfig struct {
	Window         int  `json:"window"`
	IncludeSummary bool `json:"include_summary"`
}

func (c *MemoryConfig) check(_ string, add func(string, string)) {
	if c.Window < 0 || c.Window > MaxMemoryWindow {
		add("window", "must be between 0 and "+strconv.Itoa(MaxMemoryWindow))
	}
}

// RetrievalConfig fetches TopK passages for the user message.
type RetrievalConfig struct {
	TopK        int      `json:"top_k"`
	DocumentIDs []string `json:"document_ids,omitempty"`
	MinScore    float64  `json:"min_score,omitempty"`
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
type ConditionalConfig struct {
	Condition string `json:"condition,omitempty"`
}

func (*ConditionalConfig) check(string, func(string, string)) {}

// LoopConfig bounds a cycle: each visit counts one iteration; the body edges are
// taken while iteration <= MaxIterations and Condition (if any) holds.
type LoopConfig struct {
	MaxIterations int    `json:"max_iterations"`
	Condition     string `json:"condition,omitempty"`
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

// VariableConfig changes one run variable.
type VariableConfig struct {
	Operation string  `json:"operation"`
	Name      string  `json:"name"`
	Value     any     `json:"value,omitempty"`
	Amount    float64 `json:"amount"`
	Target    string  `json:"target,omitempty"` // get: copy into this variable (default "value")
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
}

// Fallback actions of an error handler.
const (
	FallbackContinue    = "continue"
	FallbackClearErrors = "clear_errors"
	FallbackStop        = "stop"
)

// ErrorHandlerConfig retries the node that failed up to RetryCount times, then
// applies FallbackAction.
type ErrorHandlerConfig struct {
	RetryCount     int    `json:"retry_count"`
	FallbackAction string `json:"fallback_action"`
	RetryDelayMS   int    `json:"retry_delay_ms,omitempty"`
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
		add("retry_delay_ms", "must be between 0 and 60000")
	}
}

// Delay kinds.
const (
	DelayFixed       = "fixed"
	DelayRandom      = "random"
	DelayExponential = "exponential"
)

// DelayConfig pauses the run: fixed DurationMS; random uniform in [0, DurationMS];
// exponential DurationMS * Factor^(visits-1). Always capped at MaxDurationMS.
type DelayConfig struct {
	Type          string  `json:"type"`
	DurationMS    int     `json:"duration_ms"`
	MaxDurationMS int     `json:"max_duration_ms"`
	Factor        float64 `json:"factor"`
}

func (c *DelayConfig) check(_ string, add func(string, string)) {
	switch c.Type {
	case DelayFixed, DelayRandom, DelayExponential:
	default:
		add("type", "must be one of fixed, random, exponential")
	}
	if c.DurationMS < 0 || c.DurationMS > 300000 {
		add("duration_ms", "must be between 0 and 300000")
	}
	if c.MaxDurationMS < 0 || c.MaxDurationMS > 300000 {
		add("max_duration_ms", "must be between 0 and 300000")
	}
	if c.Factor < 1 || c.Factor > 10 {
		add("factor", "must be between 1 and 10")
	}
}

// Default values used when a field is absent.
const (
	DefaultMaxToolCalls  = 5
	DefaultToolTimeoutMS = 10000
	DefaultMemoryWindow  = 20
	DefaultTopK          = 4
	DefaultMaxIterations = 3
)

var specs = []*KindSpec{
	{Kind: KindStart, Description: "Entry point of the workflow.", newConfig: func() Config { return &StartConfig{} }, lenient: true},
	{Kind: KindEnd, Description: "Ends the run.", newConfig: func() Config { return &EndConfig{} }, lenient: true},
	{Kind: KindLLM, Aliases: []string{"model", "call_model"}, Description: "Calls the language model with the conversation so far; offers tools when a tools node follows.",
		newConfig: func() Config { return &LLMConfig{} },
		aliases:   map[string]string{"llm_provider": "provider", "model_name": "model", "system_message": "system_prompt", "allowed_tools": "tools"},
		Fields: map[string]string{"provider": "string: provider id (bedrock, openai, anthropic, devllm)", "model": "string: model id",
			"temperature": "number 0..2", "max_tokens": "integer", "system_prompt": "string", "tools": "array of tool names offered by this node"}},
	{Kind: KindTools, Aliases: []string{"tool", "execute_tools"}, Description: "Runs the tool calls the model requested; bounds the llm<->tools cycle.",
		newConfig: func() Config { return &ToolsConfig{MaxToolCalls: DefaultMaxToolCalls, TimeoutMS: DefaultToolTimeoutMS} },
		aliases:   map[string]string{"tools": "allowed_tools", "timeout": "timeout_ms"},
		Fields:    map[string]string{"allowed_tools": "array of tool names", "max_tool_calls": "integer 1..50", "timeout_ms": "integer: per-tool timeout"}},
	{Kind: KindMemory, Description: "Keeps the last `window` messages of the conversation and its summary.",
		newConfig: func() Config { return &MemoryConfig{Window: DefaultMemoryWindow, IncludeSummary: true} },
		aliases:   map[string]string{"memory_window": "window", "max_messages": "window"},
		Fields:    map[string]string{"window": "integer 0..200", "include_summary": "boolean"}},
	{Kind: KindRetrieval, Description: "Retrieves passages relevant to the user message from the user's documents.",
		newConfig: func() Config { return &RetrievalConfig{TopK: DefaultTopK} },
		aliases:   map[string]string{"k": "top_k", "max_results": "top_k", "similarity_threshold": "min_score"},
		Fields:    map[string]string{"top_k": "integer 1..50", "document_ids": "array of document ids", "min_score": "number 0..1"}},
	{Kind: KindConditional, Description: "Routes on a condition: edges with sourceHandle true/false, or edge conditions.",
		newConfig: func() Config { return &ConditionalConfig{} },
		aliases:   map[string]string{"expression": "condition"},
		Fields:    map[string]string{"condition": "string: expression or predecessor phrase"}},
	{Kind: KindLoop, Description: "Bounds a cycle: body edges are taken while iterations remain and the condition holds.",
		newConfig: func() Config { return &LoopConfig{MaxIterations: DefaultMaxIterations} },
		aliases:   map[string]string{"max_loops": "max_iterations", "iterations": "max_iterations"},
		Fields:    map[string]string{"max_iterations": "integer 1..100", "condition": "string: continue while true"}},
	{Kind: KindVariable, Description: "Sets, reads, appends to, increments or decrements a run variable.",
		newConfig: func() Config { return &VariableConfig{Operation: VarSet, Amount: 1} },
		aliases:   map[string]string{"variable": "name", "variable_name": "name", "op": "operation", "output": "target"},
		Fields:    map[string]string{"operation": "set|get|append|increment|decrement", "name": "string", "value": "any", "amount": "number (increment/decrement)", "target": "string (get)"}},
	{Kind: KindErrorHandler, Aliases: []string{"errorHandler"}, Description: "Retries the failed node, then continues, clears errors or stops.",
		newConfig: func() Config { return &ErrorHandlerConfig{RetryCount: 1, FallbackAction: FallbackContinue} },
		aliases:   map[string]string{"retries": "retry_count", "max_retries": "retry_count", "fallback": "fallback_action"},
		Fields:    map[string]string{"retry_count": "integer 0..10", "fallback_action": "continue|clear_errors|stop", "retry_delay_ms": "integer"}},
	{Kind: KindDelay, Description: "Pauses the run (fixed, random or exponential), honouring cancellation.",
		newConfig: func() Config {
			return &DelayConfig{Type: DelayFixed, DurationMS: 1000, MaxDurationMS: 30000, Factor: 2}
		},
		aliases: map[string]string{"delay_type": "type", "duration": "duration_ms", "delay_ms": "duration_ms", "max_duration": "max_duration_ms"},
		Fields:  map[string]string{"type": "fixed|random|exponential", "duration_ms": "integer", "max_duration_ms": "integer", "factor": "number 1..10"}},
}

var specByKind = func() map[Kind]*KindSpec {
	m := make(map[Kind]*KindSpec, len(specs))
	for _, s := range specs {
		m[s.Kind] = s
	}
	return m
}()

// Kinds lists every node kind with its defaults, for GET /node-types. The specs
// serve every request of the process, so each call returns fresh copies.
func Kinds() []*KindSpec {
	out := make([]*KindSpec, len(specs))
	for i, s := range specs {
		c := *s
		c.Aliases = slices.Clone(s.Aliases)
		c.Fields = maps.Clone(s.Fields)
		c.Defaults = s.newConfig()
		out[i] = &c
	}
	return out
}

// DecodeConfig decodes a node kind's config JSON with defaults applied, accepting
// the predecessor's field aliases and rejecting unknown fields. ptr prefixes the JSON
// pointers of the problems returned.
func DecodeConfig(kind Kind, raw json.RawMessage, ptr string) (Config, []Problem) {
	spec := specByKind[kind]
	cfg := spec.newConfig()
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) || spec.lenient {
		return cfg, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return cfg, []Problem{{Code: CodeInvalidConfig, Pointer: ptr, Message: "config must be a JSON object"}}
	}
	var problems []Problem
	known := configFields(cfg)
	canon := make(map[string]json.RawMessage, len(fields))
	written := make(map[string]string, len(fields)) // canonical -> key as written, for pointers
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		name := k
		if a, ok := spec.aliases[k]; ok {
			name = a
		}
		if !known[name] {
			problems = append(problems, Problem{Code: CodeInvalidConfig, Pointer: ptr + "/" + k,
				Message: fmt.Sprintf("unknown field %q for %s node", k, kind)})
			continue
		}
		canon[name] = fields[k]
		written[name] = k
	}
	for _, name := range sortedKeys(canon) {
		one, _ := json.Marshal(map[string]json.RawMessage{name: canon[name]})
		if err := json.Unmarshal(one, cfg); err != nil {
			problems = append(problems, Problem{Code: CodeInvalidConfig, Pointer: ptr + "/" + written[name],
				Message: fmt.Sprintf("field %q: %s", written[name], typeMessage(err))})
		}
	}
	cfg.check(ptr, func(field, msg string) {
		if k, ok := written[field]; ok {
			field = k
		}
		problems = append(problems, Problem{Code: CodeInvalidConfig, Pointer: ptr + "/" + field, Message: field + " " + msg})
	})
	return cfg, problems
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
