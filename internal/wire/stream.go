package wire

import (
	"encoding/json"
)

// Chunk types, in the order a client sees them.
const (
	ChunkStart        = "start"
	ChunkNodeStarted  = "node_started"
	ChunkNodeFinished = "node_finished"
	ChunkToken        = "token"
	ChunkToolCall     = "tool_call"
	ChunkToolResult   = "tool_result"
	ChunkSources      = "sources"
	ChunkUsage        = "usage"
	ChunkComplete     = "complete"
	ChunkError        = "error"
	ChunkDone         = "done"
	// ChunkWaiting ends an invocation that stopped at a human node (then done):
	// the run waits for a person (waiting says for what).
	ChunkWaiting = "waiting"
)

// Chunk is one piece of a run as it happens. Seq numbers a run's chunks from 1 (the
// SSE id). Its JSON is the frame's data (MarshalJSON below), the one stream shape:
// the executor produces chunks, the HTTP layer writes them, the CLI and tests read
// them back.
type Chunk struct {
	Seq            int           `json:"-"`
	Type           string        `json:"type"`
	ExecutionID    string        `json:"execution_id,omitempty"`
	ConversationID string        `json:"conversation_id,omitempty"`
	MessageID      string        `json:"message_id,omitempty"` // the stored reply, on the chunks that end a run
	NodeID         string        `json:"node_id,omitempty"`
	Kind           string        `json:"kind,omitempty"`
	Content        string        `json:"content,omitempty"`
	Tool           *ToolChunk    `json:"tool,omitempty"`
	Sources        []Passage     `json:"sources,omitempty"`
	Usage          *Usage        `json:"usage,omitempty"`
	Response       *ChatResponse `json:"response,omitempty"`
	Error          *ErrorBody    `json:"error,omitempty"`
	DurationMS     float64       `json:"duration_ms,omitempty"`
	Waiting        *Waiting      `json:"waiting,omitempty"`
}

// ToolChunk describes a tool call or its result.
type ToolChunk struct {
	CallID     string  `json:"call_id"`
	Name       string  `json:"name"`
	Arguments  string  `json:"arguments,omitempty"`
	Result     string  `json:"result,omitempty"`
	IsError    bool    `json:"is_error,omitempty"`
	Skipped    string  `json:"skipped,omitempty"` // why the call was not made (ToolCall.Skipped)
	DurationMS float64 `json:"duration_ms,omitempty"`
}

// ChatResponse is the standard chat answer: the predecessor's ChatResponse
// (conversation_id, the reply as message, the conversation after the turn) with
// chatter's reply text, execution, usage, cost, tool calls and sources beside it.
// message and conversation are absent only on a run that stored no reply.
type ChatResponse struct {
	ConversationID string        `json:"conversation_id"`
	Message        *Message      `json:"message,omitempty"`
	Conversation   *Conversation `json:"conversation,omitempty"`

	Response       string     `json:"response"`
	MessageID      string     `json:"message_id,omitempty"`
	ExecutionID    string     `json:"execution_id"`
	Status         string     `json:"status"`
	WorkflowType   string     `json:"workflow_type"`
	Provider       string     `json:"provider,omitempty"`
	Model          string     `json:"model,omitempty"`
	TokensUsed     int        `json:"tokens_used"`
	Usage          *Usage     `json:"usage"`
	Cost           float64    `json:"cost"`
	CostKnown      bool       `json:"cost_known"`
	ToolCalls      []ToolCall `json:"tool_calls"`
	Sources        []Passage  `json:"sources"`
	ResponseTimeMS float64    `json:"response_time_ms"`
	Error          *ErrorBody `json:"error,omitempty"`
	// Waiting: the run stopped at a human node (status waiting); the response is
	// the reply so far.
	Waiting *Waiting `json:"waiting,omitempty"`
}

// A Chunk's JSON is the data of one SSE frame, and it is also what the
// predecessor's clients parse: its chunk model (type, content, usage,
// conversation_id, message_id), its error chunk ({"type": "error", "error":
// "<message>"}) and its web frontend, which switches on type — start, token
// (content), complete (metadata.total_tokens, model_used, response_time_ms), error
// (error as a string) — and stops at "data: [DONE]". chatter's own frame types and
// fields stay; where a name collides the old meaning wins and chatter's moves
// beside it:
//
//   - error is the message, a string; the code is in code (and the node in node_id).
//   - usage carries the old prompt_tokens and completion_tokens beside input_tokens
//     and output_tokens.
//   - complete, error and done name the conversation, the execution and the stored
//     reply (message_id); complete also has the old metadata; done repeats the
//     run's usage, so the last chunk of every run carries the token totals.
//
// UnmarshalJSON reads the same shape back (the CLI and tests decode frames into a
// Chunk).

// chunkFields is Chunk without its JSON methods; frame shadows the fields whose
// wire shape differs.
type chunkFields Chunk

// frame is a Chunk as it goes on the wire.
type frame struct {
	chunkFields
	Usage    *frameUsage    `json:"usage,omitempty"`
	Metadata *frameMetadata `json:"metadata,omitempty"`
	Error    string         `json:"error,omitempty"`
	Code     string         `json:"code,omitempty"`
}

// frameUsage is UsageBody with the predecessor's names for the same counts.
type frameUsage struct {
	*Usage
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// frameMetadata is what the predecessor's frontend reads from the complete chunk,
// in the predecessor's message names.
type frameMetadata struct {
	TotalTokens      int     `json:"total_tokens"`
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	ModelUsed        string  `json:"model_used,omitempty"`
	ProviderUsed     string  `json:"provider_used,omitempty"`
	ResponseTimeMS   float64 `json:"response_time_ms"`
	Cost             float64 `json:"cost"`
}

func legacyUsage(u *Usage) *frameUsage {
	if u == nil {
		return nil
	}
	return &frameUsage{Usage: u, PromptTokens: u.InputTokens, CompletionTokens: u.OutputTokens}
}

// MarshalJSON writes the frame shape described above.
func (c Chunk) MarshalJSON() ([]byte, error) {
	f := frame{chunkFields: chunkFields(c), Usage: legacyUsage(c.Usage)}
	if c.Error != nil {
		f.Error, f.Code = c.Error.Message, c.Error.Code
		if f.Error == "" { // the old frontend shows error, and a generic text when it is empty
			f.Error = c.Error.Code
		}
		if f.NodeID == "" {
			f.NodeID = c.Error.NodeID
		}
	}
	if r := c.Response; r != nil {
		if f.Usage == nil {
			f.Usage = legacyUsage(r.Usage)
		}
		md := &frameMetadata{TotalTokens: r.TokensUsed, ModelUsed: r.Model, ProviderUsed: r.Provider,
			ResponseTimeMS: r.ResponseTimeMS, Cost: r.Cost}
		if r.Usage != nil {
			md.PromptTokens, md.CompletionTokens = r.Usage.InputTokens, r.Usage.OutputTokens
		}
		f.Metadata = md
	}
	return json.Marshal(f)
}

// UnmarshalJSON reads a frame written by MarshalJSON.
func (c *Chunk) UnmarshalJSON(b []byte) error {
	var f struct {
		chunkFields
		Usage *Usage `json:"usage"`
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*c = Chunk(f.chunkFields)
	c.Usage = f.Usage
	if f.Error != "" || f.Code != "" {
		c.Error = &ErrorBody{Code: f.Code, Message: f.Error, NodeID: f.NodeID}
	}
	return nil
}
