// Package resources serves chatter's CRUD and read endpoints: workflow definitions
// (with validation, versions, graph analytics and run statistics), templates (with
// import, export and run statistics), node types, service defaults, executions and their event logs,
// conversations and their messages, and the OpenAPI document. It imports neither
// the executor nor any LLM SDK, so the Lambdas that serve these routes stay small;
// running workflows is httpapi/chat's job.
//
// Each route has its own handler constructor, so a Lambda can mount exactly one;
// Register mounts them all. Handlers take the store as small interfaces declared
// here and satisfied by both store.Memory and the DynamoDB store. Another user's
// record is always a 404, never a 403: its existence is not disclosed.
//
// Built-in templates are readable by every user and cannot be changed: a PUT or
// DELETE of one is a 409 conflict whose errors[0].code is builtin_template (the
// request is well-formed and authorised; it conflicts with the template being part
// of the service).
//
// The conversation, message and execution-record routes answer in the
// predecessor's shapes (package wire builds them), at its paths; the notes above
// the handlers in conversations.go and executions.go say which old parameters are
// honoured and what chatter chose where the old contract is silent.
//
// The workflow routes answer as the predecessor's contract says (its paths, fields
// and success statuses; chatter's extra data beside them): see definitions.go,
// templates.go, templates_shape.go, catalog_nodetypes.go and lists.go for what each
// old field means here and which ones are accepted but not applied.
package resources

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

// Route patterns (Go 1.22 ServeMux syntax). The literal segments validate,
// from-template and import are more specific than {id}, so they win over it.
const (
	PathDefinitions            = "GET /api/v1/workflows/definitions"
	PathDefinitionCreate       = "POST /api/v1/workflows/definitions"
	PathDefinition             = "GET /api/v1/workflows/definitions/{id}"
	PathDefinitionUpdate       = "PUT /api/v1/workflows/definitions/{id}"
	PathDefinitionDelete       = "DELETE /api/v1/workflows/definitions/{id}"
	PathDefinitionValidate     = "POST /api/v1/workflows/definitions/validate"
	PathDefinitionFromTemplate = "POST /api/v1/workflows/definitions/from-template"
	PathDefinitionExecutions   = "GET /api/v1/workflows/definitions/{id}/executions"
	PathDefinitionAnalytics    = "GET /api/v1/workflows/definitions/{id}/analytics"
	PathTemplates              = "GET /api/v1/workflows/templates"
	PathTemplateCreate         = "POST /api/v1/workflows/templates"
	PathTemplate               = "GET /api/v1/workflows/templates/{id}"
	PathTemplateUpdate         = "PUT /api/v1/workflows/templates/{id}"
	PathTemplateDelete         = "DELETE /api/v1/workflows/templates/{id}"
	PathTemplateExport         = "GET /api/v1/workflows/templates/{id}/export"
	PathTemplateLoad           = "GET /api/v1/workflows/templates/{id}/load"
	PathTemplateImport         = "POST /api/v1/workflows/templates/import"
	PathTemplateValidate       = "POST /api/v1/workflows/templates/validate"
	PathTemplateAnalytics      = "GET /api/v1/workflows/templates/{id}/analytics"
	PathNodeTypes              = "GET /api/v1/workflows/node-types"
	PathNodeTypesModern        = "GET /api/v1/workflows/node-types/modern"
	PathDefaults               = "GET /api/v1/workflows/defaults"
	PathMemoryConfigure        = "POST /api/v1/workflows/memory/configure"
	PathToolsConfigure         = "POST /api/v1/workflows/tools/configure"
	PathExecutions             = "GET /api/v1/executions"
	PathExecution              = "GET /api/v1/executions/{id}"
	PathExecutionEvents        = "GET /api/v1/executions/{id}/events"
	PathExecutionCancel        = "POST /api/v1/executions/{id}/cancel"
	PathOpenAPI                = "GET /api/v1/openapi.json"
)

// The predecessor's conversation and execution routes, at their old paths. A path
// ending in "/" (the old list and create) is also served without it (see
// Route.MuxPatterns).
const (
	PathConversations           = "GET /api/v1/conversations/"
	PathConversationCreate      = "POST /api/v1/conversations/"
	PathConversation            = "GET /api/v1/conversations/{id}"
	PathConversationUpdate      = "PUT /api/v1/conversations/{id}"
	PathConversationDelete      = "DELETE /api/v1/conversations/{id}"
	PathConversationMessages    = "GET /api/v1/conversations/{id}/messages"
	PathMessageDelete           = "DELETE /api/v1/conversations/{id}/messages/{message_id}"
	PathMessageRating           = "PATCH /api/v1/conversations/{id}/messages/{message_id}/rating"
	PathWorkflowExecutions      = "GET /api/v1/workflows/executions"
	PathDefinitionExecution     = "GET /api/v1/workflows/definitions/{id}/executions/{execution_id}"
	PathDefinitionExecutionLogs = "GET /api/v1/workflows/definitions/{id}/executions/{execution_id}/logs"
)

// Definitions is what the definition routes need of a store. Every method returns
// not_found for a record that does not exist or belongs to someone else, and
// invalid for a cursor that was not issued for that list.
type Definitions interface {
	CreateDefinition(ctx context.Context, d *store.Definition) error
	GetDefinition(ctx context.Context, userID, id string, version int) (*store.Definition, error)
	UpdateDefinition(ctx context.Context, userID, id string, fn func(*store.Definition) error) (*store.Definition, error)
	ListDefinitions(ctx context.Context, userID string, p store.PageRequest) (store.Page[store.Definition], error)
	DeleteDefinition(ctx context.Context, userID, id string) error
}

// Templates is what the template routes need of a store (user and public
// templates; built-ins come from the workflow package).
type Templates interface {
	PutTemplate(ctx context.Context, userID string, t *workflow.Template) error
	GetTemplate(ctx context.Context, userID, id string) (*workflow.Template, error)
	ListTemplates(ctx context.Context, userID string, p store.PageRequest) (store.Page[*workflow.Template], error)
	DeleteTemplate(ctx context.Context, userID, id string) error
	GetTemplateByName(ctx context.Context, userID, name string) (*workflow.Template, error)
}

// Executions is what the execution routes need of a store.
type Executions interface {
	GetExecution(ctx context.Context, userID, id string) (*store.Execution, error)
	ListExecutions(ctx context.Context, userID string, f store.ExecutionFilter, p store.PageRequest) (store.Page[store.Execution], error)
	// CountExecutions counts what f matches, up to store.MaxCounted.
	CountExecutions(ctx context.Context, userID string, f store.ExecutionFilter) (int, error)
	ListEvents(ctx context.Context, userID, execID string, p store.PageRequest) (store.Page[store.ExecutionEvent], error)
	// UpdateExecution applies fn under a condition, retrying a lost race. Returns
	// not_found for another user's execution, fn's error otherwise.
	UpdateExecution(ctx context.Context, userID, id string, fn func(*store.Execution) error) (*store.Execution, error)
}

// Conversations is what the conversation routes need of a store. Every method
// returns not_found for a conversation (or message) that does not exist or belongs
// to someone else.
type Conversations interface {
	// CreateConversation returns conflict for a taken id, invalid or too_large for
	// what the owner set.
	CreateConversation(ctx context.Context, c *store.Conversation) error
	GetConversation(ctx context.Context, userID, convID string) (*store.Conversation, error)
	// LoadConversation returns the conversation and its newest window messages,
	// oldest first, in one read.
	LoadConversation(ctx context.Context, userID, convID string, window int) (*store.Conversation, []store.Message, error)
	// QueryConversations returns invalid for a bad sort, status, offset or cursor.
	QueryConversations(ctx context.Context, userID string, q store.ConversationQuery) (store.ConversationList, error)
	// UpdateConversation returns invalid or too_large for what fn set.
	UpdateConversation(ctx context.Context, userID, convID string, fn func(*store.Conversation) error) (*store.Conversation, error)
	ListMessages(ctx context.Context, userID, convID string, p store.PageRequest) (store.Page[store.Message], error)
	DeleteConversation(ctx context.Context, userID, convID string) error
	// DeleteMessage returns conflict while the message's turn is running.
	DeleteMessage(ctx context.Context, userID, convID, msgID string) error
	// RateMessage returns invalid for a rating outside 0..5.
	RateMessage(ctx context.Context, userID, convID, msgID string, rating float64) (*store.Message, error)
}

// Store is every store method the routes of this package use.
type Store interface {
	Definitions
	Templates
	Executions
	Conversations
	Settings
	RunStatsReader
}

// Deps is what Register hands the handlers.
type Deps struct {
	Store Store
	// Validation checks tool names and conditions; build it with NewValidation.
	// Without it the validating routes answer 500 (ErrNoValidation).
	Validation Validation
	// Defaults is served by GET /workflows/defaults.
	Defaults Defaults
	// NewID makes ids for new definitions, templates and conversations; default a
	// new ULID.
	NewID func() string
	// Now is the clock of exported_at; default time.Now.
	Now func() time.Time
	// StreamURL is the streaming Function URL the served OpenAPI document names.
	StreamURL string
}

// Mounter is what Register needs of a router (*httpcore.Router).
type Mounter interface {
	Mount(pattern string, h http.Handler, opts ...httpcore.RouteOption)
}

var _ Mounter = (*httpcore.Router)(nil)

// Route is one route of this package: its pattern and its handler.
type Route struct {
	Pattern   string
	Handler   http.Handler
	validates bool
}

// Validates reports whether the route validates definitions or templates,
// analyses a graph's cycles (which reads its conditions) or describes the
// condition language: its function needs a NewValidation (and links
// the condition compiler); every other route is built without one.
func (r Route) Validates() bool { return r.validates }

// Open reports whether the route answers without a token: only the OpenAPI
// document, which a client reads before it has one.
func (r Route) Open() bool { return r.Pattern == PathOpenAPI }

// Options are the route's options for Mount: open, or in the other rate class.
func (r Route) Options() []httpcore.RouteOption {
	if r.Open() {
		return []httpcore.RouteOption{httpcore.Open()}
	}
	return []httpcore.RouteOption{httpcore.RateClass(httpcore.ClassOther)}
}

// MuxPatterns are the ServeMux patterns that serve the route: its pattern, and for
// a path ending in "/" (the predecessor wrote its conversation list and create so)
// that exact path ("{$}", not the subtree) and the path without the slash. API
// Gateway routes both forms to the one slash-less route.
func (r Route) MuxPatterns() []string {
	if p, ok := strings.CutSuffix(r.Pattern, "/"); ok {
		return []string{r.Pattern + "{$}", p}
	}
	return []string{r.Pattern}
}

// A RouteSpec is a route before it is built: its pattern, whether it validates and
// how its handler is made from Deps. Each route is a Route* variable, and only
// Routes lists them all, so a function that mounts one (lambdaapp.StartResource)
// links that route's handler and no other.
type RouteSpec struct {
	Pattern   string
	validates bool
	handler   func(Deps) http.Handler
}

// Build returns the route built on d. Only a route that validates (Route.Validates)
// is given d.Validation.
func (s RouteSpec) Build(d Deps) Route {
	d = d.withDefaults()
	if !s.validates {
		d.Validation = Validation{}
	}
	return Route{Pattern: s.Pattern, Handler: s.handler(d), validates: s.validates}
}

// The routes of this package, the ones that validate first. Each initialiser is a
// composite literal, so no init function refers to every handler.
var (
	RouteDefinitionCreate        = RouteSpec{PathDefinitionCreate, true, func(d Deps) http.Handler { return CreateDefinition(d.Store, d.Validation, d.NewID) }}
	RouteDefinitionValidate      = RouteSpec{PathDefinitionValidate, true, func(d Deps) http.Handler { return ValidateDefinition(d.Validation) }}
	RouteDefinitionFromTemplate  = RouteSpec{PathDefinitionFromTemplate, true, func(d Deps) http.Handler { return DefinitionFromTemplate(d.Store, d.Store, d.Validation, d.NewID) }}
	RouteDefinitionUpdate        = RouteSpec{PathDefinitionUpdate, true, func(d Deps) http.Handler { return UpdateDefinition(d.Store, d.Validation) }}
	RouteTemplateCreate          = RouteSpec{PathTemplateCreate, true, func(d Deps) http.Handler { return CreateTemplate(d.Store, d.Validation, d.NewID) }}
	RouteTemplateValidate        = RouteSpec{PathTemplateValidate, true, func(d Deps) http.Handler { return ValidateTemplate(d.Validation) }}
	RouteTemplateImport          = RouteSpec{PathTemplateImport, true, func(d Deps) http.Handler { return ImportTemplate(d.Store, d.Validation, d.NewID) }}
	RouteTemplateUpdate          = RouteSpec{PathTemplateUpdate, true, func(d Deps) http.Handler { return UpdateTemplate(d.Store, d.Validation) }}
	RouteNodeTypesModern         = RouteSpec{PathNodeTypesModern, true, func(d Deps) http.Handler { return ModernNodeTypesHandler(d.Validation) }}
	RouteDefinitionAnalytics     = RouteSpec{PathDefinitionAnalytics, true, func(d Deps) http.Handler { return DefinitionAnalytics(d.Store, d.Store, d.Validation) }}
	RouteTemplateAnalytics       = RouteSpec{PathTemplateAnalytics, true, func(d Deps) http.Handler { return TemplateAnalytics(d.Store, d.Store, d.Validation) }}
	RouteDefinitions             = RouteSpec{PathDefinitions, false, func(d Deps) http.Handler { return ListDefinitions(d.Store) }}
	RouteDefinition              = RouteSpec{PathDefinition, false, func(d Deps) http.Handler { return GetDefinition(d.Store) }}
	RouteDefinitionDelete        = RouteSpec{PathDefinitionDelete, false, func(d Deps) http.Handler { return DeleteDefinition(d.Store) }}
	RouteDefinitionExecutions    = RouteSpec{PathDefinitionExecutions, false, func(d Deps) http.Handler { return DefinitionExecutions(d.Store, d.Store) }}
	RouteDefinitionExecution     = RouteSpec{PathDefinitionExecution, false, func(d Deps) http.Handler { return DefinitionExecution(d.Store) }}
	RouteDefinitionExecutionLogs = RouteSpec{PathDefinitionExecutionLogs, false, func(d Deps) http.Handler { return DefinitionExecutionLogs(d.Store) }}
	RouteTemplates               = RouteSpec{PathTemplates, false, func(d Deps) http.Handler { return ListTemplates(d.Store) }}
	RouteTemplate                = RouteSpec{PathTemplate, false, func(d Deps) http.Handler { return GetTemplate(d.Store) }}
	RouteTemplateDelete          = RouteSpec{PathTemplateDelete, false, func(d Deps) http.Handler { return DeleteTemplate(d.Store) }}
	RouteTemplateExport          = RouteSpec{PathTemplateExport, false, func(d Deps) http.Handler { return ExportTemplate(d.Store, d.Now) }}
	RouteTemplateLoad            = RouteSpec{PathTemplateLoad, false, func(d Deps) http.Handler { return GetTemplate(d.Store) }}
	RouteNodeTypes               = RouteSpec{PathNodeTypes, false, func(d Deps) http.Handler { return NodeTypes() }}
	RouteDefaults                = RouteSpec{PathDefaults, false, func(d Deps) http.Handler { return ServiceDefaults(d.Defaults) }}
	RouteWorkflowExecutions      = RouteSpec{PathWorkflowExecutions, false, func(d Deps) http.Handler { return ListExecutions(d.Store) }}
	RouteMemoryConfigure         = RouteSpec{PathMemoryConfigure, false, func(d Deps) http.Handler { return ConfigureMemory(d.Store, d.Now) }}
	RouteToolsConfigure          = RouteSpec{PathToolsConfigure, false, func(d Deps) http.Handler { return ConfigureTools(d.Store, d.Now) }}
	RouteExecutions              = RouteSpec{PathExecutions, false, func(d Deps) http.Handler { return ListExecutions(d.Store) }}
	RouteExecution               = RouteSpec{PathExecution, false, func(d Deps) http.Handler { return GetExecution(d.Store) }}
	RouteExecutionEvents         = RouteSpec{PathExecutionEvents, false, func(d Deps) http.Handler { return ExecutionEvents(d.Store) }}
	RouteExecutionCancel         = RouteSpec{PathExecutionCancel, false, func(d Deps) http.Handler { return CancelExecution(d.Store) }}
	RouteConversations           = RouteSpec{PathConversations, false, func(d Deps) http.Handler { return ListConversations(d.Store) }}
	RouteConversationCreate      = RouteSpec{PathConversationCreate, false, func(d Deps) http.Handler { return CreateConversation(d.Store, d.NewID) }}
	RouteConversation            = RouteSpec{PathConversation, false, func(d Deps) http.Handler { return GetConversation(d.Store) }}
	RouteConversationUpdate      = RouteSpec{PathConversationUpdate, false, func(d Deps) http.Handler { return UpdateConversation(d.Store) }}
	RouteConversationDelete      = RouteSpec{PathConversationDelete, false, func(d Deps) http.Handler { return DeleteConversation(d.Store) }}
	RouteConversationMessages    = RouteSpec{PathConversationMessages, false, func(d Deps) http.Handler { return ConversationMessages(d.Store) }}
	RouteMessageDelete           = RouteSpec{PathMessageDelete, false, func(d Deps) http.Handler { return DeleteMessage(d.Store) }}
	RouteMessageRating           = RouteSpec{PathMessageRating, false, func(d Deps) http.Handler { return RateMessage(d.Store) }}
	RouteOpenAPI                 = RouteSpec{PathOpenAPI, false, func(d Deps) http.Handler { return OpenAPI(d.StreamURL) }}
)

// Routes returns every route of this package built on d (RouteSpec.Build), the
// routes that validate definitions or templates (Route.Validates) first.
func Routes(d Deps) []Route {
	specs := []RouteSpec{
		RouteDefinitionCreate, RouteDefinitionValidate, RouteDefinitionFromTemplate,
		RouteDefinitionUpdate, RouteTemplateCreate, RouteTemplateValidate,
		RouteTemplateImport, RouteTemplateUpdate, RouteNodeTypesModern,
		RouteDefinitionAnalytics, RouteTemplateAnalytics, RouteDefinitions,
		RouteDefinition, RouteDefinitionDelete, RouteDefinitionExecutions,
		RouteDefinitionExecution, RouteDefinitionExecutionLogs, RouteTemplates,
		RouteTemplate, RouteTemplateDelete, RouteTemplateExport, RouteTemplateLoad,
		RouteNodeTypes, RouteDefaults, RouteWorkflowExecutions, RouteMemoryConfigure,
		RouteToolsConfigure, RouteExecutions, RouteExecution, RouteExecutionEvents,
		RouteExecutionCancel, RouteConversations, RouteConversationCreate,
		RouteConversation, RouteConversationUpdate, RouteConversationDelete,
		RouteConversationMessages, RouteMessageDelete, RouteMessageRating,
		RouteOpenAPI,
	}
	rs := make([]Route, len(specs))
	for i, s := range specs {
		rs[i] = s.Build(d)
	}
	return rs
}

// Register mounts every route of this package on rt, all in the "other" rate
// class.
func Register(rt Mounter, d Deps) {
	for _, r := range Routes(d) {
		for _, p := range r.MuxPatterns() {
			rt.Mount(p, r.Handler, r.Options()...)
		}
	}
}

func (d Deps) withDefaults() Deps {
	if d.NewID == nil {
		d.NewID = newULID
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return d
}
