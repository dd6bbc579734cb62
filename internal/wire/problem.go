package wire

// FieldError is one problem with one request field.
type FieldError struct {
	Field   string `json:"field"` // JSON pointer (/nodes/0/id) or a top-level field name
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem details body, every error answer of chatter's
// routes; Code is one of errcode's codes and Type is ProblemTypePrefix + Code.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Instance  string       `json:"instance,omitempty"`
	Code      string       `json:"code"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
	// Set when a run was started, so clients can find what was stored.
	ExecutionID    string `json:"execution_id,omitempty"`
	ConversationID string `json:"conversation_id,omitempty"`
}

// ProblemTypePrefix prefixes the code to form a problem's type URI.
const ProblemTypePrefix = "urn:chatter:problem:"
