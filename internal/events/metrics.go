package events

import (
	"context"
	"encoding/json"
	"io"
	"sync"

	"github.com/chatterhq/chatter/internal/llm"
)

// DefaultNamespace is the CloudWatch namespace of workflow metrics.
const DefaultNamespace = "Chatter/Workflows"

// EMF limits (CloudWatch Embedded Metric Format specification).
const (
	MaxEMFMetrics      = 100
	MaxEMFDimensionSet = 30
	emfNoValue         = "none" // dimension values must not be empty
)

// Metrics turns events into CloudWatch Embedded Metric Format lines. A line is a
// function of its event alone (its timestamp is the event's time), so a redelivered
// event yields the very same line; event_id is a property of every line so such
// repeats can be told apart in Logs Insights.
type Metrics struct {
	// Namespace defaults to DefaultNamespace.
	Namespace string
	// WorkflowBounded reports whether a source's id comes from a small fixed set
	// (the built-in templates, say). Only then is it a dimension: a dimension per
	// user definition would be a metric per user. Nil means never.
	WorkflowBounded func(SourceRef) bool
}

// MetricsFor is Metrics{}.For: the EMF line of e in the default namespace.
func MetricsFor(e Event) ([]byte, bool) { return Metrics{}.For(e) }

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMeta struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

// For returns the EMF line of e (without a newline), or false when e carries no
// metric. Terminal events count executions (ExecutionCount, ExecutionFailed,
// ExecutionCancelled, ExecutionTimeMs, ToolCalls), except a request refused before
// its run started (ExecutionEndData.Rejected), counted as RequestRejected alone; token_usage carries TokensUsed
// and Cost per model call, under that call's provider and model; node_executed
// carries NodeDurationMs by node kind; execution_waiting counts ExecutionWaiting,
// execution_resumed ExecutionResumed and HumanWaitMs.
func (m Metrics) For(e Event) ([]byte, bool) {
	ns := m.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	doc := map[string]any{"event_id": e.ID, "execution_id": e.ExecutionID, "event_type": e.Type,
		"SourceKind": dimValue(e.Source.Kind)}
	var metrics []emfMetric
	var dims [][]string
	put := func(name, unit string, v float64) {
		metrics = append(metrics, emfMetric{Name: name, Unit: unit})
		doc[name] = v
	}
	workflow := m.WorkflowBounded != nil && e.Source.ID != "" && m.WorkflowBounded(e.Source)
	if workflow {
		doc["WorkflowID"] = e.Source.ID
	}
	switch d := e.Data.(type) {
	case ExecutionEndData:
		if !e.Terminal() {
			return nil, false
		}
		doc["Provider"], doc["Model"] = dimValue(d.Provider), modelDim(d.Provider, d.Model)
		doc["status"] = d.Status
		if d.ErrorCode != "" {
			doc["error_code"] = d.ErrorCode
		}
		if d.Rejected { // refused before it ran: a request, not an execution
			put("RequestRejected", "Count", 1)
			dims = [][]string{{"SourceKind"}}
			break
		}
		put("ExecutionCount", "Count", 1)
		put("ExecutionFailed", "Count", b2f(e.Type == ExecutionFailed))
		put("ExecutionCancelled", "Count", b2f(e.Type == ExecutionCancelled))
		put("ExecutionTimeMs", "Milliseconds", d.DurationMS)
		put("ToolCalls", "Count", float64(d.ToolCalls))
		dims = [][]string{{"SourceKind"}, {"SourceKind", "Provider", "Model"}}
		if workflow {
			dims = append(dims, []string{"SourceKind", "WorkflowID"})
		}
	case TokenUsageData:
		doc["Provider"], doc["Model"] = dimValue(d.Provider), modelDim(d.Provider, d.Model)
		put("TokensUsed", "Count", float64(llm.Usage{InputTokens: d.InputTokens, OutputTokens: d.OutputTokens,
			CacheReadTokens: d.CacheReadTokens, CacheWriteTokens: d.CacheWriteTokens}.Total()))
		if d.CostKnown { // an unknown price is no price, never a zero
			put("Cost", "None", d.Cost)
		}
		dims = [][]string{{"SourceKind"}, {"SourceKind", "Provider", "Model"}}
		if workflow {
			dims = append(dims, []string{"SourceKind", "WorkflowID"})
		}
	case ExecutionWaitingData: // runs that paused for a person, and came back
		put("ExecutionWaiting", "Count", 1)
		dims = [][]string{{"SourceKind"}}
	case ExecutionResumedData:
		put("ExecutionResumed", "Count", 1)
		put("HumanWaitMs", "Milliseconds", d.WaitedMS)
		dims = [][]string{{"SourceKind"}}
	case NodeExecutedData:
		doc["NodeKind"] = dimValue(d.Kind)
		doc["node_id"], doc["status"] = d.NodeID, d.Status
		put("NodeDurationMs", "Milliseconds", d.DurationMS)
		dims = [][]string{{"NodeKind"}, {"SourceKind", "NodeKind"}}
		if workflow {
			dims = append(dims, []string{"SourceKind", "WorkflowID", "NodeKind"})
		}
	default:
		return nil, false
	}
	doc["_aws"] = emfMeta{Timestamp: e.Time.UnixMilli(),
		CloudWatchMetrics: []emfDirective{{Namespace: ns, Dimensions: dims, Metrics: metrics}}}
	b, err := json.Marshal(doc)
	if err != nil { // only floats that JSON cannot hold (NaN, Inf) get here
		return nil, false
	}
	return b, true
}

// modelDim bounds the Model dimension to the price table's models (llm.MetricModel):
// any request can name a model, and every new value would be a new metric.
func modelDim(provider, model string) string {
	if model == "" {
		return emfNoValue
	}
	return llm.MetricModel(provider, model)
}

func dimValue(s string) string {
	if s == "" {
		return emfNoValue
	}
	return s
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Handler handles one decoded event. An error asks for the event again.
type Handler func(ctx context.Context, e Event) error

// Writer returns the metrics subscriber: it writes each event's EMF line to w (the
// Lambda's stdout, which CloudWatch Logs turns into metrics).
func (m Metrics) Writer(w io.Writer) Handler {
	var mu sync.Mutex
	return func(_ context.Context, e Event) error {
		line, ok := m.For(e)
		if !ok {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		_, err := w.Write(append(line, '\n'))
		return err
	}
}
