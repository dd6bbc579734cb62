package resources

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

// Template routes answer TemplateResponse (the predecessor's
// WorkflowTemplateResponse; see templates_shape.go for how its fields map onto
// chatter's). Create, update, import and load answer 200, delete 200 with
// {message, workflow_id}, as the old contract has it. GET /templates/{id} and GET
// /templates/{id}/load are the same read.

// CodeBuiltinTemplate is the errors[].code of the 409 answered to a change of a
// built-in template.
const CodeBuiltinTemplate = "builtin_template"

func builtinConflict(id string) *httpcore.Error {
	msg := "template " + strconv.Quote(id) + " is built in and cannot be changed; create a template of your own from it"
	return &httpcore.Error{Code: errcode.Conflict, Message: msg,
		Errors: []httpcore.FieldError{{Field: "id", Code: CodeBuiltinTemplate, Message: msg}}}
}

// findTemplate resolves a built-in (by id, which is its name), else the caller's
// own template, else a public one.
func findTemplate(r *http.Request, s Templates, uid, id string) (*workflow.Template, error) {
	if t, ok := workflow.Builtin(id); ok {
		return t, nil
	}
	return s.GetTemplate(r.Context(), uid, id)
}

// validTemplate checks a template about to be stored or run; prefix is the
// template's pointer in the body.
func validTemplate(t *workflow.Template, v Validation, prefix string) error {
	if err := checkTags(t.Tags); err != nil {
		return renamed(err, prefix)
	}
	ps, err := templateProblems(t, v, prefix)
	if err != nil {
		return err
	}
	if len(ps) > 0 {
		return problemsError("the template has "+strconv.Itoa(len(ps))+" problem(s); see errors", ps)
	}
	return nil
}

func templateProblems(t *workflow.Template, v Validation, prefix string) ([]workflow.Problem, error) {
	ps, err := v.validateTemplate(t)
	for i := range ps {
		ps[i].Pointer = prefix + ps[i].Pointer
	}
	return ps, err
}

// renamed puts a field error of a template's own fields under its pointer.
func renamed(err error, prefix string) error {
	var e *httpcore.Error
	if errors.As(err, &e) && prefix != "" {
		for i := range e.Errors {
			e.Errors[i].Field = prefix + "/" + strings.TrimPrefix(e.Errors[i].Field, "/")
		}
	}
	return err
}

// TemplateList is the answer of GET /workflows/templates: the predecessor's
// WorkflowTemplatesResponse (templates, total_count) and chatter's next_cursor.
type TemplateList struct {
	Templates  []TemplateResponse `json:"templates"`
	TotalCount int                `json:"total_count"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

// ListTemplates lists the built-in templates, then the caller's own; ?offset and
// ?limit page that whole list and total_count counts it. A ?cursor (a previous
// answer's next_cursor) continues through the caller's own templates.
func ListTemplates(s Templates) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		q, err := offsetPage(r, definitionLimit)
		if err != nil {
			return err
		}
		list := func(ctx context.Context, p store.PageRequest) (store.Page[*workflow.Template], error) {
			return s.ListTemplates(ctx, uid, p)
		}
		builtins := workflow.Builtins()
		var items []*workflow.Template
		if q.Cursor == "" && q.Offset < len(builtins) {
			items = builtins[q.Offset:min(len(builtins), q.Offset+q.Limit)]
		}
		own := q // the part of the page that is the caller's templates
		if q.Cursor == "" {
			own.Offset = max(0, q.Offset-len(builtins))
			own.Limit = q.Limit - len(items)
		}
		var win listWindow[*workflow.Template]
		if own.Limit > 0 {
			win, err = window(r.Context(), list, own)
		} else { // the page is all built-ins: no cursor points before the first own template; ?offset continues
			win.Total, err = count(r.Context(), list)
		}
		if err != nil {
			return err
		}
		items = append(items, win.Items...)
		out := TemplateList{Templates: make([]TemplateResponse, len(items)), TotalCount: len(builtins) + win.Total,
			NextCursor: win.Next}
		for i, t := range items {
			out.Templates[i] = templateResponse(t, uid)
		}
		httpcore.WriteJSON(w, r, http.StatusOK, out)
		return nil
	})
}

// CreateTemplate validates and stores a user template under a new id: 200. A
// base_template_id (a built-in, the caller's own or a public template) seeds it:
// the new template starts as a copy of the base, and the body's fields apply on
// top.
func CreateTemplate(s Templates, v Validation, newID func() string) http.Handler {
	if newID == nil {
		newID = newULID
	}
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		if err := onlyQuery(r); err != nil {
			return err
		}
		var raw json.RawMessage
		if err := httpcore.Decode(r, &raw); err != nil {
			return err
		}
		p, err := decodeTemplate(raw, "", strictTemplate)
		if err != nil {
			return err
		}
		t := &workflow.Template{}
		if p.baseTemplateID != nil && *p.baseTemplateID != "" {
			if !store.ValidID(*p.baseTemplateID) {
				return httpcore.FieldErr(errcode.InvalidInput, "base_template_id", "base_template_id is not a valid id")
			}
			base, err := findTemplate(r, s, uid, *p.baseTemplateID)
			if err != nil {
				if store.CodeOf(err) == errcode.NotFound {
					return httpcore.FieldErr(errcode.NotFound, "base_template_id", "no template "+strconv.Quote(*p.baseTemplateID))
				}
				return err
			}
			t = base.Clone()
			t.Builtin, t.Public = false, false
		}
		t.ID = newID()
		p.apply(t)
		return putTemplate(w, r, s, v, uid, t, "")
	})
}

// putTemplate validates and stores t, answering it; prefix is its pointer in the
// body.
func putTemplate(w http.ResponseWriter, r *http.Request, s Templates, v Validation, uid string, t *workflow.Template, prefix string) error {
	if err := validTemplate(t, v, prefix); err != nil {
		return err
	}
	if err := s.PutTemplate(r.Context(), uid, t); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/workflows/templates/"+t.ID)
	httpcore.WriteJSON(w, r, http.StatusOK, templateResponse(t, uid))
	return nil
}

// GetTemplate returns a built-in, the caller's own or a public template. It serves
// GET /templates/{id} and GET /templates/{id}/load.
func GetTemplate(s Templates) http.Handler {
	return handleID(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		t, err := findTemplate(r, s, uid, id)
		if err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, templateResponse(t, uid))
		return nil
	})
}

// UpdateTemplate changes the fields the body sends of one of the caller's
// templates (the old WorkflowTemplateUpdate; chatter's capabilities, params and
// description too); a built-in is a 409.
func UpdateTemplate(s Templates, v Validation) http.Handler {
	return handleID(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		if _, ok := workflow.Builtin(id); ok {
			return builtinConflict(id)
		}
		var raw json.RawMessage
		if err := httpcore.Decode(r, &raw); err != nil {
			return err
		}
		p, err := decodeTemplate(raw, "", strictTemplate)
		if err != nil {
			return err
		}
		cur, err := s.GetTemplate(r.Context(), uid, id)
		if err != nil {
			return err
		}
		if cur.Public { // readable by all, but not the caller's: there is no template of theirs to replace
			return store.NotFound("template", id)
		}
		p.apply(cur)
		return putTemplate(w, r, s, v, uid, cur, "")
	})
}

// DeleteTemplate deletes one of the caller's templates: 200 with a
// DeleteResponse; a built-in is a 409.
func DeleteTemplate(s Templates) http.Handler {
	return handleID(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		if _, ok := workflow.Builtin(id); ok {
			return builtinConflict(id)
		}
		if err := s.DeleteTemplate(r.Context(), uid, id); err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, DeleteResponse{Message: "Workflow template deleted successfully",
			WorkflowID: id})
		return nil
	})
}

// ExportFormat names chatter's export document format.
const ExportFormat = "chatter.template/v1"

// ExportDocument is the answer of GET /workflows/templates/{id}/export: the
// predecessor's WorkflowTemplateExportResponse (template, export_format "json",
// exported_at) with chatter's format and the graph the template generates (for
// reading; an import regenerates it). The whole document, or its template alone,
// imports back.
type ExportDocument struct {
	Template     TemplateResponse     `json:"template"`
	ExportFormat string               `json:"export_format"`
	ExportedAt   time.Time            `json:"exported_at"`
	Format       string               `json:"format"`
	Definition   *workflow.Definition `json:"definition,omitempty"`
}

// ExportTemplate returns a template as an ExportDocument.
func ExportTemplate(s Templates, now func() time.Time) http.Handler {
	return handleID(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		t, err := findTemplate(r, s, uid, id)
		if err != nil {
			return err
		}
		doc := ExportDocument{Template: templateResponse(t, uid), ExportFormat: "json", ExportedAt: now().UTC(),
			Format: ExportFormat, Definition: t.Definition()}
		w.Header().Set("Content-Disposition", `attachment; filename="`+t.ID+`.template.json"`)
		httpcore.WriteJSON(w, r, http.StatusOK, doc)
		return nil
	})
}

// ImportRequest is the body of POST /workflows/templates/import: the predecessor's
// WorkflowTemplateImportRequest (template, override_name, merge_with_existing),
// and what an ExportDocument carries besides its template (format, which must be
// chatter's when sent; export_format, exported_at and definition, not taken).
type ImportRequest struct {
	Template          json.RawMessage `json:"template"`
	OverrideName      *string         `json:"override_name,omitempty"`
	MergeWithExisting bool            `json:"merge_with_existing,omitempty"`
	Format            string          `json:"format,omitempty"`
	ExportFormat      string          `json:"export_format,omitempty"`
	ExportedAt        json.RawMessage `json:"exported_at,omitempty"`
	Definition        json.RawMessage `json:"definition,omitempty"`
}

// ImportTemplate creates a user template from a template document (an export's,
// the predecessor's or chatter's shape): 200. Its id, owner, builtin flag and
// other read-only keys are not taken, nor keys chatter does not know; the graph
// is generated from it. override_name names it; with merge_with_existing, a
// template of the caller's with the same name is replaced (keeping its id) instead
// of a new one created.
func ImportTemplate(s Templates, v Validation, newID func() string) http.Handler {
	if newID == nil {
		newID = newULID
	}
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		if err := onlyQuery(r); err != nil {
			return err
		}
		var body ImportRequest
		if err := httpcore.Decode(r, &body); err != nil {
			return err
		}
		if body.Format != "" && body.Format != ExportFormat {
			return httpcore.FieldErr(errcode.InvalidInput, "format", "format must be "+strconv.Quote(ExportFormat))
		}
		if len(body.Template) == 0 || isNull(body.Template) {
			return httpcore.FieldErr(errcode.InvalidInput, "template", "template is required")
		}
		p, err := decodeTemplate(body.Template, "/template", templateDocument)
		if err != nil {
			return err
		}
		t := &workflow.Template{}
		p.apply(t)
		if body.OverrideName != nil && *body.OverrideName != "" {
			t.Name = *body.OverrideName
		}
		t.ID = newID()
		if body.MergeWithExisting {
			same, err := ownTemplateNamed(r.Context(), s, uid, t.Name)
			if err != nil {
				return err
			}
			if same != nil {
				t.ID = same.ID
			}
		}
		return putTemplate(w, r, s, v, uid, t, "/template")
	})
}

// ownTemplateNamed finds the caller's template named name, or nil.
func ownTemplateNamed(ctx context.Context, s Templates, uid, name string) (*workflow.Template, error) {
	t, err := s.GetTemplateByName(ctx, uid, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return t, err
}

// TemplateValidation is the answer of POST /workflows/templates/validate: the
// predecessor's WorkflowTemplateValidationResponse (is_valid, errors and warnings
// as text, template_info) with chatter's problems.
type TemplateValidation struct {
	IsValid      bool               `json:"is_valid"`
	Errors       []string           `json:"errors"`
	Warnings     []string           `json:"warnings"`
	TemplateInfo map[string]any     `json:"template_info"`
	Problems     []workflow.Problem `json:"problems"`
}

// ValidateTemplate reports every problem of a template without storing it: 200.
// The body is the predecessor's {template: {...}} or chatter's template itself.
func ValidateTemplate(v Validation) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, _ string) error {
		if err := onlyQuery(r); err != nil {
			return err
		}
		var obj map[string]json.RawMessage
		if err := httpcore.Decode(r, &obj); err != nil {
			return err
		}
		raw, at, fields := json.RawMessage(nil), "", strictTemplate
		if inner, ok := obj["template"]; ok {
			for k := range obj {
				if k != "template" {
					return httpcore.FieldErr(errcode.InvalidInput, k, "unknown field "+strconv.Quote(k))
				}
			}
			raw, at, fields = inner, "/template", templateDocument
		} else {
			raw, _ = json.Marshal(obj)
		}
		p, err := decodeTemplate(raw, at, fields)
		if err != nil {
			return err
		}
		t := &workflow.Template{}
		p.apply(t)
		ps, err := templateProblems(t, v, at)
		if err != nil {
			return err
		}
		out := TemplateValidation{IsValid: len(ps) == 0, Errors: make([]string, len(ps)), Warnings: []string{},
			Problems: ps}
		for i, pr := range ps {
			out.Errors[i] = pr.Pointer + ": " + pr.Message
		}
		if out.Problems == nil {
			out.Problems = []workflow.Problem{}
		}
		if out.IsValid {
			d := t.Definition()
			out.TemplateInfo = map[string]any{"name": t.Name, "category": templateResponse(t, "").Category,
				"capabilities": t.Capabilities, "node_count": len(d.Nodes), "edge_count": len(d.Edges)}
		}
		httpcore.WriteJSON(w, r, http.StatusOK, out)
		return nil
	})
}

// TemplateFromDocument is the template a template document describes (the
// predecessor's shape, chatter's or a mix, as an import takes it); at is its JSON
// pointer in the body. The inline template execution route runs it (the executor
// validates the graph it generates).
func TemplateFromDocument(raw json.RawMessage, at string) (*workflow.Template, error) {
	p, err := decodeTemplate(raw, at, templateDocument)
	if err != nil {
		return nil, err
	}
	t := &workflow.Template{}
	p.apply(t)
	return t, nil
}
