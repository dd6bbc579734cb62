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

	"github.com/chatterhq/chatter/internal/httpapi"
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

// Mounter is what Register needs of a router (*httpapi.Router).
type Mounter interface {
	Mount(pattern string, h http.Handler, opts ...httpapi.RouteOption)
}

var _ Mounter = (*httpapi.Router)(nil)

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
func (r Route) Options() []httpapi.RouteOption {
	if r.Open() {
		return []httpapi.RouteOption{httpapi.Open()}
	}
	return []httpapi.RouteOption{httpapi.RateClass(httpapi.ClassOther)}
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

// Routes returns every route of this package built on d. The routes that validate
// definitions or templates (Route.Validates) come first; the others are built
// without d.Validation, so none of them can validate.
func Routes(d Deps) []Route {
	d = d.withDefaults()
	rs := validatingRoutes(d.Store, d.Validation, d.NewID)
	d.Validation = Validation{}
	return append(rs, plainRoutes(d)...)
}

func validatingRoutes(s Store, v Validation, newID func() string) []Route {
	return []Route{
		{PathDefinitionCreate, CreateDefinition(s, v, newID), true},
		{PathDefinitionValidate, ValidateDefinition(v), true},
		{PathDefinitionFromTemplate, DefinitionFromTemplate(s, s, v, newID), true},
		{PathDefinitionUpdate, UpdateDefinition(s, v), true},
		{PathTemplateCreate, CreateTemplate(s, v, newID), true},
		{PathTemplateValidate, ValidateTemplate(v), true},
		{PathTemplateImport, ImportTemplate(s, v, newID), true},
		{PathTemplateUpdate, UpdateTemplate(s, v), true},
		{PathNodeTypesModern, ModernNodeTypesHandler(v), true},
		{PathDefinitionAnalytics, DefinitionAnalytics(s, s, v), true},
		{PathTemplateAnalytics, TemplateAnalytics(s, s, v), true},
	}
}

func plainRoutes(d Deps) []Route {
	s := d.Store
	return []Route{
		{PathDefinitions, ListDefinitions(s), false},
		{PathDefinition, GetDefinition(s), false},
		{PathDefinitionDelete, DeleteDefinition(s), false},
		{PathDefinitionExecutions, DefinitionExecutions(s, s), false},
		{PathDefinitionExecution, DefinitionExecution(s), false},
		{PathDefinitionExecutionLogs, DefinitionExecutionLogs(s), false},
		{PathTemplates, ListTemplates(s), false},
		{PathTemplate, GetTemplate(s), false},
		{PathTemplateDelete, DeleteTemplate(s), false},
		{PathTemplateExport, ExportTemplate(s, d.Now), false},
		{PathTemplateLoad, GetTemplate(s), false},
		{PathNodeTypes, NodeTypes(), false},
		{PathDefaults, ServiceDefaults(d.Defaults), false},
		{PathWorkflowExecutions, ListExecutions(s), false},
		{PathMemoryConfigure, ConfigureMemory(s, d.Now), false},
		{PathToolsConfigure, ConfigureTools(s, d.Now), false},
		{PathExecutions, ListExecutions(s), false},
		{PathExecution, GetExecution(s), false},
		{PathExecutionEvents, ExecutionEvents(s), false},
		{PathExecutionCancel, CancelExecution(s), false},
		{PathConversations, ListConversations(s), false},
		{PathConversationCreate, CreateConversation(s, d.NewID), false},
		{PathConversation, GetConversation(s), false},
		{PathConversationUpdate, UpdateConversation(s), false},
		{PathConversationDelete, DeleteConversation(s), false},
		{PathConversationMessages, ConversationMessages(s), false},
		{PathMessageDelete, DeleteMessage(s), false},
		{PathMessageRating, RateMessage(s), false},
		{PathOpenAPI, OpenAPI(d.StreamURL), false},
	}
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
