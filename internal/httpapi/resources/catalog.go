package resources

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

// DefaultStepLimit is the executor's default step limit (supersteps per run),
// repeated here because this package must not import the executor; a main that
// configures another limit passes it in Defaults.
const DefaultStepLimit = 100

// Defaults are the service defaults a client may want before building a request.
// Zero fields are filled from the packages that own each value.
type Defaults struct {
	Providers       []string `json:"providers"`
	DefaultProvider string   `json:"default_provider"`
	DefaultModel    string   `json:"default_model,omitempty"`
	Limits          Limits   `json:"limits"`
}

// Limits are the service's limits.
type Limits struct {
	MaxNodes        int                  `json:"max_nodes"`
	MaxEdges        int                  `json:"max_edges"`
	MaxMessageBytes int                  `json:"max_message_bytes"`
	MaxBodyBytes    int64                `json:"max_body_bytes"`
	MemoryWindow    int                  `json:"memory_window"`
	MaxToolCalls    int                  `json:"max_tool_calls"`
	StepLimit       int                  `json:"step_limit"`
	PageSize        int                  `json:"page_size"`
	MaxPageSize     int                  `json:"max_page_size"`
	RateLimits      map[string]RateLimit `json:"rate_limits"`
}

// RateLimit is one route class's limit per user.
type RateLimit struct {
	Limit         int     `json:"limit"`
	WindowSeconds float64 `json:"window_seconds"`
}

// RateLimits describes the limits in force: httpapi.DefaultRates overridden by
// rates (the router's Config.Rates).
func RateLimits(rates map[httpapi.Class]httpapi.Rate) map[string]RateLimit {
	out := map[string]RateLimit{}
	for c, r := range httpapi.DefaultRates {
		out[string(c)] = RateLimit{Limit: r.Limit, WindowSeconds: r.Window.Seconds()}
	}
	for c, r := range rates {
		out[string(c)] = RateLimit{Limit: r.Limit, WindowSeconds: r.Window.Seconds()}
	}
	return out
}

func (d Defaults) filled() Defaults {
	d.Providers = slices.Clone(d.Providers)
	if d.Providers == nil {
		d.Providers = []string{}
	}
	if d.DefaultProvider == "" && len(d.Providers) > 0 {
		d.DefaultProvider = d.Providers[0]
	}
	l := &d.Limits
	setIfZero(&l.MaxNodes, workflow.MaxNodes)
	setIfZero(&l.MaxEdges, workflow.MaxEdges)
	setIfZero(&l.MaxMessageBytes, store.DefaultMaxContentBytes)
	setIfZero(&l.MaxBodyBytes, httpapi.DefaultBodyLimit)
	setIfZero(&l.MemoryWindow, workflow.DefaultMemoryWindow)
	setIfZero(&l.MaxToolCalls, workflow.DefaultMaxToolCalls)
	setIfZero(&l.StepLimit, DefaultStepLimit)
	setIfZero(&l.PageSize, httpapi.DefaultLimit)
	setIfZero(&l.MaxPageSize, httpapi.MaxLimit)
	if l.RateLimits == nil {
		l.RateLimits = RateLimits(nil)
	}
	return d
}

func setIfZero[T int | int64](p *T, v T) {
	if *p == 0 {
		*p = v
	}
}

// ServiceDefaults answers GET /workflows/defaults with d (zero fields filled).
// ?node_type (a kind or an alias; the predecessor's parameter) adds node_type and
// config, that kind's config defaults; a name no kind has is a 422 naming
// node_type.
func ServiceDefaults(d Defaults) http.Handler {
	d = d.filled()
	type forKind struct {
		Defaults
		NodeType string          `json:"node_type"`
		Config   workflow.Config `json:"config"`
	}
	return handle(func(w http.ResponseWriter, r *http.Request, _ string) error {
		if err := onlyQuery(r, "node_type"); err != nil {
			return err
		}
		if !r.URL.Query().Has("node_type") {
			httpapi.WriteJSON(w, r, http.StatusOK, d)
			return nil
		}
		name := r.URL.Query().Get("node_type")
		kind, ok := workflow.ParseKind(name)
		if !ok {
			return httpapi.FieldErr(httpapi.CodeInvalidInput, "node_type", "no node type is named "+strconv.Quote(name))
		}
		for _, s := range workflow.Kinds() {
			if s.Kind == kind {
				httpapi.WriteJSON(w, r, http.StatusOK, forKind{Defaults: d, NodeType: name, Config: s.Defaults})
				return nil
			}
		}
		return &httpapi.Error{Code: httpapi.CodeInternal, Message: "kind " + string(kind) + " has no spec"}
	})
}

// OpenAPI serves the embedded OpenAPI 3.1 document (httpapi.OpenAPI).
func OpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=300")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(httpapi.OpenAPI)
	})
}
