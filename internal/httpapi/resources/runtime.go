package resources

import (
	"context"
	"math"
	"net/http"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/store"
)

// Run statistics on the analytics routes. The numbers are aggregates the record
// subscriber keeps as each execution's terminal event arrives (store.RunStats, one
// item per aggregate: each route reads one or two, never scans executions), per
// user: another user's runs never show. An execution counts once, in the state it
// ended in; a request refused at preparation is not an execution; dynamic and
// inline runs count under no definition or template. A definition's numbers are
// kept for every version together and per version (the per-node ones per version
// only: node ids belong to one version's graph); a template's under its resolved
// id. p50/p95 come from a log-bucket histogram (see store.HistBucket): within one
// bucket, ~19%, of the exact percentile. Aggregates hold numbers and node ids only,
// no conversation content, so deleting a conversation has nothing to redact there.

// RunStatsReader is what the analytics routes need to read run statistics.
type RunStatsReader interface {
	// RunStats returns the aggregates named keys, in order (zero when nothing was
	// counted).
	RunStats(ctx context.Context, userID string, keys ...string) ([]store.RunStats, error)
}

// Runtime is the run statistics of one aggregate. The rates and durations are
// null while nothing ran; success_rate is completed / runs; cost_usd sums the runs
// whose cost is known, cost_known is false when some run's was not.
type Runtime struct {
	Runs          int64         `json:"runs"`
	Completed     int64         `json:"completed"`
	Failed        int64         `json:"failed"`
	Cancelled     int64         `json:"cancelled"`
	SuccessRate   *float64      `json:"success_rate"`
	AvgDurationMS *float64      `json:"avg_duration_ms"`
	P50DurationMS *float64      `json:"p50_duration_ms"`
	P95DurationMS *float64      `json:"p95_duration_ms"`
	InputTokens   int64         `json:"input_tokens"`
	OutputTokens  int64         `json:"output_tokens"`
	TotalTokens   int64         `json:"total_tokens"`
	CostUSD       float64       `json:"cost_usd"`
	CostKnown     bool          `json:"cost_known"`
	Nodes         []NodeRuntime `json:"nodes,omitempty"`
}

// NodeRuntime is one node's numbers: its visits (a node in a loop runs more than
// once per execution), the failed ones and their median duration.
type NodeRuntime struct {
	NodeID        string   `json:"node_id"`
	Runs          int64    `json:"runs"`
	Failures      int64    `json:"failures"`
	P50DurationMS *float64 `json:"p50_duration_ms"`
}

// DefinitionRuntime is a definition's run statistics: every version together,
// and the version analysed with its nodes.
type DefinitionRuntime struct {
	Runtime
	Version VersionRuntime `json:"version"`
}

// VersionRuntime is the run statistics of one definition version.
type VersionRuntime struct {
	Version int `json:"version"`
	Runtime
}

func quantile(h *store.Histogram, q float64) *float64 {
	v, ok := h.Quantile(q)
	if !ok {
		return nil
	}
	v = math.Round(v*1000) / 1000 // µs: the estimate is no finer
	return &v
}

func ratio(a, b float64) *float64 {
	if b == 0 {
		return nil
	}
	v := a / b
	return &v
}

// runtimeOf is s as the routes answer it.
func runtimeOf(s *store.RunStats) Runtime {
	rt := Runtime{Runs: s.Runs, Completed: s.Completed, Failed: s.Failed, Cancelled: s.Cancelled,
		SuccessRate: ratio(float64(s.Completed), float64(s.Runs)), AvgDurationMS: ratio(s.DurationMSSum, float64(s.Runs)),
		P50DurationMS: quantile(&s.Duration, 0.5), P95DurationMS: quantile(&s.Duration, 0.95),
		InputTokens: s.InputTokens, OutputTokens: s.OutputTokens, TotalTokens: s.InputTokens + s.OutputTokens,
		CostUSD: s.Cost, CostKnown: s.CostUnknown == 0}
	for i := range s.Nodes {
		n := &s.Nodes[i]
		rt.Nodes = append(rt.Nodes, NodeRuntime{NodeID: n.NodeID, Runs: n.Runs, Failures: n.Failures,
			P50DurationMS: quantile(&n.Duration, 0.5)})
	}
	return rt
}

// definitionRuntime reads the run statistics of definition id, every version and
// version v.
func definitionRuntime(ctx context.Context, s RunStatsReader, uid, id string, v int) (DefinitionRuntime, error) {
	st, err := s.RunStats(ctx, uid, store.DefinitionStatsKey(id), store.DefinitionVersionStatsKey(id, v))
	if err != nil {
		return DefinitionRuntime{}, err
	}
	return DefinitionRuntime{Runtime: runtimeOf(&st[0]), Version: VersionRuntime{Version: v, Runtime: runtimeOf(&st[1])}}, nil
}

// TemplateAnalyticsResponse is a template's run statistics (by its id: runs that
// named it by name count under the id they resolved to) and the static analysis
// of the graph it generates (Analyze; definition_id and version are empty).
type TemplateAnalyticsResponse struct {
	TemplateID string    `json:"template_id"`
	Name       string    `json:"name"`
	Runtime    Runtime   `json:"runtime"`
	Graph      Analytics `json:"graph"`
}

// TemplateAnalytics serves a template's run statistics and graph analysis: a
// built-in, the caller's or a public one; another user's private template is a
// 404. v compiles the conditions.
func TemplateAnalytics(s Templates, rs RunStatsReader, v Validation) http.Handler {
	return handleID(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		if v.conditions == nil {
			return ErrNoValidation
		}
		t, err := findTemplate(r, s, uid, id)
		if err != nil {
			return err
		}
		st, err := rs.RunStats(r.Context(), uid, store.TemplateStatsKey(t.ID))
		if err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, TemplateAnalyticsResponse{TemplateID: t.ID, Name: t.Name,
			Runtime: runtimeOf(&st[0]), Graph: Analyze(t.Definition(), v.conditions)})
		return nil
	})
}

// estimatedMS is the old estimated_execution_time_ms from real runs: the median
// duration of the version's runs, null before it has any.
func estimatedMS(v *VersionRuntime) *int {
	if v.P50DurationMS == nil {
		return nil
	}
	ms := int(math.Round(*v.P50DurationMS))
	return &ms
}
