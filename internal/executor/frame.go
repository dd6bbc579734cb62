package executor

import "encoding/json"

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
	*UsageBody
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

func legacyUsage(u *UsageBody) *frameUsage {
	if u == nil {
		return nil
	}
	return &frameUsage{UsageBody: u, PromptTokens: u.InputTokens, CompletionTokens: u.OutputTokens}
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
		Usage *UsageBody `json:"usage"`
		Error string     `json:"error"`
		Code  string     `json:"code"`
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
