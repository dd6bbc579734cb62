package main

import (
	"github.com/chatterhq/chatter/internal/httpapi/chat"
	"github.com/chatterhq/chatter/internal/httpapi/documents"
	"github.com/chatterhq/chatter/internal/httpapi/openaiapi"
	"github.com/chatterhq/chatter/internal/httpapi/resources"
)

// kind says how a function is wired and what it may touch.
type kind int

const (
	// kindStateless: a resource route that reads no record (validation, catalogs);
	// it only counts requests in the table's rate-limit items.
	kindStateless    kind = iota
	kindRead              // a resource route that reads records
	kindWrite             // a resource route that writes records
	kindExec              // an execution route behind API Gateway
	kindStream            // the streaming chat route on a Function URL
	kindOpenAI            // a route of the OpenAI-compatible surface behind API Gateway
	kindOpenAIStream      // the OpenAI-compatible surface on its own Function URL
	kindHealth            // GET /health, open: liveness, touches nothing
	kindReady             // GET /ready, open: readiness, reads the table
	// kindDocuments: a documents route (httpapi/documents through docsapp): the
	// table, the documents bucket and, for search, the embedding model.
	kindDocuments
)

// function is one Lambda: its name (directory, build output, events/ sample),
// route, and the Go name its main passes to start it.
type function struct {
	name    string
	kind    kind
	pattern string // "METHOD /path"
	// goConst is a resources.Route* variable (its handler is all the function
	// links of package resources) or a pattern constant, e.g. "documents.PathList";
	// empty for health.
	goConst string
	body    string // sample request body
}

// Sample ids in the events/ samples: a definition id the RIE test replaces with one
// it created, a built-in template everyone can read, and ids of records a fresh
// table does not hold.
const (
	sampleDefinition   = "01JSAMPLEDEFINITION0000000"
	sampleTemplate     = "general_chat"
	sampleExecution    = "01JSAMPLEEXECUTION00000000"
	sampleConversation = "01JSAMPLECONVERSATION00000"
	sampleMessage      = "01JSAMPLEMESSAGE0000000000"
	sampleUser         = "user-sample"
	sampleDocument     = "01JSAMPLEDOCUMENT000000000"
)

const (
	chainBody = `{"name":"chain","description":"start -> llm -> end","nodes":[` +
		`{"id":"start","type":"start","position":{"x":0,"y":0},"data":{"label":"Start"}},` +
		`{"id":"llm","type":"llm","position":{"x":200,"y":0},"data":{"label":"Model","nodeType":"llm","config":{"temperature":0.2}}},` +
		`{"id":"end","type":"end","position":{"x":400,"y":0},"data":{"label":"End"}}],` +
		`"edges":[{"id":"e1","source":"start","target":"llm"},{"id":"e2","source":"llm","target":"end"}]}`
	templateBody = `{"name":"helper","description":"Answers briefly.","default_params":{"system_prompt":"Be brief.","enable_memory":true}}`
	chatBody     = `{"message":"What is 2+3?","enable_tools":true,"enable_retrieval":false,"enable_memory":true,` +
		`"enable_web_search":false,"enable_tracing":false,"workflow_config":{}}`
	conversationBody = `{"title":"Trip planning","system_prompt":"Be brief.","temperature":0.3}`
	executeBody      = `{"message":"Summarise the plan in one line."}`
)

// functions is every Lambda of the HTTP API and the Function URL, one per route.
// The subscribers (on-event-record, on-event-metrics) are written by hand: their
// wiring differs. A test checks this table against resources.Routes and the
// execution routes, so a route added there fails until it has a function here.
var functions = []function{
	{name: "health", kind: kindHealth, pattern: "GET /health"},
	{name: "ready", kind: kindReady, pattern: "GET /ready"},

	{"definitions-list", kindRead, resources.RouteDefinitions.Pattern, "resources.RouteDefinitions", ""},
	{"definitions-create", kindWrite, resources.RouteDefinitionCreate.Pattern, "resources.RouteDefinitionCreate", chainBody},
	{"definitions-validate", kindStateless, resources.RouteDefinitionValidate.Pattern, "resources.RouteDefinitionValidate", chainBody},
	{"definitions-from-template", kindWrite, resources.RouteDefinitionFromTemplate.Pattern, "resources.RouteDefinitionFromTemplate",
		`{"template_id":"general_chat","name":"my chat"}`},
	{"definition-get", kindRead, resources.RouteDefinition.Pattern, "resources.RouteDefinition", ""},
	{"definition-update", kindWrite, resources.RouteDefinitionUpdate.Pattern, "resources.RouteDefinitionUpdate", chainBody},
	{"definition-delete", kindWrite, resources.RouteDefinitionDelete.Pattern, "resources.RouteDefinitionDelete", ""},
	{"definition-executions", kindRead, resources.RouteDefinitionExecutions.Pattern, "resources.RouteDefinitionExecutions", ""},
	{"definition-execution-get", kindRead, resources.RouteDefinitionExecution.Pattern, "resources.RouteDefinitionExecution", ""},
	{"definition-execution-logs", kindRead, resources.RouteDefinitionExecutionLogs.Pattern, "resources.RouteDefinitionExecutionLogs", ""},
	{"definition-analytics", kindRead, resources.RouteDefinitionAnalytics.Pattern, "resources.RouteDefinitionAnalytics", ""},

	{"templates-list", kindRead, resources.RouteTemplates.Pattern, "resources.RouteTemplates", ""},
	{"templates-create", kindWrite, resources.RouteTemplateCreate.Pattern, "resources.RouteTemplateCreate", templateBody},
	{"templates-validate", kindStateless, resources.RouteTemplateValidate.Pattern, "resources.RouteTemplateValidate",
		`{"template":` + templateBody + `}`},
	{"templates-import", kindWrite, resources.RouteTemplateImport.Pattern, "resources.RouteTemplateImport",
		`{"template":` + templateBody + `,"override_name":"imported helper"}`},
	{"template-get", kindRead, resources.RouteTemplate.Pattern, "resources.RouteTemplate", ""},
	{"template-update", kindWrite, resources.RouteTemplateUpdate.Pattern, "resources.RouteTemplateUpdate", templateBody},
	{"template-delete", kindWrite, resources.RouteTemplateDelete.Pattern, "resources.RouteTemplateDelete", ""},
	{"template-export", kindRead, resources.RouteTemplateExport.Pattern, "resources.RouteTemplateExport", ""},
	{"template-load", kindRead, resources.RouteTemplateLoad.Pattern, "resources.RouteTemplateLoad", ""},
	{"template-analytics", kindRead, resources.RouteTemplateAnalytics.Pattern, "resources.RouteTemplateAnalytics", ""},

	{"node-types", kindStateless, resources.RouteNodeTypes.Pattern, "resources.RouteNodeTypes", ""},
	{"node-types-modern", kindStateless, resources.RouteNodeTypesModern.Pattern, "resources.RouteNodeTypesModern", ""},
	{"defaults", kindStateless, resources.RouteDefaults.Pattern, "resources.RouteDefaults", ""},
	{"memory-configure", kindWrite, resources.RouteMemoryConfigure.Pattern, "resources.RouteMemoryConfigure", ""},
	{"tools-configure", kindWrite, resources.RouteToolsConfigure.Pattern, "resources.RouteToolsConfigure", ""},
	{"openapi", kindStateless, resources.RouteOpenAPI.Pattern, "resources.RouteOpenAPI", ""},

	{"workflow-executions-list", kindRead, resources.RouteWorkflowExecutions.Pattern, "resources.RouteWorkflowExecutions", ""},
	{"executions-list", kindRead, resources.RouteExecutions.Pattern, "resources.RouteExecutions", ""},
	{"execution-get", kindRead, resources.RouteExecution.Pattern, "resources.RouteExecution", ""},
	{"execution-events", kindRead, resources.RouteExecutionEvents.Pattern, "resources.RouteExecutionEvents", ""},
	{"execution-cancel", kindWrite, resources.RouteExecutionCancel.Pattern, "resources.RouteExecutionCancel", ""},

	{"conversations-list", kindRead, resources.RouteConversations.Pattern, "resources.RouteConversations", ""},
	{"conversations-create", kindWrite, resources.RouteConversationCreate.Pattern, "resources.RouteConversationCreate", conversationBody},
	{"conversation-get", kindRead, resources.RouteConversation.Pattern, "resources.RouteConversation", ""},
	{"conversation-update", kindWrite, resources.RouteConversationUpdate.Pattern, "resources.RouteConversationUpdate",
		`{"title":"Renamed","status":"archived"}`},
	{"conversation-delete", kindWrite, resources.RouteConversationDelete.Pattern, "resources.RouteConversationDelete", ""},
	{"conversation-messages", kindRead, resources.RouteConversationMessages.Pattern, "resources.RouteConversationMessages", ""},
	{"message-delete", kindWrite, resources.RouteMessageDelete.Pattern, "resources.RouteMessageDelete", ""},
	{"message-rating", kindWrite, resources.RouteMessageRating.Pattern, "resources.RouteMessageRating", `{"rating":4.5}`},

	{"documents-upload", kindDocuments, documents.PathUpload, "documents.PathUpload", ""},
	{"documents-presign", kindDocuments, documents.PathPresign, "documents.PathPresign",
		`{"filename":"notes.md","content_type":"text/markdown","size":5242880}`},
	{"documents-list", kindDocuments, documents.PathList, "documents.PathList", ""},
	{"documents-query", kindDocuments, documents.PathListQuery, "documents.PathListQuery", `{"status":"processed","limit":10}`},
	{"documents-search", kindDocuments, documents.PathSearch, "documents.PathSearch", `{"query":"when to prune roses","limit":3}`},
	{"documents-stats", kindDocuments, documents.PathStats, "documents.PathStats", ""},
	{"document-get", kindDocuments, documents.PathGet, "documents.PathGet", ""},
	{"document-delete", kindDocuments, documents.PathDelete, "documents.PathDelete", ""},
	{"document-chunks", kindDocuments, documents.PathChunks, "documents.PathChunks", ""},
	{"document-reprocess", kindDocuments, documents.PathReprocess, "documents.PathReprocess", ""},
	{"document-download", kindDocuments, documents.PathDownload, "documents.PathDownload", ""},

	{"chat", kindExec, chat.PathChat, "chat.PathChat", chatBody},
	{"chat-stream", kindStream, chat.PathChatStream, "chat.PathChatStream", chatBody},
	{"template-execute", kindExec, chat.PathTemplateExecute, "chat.PathTemplateExecute", executeBody},
	{"templates-inline-execute", kindExec, chat.PathTemplateInline, "chat.PathTemplateInline",
		`{"input_data":{"message":"Hello"},"template":{"name":"inline","default_params":{"system_prompt":"Be brief."}}}`},
	{"definition-execute", kindExec, chat.PathDefinitionExecute, "chat.PathDefinitionExecute",
		`{"definition_id":"` + sampleDefinition + `","input_data":{"message":"Summarise the plan in one line."}}`},
	{"definitions-custom-execute", kindExec, chat.PathDefinitionInline, "chat.PathDefinitionInline",
		`{"message":"Hello",` + chainBody[1:]},
	{"execution-resume", kindExec, chat.PathExecutionResume, "chat.PathExecutionResume", `{"action":"approve"}`},

	{"v1-chat-completions", kindOpenAI, openaiapi.PathCompletions, "openaiapi.PathCompletions", completionBody},
	{"v1-models", kindOpenAI, openaiapi.PathModels, "openaiapi.PathModels", ""},
	// The streaming twin: both /v1 routes (and stream: true token by token) on a
	// Function URL, the base URL of OpenAI clients that stream.
	{"v1-stream", kindOpenAIStream, openaiapi.PathCompletions, "openaiapi.PathCompletions", streamCompletionBody},
}

const (
	completionBody       = `{"model":"template/general_chat","messages":[{"role":"user","content":"What is 2+3?"}]}`
	streamCompletionBody = `{"model":"template/general_chat","messages":[{"role":"user","content":"What is 2+3?"}],` +
		`"stream":true,"stream_options":{"include_usage":true}}`
)

// execs: the function runs workflows (executor, providers, the bus).
func (f function) execs() bool {
	return f.kind == kindExec || f.kind == kindStream || f.kind == kindOpenAI || f.kind == kindOpenAIStream
}

// variant is one build of a function: a function that runs workflows has two, of
// which the template's Providers parameter deploys one (its condition) — all
// providers linked (the default), or Bedrock only (-tags chatter_nosdk: no
// OpenAI or Anthropic SDK, no key lookups; sizes in the README's Performance).
type variant struct {
	suffix    string // of the logical id: ChatFunction, ChatBedrockFunction
	condition string // template.yaml condition; "" for a function built one way
	bedrock   bool
}

var (
	allProviders = variant{condition: "AllProviders"}
	bedrockOnly  = variant{suffix: "Bedrock", condition: "BedrockOnly", bedrock: true}
)

// variants lists the function's builds.
func (f function) variants() []variant {
	if f.execs() {
		return []variant{allProviders, bedrockOnly}
	}
	return []variant{{}}
}

// streams: the function is on a Function URL (RESPONSE_STREAM).
func (f function) streams() bool { return f.kind == kindStream || f.kind == kindOpenAIStream }

// verifiesTokens: the function checks bearer tokens itself against the issuer's
// JWKS — on a Function URL, where no authorizer stands, and on the OpenAI-compatible
// routes, whose HTTP API routes have no authorizer so that a bad token is answered
// in OpenAI's error shape (the JWT authorizer's 401 body is API Gateway's own).
func (f function) verifiesTokens() bool { return f.streams() || f.kind == kindOpenAI }

// subscribers are the hand-written functions (the event subscribers, the
// documents ingest, started by S3's Object Created, and the scheduled sweeper);
// the generator only checks they exist.
var subscribers = []string{"on-event-record", "on-event-metrics", "documents-ingest", "sweeper"}
