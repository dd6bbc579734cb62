package resources

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

// DefaultStepLimit is the executor's default step limit (supersteps per run),
// repeated here because this package must not import the executor; a main that
// configures another limit passes it in Defaults.
const DefaultStepLimit = 100

// Defaults are the service defaults a client may want before building a request.
// Zero fields are filled from the packages that own each value. NodeTypes is what
// the predecessor's editor reads: per node type of that editor, the config a new
// node starts with, in its keys (workflow.EditorNodeTypes); it is always derived,
// never set.
type Defaults struct {
	Providers       []string                  `json:"providers"`
	DefaultProvider string                    `json:"default_provider"`
	DefaultModel    string                    `json:"default_model,omitempty"`
	Limits          Limits                    `json:"limits"`
	NodeTypes       map[string]map[string]any `json:"node_types"`
}

// NodeDefaults answers GET /workflows/defaults?node_type=X, as the predecessor did.
type NodeDefaults struct {
	NodeType string         `json:"node_type"`
	Config   map[string]any `json:"config"`
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

// RateLimits describes the limits in force: httpcore.DefaultRates overridden by
// rates (the router's Config.Rates).
func RateLimits(rates map[httpcore.Class]httpcore.Rate) map[string]RateLimit {
	out := map[string]RateLimit{}
	for c, r := range httpcore.DefaultRates {
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
	setIfZero(&l.MaxBodyBytes, httpcore.DefaultBodyLimit)
	setIfZero(&l.MemoryWindow, workflow.DefaultMemoryWindow)
	setIfZero(&l.MaxToolCalls, workflow.DefaultMaxToolCalls)
	setIfZero(&l.StepLimit, DefaultStepLimit)
	setIfZero(&l.PageSize, definitionLimit)
	setIfZero(&l.MaxPageSize, store.MaxPageSize)
	if l.RateLimits == nil {
		l.RateLimits = RateLimits(nil)
	}
	d.NodeTypes = workflow.EditorNodeTypes(d.DefaultProvider, d.DefaultModel)
	return d
}

func setIfZero[T int | int64](p *T, v T) {
	if *p == 0 {
		*p = v
	}
}

// ServiceDefaults answers GET /workflows/defaults with d (zero fields filled), or
// with ?node_type=X one node type's starting config (an editor type or a kind
// name; another name is invalid, naming node_type).
func ServiceDefaults(d Defaults) http.Handler {
	d = d.filled()
	return handle(func(w http.ResponseWriter, r *http.Request, _ string) error {
		if err := onlyQuery(r, "node_type"); err != nil {
			return err
		}
		if q := r.URL.Query(); q.Has("node_type") {
			name := q.Get("node_type")
			cfg, ok := workflow.EditorNodeType(name, d.DefaultProvider, d.DefaultModel)
			if !ok {
				return httpcore.FieldErr(errcode.InvalidInput, "node_type", "unknown node type "+strconv.Quote(name))
			}
			httpcore.WriteJSON(w, r, http.StatusOK, NodeDefaults{NodeType: name, Config: cfg})
			return nil
		}
		httpcore.WriteJSON(w, r, http.StatusOK, d)
		return nil
	})
}

// OpenAPI serves the embedded OpenAPI 3.1 document with streamURL, the streaming
// Function URL, as its second server (httpapi.OpenAPIFor).
func OpenAPI(streamURL string) http.Handler {
	doc := httpapi.OpenAPIFor(streamURL)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=300")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(doc)
	})
}
