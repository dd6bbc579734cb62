// Package resources serves chatter's CRUD and read endpoints: workflow definitions
// (with validation, versions and graph analytics), templates (with import and
// export), node types, service defaults, executions and their event logs,
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
// The workflow routes answer as the predecessor's contract says (its paths, fields
// and success statuses; chatter's extra data beside them): see definitions.go,
// templates.go, templates_shape.go, catalog_nodetypes.go and lists.go for what each
// old field means here and which ones are accepted but not applied.
package resources

import (
	"context"
	"net/http"
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
	PathNodeTypes              = "GET /api/v1/workflows/node-types"
	PathNodeTypesModern        = "GET /api/v1/workflows/node-types/modern"
	PathDefaults               = "GET /api/v1/workflows/defaults"
	PathMemoryConfigure        = "POST /api/v1/workflows/memory/configure"
	PathToolsConfigure         = "POST /api/v1/workflows/tools/configure"
	PathExecutions             = "GET /api/v1/executions"
	PathExecution              = "GET /api/v1/executions/{id}"
	PathExecutionEvents        = "GET /api/v1/executions/{id}/events"
	PathConversations          = "GET /api/v1/conversations"
	PathConversation           = "GET /api/v1/conversations/{id}"
	PathConversationMessages   = "GET /api/v1/conversations/{id}/messages"
	PathConversationDelete     = "DELETE /api/v1/conversations/{id}"
	PathOpenAPI                = "GET /api/v1/openapi.json"
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
}

// Executions is what the execution routes need of a store.
type Executions interface {
	GetExecution(ctx context.Context, userID, id string) (*store.Execution, error)
	ListExecutions(ctx context.Context, userID string, f store.ExecutionFilter, p store.PageRequest) (store.Page[store.Execution], error)
	ListEvents(ctx context.Context, userID, execID string, p store.PageRequest) (store.Page[store.ExecutionEvent], error)
}

// Conversations is what the conversation routes need of a store.
type Conversations interface {
	GetConversation(ctx context.Context, userID, convID string) (*store.Conversation, error)
	ListConversations(ctx context.Context, userID string, p store.PageRequest) (store.Page[store.Conversation], error)
	ListMessages(ctx context.Context, userID, convID string, p store.PageRequest) (store.Page[store.Message], error)
	DeleteConversation(ctx context.Context, userID, convID string) error
}

// Store is every store method the routes of this package use.
type Store interface {
	Definitions
	Templates
	Executions
	Conversations
	Settings
}

// Deps is what Register hands the handlers.
type Deps struct {
	Store Store
	// Validation checks tool names; build it with NewValidation.
	Validation Validation
	// Defaults is served by GET /workflows/defaults.
	Defaults Defaults
	// NewID makes ids for new definitions and templates; default a new ULID.
	NewID func() string
	// Now is the clock of exported_at; default time.Now.
	Now func() time.Time
}

// Mounter is what Register needs of a router (*httpapi.Router).
type Mounter interface {
	Mount(pattern string, h http.Handler, opts ...httpapi.RouteOption)
}

var _ Mounter = (*httpapi.Router)(nil)

// Route is one route of this package: its pattern and its handler.
type Route struct {
	Pattern string
	Handler http.Handler
}

// Routes returns every route of this package built on d, in mounting order.
func Routes(d Deps) []Route {
	d = d.withDefaults()
	s, v := d.Store, d.Validation
	return []Route{
		{PathDefinitions, ListDefinitions(s)},
		{PathDefinitionCreate, CreateDefinition(s, v, d.NewID)},
		{PathDefinitionValidate, ValidateDefinition(v)},
		{PathDefinitionFromTemplate, DefinitionFromTemplate(s, s, v, d.NewID)},
		{PathDefinition, GetDefinition(s)},
		{PathDefinitionUpdate, UpdateDefinition(s, v)},
		{PathDefinitionDelete, DeleteDefinition(s)},
		{PathDefinitionExecutions, DefinitionExecutions(s, s)},
		{PathDefinitionAnalytics, DefinitionAnalytics(s)},
		{PathTemplates, ListTemplates(s)},
		{PathTemplateCreate, CreateTemplate(s, v, d.NewID)},
		{PathTemplateValidate, ValidateTemplate(v)},
		{PathTemplateImport, ImportTemplate(s, v, d.NewID)},
		{PathTemplate, GetTemplate(s)},
		{PathTemplateUpdate, UpdateTemplate(s, v)},
		{PathTemplateDelete, DeleteTemplate(s)},
		{PathTemplateExport, ExportTemplate(s, d.Now)},
		{PathTemplateLoad, GetTemplate(s)},
		{PathNodeTypes, NodeTypes()},
		{PathNodeTypesModern, ModernNodeTypesHandler()},
		{PathDefaults, ServiceDefaults(d.Defaults)},
		{PathMemoryConfigure, ConfigureMemory(s, d.Now)},
		{PathToolsConfigure, ConfigureTools(s, d.Now)},
		{PathExecutions, ListExecutions(s)},
		{PathExecution, GetExecution(s)},
		{PathExecutionEvents, ExecutionEvents(s)},
		{PathConversations, ListConversations(s)},
		{PathConversation, GetConversation(s)},
		{PathConversationMessages, ConversationMessages(s)},
		{PathConversationDelete, DeleteConversation(s)},
		{PathOpenAPI, OpenAPI()},
	}
}

// Register mounts every route of this package on rt, all in the "other" rate
// class.
func Register(rt Mounter, d Deps) {
	for _, r := range Routes(d) {
		rt.Mount(r.Pattern, r.Handler, httpapi.RateClass(httpapi.ClassOther))
	}
}

func (d Deps) withDefaults() Deps {
	if d.NewID == nil {
		d.NewID = newULID
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Validation.toolExists == nil {
		d.Validation = NewValidation(nil)
	}
	return d
}
