package resources

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

// The predecessor's POST /workflows/memory/configure and /workflows/tools/configure
// store a user's own run defaults, taken from query parameters (the old routes had
// no body). A parameter not sent keeps the value stored before, or the old
// default when there is none. chatter applies base_window_size (the memory_window
// of a run that sends none), max_window_size (the most any run of the user loads)
// and max_total_calls (the max_tool_calls of a run that sends none); it keeps and
// returns adaptive_mode, summary_strategy, max_consecutive_calls,
// recursion_strategy and enable_recursion_detection, which have no counterpart in
// its engine. Each answer lists which settings it applies and which it keeps only.

// Settings is what the configure routes need of a store.
type Settings interface {
	GetSettings(ctx context.Context, userID string) (*store.Settings, error)
	PutMemorySettings(ctx context.Context, userID string, m store.MemorySettings) error
	PutToolSettings(ctx context.Context, userID string, t store.ToolSettings) error
}

// MaxStrategyLen bounds summary_strategy and recursion_strategy (characters). The
// window sizes are bounded as memory windows (at least 1 here) and the call counts
// as tool-call limits (workflow.MaxMemoryWindow, workflow.MaxToolCalls).
const MaxStrategyLen = 64

// The old defaults of a setting never stored.
var (
	defaultMemorySettings = store.MemorySettings{AdaptiveMode: true, BaseWindowSize: 10, MaxWindowSize: 50,
		SummaryStrategy: "intelligent"}
	defaultToolSettings = store.ToolSettings{MaxTotalCalls: 10, MaxConsecutiveCalls: 3, RecursionStrategy: "adaptive",
		EnableRecursionDetection: true}
)

// RecursionStrategies are the recursion_strategy values the predecessor took.
var RecursionStrategies = []string{"strict", "adaptive", "lenient"}

// SettingsResponse is the answer of both configure routes: the predecessor's
// {status, config, message} (and valid_strategies for tools), with the names of
// the settings chatter applies and of those it only keeps.
type SettingsResponse struct {
	Status          string         `json:"status"`
	Config          map[string]any `json:"config"`
	Message         string         `json:"message"`
	ValidStrategies []string       `json:"valid_strategies,omitempty"`
	Applied         []string       `json:"applied"`
	NotApplied      []string       `json:"not_applied"`
}

// query reads a route's query parameters, keeping the first problem.
type query struct {
	r   *http.Request
	err error
}

func (q *query) bool(name string, dst *bool) {
	if s, ok := q.get(name); ok {
		v, err := strconv.ParseBool(s)
		if err != nil {
			q.fail(name, name+" must be true or false")
		}
		*dst = v
	}
}

func (q *query) int(name string, lo, hi int, dst *int) {
	if s, ok := q.get(name); ok {
		v, err := strconv.Atoi(s)
		if err != nil || v < lo || v > hi {
			q.fail(name, name+" must be an integer from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
		}
		*dst = v
	}
}

func (q *query) str(name string, dst *string) {
	if s, ok := q.get(name); ok {
		if strings.TrimSpace(s) == "" || utf8.RuneCountInString(s) > MaxStrategyLen {
			q.fail(name, name+" must be 1 to "+strconv.Itoa(MaxStrategyLen)+" characters")
		}
		*dst = s
	}
}

func (q *query) get(name string) (string, bool) {
	v := q.r.URL.Query()
	return v.Get(name), v.Has(name)
}

func (q *query) fail(name, msg string) {
	if q.err == nil {
		q.err = httpcore.FieldErr(errcode.InvalidInput, name, msg)
	}
}

// ConfigureMemory stores the caller's memory settings: 200 with what is stored.
func ConfigureMemory(s Settings, now func() time.Time) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		if err := onlyQuery(r, "adaptive_mode", "base_window_size", "max_window_size", "summary_strategy"); err != nil {
			return err
		}
		cur, err := s.GetSettings(r.Context(), uid)
		if err != nil {
			return err
		}
		m := defaultMemorySettings
		if cur.Memory != nil {
			m = *cur.Memory
		}
		q := &query{r: r}
		q.bool("adaptive_mode", &m.AdaptiveMode)
		q.int("base_window_size", 1, workflow.MaxMemoryWindow, &m.BaseWindowSize)
		q.int("max_window_size", 1, workflow.MaxMemoryWindow, &m.MaxWindowSize)
		q.str("summary_strategy", &m.SummaryStrategy)
		if q.err == nil && m.MaxWindowSize < m.BaseWindowSize {
			q.fail("max_window_size", "max_window_size must be at least base_window_size ("+strconv.Itoa(m.BaseWindowSize)+")")
		}
		if q.err != nil {
			return q.err
		}
		m.UpdatedAt = now().UTC()
		if err := s.PutMemorySettings(r.Context(), uid, m); err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, SettingsResponse{Status: "success", Message: "Memory settings configured successfully",
			Config: map[string]any{"adaptive_mode": m.AdaptiveMode, "base_window_size": m.BaseWindowSize,
				"max_window_size": m.MaxWindowSize, "summary_strategy": m.SummaryStrategy, "user_id": uid, "updated_at": m.UpdatedAt},
			Applied: []string{"base_window_size", "max_window_size"}, NotApplied: []string{"adaptive_mode", "summary_strategy"}})
		return nil
	})
}

// ConfigureTools stores the caller's tool settings: 200 with what is stored. A
// recursion_strategy other than RecursionStrategies is a 422 naming it.
func ConfigureTools(s Settings, now func() time.Time) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		if err := onlyQuery(r, "max_total_calls", "max_consecutive_calls", "recursion_strategy", "enable_recursion_detection"); err != nil {
			return err
		}
		cur, err := s.GetSettings(r.Context(), uid)
		if err != nil {
			return err
		}
		ts := defaultToolSettings
		if cur.Tools != nil {
			ts = *cur.Tools
		}
		q := &query{r: r}
		q.int("max_total_calls", 1, workflow.MaxToolCalls, &ts.MaxTotalCalls)
		q.int("max_consecutive_calls", 1, workflow.MaxToolCalls, &ts.MaxConsecutiveCalls)
		q.str("recursion_strategy", &ts.RecursionStrategy)
		q.bool("enable_recursion_detection", &ts.EnableRecursionDetection)
		if q.err == nil && !slices.Contains(RecursionStrategies, ts.RecursionStrategy) {
			q.fail("recursion_strategy", "recursion_strategy must be one of "+strings.Join(RecursionStrategies, ", "))
		}
		if q.err != nil {
			return q.err
		}
		ts.UpdatedAt = now().UTC()
		if err := s.PutToolSettings(r.Context(), uid, ts); err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, SettingsResponse{Status: "success", Message: "Tool settings configured successfully",
			Config: map[string]any{"max_total_calls": ts.MaxTotalCalls, "max_consecutive_calls": ts.MaxConsecutiveCalls,
				"recursion_strategy": ts.RecursionStrategy, "enable_recursion_detection": ts.EnableRecursionDetection,
				"user_id": uid, "updated_at": ts.UpdatedAt},
			ValidStrategies: RecursionStrategies, Applied: []string{"max_total_calls"},
			NotApplied: []string{"max_consecutive_calls", "recursion_strategy", "enable_recursion_detection"}})
		return nil
	})
}
