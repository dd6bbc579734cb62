package store

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// Budgets that keep every item far below DynamoDB's 400 KB item limit whatever a
// model or a tool produced: the content cap bounds what users send, these bound what
// the run adds around it.
const (
	MaxToolCallsBytes = 96 << 10  // encoded tool calls of one message
	MaxLogBytes       = 64 << 10  // encoded node log of one execution
	MaxEventDataBytes = 256 << 10 // one event's data (the final event carries the output)
	MaxResponseBytes  = 256 << 10 // a response kept for an idempotency key
	MaxRecordBytes    = 300 << 10 // any one encoded record (a definition graph, an execution)
	truncMark         = "…[truncated]"
)

// TimeKey formats t as a fixed-width UTC string whose byte order is time order, for
// sort keys and cursors.
func TimeKey(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}

// SeqKey formats a sequence number so that byte order is numeric order.
func SeqKey(n int) string { return fmt.Sprintf("%010d", n) }

// PrepareMessage checks a message before it is stored and trims what the run added
// around the content (tool results) to the item budget. Returns invalid for a message
// without owner or conversation, too_large over the content cap.
func PrepareMessage(m *Message, maxContent int) error {
	if m == nil || m.UserID == "" || m.ConversationID == "" || m.ID == "" {
		return Invalid("a message needs an id, a user id and a conversation id")
	}
	if err := CheckContent(m.Content, maxContent); err != nil {
		return err
	}
	if toolCallsSize(m.ToolCalls) > MaxToolCallsBytes {
		m.ToolCalls = append([]ToolCallRecord(nil), m.ToolCalls...) // never edit the caller's records
	}
	for toolCallsSize(m.ToolCalls) > MaxToolCallsBytes {
		longest := -1
		for i, tc := range m.ToolCalls {
			if len(tc.Result) > 256 && (longest < 0 || len(tc.Result) > len(m.ToolCalls[longest].Result)) {
				longest = i
			}
		}
		if longest < 0 {
			return &Error{Code: CodeTooLarge, Message: "tool call arguments exceed " + itoa(MaxToolCallsBytes) + " bytes"}
		}
		r := m.ToolCalls[longest].Result
		m.ToolCalls[longest].Result = Truncate(r, len(r)/2) + truncMark
	}
	return nil
}

func toolCallsSize(tcs []ToolCallRecord) int {
	if len(tcs) == 0 {
		return 0
	}
	b, _ := json.Marshal(tcs)
	return len(b)
}

// PrepareExecution bounds an execution's output and node log to the item budget.
// The full output stays in the run's Result and its events.
func PrepareExecution(e *Execution, maxContent int) error {
	if e == nil || e.ID == "" || e.UserID == "" {
		return Invalid("an execution needs an id and a user id")
	}
	if maxContent > 0 && len(e.Output) > maxContent {
		e.Output = Truncate(e.Output, maxContent)
	}
	if b, _ := json.Marshal(e.Log); len(b) > MaxLogBytes {
		e.Log = trimLog(e.Log)
	}
	// The output is stored as it is, beside the encoded rest (JSON escaping could
	// inflate it several times).
	rest := *e
	rest.Output = ""
	b, err := json.Marshal(&rest)
	if err != nil {
		return Invalid("execution: %v", err)
	}
	if len(b)+len(e.Output) > MaxRecordBytes {
		return &Error{Code: CodeTooLarge, Message: fmt.Sprintf("execution record is %d bytes; at most %d allowed (metadata too large?)",
			len(b)+len(e.Output), MaxRecordBytes)}
	}
	return nil
}

// trimLog shortens node details, then drops the log's tail, until it fits.
func trimLog(in []NodeRun) []NodeRun {
	log := make([]NodeRun, len(in))
	copy(log, in)
	for i := range log {
		log[i].Detail = Truncate(log[i].Detail, 128)
		log[i].Error = Truncate(log[i].Error, 512)
	}
	for len(log) > 1 {
		if b, _ := json.Marshal(log); len(b) <= MaxLogBytes {
			break
		}
		log = log[:len(log)*3/4]
	}
	return log
}

// Truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// CheckRecordSize returns too_large when v encodes to more than MaxRecordBytes,
// so an oversize record is a typed error rather than DynamoDB's item-size failure.
func CheckRecordSize(kind string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return Invalid("%s: %v", kind, err)
	}
	if len(b) > MaxRecordBytes {
		return &Error{Code: CodeTooLarge, Message: fmt.Sprintf("%s is %d bytes encoded; at most %d allowed", kind, len(b), MaxRecordBytes)}
	}
	return nil
}
