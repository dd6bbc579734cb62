package resources

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

// CodeBuiltinTemplate is the errors[].code of the 409 answered to a change of a
// built-in template.
const CodeBuiltinTemplate = "builtin_template"

// TemplateRequest is the body of POST and PUT /workflows/templates and of the
// template validate route.
type TemplateRequest struct {
	Name         string                `json:"name"`
	Description  string                `json:"description,omitempty"`
	Category     string                `json:"category,omitempty"`
	Capabilities workflow.Capabilities `json:"capabilities"`
	Params       workflow.Params       `json:"params"`
}

func (b *TemplateRequest) template(id string) *workflow.Template {
	return &workflow.Template{ID: id, Name: b.Name, Description: b.Description, Category: b.Category,
		Capabilities: b.Capabilities, Params: b.Params}
}

// TemplateDocument is a template as exported: its fields plus id and builtin,
// which an import ignores (it creates a new user template).
type TemplateDocument struct {
	ID      string `json:"id,omitempty"`
	Builtin bool   `json:"builtin"`
	TemplateRequest
}

// ExportFormat names the export document's format.
const ExportFormat = "chatter.template/v1"

// ExportDocument is the answer of GET /workflows/templates/{id}/export and the body
// of POST /workflows/templates/import. Definition is the graph the template
// generates, for reading; an import regenerates it from the template.
type ExportDocument struct {
	Format     string               `json:"format"`
	Template   TemplateDocument     `json:"template"`
	Definition *workflow.Definition `json:"definition,omitempty"`
}

func builtinConflict(id string) *httpapi.Error {
	msg := "template " + strconv.Quote(id) + " is built in and cannot be changed; create a template of your own from it"
	return &httpapi.Error{Code: httpapi.CodeConflict, Message: msg,
		Errors: []httpapi.FieldError{{Field: "id", Code: CodeBuiltinTemplate, Message: msg}}}
}

// findTemplate resolves a built-in (by id, which is its name), else the caller's
// own template, else a public one.
func findTemplate(r *http.Request, s Templates, uid, id string) (*workflow.Template, error) {
	if t, ok := workflow.Builtin(id); ok {
		return t, nil
	}
	return s.GetTemplate(r.Context(), uid, id)
}

// validTemplate validates t; prefix is the pointer of the template in the body.
func validTemplate(t *workflow.Template, v Validation, prefix string) error {
	if ps := workflow.ValidateTemplate(t, v.options()); len(ps) > 0 {
		for i := range ps {
			ps[i].Pointer = prefix + ps[i].Pointer
		}
		return problemsError("the template has "+strconv.Itoa(len(ps))+" problem(s); see errors", ps)
	}
	return nil
}

// ListTemplates lists the built-in templates (on the first page) followed by a
// page of the caller's own templates. ?limit and the cursor page the caller's
// templates only; the built-ins are a short, fixed list.
func ListTemplates(s Templates) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		p, err := page(r)
		if err != nil {
			return err
		}
		pg, err := s.ListTemplates(r.Context(), uid, p)
		if err != nil {
			return listErr(err, p)
		}
		var items []*workflow.Template
		if p.Cursor == "" {
			items = append(items, workflow.Builtins()...)
		}
		items = append(items, pg.Items...)
		httpapi.WritePage(w, r, store.Page[*workflow.Template]{Items: items, Next: pg.Next})
		return nil
	})
}

// CreateTemplate validates and stores a user template under a new id: 201.
func CreateTemplate(s Templates, v Validation, newID func() string) http.Handler {
	if newID == nil {
		newID = newULID
	}
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		if err := onlyQuery(r); err != nil {
			return err
		}
		var body TemplateRequest
		if err := httpapi.Decode(r, &body); err != nil {
			return err
		}
		return createTemplate(w, r, s, v, uid, body.template(newID()), "")
	})
}

func createTemplate(w http.ResponseWriter, r *http.Request, s Templates, v Validation, uid string, t *workflow.Template, prefix string) error {
	if err := validTemplate(t, v, prefix); err != nil {
		return err
	}
	if err := s.PutTemplate(r.Context(), uid, t); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/workflows/templates/"+t.ID)
	httpapi.WriteJSON(w, r, http.StatusCreated, t)
	return nil
}

// GetTemplate returns a built-in, the caller's own or a public template.
func GetTemplate(s Templates) http.Handler {
	return handleID(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		t, err := findTemplate(r, s, uid, id)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, r, http.StatusOK, t)
		return nil
	})
}

// UpdateTemplate replaces one of the caller's templates; a built-in is a 409.
func UpdateTemplate(s Templates, v Validation) http.Handler {
	return handleID(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		if _, ok := workflow.Builtin(id); ok {
			return builtinConflict(id)
		}
		var body TemplateRequest
		if err := httpapi.Decode(r, &body); err != nil {
			return err
		}
		cur, err := s.GetTemplate(r.Context(), uid, id)
		if err != nil {
			return err
		}
		if cur.Public { // readable by all, but not the caller's: there is no template of theirs to replace
			return store.NotFound("template", id)
		}
		t := body.template(id)
		if err := validTemplate(t, v, ""); err != nil {
			return err
		}
		if err := s.PutTemplate(r.Context(), uid, t); err != nil {
			return err
		}
		httpapi.WriteJSON(w, r, http.StatusOK, t)
		return nil
	})
}

// DeleteTemplate deletes one of the caller's templates: 204; a built-in is a 409.
func DeleteTemplate(s Templates) http.Handler {
	return handleID(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		if _, ok := workflow.Builtin(id); ok {
			return builtinConflict(id)
		}
		if err := s.DeleteTemplate(r.Context(), uid, id); err != nil {
			return err
		}
		noContent(w)
		return nil
	})
}

// ExportTemplate returns a template as an ExportDocument, with the graph it
// generates.
func ExportTemplate(s Templates) http.Handler {
	return handleID(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		t, err := findTemplate(r, s, uid, id)
		if err != nil {
			return err
		}
		doc := ExportDocument{Format: ExportFormat, Definition: t.Definition(),
			Template: TemplateDocument{ID: t.ID, Builtin: t.Builtin, TemplateRequest: TemplateRequest{
				Name: t.Name, Description: t.Description, Category: t.Category, Capabilities: t.Capabilities, Params: t.Params}}}
		w.Header().Set("Content-Disposition", `attachment; filename="`+t.ID+`.template.json"`)
		httpapi.WriteJSON(w, r, http.StatusOK, doc)
		return nil
	})
}

// ImportTemplate creates a user template from an ExportDocument: 201. The
// document's id, builtin flag and definition are not taken (the template gets a
// new id and its graph is generated from it).
func ImportTemplate(s Templates, v Validation, newID func() string) http.Handler {
	if newID == nil {
		newID = newULID
	}
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		if err := onlyQuery(r); err != nil {
			return err
		}
		var doc struct {
			Format     string            `json:"format"`
			Template   *TemplateDocument `json:"template"`
			Definition json.RawMessage   `json:"definition,omitempty"`
		}
		if err := httpapi.Decode(r, &doc); err != nil {
			return err
		}
		if doc.Format != ExportFormat {
			return httpapi.FieldErr(httpapi.CodeInvalidInput, "format", "format must be "+strconv.Quote(ExportFormat))
		}
		if doc.Template == nil {
			return httpapi.FieldErr(httpapi.CodeInvalidInput, "template", "template is required")
		}
		return createTemplate(w, r, s, v, uid, doc.Template.template(newID()), "/template")
	})
}

// ValidateTemplate reports every problem of a template without storing it: 200.
func ValidateTemplate(v Validation) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, _ string) error {
		if err := onlyQuery(r); err != nil {
			return err
		}
		var body TemplateRequest
		if err := httpapi.Decode(r, &body); err != nil {
			return err
		}
		httpapi.WriteJSON(w, r, http.StatusOK, validationResult(workflow.ValidateTemplate(body.template(""), v.options())))
		return nil
	})
}
