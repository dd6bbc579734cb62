package resources

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

// Definitions in the predecessor's shape: a body is WorkflowDefinitionCreate (name,
// nodes, edges, metadata, is_public, tags, template_id) plus chatter's description
// and variables; an answer is WorkflowDefinitionResponse (those fields, id,
// owner_id, version) plus description, variables and timestamps. is_public is
// accepted and not applied: publishing a definition every user sees is an
// operator's action, so every definition a user stores is their own (is_public
// false). PUT changes only the fields it sends (the old WorkflowDefinitionUpdate);
// the result is validated whole and stored as the next version. DELETE answers 200
// with {message, workflow_id}. from-template's is_temporary is accepted and not
// applied: every definition is kept until it is deleted.

// Tag bounds: how many tags a definition or template may carry, and how long each
// may be (characters).
const (
	MaxTags   = 50
	MaxTagLen = 100
)

// DefinitionRequest is the body of POST /workflows/definitions and of the validate
// route. Top-level fields are strict; nodes and edges are decoded as leniently as a
// stored definition, so editor-only keys (selected, dragging, width, ...) in a
// predecessor export are ignored.
type DefinitionRequest struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Nodes       json.RawMessage `json:"nodes"`
	Edges       json.RawMessage `json:"edges"`
	Variables   map[string]any  `json:"variables,omitempty"`
	Metadata    map[string]any  `json:"metadata,omitempty"`
	IsPublic    *bool           `json:"is_public,omitempty"` // accepted, not applied
	Tags        []string        `json:"tags,omitempty"`
	TemplateID  string          `json:"template_id,omitempty"`
}

func (b *DefinitionRequest) definition() (*workflow.Definition, error) {
	d := &workflow.Definition{Name: b.Name, Description: b.Description, Variables: b.Variables, Metadata: b.Metadata,
		Tags: b.Tags, TemplateID: b.TemplateID}
	if err := decodeArray(b.Nodes, "nodes", &d.Nodes); err != nil {
		return nil, err
	}
	if err := decodeArray(b.Edges, "edges", &d.Edges); err != nil {
		return nil, err
	}
	if d.Edges == nil {
		d.Edges = []workflow.Edge{}
	}
	return d, checkRefs(d)
}

// DefinitionUpdate is the body of PUT /workflows/definitions/{id}: every field is
// optional (null is not set), and what is not sent keeps its stored value.
type DefinitionUpdate struct {
	Name        *string         `json:"name,omitempty"`
	Description *string         `json:"description,omitempty"`
	Nodes       json.RawMessage `json:"nodes,omitempty"`
	Edges       json.RawMessage `json:"edges,omitempty"`
	Variables   map[string]any  `json:"variables,omitempty"`
	Metadata    map[string]any  `json:"metadata,omitempty"`
	Tags        *[]string       `json:"tags,omitempty"`
	TemplateID  *string         `json:"template_id,omitempty"`
}

// apply sets the sent fields on g (a copy of the stored graph).
func (u *DefinitionUpdate) apply(g *workflow.Definition) error {
	if u.Name != nil {
		g.Name = *u.Name
	}
	if u.Description != nil {
		g.Description = *u.Description
	}
	if !isNull(u.Nodes) && len(u.Nodes) > 0 {
		g.Nodes = nil
		if err := decodeArray(u.Nodes, "nodes", &g.Nodes); err != nil {
			return err
		}
	}
	if !isNull(u.Edges) && len(u.Edges) > 0 {
		g.Edges = []workflow.Edge{}
		if err := decodeArray(u.Edges, "edges", &g.Edges); err != nil {
			return err
		}
	}
	if u.Variables != nil {
		g.Variables = u.Variables
	}
	if u.Metadata != nil {
		g.Metadata = u.Metadata
	}
	if u.Tags != nil {
		g.Tags = *u.Tags
	}
	if u.TemplateID != nil {
		g.TemplateID = *u.TemplateID
	}
	return checkRefs(g)
}

// checkRefs bounds the fields validation does not see: tags and template_id.
func checkRefs(d *workflow.Definition) error {
	if err := checkTags(d.Tags); err != nil {
		return err
	}
	if d.TemplateID != "" && !store.ValidID(d.TemplateID) {
		return httpcore.FieldErr(errcode.InvalidInput, "template_id", "template_id is not a valid id")
	}
	return nil
}

func checkTags(tags []string) error {
	if len(tags) > MaxTags {
		return httpcore.FieldErr(errcode.InvalidInput, "tags", "at most "+strconv.Itoa(MaxTags)+" tags")
	}
	for i, t := range tags {
		if t == "" || utf8.RuneCountInString(t) > MaxTagLen {
			return httpcore.FieldErr(errcode.InvalidInput, "/tags/"+strconv.Itoa(i),
				"a tag is 1 to "+strconv.Itoa(MaxTagLen)+" characters")
		}
	}
	return nil
}

func decodeArray(raw json.RawMessage, field string, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	if raw[0] != '[' {
		return httpcore.FieldErr(errcode.InvalidInput, field, field+" must be an array")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return httpcore.FieldErr(errcode.InvalidInput, field, fmt.Sprintf("%s must be an array of %s objects: %v", field, field[:len(field)-1], err))
	}
	return nil
}

func checkName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return httpcore.FieldErr(errcode.InvalidInput, "name", "name is required")
	case utf8.RuneCountInString(name) > workflow.MaxNameLen:
		return httpcore.FieldErr(errcode.InvalidInput, "name",
			"name must be at most "+strconv.Itoa(workflow.MaxNameLen)+" characters")
	}
	return nil
}

// validGraph checks a graph about to be stored: its name, then every problem.
func validGraph(d *workflow.Definition, v Validation) error {
	if err := checkName(d.Name); err != nil {
		return err
	}
	ps, err := v.validate(d)
	if err != nil {
		return err
	}
	if len(ps) > 0 {
		return problemsError("the workflow has "+strconv.Itoa(len(ps))+" problem(s); see errors", ps)
	}
	return nil
}

// DefinitionResponse is a stored definition version as every definition route
// answers it: the predecessor's WorkflowDefinitionResponse, with chatter's
// description, variables and timestamps. Nodes and edges are in the editor's
// format with what it requires filled in (see editorNode).
type DefinitionResponse struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Nodes      []workflow.Node `json:"nodes"`
	Edges      []workflow.Edge `json:"edges"`
	Metadata   map[string]any  `json:"metadata"`
	IsPublic   bool            `json:"is_public"`
	Tags       []string        `json:"tags"`
	TemplateID *string         `json:"template_id"`
	OwnerID    string          `json:"owner_id"`
	Version    int             `json:"version"`

	Description string         `json:"description,omitempty"`
	Variables   map[string]any `json:"variables,omitempty"`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
}

func definitionResponse(d *store.Definition) DefinitionResponse {
	g := &d.Graph
	out := DefinitionResponse{ID: d.ID, Name: g.Name, Nodes: make([]workflow.Node, len(g.Nodes)),
		Edges: make([]workflow.Edge, len(g.Edges)), Metadata: g.Metadata, IsPublic: d.Public, Tags: g.Tags,
		TemplateID: nonEmpty(g.TemplateID), OwnerID: d.UserID, Version: d.Version, Description: g.Description,
		Variables: g.Variables, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	for i := range g.Nodes {
		out.Nodes[i] = editorNode(g.Nodes[i])
	}
	for i, e := range g.Edges {
		if e.ID == "" {
			e.ID = "e" + strconv.Itoa(i+1) + "-" + e.Source + "-" + e.Target
		}
		out.Edges[i] = e
	}
	return out
}

// editorNode is n as the predecessor's editor reads it: type, position and
// data.label and data.nodeType are always there (the kind, 0,0 and the id when the
// node had none), and a top-level config is moved into data.config. What the node
// means does not change: its kind and config read the same.
func editorNode(n workflow.Node) workflow.Node {
	kind := n.KindName()
	if n.Type == "" {
		n.Type = kind
	}
	if n.Position == nil {
		n.Position = &workflow.Position{}
	}
	if n.Data.Label == "" {
		n.Data.Label = n.ID
	}
	if n.Data.NodeType == "" {
		n.Data.NodeType = kind
	}
	if len(n.Data.Config) == 0 && len(n.Config) > 0 {
		n.Data.Config, n.Config = n.Config, nil
	}
	return n
}

// DefinitionList is the answer of GET /workflows/definitions: the predecessor's
// WorkflowDefinitionsResponse (definitions, total_count) and chatter's next_cursor.
type DefinitionList struct {
	Definitions []DefinitionResponse `json:"definitions"`
	TotalCount  int                  `json:"total_count"`
	NextCursor  string               `json:"next_cursor,omitempty"`
}

// definitionLimit is the default page of the definition and template lists.
const definitionLimit = 20

// ListDefinitions lists the caller's definitions (latest versions, by id), paged
// by ?offset, ?limit and ?cursor (lists.go).
func ListDefinitions(s Definitions) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		q, err := offsetPage(r, definitionLimit)
		if err != nil {
			return err
		}
		list := func(ctx context.Context, p store.PageRequest) (store.Page[store.Definition], error) {
			return s.ListDefinitions(ctx, uid, p)
		}
		win, err := window(r.Context(), list, q)
		if err != nil {
			return err
		}
		out := DefinitionList{Definitions: make([]DefinitionResponse, len(win.Items)), TotalCount: win.Total,
			NextCursor: win.Next}
		for i := range win.Items {
			out.Definitions[i] = definitionResponse(&win.Items[i])
		}
		httpcore.WriteJSON(w, r, http.StatusOK, out)
		return nil
	})
}

// CreateDefinition validates a graph (tool names included) and stores it as
// version 1 under a new id: 200 (the old contract's status) with the stored
// definition and a Location.
func CreateDefinition(s Definitions, v Validation, newID func() string) http.Handler {
	if newID == nil {
		newID = newULID
	}
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		if err := onlyQuery(r); err != nil {
			return err
		}
		var body DefinitionRequest
		if err := httpcore.Decode(r, &body); err != nil {
			return err
		}
		g, err := body.definition()
		if err != nil {
			return err
		}
		if err := validGraph(g, v); err != nil {
			return err
		}
		return createDefinition(w, r, s, uid, newID(), g)
	})
}

func createDefinition(w http.ResponseWriter, r *http.Request, s Definitions, uid, id string, g *workflow.Definition) error {
	d := &store.Definition{ID: id, UserID: uid, Graph: *g}
	if err := s.CreateDefinition(r.Context(), d); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/workflows/definitions/"+d.ID)
	httpcore.WriteJSON(w, r, http.StatusOK, definitionResponse(d))
	return nil
}

// GetDefinition returns the latest version of a definition, or ?version=N.
func GetDefinition(s Definitions) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		d, err := definitionAt(r, s, uid)
		if err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, definitionResponse(d))
		return nil
	})
}

// UpdateDefinition applies the sent fields to the latest version of a definition
// the caller owns, validates the result and stores it as the next version; older
// versions stay readable with ?version.
func UpdateDefinition(s Definitions, v Validation) http.Handler {
	return handleID(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		var body DefinitionUpdate
		if err := httpcore.Decode(r, &body); err != nil {
			return err
		}
		d, err := s.UpdateDefinition(r.Context(), uid, id, func(d *store.Definition) error {
			g := d.Graph
			if err := body.apply(&g); err != nil {
				return err
			}
			if err := validGraph(&g, v); err != nil {
				return err
			}
			d.Graph = g
			return nil
		})
		if err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, definitionResponse(d))
		return nil
	})
}

// DeleteResponse is the answer of a delete: the predecessor's WorkflowDeleteResponse.
type DeleteResponse struct {
	Message    string `json:"message"`
	WorkflowID string `json:"workflow_id"`
}

// DeleteDefinition deletes every version of a definition the caller owns: 200 with
// a DeleteResponse.
func DeleteDefinition(s Definitions) http.Handler {
	return handleID(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		if err := s.DeleteDefinition(r.Context(), uid, id); err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, DeleteResponse{Message: "Workflow definition deleted successfully",
			WorkflowID: id})
		return nil
	})
}

// ValidateDefinition reports every problem of a graph without storing it: 200
// whatever the verdict (a 422 means the body was not a JSON object). The old
// contract takes any object here, so top-level keys chatter does not know are not
// refused: each is reported as a warning naming it.
func ValidateDefinition(v Validation) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, _ string) error {
		if err := onlyQuery(r); err != nil {
			return err
		}
		var obj map[string]json.RawMessage
		if err := httpcore.Decode(r, &obj); err != nil {
			return err
		}
		var warnings []workflow.Problem
		known := map[string]json.RawMessage{}
		for k, raw := range obj {
			if definitionKeys[k] {
				known[k] = raw
				continue
			}
			warnings = append(warnings, workflow.Problem{Code: CodeIgnoredField, Pointer: "/" + k,
				Message: fmt.Sprintf("%q is not a field of a workflow definition and was ignored", k)})
		}
		b, _ := json.Marshal(known)
		var body DefinitionRequest
		if err := httpcore.DecodeValue(b, &body, ""); err != nil {
			return err
		}
		d, err := body.definition()
		if err != nil {
			return err
		}
		ps, err := v.validate(d)
		if err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, validationResult(ps, warnings))
		return nil
	})
}

// CodeIgnoredField is the code of a validate warning about a key that was ignored.
const CodeIgnoredField = "ignored_field"

// definitionKeys are DefinitionRequest's JSON names.
var definitionKeys = jsonNames[DefinitionRequest]()

// FromTemplateRequest is the body of POST /workflows/definitions/from-template: the
// predecessor's WorkflowDefinitionFromTemplateRequest (template_id, name_suffix,
// user_input, is_temporary) and chatter's template_name, name and params.
type FromTemplateRequest struct {
	// TemplateName names a built-in template; TemplateID a built-in (its id is its
	// name) or one of the caller's own or a public template. Send one.
	TemplateName string `json:"template_name,omitempty"`
	TemplateID   string `json:"template_id,omitempty"`
	// Name of the new definition (default the template's), then NameSuffix.
	Name       string `json:"name,omitempty"`
	NameSuffix string `json:"name_suffix,omitempty"`
	// Params override the template's params field by field; UserInput does the
	// same in default_params form (see templates_shape.go), after which Params apply.
	Params    *workflow.Params `json:"params,omitempty"`
	UserInput json.RawMessage  `json:"user_input,omitempty"`
	// IsTemporary is accepted and not applied: the definition is kept.
	IsTemporary *bool `json:"is_temporary,omitempty"`
}

// DefinitionFromTemplate generates a graph from a template (with param
// overrides), validates it and stores it as a new definition: 200.
func DefinitionFromTemplate(defs Definitions, tpls Templates, v Validation, newID func() string) http.Handler {
	if newID == nil {
		newID = newULID
	}
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		if err := onlyQuery(r); err != nil {
			return err
		}
		var body FromTemplateRequest
		if err := httpcore.Decode(r, &body); err != nil {
			return err
		}
		var t *workflow.Template
		switch {
		case body.TemplateName != "" && body.TemplateID != "":
			return httpcore.FieldErr(errcode.InvalidInput, "template_id", "send template_name or template_id, not both")
		case body.TemplateName != "":
			bt, ok := workflow.Builtin(body.TemplateName)
			if !ok {
				return httpcore.FieldErr(errcode.NotFound, "template_name", fmt.Sprintf("no built-in template named %q", body.TemplateName))
			}
			t = bt
		case body.TemplateID != "":
			if !store.ValidID(body.TemplateID) {
				return httpcore.FieldErr(errcode.InvalidInput, "template_id", "template_id is not a valid id")
			}
			var err error
			if t, err = findTemplate(r, tpls, uid, body.TemplateID); err != nil {
				return err
			}
		default:
			return httpcore.FieldErr(errcode.InvalidInput, "template_name", "template_name or template_id is required")
		}
		name := body.Name
		if name == "" {
			name = t.Name
		}
		name += body.NameSuffix
		gen, err := overridden(t, body.UserInput, body.Params)
		if err != nil {
			return err
		}
		ps, err := v.validateTemplate(gen)
		if err != nil {
			return err
		}
		if len(ps) > 0 {
			return problemsError("the template with these params is not a valid workflow; see errors", ps)
		}
		if err := checkName(name); err != nil {
			return err
		}
		g := gen.Definition()
		g.ID, g.Name, g.TemplateID = "", name, t.ID
		return createDefinition(w, r, defs, uid, newID(), g)
	})
}

// overridden is t with a request's user_input (default_params form: params and
// enable_* flags; other keys are not used) and then params applied.
func overridden(t *workflow.Template, userInput json.RawMessage, params *workflow.Params) (*workflow.Template, error) {
	gen := t
	if len(userInput) > 0 && !isNull(userInput) {
		p := &templatePatch{}
		if err := p.defaultParams(userInput, "/user_input"); err != nil {
			return nil, err
		}
		gen = gen.WithParams(*p.params)
		p.params, p.extra = nil, nil // overrides, not a replacement: only the flags remain to apply
		p.apply(gen)
	}
	if params != nil {
		gen = gen.WithParams(*params)
	}
	return gen, nil
}

// versionParam reads ?version (0 when absent, meaning the latest).
func versionParam(r *http.Request) (int, error) {
	if err := onlyQuery(r, "version"); err != nil {
		return 0, err
	}
	q := r.URL.Query()
	if !q.Has("version") {
		return 0, nil
	}
	n, err := strconv.Atoi(q.Get("version"))
	if err != nil || n < 1 {
		return 0, httpcore.FieldErr(errcode.InvalidInput, "version", "version must be a positive integer")
	}
	return n, nil
}

// definitionAt reads the definition of the path's id at ?version=N (default latest).
func definitionAt(r *http.Request, s Definitions, uid string) (*store.Definition, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	version, err := versionParam(r)
	if err != nil {
		return nil, err
	}
	return s.GetDefinition(r.Context(), uid, id, version)
}
