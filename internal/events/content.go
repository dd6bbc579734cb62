package events

// Conversation content travels in events only as far as it must: the terminal
// event's output reaches the record subscriber (which fills a record the executor
// could not write) and the bus. Everything that keeps events — log lines and the
// stored event log — keeps them WithoutContent, so neither holds what a user wrote
// or was answered, and deleting a conversation has nothing to find there.

// WithoutContent returns e with every data field that can hold conversation content
// emptied: the reply (its size stays, as output_bytes) and error texts, which may
// quote the message or a tool's answer (error codes and statuses stay). Ids, counts,
// tokens, cost and timings are kept. Data of a type this build does not know is
// dropped: it cannot be told free of content.
func (e Event) WithoutContent() Event {
	switch d := e.Data.(type) {
	case nil, WorkflowStartedData, LLMLoadedData, ToolsLoadedData, RetrieverLoadedData, ToolCalledData,
		TokenUsageData, MessageSavedData, SummaryFailedData, ExecutionWaitingData, ExecutionResumedData:
	case NodeExecutedData:
		d.Error = ""
		e.Data = d
	case ExecutionEndData:
		e.Data = d.withoutContent()
	case *ExecutionEndData:
		e.Data = nil
		if d != nil {
			e.Data = d.withoutContent()
		}
	default:
		e.Data = nil
	}
	return e
}

func (d ExecutionEndData) withoutContent() ExecutionEndData {
	if d.Output != "" {
		d.OutputBytes = len(d.Output)
	}
	d.Output, d.ErrorMessage = "", ""
	return d
}
