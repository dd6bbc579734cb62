package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/anthropics/anthropic-sdk-go/v2"

	"github.com/chatterhq/chatter/internal/llm"
)

// emptyObject stands in for tool input that is missing or not a JSON object: the API
// requires an object, and the failed call is still worth replaying so the model sees
// its tool_result.
var emptyObject = json.RawMessage(`{}`)

// params maps an llm.Request onto the Messages API. Anthropic has no system role in
// its turn list, so system text (Request.System, then RoleSystem messages in order)
// becomes the top-level system prompt. Empty text is left out, as the API rejects
// empty text blocks.
func (p *Provider) params(req *llm.Request) (anthropic.MessageNewParams, error) {
	model := req.Model
	if model == "" {
		model = p.model
	}
	maxTokens := req.MaxTokens
	if maxTokens <= 0 {
		maxTokens = p.maxTokens
	}
	params := anthropic.MessageNewParams{
		Model:     model,
		MaxTokens: int64(maxTokens),
	}

	var system []string
	if req.System != "" {
		system = append(system, req.System)
	}
	var b turnBuilder
	for i := range req.Messages {
		m := &req.Messages[i]
		switch m.Role {
		case llm.RoleSystem:
			if m.Content != "" {
				system = append(system, m.Content)
			}
		case llm.RoleUser:
			if m.Content != "" {
				b.add(roleUser, false, anthropic.NewTextBlock(m.Content))
			}
		case llm.RoleAssistant:
			if m.Content != "" {
				b.add(roleAssistant, false, anthropic.NewTextBlock(m.Content))
			}
			for _, tc := range m.ToolCalls {
				b.add(roleAssistant, false, anthropic.ContentBlockParamUnion{OfToolUse: &anthropic.ToolUseBlockParam{
					ID:    tc.ID,
					Name:  tc.Name,
					Input: toolInput(tc.Arguments),
				}})
			}
		case llm.RoleTool:
			if m.ToolCallID == "" {
				return params, fmt.Errorf("message %d: tool result without tool_call_id", i)
			}
			res := anthropic.ToolResultBlockParam{ToolUseID: m.ToolCallID}
			// An empty text block is rejected by the API; an absent content is not.
			if m.Content != "" {
				res.Content = []anthropic.ToolResultBlockParamContentUnion{{OfText: &anthropic.TextBlockParam{Text: m.Content}}}
			}
			if m.IsError {
				res.IsError = anthropic.Bool(true)
			}
			b.add(roleUser, true, anthropic.ContentBlockParamUnion{OfToolResult: &res})
		default:
			return params, fmt.Errorf("message %d: unknown role %q", i, m.Role)
		}
	}
	params.Messages = b.messages()
	if len(system) > 0 {
		params.System = []anthropic.TextBlockParam{{Text: strings.Join(system, "\n\n")}}
	}

	if len(req.Tools) > 0 {
		params.Tools = make([]anthropic.ToolUnionParam, 0, len(req.Tools))
		for _, t := range req.Tools {
			schema, err := inputSchema(t.Parameters)
			if err != nil {
				return params, fmt.Errorf("tool %q: %w", t.Name, err)
			}
			tool := anthropic.ToolParam{Name: t.Name, InputSchema: schema}
			if t.Description != "" {
				tool.Description = anthropic.String(t.Description)
			}
			params.Tools = append(params.Tools, anthropic.ToolUnionParam{OfTool: &tool})
		}
	}
	return params, nil
}

type role uint8

const (
	roleUser role = iota + 1
	roleAssistant
)

// turnBuilder groups content blocks into turns. Consecutive blocks of one role share
// a turn: the API requires every tool_result answering one assistant turn to sit in
// the single user turn after it, and would merge consecutive same-role turns anyway.
// A tool result never joins a turn that began with user text, because tool_result
// blocks must lead their turn.
type turnBuilder struct {
	turns []turn
}

type turn struct {
	role        role
	toolResults bool // every block so far is a tool_result
	blocks      []anthropic.ContentBlockParamUnion
}

func (b *turnBuilder) add(r role, toolResult bool, block anthropic.ContentBlockParamUnion) {
	if n := len(b.turns); n > 0 {
		last := &b.turns[n-1]
		if last.role == r && (!toolResult || last.toolResults) {
			last.blocks = append(last.blocks, block)
			last.toolResults = last.toolResults && toolResult
			return
		}
	}
	b.turns = append(b.turns, turn{role: r, toolResults: toolResult, blocks: []anthropic.ContentBlockParamUnion{block}})
}

func (b *turnBuilder) messages() []anthropic.MessageParam {
	out := make([]anthropic.MessageParam, len(b.turns))
	for i, t := range b.turns {
		if t.role == roleAssistant {
			out[i] = anthropic.NewAssistantMessage(t.blocks...)
		} else {
			out[i] = anthropic.NewUserMessage(t.blocks...)
		}
	}
	return out
}

// toolInput returns the arguments of a past tool call as the object the API needs.
// llm.Accumulator keeps unparseable arguments as a JSON string, which is not one.
func toolInput(args json.RawMessage) json.RawMessage {
	trimmed := bytes.TrimSpace(args)
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return emptyObject
	}
	return trimmed
}

// inputSchema turns a tool's JSON Schema into the SDK's schema param. The SDK models
// only type, properties and required; every other keyword travels as an extra field
// so nothing in the schema is lost.
func inputSchema(raw json.RawMessage) (anthropic.ToolInputSchemaParam, error) {
	var schema anthropic.ToolInputSchemaParam
	if len(bytes.TrimSpace(raw)) == 0 {
		schema.Properties = emptyObject
		return schema, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return schema, fmt.Errorf("parameters are not a JSON object: %w", err)
	}
	if t, ok := fields["type"]; ok {
		var typ string
		if err := json.Unmarshal(t, &typ); err != nil || typ != "object" {
			return schema, errors.New(`parameters must be a schema of "type": "object"`)
		}
	}
	for k, v := range fields {
		switch k {
		case "type":
		case "properties":
			schema.Properties = v
		case "required":
			if err := json.Unmarshal(v, &schema.Required); err != nil {
				return schema, fmt.Errorf("parameters.required: %w", err)
			}
		default:
			if schema.ExtraFields == nil {
				schema.ExtraFields = make(map[string]any, len(fields))
			}
			schema.ExtraFields[k] = v
		}
	}
	if schema.Properties == nil {
		schema.Properties = emptyObject
	}
	return schema, nil
}
