package events

import (
	"encoding/json"
	"fmt"

	awsevents "github.com/aws/aws-lambda-go/events"
)

// UnmarshalJSON decodes a detail and gives Data the typed struct of its event type,
// so subscribers read the same values the executor emitted. Data of an unknown type
// stays as raw JSON, so a newer producer does not break an older subscriber.
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event // no methods, so no recursion
	var raw struct {
		plain
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*e = Event(raw.plain)
	e.Data = nil
	if len(raw.Data) == 0 || string(raw.Data) == "null" {
		return nil
	}
	data := newData(e.Type)
	if data == nil {
		e.Data = raw.Data
		return nil
	}
	if err := json.Unmarshal(raw.Data, data); err != nil {
		return fmt.Errorf("event %s (%s): data: %w", e.ID, e.Type, err)
	}
	e.Data = derefData(data)
	return nil
}

// newData returns a pointer to the zero data struct of an event type, or nil.
func newData(typ string) any {
	switch typ {
	case WorkflowStarted:
		return &WorkflowStartedData{}
	case LLMLoaded:
		return &LLMLoadedData{}
	case ToolsLoaded:
		return &ToolsLoadedData{}
	case RetrieverLoaded:
		return &RetrieverLoadedData{}
	case NodeExecuted:
		return &NodeExecutedData{}
	case ToolCalled:
		return &ToolCalledData{}
	case TokenUsage:
		return &TokenUsageData{}
	case MessageSaved:
		return &MessageSavedData{}
	case SummaryFailed:
		return &SummaryFailedData{}
	case ExecutionWaiting:
		return &ExecutionWaitingData{}
	case ExecutionResumed:
		return &ExecutionResumedData{}
	case ExecutionCompleted, ExecutionFailed, ExecutionCancelled:
		return &ExecutionEndData{}
	}
	return nil
}

// derefData turns the pointer from newData into the value the executor emits.
func derefData(p any) any {
	switch d := p.(type) {
	case *WorkflowStartedData:
		return *d
	case *LLMLoadedData:
		return *d
	case *ToolsLoadedData:
		return *d
	case *RetrieverLoadedData:
		return *d
	case *NodeExecutedData:
		return *d
	case *ToolCalledData:
		return *d
	case *TokenUsageData:
		return *d
	case *MessageSavedData:
		return *d
	case *SummaryFailedData:
		return *d
	case *ExecutionWaitingData:
		return *d
	case *ExecutionResumedData:
		return *d
	case *ExecutionEndData:
		return *d
	}
	return p
}

// EndData returns the totals of a terminal event, whether Data holds the value or a
// pointer to it.
func (e *Event) EndData() (ExecutionEndData, bool) {
	switch d := e.Data.(type) {
	case ExecutionEndData:
		return d, true
	case *ExecutionEndData:
		if d != nil {
			return *d, true
		}
	}
	return ExecutionEndData{}, false
}

// Envelope is how an event arrives at a subscriber: EventBridge's envelope, with
// the Event as its detail. Locally the same JSON is the body of an SQS message.
type Envelope = awsevents.CloudWatchEvent

// DecodeError reports an envelope that is not a chatter event. Retrying it cannot
// help, so a subscriber may drop it (it is logged, and the DLQ keeps nothing useful).
type DecodeError struct {
	Reason string
	Err    error
}

func (e *DecodeError) Error() string {
	if e.Err != nil {
		return "decoding event: " + e.Reason + ": " + e.Err.Error()
	}
	return "decoding event: " + e.Reason
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Decode reads the Event carried by an EventBridge envelope and checks that the
// envelope and the detail agree on what it is.
func Decode(env Envelope) (Event, error) {
	if env.Source != Source {
		return Event{}, &DecodeError{Reason: fmt.Sprintf("source %q is not %q", env.Source, Source)}
	}
	var e Event
	if err := json.Unmarshal(env.Detail, &e); err != nil {
		return Event{}, &DecodeError{Reason: "detail", Err: err}
	}
	switch {
	case e.Type != env.DetailType:
		return Event{}, &DecodeError{Reason: fmt.Sprintf("detail type %q differs from detail-type %q", e.Type, env.DetailType)}
	case e.ID == "" || e.ExecutionID == "" || e.Seq < 1:
		// user_id may be empty: a request without one fails preparation, and that
		// failure is still an event worth counting.
		return Event{}, &DecodeError{Reason: "detail lacks id, execution_id or seq"}
	}
	return e, nil
}
