// Package fromstore converts chatter's stored records — conversations, messages and
// execution records — to their wire shapes (package wire), one conversion each, so
// every route that shows one (the old paths, chatter's own /executions and
// /conversations, a chat answer's message and conversation objects) shows it alike.
// The choices where the old contract is silent are package wire's.
package fromstore

import (
	"math"
	"strconv"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/workflow"
)

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// millis rounds a duration in milliseconds to the old contract's integer.
func millis(ms float64) int { return int(math.Round(ms)) }

// Conversation converts a stored conversation.
func Conversation(c *store.Conversation) wire.Conversation {
	st := c.Settings
	out := wire.Conversation{ID: c.ID, UserID: c.UserID, Title: c.Title, Description: nonEmpty(st.Description),
		ProfileID: nonEmpty(st.ProfileID), Status: c.StatusOrActive(), LLMProvider: nonEmpty(c.Provider),
		LLMModel: nonEmpty(c.Model), Temperature: st.Temperature, MaxTokens: st.MaxTokens,
		EnableRetrieval: st.EnableRetrieval, MessageCount: c.MessageCount, TotalTokens: c.TotalTokens,
		TotalCost: c.TotalCost, SystemPrompt: st.SystemPrompt, ContextWindow: workflow.DefaultMemoryWindow,
		MemoryEnabled: true, RetrievalLimit: workflow.DefaultTopK, Tags: st.Tags, ExtraMetadata: st.ExtraMetadata,
		WorkflowConfig: st.WorkflowConfig, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Version: c.Version,
		Summary: c.Summary}
	if c.MessageCount > 0 {
		t := c.LastMessageAt
		out.LastMessageAt = &t
	}
	return out
}

// Message converts a stored message.
func Message(m *store.Message) wire.Message {
	out := wire.Message{Role: string(m.Role), Content: m.Content, ID: m.ID, ConversationID: m.ConversationID,
		SequenceNumber: m.Seq, Rating: m.Rating, RatingCount: m.RatingCount, CreatedAt: m.CreatedAt, Seq: m.Seq,
		Status: m.Status, ExecutionID: m.ExecutionID, ToolCalls: m.ToolCalls, Sources: m.Sources, CostKnown: m.CostKnown}
	if m.Role == llm.RoleAssistant {
		in, outT, total := m.InputTokens, m.OutputTokens, m.InputTokens+m.OutputTokens
		rt := millis(m.ResponseTimeMS)
		out.PromptTokens, out.CompletionTokens, out.TotalTokens, out.ResponseTimeMS = &in, &outT, &total, &rt
		out.ModelUsed, out.ProviderUsed = nonEmpty(m.Model), nonEmpty(m.Provider)
		if m.CostKnown {
			cost := m.Cost
			out.Cost = &cost
		}
	}
	return out
}

// Messages converts stored messages (never nil).
func Messages(ms []store.Message) []wire.Message {
	out := make([]wire.Message, len(ms))
	for i := range ms {
		out[i] = Message(&ms[i])
	}
	return out
}

// Execution converts an execution record to its list view (no node log).
func Execution(e *store.Execution) wire.Execution {
	started := e.StartedAt
	out := wire.Execution{ID: e.ID, OwnerID: e.UserID, Status: e.Status, StartedAt: &started, CreatedAt: &started,
		UpdatedAt: &started,
		OutputData: &wire.Output{Response: e.Output, MessageID: e.MessageID, ToolCalls: e.ToolCallRecords,
			Sources: []wire.Passage{}, Variables: map[string]any{}},
		TokensUsed: e.Usage.Total(), Cost: e.Cost, ExecutionID: e.ID, ConversationID: e.ConversationID,
		Source: e.Source, Usage: Usage(e.Usage, e.Cost, e.CostKnown),
		Steps: e.Steps, ToolCalls: e.ToolCalls, DurationMS: e.DurationMS, Mode: e.Mode, Provider: e.Provider,
		Model: e.Model, Redacted: e.Redacted, CancelRequested: e.CancelRequested, CancelledBy: e.CancelledBy}
	if store.Live(e.Status) && !e.Deadline.IsZero() {
		dl := e.Deadline
		out.Deadline = &dl
	}
	if e.Source.Kind == "definition" {
		out.DefinitionID = e.Source.ID
	}
	if w := e.Waiting; w != nil && e.Status == store.ExecWaiting {
		out.Waiting = &wire.Waiting{NodeID: w.NodeID, Prompt: w.Prompt, Input: w.Input, ExpiresAt: e.Deadline,
			Resume: wire.ResumePath(e.ID)}
	}
	if out.OutputData.ToolCalls == nil {
		out.OutputData.ToolCalls = []store.ToolCallRecord{}
	}
	if !e.FinishedAt.IsZero() {
		done := e.FinishedAt
		ms := millis(e.DurationMS)
		out.CompletedAt, out.UpdatedAt, out.ExecutionTimeMS = &done, &done, &ms
	}
	if e.ErrorCode != "" {
		out.Error = &wire.ErrorBody{Code: e.ErrorCode, Message: e.ErrorMessage, NodeID: e.ErrorNodeID}
		msg := e.ErrorCode
		if e.ErrorMessage != "" {
			msg += ": " + e.ErrorMessage
		}
		out.ErrorMessage = &msg
	}
	return out
}

// ExecutionDetail converts an execution record to its detail view.
func ExecutionDetail(e *store.Execution) wire.ExecutionDetail {
	d := wire.ExecutionDetail{Execution: Execution(e), Logs: LogEntries(e)}
	d.ExecutionLog = e.Log
	if d.ExecutionLog == nil {
		d.ExecutionLog = []store.NodeRun{}
	}
	return d
}

// LogEntries is an execution's log: its start, each node visit in order, and its
// end once it has one.
func LogEntries(e *store.Execution) []wire.LogEntry {
	out := make([]wire.LogEntry, 0, len(e.Log)+2)
	out = append(out, wire.LogEntry{Timestamp: e.StartedAt, Level: wire.LevelInfo,
		Message: "execution started: " + sourceText(e.Source) + ", " + e.Mode + " mode",
		Data:    map[string]any{"source": e.Source, "mode": e.Mode, "conversation_id": e.ConversationID}})
	for i := range e.Log {
		n := &e.Log[i]
		level, verb := wire.LevelInfo, "ran"
		switch n.Status {
		case "error":
			level, verb = wire.LevelError, "failed"
		case "skipped":
			level, verb = wire.LevelWarning, "was skipped"
		}
		msg := "node " + n.NodeID + " (" + n.Kind + ") " + verb
		if n.Error != "" {
			msg += ": " + n.Error
		} else if n.Detail != "" {
			msg += ": " + n.Detail
		}
		id, kind, ms := n.NodeID, n.Kind, millis(n.DurationMS)
		data := map[string]any{"step": n.Step, "kind": n.Kind, "status": n.Status, "duration_ms": n.DurationMS}
		if n.Detail != "" {
			data["detail"] = n.Detail
		}
		if n.Error != "" {
			data["error"] = n.Error
		}
		out = append(out, wire.LogEntry{Timestamp: n.StartedAt, Level: level, NodeID: &id, StepName: &kind, Message: msg,
			Data: data, ExecutionTimeMS: &ms})
	}
	if store.Terminal(e.Status) {
		ms := millis(e.DurationMS)
		end := wire.LogEntry{Timestamp: e.FinishedAt, Level: wire.LevelInfo, Message: "execution " + e.Status,
			Data:            map[string]any{"status": e.Status, "steps": e.Steps, "tokens": e.Usage.Total(), "tool_calls": e.ToolCalls},
			ExecutionTimeMS: &ms}
		if e.FinishedAt.IsZero() {
			end.Timestamp = e.StartedAt
		}
		if e.ErrorCode != "" {
			end.Level, end.Message = wire.LevelError, end.Message+": "+e.ErrorCode
			if e.ErrorMessage != "" {
				end.Message += ": " + e.ErrorMessage
			}
			end.Data["error_code"] = e.ErrorCode
			if e.ErrorNodeID != "" {
				id := e.ErrorNodeID
				end.NodeID = &id
			}
		}
		out = append(out, end)
	}
	return out
}

func sourceText(s store.SourceRef) string {
	t := s.Kind
	if s.ID != "" {
		t += " " + s.ID
	} else if s.Name != "" {
		t += " " + s.Name
	}
	if s.Version > 0 {
		t += " v" + strconv.Itoa(s.Version)
	}
	return t
}

// Usage is token usage as chatter counts it (llm.Usage) with its cost, in the wire
// shape: the one conversion every answer, frame and event uses.
func Usage(u llm.Usage, cost float64, known bool) *wire.Usage {
	return &wire.Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, TotalTokens: u.Total(),
		CacheReadTokens: u.CacheReadTokens, CacheWriteTokens: u.CacheWriteTokens, Cost: cost, CostKnown: known}
}
