package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"

	"github.com/chatterhq/chatter/internal/llm"
)

// params maps an llm.Request to the SDK's request body. It fails only on input the
// API would reject anyway (no model, an unknown role, a schema that is not JSON), so
// the caller gets invalid_request without a round trip.
func (p *Provider) params(req *llm.Request) (openai.ChatCompletionNewParams, error) {
	var params openai.ChatCompletionNewParams
	if req == nil {
		return params, errors.New("nil request")
	}
	model := req.Model
	if model == "" {
		model = p.model
	}
	if model == "" {
		return params, errors.New("no model: set Request.Model or OPENAI_MODEL")
	}
	params.Model = model

	msgs := make([]openai.ChatCompletionMessageParamUnion, 0, len(req.Messages)+1)
	if req.System != "" {
		msgs = append(msgs, openai.SystemMessage(req.System))
	}
	for i := range req.Messages {
		m, err := message(&req.Messages[i])
		if err != nil {
			return params, fmt.Errorf("message %d: %w", i, err)
		}
		msgs = append(msgs, m)
	}
	params.Messages = msgs

	if len(req.Tools) > 0 {
		params.Tools = make([]openai.ChatCompletionToolUnionParam, len(req.Tools))
		for i, t := range req.Tools {
			schema, err := toolSchema(t.Parameters)
			if err != nil {
				return params, fmt.Errorf("tool %q: parameters: %w", t.Name, err)
			}
			def := shared.FunctionDefinitionParam{Name: t.Name, Parameters: schema}
			if t.Description != "" {
				def.Description = openai.String(t.Description)
			}
			params.Tools[i] = openai.ChatCompletionFunctionTool(def)
		}
	}
	if req.Temperature != nil {
		params.Temperature = openai.Float(*req.Temperature)
	}
	if req.MaxTokens > 0 {
		// api.openai.com rejects max_tokens for reasoning models and documents it as
		// deprecated, while Ollama and LM Studio only read max_tokens (vLLM reads
		// both). So the field follows the endpoint: max_completion_tokens for OpenAI
		// itself, max_tokens for every compatible server behind a custom BaseURL.
		if p.maxCompletionTokens {
			params.MaxCompletionTokens = openai.Int(int64(req.MaxTokens))
		} else {
			params.MaxTokens = openai.Int(int64(req.MaxTokens))
		}
	}
	// Without include_usage a streamed completion reports no token counts at all.
	params.StreamOptions.IncludeUsage = openai.Bool(true)
	return params, nil
}

func message(m *llm.Message) (openai.ChatCompletionMessageParamUnion, error) {
	switch m.Role {
	case llm.RoleSystem:
		return openai.SystemMessage(m.Content), nil
	case llm.RoleUser:
		u := openai.UserMessage(m.Content)
		if m.Name != "" {
			u.OfUser.Name = openai.String(m.Name)
		}
		return u, nil
	case llm.RoleAssistant:
		var a openai.ChatCompletionAssistantMessageParam
		// content may be absent when the turn only calls tools; OpenAI rejects an
		// assistant message with neither.
		if m.Content != "" || len(m.ToolCalls) == 0 {
			a.Content.OfString = openai.String(m.Content)
		}
		if len(m.ToolCalls) > 0 {
			a.ToolCalls = make([]openai.ChatCompletionMessageToolCallUnionParam, len(m.ToolCalls))
			for i, tc := range m.ToolCalls {
				args := string(tc.Arguments)
				if len(bytes.TrimSpace(tc.Arguments)) == 0 {
					args = "{}"
				}
				a.ToolCalls[i] = openai.ChatCompletionMessageToolCallUnionParam{
					OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
						ID: tc.ID,
						Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{
							Name:      tc.Name,
							Arguments: args,
						},
					},
				}
			}
		}
		return openai.ChatCompletionMessageParamUnion{OfAssistant: &a}, nil
	case llm.RoleTool:
		if m.ToolCallID == "" {
			return openai.ChatCompletionMessageParamUnion{}, errors.New("tool message without tool_call_id")
		}
		content := m.Content
		// The API has no error flag on tool results; saying so in the text is the
		// only way the model learns the call failed.
		if m.IsError {
			content = "Error: " + content
		}
		return openai.ToolMessage(content, m.ToolCallID), nil
	}
	return openai.ChatCompletionMessageParamUnion{}, fmt.Errorf("unknown role %q", m.Role)
}

// toolSchema decodes a JSON Schema into the map the SDK wants. Numbers go through
// float64 (exact for any bound a schema realistically has); json.Number is not an
// option because the SDK's encoder would write it as a string.
func toolSchema(raw json.RawMessage) (shared.FunctionParameters, error) {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return shared.FunctionParameters{"type": "object", "properties": map[string]any{}}, nil
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		return nil, err
	}
	if schema == nil {
		return nil, errors.New("not a JSON object")
	}
	return schema, nil
}
