package resources

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

// MaxNameLen bounds definition and template names.
const MaxNameLen = 200

// DefinitionRequest is the body of POST and PUT /workflows/definitions and of the
// validate route: a graph in the editor's format. Top-level fields are strict;
// nodes and edges are decoded as leniently as a stored definition, so editor-only
// keys (selected, width, ...) in a predecessor export are ignored.
type DefinitionRequest struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Nodes       json.RawMessage `json:"nodes"`
	Edges       json.RawMessage `json:"edges"`
	Variables   map[string]any  `json:"variables,omitempty"`
	Metadata    map[string]any  `json:"metadata,omitempty"`
}

func (b *DefinitionRequest) definition() (*workflow.Definition, error) {
	d := &workflow.Definition{Name: b.Name, Description: b.Description, Variables: b.Variables, Metadata: b.Metadata}
	if err := decodeArray(b.Nodes, "nodes", &d.Nodes); err != nil {
		return nil, err
	}
	if err := decodeArray(b.Edges, "edges", &d.Edges); err != nil {
		return nil, err
	}
	if d.Edges == nil {
		d.Edges = []workflow.Edge{}
	}
	return d, nil
}

func decodeArray(raw json.RawMessage, field string, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	if raw[0] != '[' {
		return httpapi.FieldErr(httpapi.CodeInvalid, field, field+" must be an array")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return httpapi.FieldErr(httpapi.CodeInvalid, field, fmt.Sprintf("%s must be an array of %s objects: %v", field, field[:len(field)-1], err))
	}
	return nil
}

func checkName(name string) error {
	switch {
	case name == "":
		return httpapi.FieldErr(httpapi.CodeInvalidInput, "name", "name is required")
	case len(name) > MaxNameLen:
		return httpapi.FieldErr(httpapi.CodeInvalidInput, "name", "name must be at most "+strconv.Itoa(MaxNameLen)+" bytes")
	}
	return nil
}

// validDefinition decodes and validates a create or update body.
func validDefinition(r *http.Request, v Validation) (*workflow.Definition, error) {
	var body DefinitionRequest
	if err := httpapi.Decode(r, &body); err != nil {
		return nil, err
	}
	if err := checkName(body.Name); err != nil {
		return nil, err
	}
	d, err := body.definition()
	if err != nil {
		return nil, err
	}
	if ps := workflow.Validate(d, v.options()); len(ps) > 0 {
		return nil, problemsError("the workflow has "+strconv.Itoa(len(ps))+" problem(s); see errors", ps)
	}
	return d, nil
}

// DefinitionResponse is a stored definition version as clients see it.
type DefinitionResponse struct {
	ID          string              `json:"id"`
	Version     int                 `json:"version"`
	Name        string              `json:"name"`
	Description string              `json:"description,omitempty"`
	Public      bool                `json:"public"`
	Definition  workflow.Definition `json:"definition"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
}

func definitionResponse(d *store.Definition) DefinitionResponse {
	g := d.Graph
	g.ID, g.Version = d.ID, d.Version
	if g.Nodes == nil {
		g.Nodes = []workflow.Node{}
	}
	if g.Edges == nil {
		g.Edges = []workflow.Edge{}
	}
	return DefinitionResponse{ID: d.ID, Version: d.Version, Name: g.Name, Description: g.Description,
		Public: d.Public, Definition: g, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

// ListDefinitions lists the caller's definitions (latest versions, by id).
func ListDefinitions(s Definitions) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		p, err := page(r)
		if err != nil {
			return err
		}
		pg, err := s.ListDefinitions(r.Context(), uid, p)
		if err != nil {
			return listErr(err, p)
		}
		out := store.Page[DefinitionResponse]{Next: pg.Next, Items: make([]DefinitionResponse, len(pg.Items))}
		for i := range pg.Items {
			out.Items[i] = definitionResponse(&pg.Items[i])
		}
		httpapi.WritePage(w, r, out)
		return nil
	})
}

// CreateDefinition validates a graph (tool names included) and stores it as
// version 1 under a new id: 201 with the stored definition and a Location.
func CreateDefinition(s Definitions, v Validation, newID func() string) http.Handler {
	if newID == nil {
		newID = newULID
	}
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		if err := onlyQuery(r); err != nil {
			return err
		}
		g, err := validDefinition(r, v)
		if err != nil {
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
	httpapi.WriteJSON(w, r, http.StatusCreated, definitionResponse(d))
	return nil
}

// GetDefinition returns the latest version of a definition, or ?version=N.
func GetDefinition(s Definitions) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		d, err := definitionAt(r, s, uid)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, r, http.StatusOK, definitionResponse(d))
		return nil
	})
}

// UpdateDefinition validates a graph and stores it as the next version of a
// definition the caller owns; older versions stay readable with ?version.
func UpdateDefinition(s Definitions, v Validation) http.Handler {
	return handleID(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		g, err := validDefinition(r, v)
		if err != nil {
			return err
		}
		d, err := s.UpdateDefinition(r.Context(), uid, id, func(d *store.Definition) error {
			d.Graph = *g
			return nil
		})
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, r, http.StatusOK, definitionResponse(d))
		return nil
	})
}

// DeleteDefinition deletes every version of a definition the caller owns: 204.
func DeleteDefinition(s Definitions) http.Handler {
	return handleID(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		if err := s.DeleteDefinition(r.Context(), uid, id); err != nil {
			return err
		}
		noContent(w)
		return nil
	})
}

// ValidateDefinition reports every problem of a graph without storing it: 200
// with valid and problems, whatever the verdict (a 422 means the body itself was
// not a graph).
func ValidateDefinition(v Validation) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, _ string) error {
		if err := onlyQuery(r); err != nil {
			return err
		}
		var body DefinitionRequest
		if err := httpapi.Decode(r, &body); err != nil {
			return err
		}
		d, err := body.definition()
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, r, http.StatusOK, validationResult(workflow.Validate(d, v.options())))
		return nil
	})
}

// FromTemplateRequest is the body of POST /workflows/definitions/from-template.
type FromTemplateRequest struct {
	// TemplateName names a built-in template; TemplateID a built-in (its id is its
	// name) or one of the caller's own or a public template. Send one.
	TemplateName string `json:"template_name,omitempty"`
	TemplateID   string `json:"template_id,omitempty"`
	// Name of the new definition; default the template's name.
	Name string `json:"name,omitempty"`
	// Params override the template's params field by field.
	Params *workflow.Params `json:"params,omitempty"`
}

// DefinitionFromTemplate generates a graph from a template (with param
// overrides), validates it and stores it as a new definition: 201.
func DefinitionFromTemplate(defs Definitions, tpls Templates, v Validation, newID func() string) http.Handler {
	if newID == nil {
		newID = newULID
	}
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		if err := onlyQuery(r); err != nil {
			return err
		}
		var body FromTemplateRequest
		if err := httpapi.Decode(r, &body); err != nil {
			return err
		}
		var t *workflow.Template
		switch {
		case body.TemplateName != "" && body.TemplateID != "":
			return httpapi.FieldErr(httpapi.CodeInvalidInput, "template_id", "send template_name or template_id, not both")
		case body.TemplateName != "":
			bt, ok := workflow.Builtin(body.TemplateName)
			if !ok {
				return httpapi.FieldErr(httpapi.CodeNotFound, "template_name", fmt.Sprintf("no built-in template named %q", body.TemplateName))
			}
			t = bt
		case body.TemplateID != "":
			if !validID(body.TemplateID) {
				return httpapi.FieldErr(httpapi.CodeInvalid, "template_id", "template_id is not a valid id")
			}
			var err error
			if t, err = findTemplate(r, tpls, uid, body.TemplateID); err != nil {
				return err
			}
		default:
			return httpapi.FieldErr(httpapi.CodeInvalidInput, "template_name", "template_name or template_id is required")
		}
		name := body.Name
		if name == "" {
			name = t.Name
		}
		if err := checkName(name); err != nil {
			return err
		}
		gen := t
		if body.Params != nil {
			gen = t.WithParams(*body.Params)
		}
		if ps := workflow.ValidateTemplate(gen, v.options()); len(ps) > 0 {
			return problemsError("the template with these params is not a valid workflow; see errors", ps)
		}
		g := gen.Definition()
		g.ID, g.Name = "", name
		if g.Metadata == nil {
			g.Metadata = map[string]any{}
		}
		g.Metadata["template"] = t.ID
		return createDefinition(w, r, defs, uid, newID(), g)
	})
}

// DefinitionExecutions lists the caller's executions of a definition they can
// read, newest first.
func DefinitionExecutions(defs Definitions, execs Executions) http.Handler {
	list := func(ctx context.Context, uid, id string, p store.PageRequest) (store.Page[store.Execution], error) {
		if _, err := defs.GetDefinition(ctx, uid, id, 0); err != nil {
			return store.Page[store.Execution]{}, err
		}
		return execs.ListExecutions(ctx, uid, store.ExecutionFilter{DefinitionID: id}, p)
	}
	return handleList(list, writeExecutions)
}

// DefinitionAnalytics returns the static analysis of a definition version
// (?version=N, default latest); see Analyze.
func DefinitionAnalytics(s Definitions) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		d, err := definitionAt(r, s, uid)
		if err != nil {
			return err
		}
		a := Analyze(&d.Graph)
		a.DefinitionID, a.Version = d.ID, d.Version
		httpapi.WriteJSON(w, r, http.StatusOK, a)
		return nil
	})
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
		return 0, httpapi.FieldErr(httpapi.CodeInvalid, "version", "version must be a positive integer")
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
