package bedrock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	smithydocument "github.com/aws/smithy-go/document"

	"github.com/chatterhq/chatter/internal/llm"
)

// buildInput maps an llm.Request onto a ConverseStreamInput.
func buildInput(defaultModel string, req *llm.Request) (*bedrockruntime.ConverseStreamInput, error) {
	if req == nil {
		return nil, fmt.Errorf("nil request")
	}
	model := req.Model
	if model == "" {
		model = defaultModel
	}
	in := &bedrockruntime.ConverseStreamInput{ModelId: aws.String(model)}

	if req.System != "" {
		in.System = append(in.System, &types.SystemContentBlockMemberText{Value: req.System})
	}
	for i, m := range req.Messages {
		switch m.Role {
		case llm.RoleSystem:
			if m.Content != "" {
				in.System = append(in.System, &types.SystemContentBlockMemberText{Value: m.Content})
			}
		case llm.RoleUser:
			if m.Content != "" {
				in.Messages = appendBlocks(in.Messages, types.ConversationRoleUser, &types.ContentBlockMemberText{Value: m.Content})
			}
		case llm.RoleAssistant:
			var blocks []types.ContentBlock
			// Bedrock rejects blank text blocks, which an assistant turn that only
			// calls tools would otherwise carry.
			if m.Content != "" {
				blocks = append(blocks, &types.ContentBlockMemberText{Value: m.Content})
			}
			for _, tc := range m.ToolCalls {
				input, err := toolInput(tc.Arguments)
				if err != nil {
					return nil, fmt.Errorf("message %d: tool call %q: %w", i, tc.ID, err)
				}
				blocks = append(blocks, &types.ContentBlockMemberToolUse{Value: types.ToolUseBlock{
					ToolUseId: aws.String(tc.ID),
					Name:      aws.String(tc.Name),
					Input:     input,
				}})
			}
			in.Messages = appendBlocks(in.Messages, types.ConversationRoleAssistant, blocks...)
		case llm.RoleTool:
			res := types.ToolResultBlock{
				ToolUseId: aws.String(m.ToolCallID),
				Content:   []types.ToolResultContentBlock{&types.ToolResultContentBlockMemberText{Value: m.Content}},
				Status:    types.ToolResultStatusSuccess,
			}
			if m.IsError {
				res.Status = types.ToolResultStatusError
			}
			in.Messages = appendBlocks(in.Messages, types.ConversationRoleUser, &types.ContentBlockMemberToolResult{Value: res})
		default:
			return nil, fmt.Errorf("message %d: unknown role %q", i, m.Role)
		}
	}

	if len(req.Tools) > 0 {
		tc := &types.ToolConfiguration{Tools: make([]types.Tool, 0, len(req.Tools))}
		for _, t := range req.Tools {
			schema, err := toolSchema(t.Parameters)
			if err != nil {
				return nil, fmt.Errorf("tool %q: %w", t.Name, err)
			}
			spec := types.ToolSpecification{
				Name:        aws.String(t.Name),
				InputSchema: &types.ToolInputSchemaMemberJson{Value: schema},
			}
			if t.Description != "" {
				spec.Description = aws.String(t.Description)
			}
			tc.Tools = append(tc.Tools, &types.ToolMemberToolSpec{Value: spec})
		}
		in.ToolConfig = tc
	}

	if req.Temperature != nil || req.MaxTokens > 0 {
		ic := &types.InferenceConfiguration{}
		if req.Temperature != nil {
			ic.Temperature = aws.Float32(float32(*req.Temperature))
		}
		if req.MaxTokens > 0 {
			ic.MaxTokens = aws.Int32(int32(min(req.MaxTokens, math.MaxInt32)))
		}
		in.InferenceConfig = ic
	}
	return in, nil
}

// appendBlocks adds blocks as a turn of role, joining the previous message when it
// has the same role: Converse requires user and assistant turns to alternate, and all
// results answering one assistant turn must arrive in a single user message.
func appendBlocks(msgs []types.Message, role types.ConversationRole, blocks ...types.ContentBlock) []types.Message {
	if len(blocks) == 0 {
		return msgs
	}
	if n := len(msgs); n > 0 && msgs[n-1].Role == role {
		msgs[n-1].Content = append(msgs[n-1].Content, blocks...)
		return msgs
	}
	return append(msgs, types.Message{Role: role, Content: blocks})
}

// toolInput turns a tool call's JSON arguments into the document Bedrock expects.
// Converse only accepts a JSON object here; arguments that are not one (the model
// produced invalid JSON, kept by llm.Accumulator as a JSON string) are sent as
// {"arguments": <value>} so the turn is still accepted and the model sees what it sent.
func toolInput(args json.RawMessage) (document.Interface, error) {
	if len(bytes.TrimSpace(args)) == 0 {
		return document.NewLazyDocument(map[string]any{}), nil
	}
	v, err := decodeJSON(args)
	if err != nil {
		return nil, fmt.Errorf("arguments: %w", err)
	}
	if _, ok := v.(map[string]any); !ok {
		v = map[string]any{"arguments": v}
	}
	return document.NewLazyDocument(v), nil
}

// toolSchema turns a JSON Schema into a document; an absent schema means a tool
// without parameters.
func toolSchema(params json.RawMessage) (document.Interface, error) {
	if len(bytes.TrimSpace(params)) == 0 {
		return document.NewLazyDocument(map[string]any{"type": "object", "properties": map[string]any{}}), nil
	}
	v, err := decodeJSON(params)
	if err != nil {
		return nil, fmt.Errorf("parameters: %w", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf("parameters: JSON Schema must be an object")
	}
	return document.NewLazyDocument(v), nil
}

// decodeJSON decodes keeping numbers exact: float64 would round large integers in
// tool arguments, and the document encoder writes smithy Numbers verbatim.
func decodeJSON(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return toDocumentNumbers(v), nil
}

func toDocumentNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		return smithydocument.Number(t)
	case map[string]any:
		for k, e := range t {
			t[k] = toDocumentNumbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = toDocumentNumbers(e)
		}
	}
	return v
}
