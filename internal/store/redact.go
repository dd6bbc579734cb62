package store

import "encoding/json"

// Deleting a conversation deletes its messages and every response kept for an
// Idempotency-Key that names it, and redacts its executions: an execution record
// outlives its conversation (usage, cost and analytics are per execution, and must
// stay right), but without the content. What counts as content is decided here,
// once: the reply (Output), tool call arguments and results, and error texts (a
// node's error may quote the message or a tool's answer). What stays: ids, status,
// error codes, tokens, cost, counts, timings, the node log's steps and details
// (built from counts, ids and configuration, never from content), and metadata
// (the caller's tags for the run, not part of the conversation) but its
// MetadataInputData: the input_data an execute request sent is content.
//
// Redaction is permanent: UpdateExecution keeps a redacted record redacted whatever
// the update sets, so a late or redelivered event cannot bring the content back,
// and a turn still running when its conversation goes cannot store its reply (its
// final write needs the conversation).

// MetadataInputData is the Execution.Metadata key under which a run keeps the
// input_data of its execute request (shown back as the old contract's input_data).
const MetadataInputData = "input_data"

// Redact empties every field of e that holds conversation content and marks it
// redacted. It never edits slices e shares with its caller.
func (e *Execution) Redact() {
	e.Output, e.ErrorMessage, e.Redacted = "", "", true
	if _, ok := e.Metadata[MetadataInputData]; ok {
		md := make(map[string]any, len(e.Metadata)-1)
		for k, v := range e.Metadata {
			if k != MetadataInputData {
				md[k] = v
			}
		}
		e.Metadata = md
	}
	if len(e.ToolCallRecords) > 0 {
		tcs := make([]ToolCallRecord, len(e.ToolCallRecords))
		for i, tc := range e.ToolCallRecords {
			// The arguments stay a JSON object, as readers expect, with nothing in it.
			tcs[i] = ToolCallRecord{ID: tc.ID, Name: tc.Name, Arguments: json.RawMessage(`{}`), IsError: tc.IsError,
				DurationMS: tc.DurationMS}
		}
		e.ToolCallRecords = tcs
	}
	if len(e.Log) > 0 {
		log := make([]NodeRun, len(e.Log))
		copy(log, e.Log)
		for i := range log {
			log[i].Error = ""
		}
		e.Log = log
	}
}

// ExecutionIDs returns the distinct execution ids of a conversation's messages, in
// order: every execution of a conversation stored its user message with its id in
// the same write (StartTurn).
func ExecutionIDs(ms []Message) []string {
	var ids []string
	seen := map[string]bool{}
	for _, m := range ms {
		if m.ExecutionID != "" && !seen[m.ExecutionID] {
			seen[m.ExecutionID] = true
			ids = append(ids, m.ExecutionID)
		}
	}
	return ids
}
