package resources

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/oklog/ulid/v2"

	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

// newULID is the default id of new definitions and templates.
func newULID() string { return ulid.Make().String() }

// Validation holds what workflow validation needs from outside the graph: which
// tools exist, and the condition language. This package imports neither the tools
// nor the condition compiler (package workflow/cond links expr-lang, which a
// function that does not validate must not link): only the functions that validate
// are given them (lambdaapp.StartResource). The zero Validation refuses to validate
// (ErrNoValidation), never accepts unseen.
type Validation struct {
	toolExists func(string) bool
	conditions Conditions
}

// ToolNames lists tool names; *tools.Registry satisfies it.
type ToolNames interface {
	Has(name string) bool
}

// Conditions is the condition language: its compiler, and its description for
// GET /workflows/node-types/modern. cond.Compiler satisfies it.
type Conditions interface {
	workflow.ConditionCompiler
	Describe() any
}

// ErrNoValidation is what a validating route answers (a 500) when it was built
// without NewValidation.
var ErrNoValidation = errors.New("resources: this function was built without workflow validation (resources.NewValidation)")

// NewValidation checks tool names against reg (tools.Builtins()) and conditions
// with conds (cond.Compiler).
func NewValidation(reg ToolNames, conds Conditions) Validation {
	return Validation{toolExists: reg.Has, conditions: conds}
}

func (v Validation) options() (workflow.Options, error) {
	if v.toolExists == nil || v.conditions == nil {
		return workflow.Options{}, ErrNoValidation
	}
	return workflow.Options{ToolExists: v.toolExists, Conditions: v.conditions}, nil
}

// validate is workflow.Validate with v's options.
func (v Validation) validate(d *workflow.Definition) ([]workflow.Problem, error) {
	o, err := v.options()
	if err != nil {
		return nil, err
	}
	return workflow.Validate(d, o), nil
}

// validateTemplate is workflow.ValidateTemplate with v's options.
func (v Validation) validateTemplate(t *workflow.Template) ([]workflow.Problem, error) {
	o, err := v.options()
	if err != nil {
		return nil, err
	}
	return workflow.ValidateTemplate(t, o), nil
}

// pathID reads {id} and refuses what no record could be keyed by, before any read:
// an id is 1..128 characters of letters, digits and - _ . : (ULIDs, UUIDs, built-in
// template names).
func pathID(r *http.Request) (string, error) { return pathParam(r, "id") }

// pathParam is pathID for the path wildcard name.
func pathParam(r *http.Request, name string) (string, error) {
	id := r.PathValue(name)
	if !store.ValidID(id) {
		return "", httpcore.FieldErr(errcode.InvalidInput, name,
			name+" must be 1 to "+strconv.Itoa(store.MaxIDLen)+" letters, digits or - _ . :")
	}
	return id, nil
}

// onlyQuery refuses query parameters a route does not take, so a typo (?limt=5) is
// not silently ignored.
func onlyQuery(r *http.Request, allowed ...string) error {
	for k := range r.URL.Query() {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			return httpcore.FieldErr(errcode.InvalidInput, k, "unknown query parameter "+strconv.Quote(k))
		}
	}
	return nil
}

// listErr names the cursor when the store refused it: a list read fails invalid
// only for a cursor that was not issued for that list (forged, edited, another
// user's or another list's).
func listErr(err error, p store.PageRequest) error {
	if p.Cursor != "" && store.CodeOf(err) == errcode.InvalidInput {
		var se *store.Error
		msg := "invalid cursor"
		if errors.As(err, &se) {
			msg = se.Message
		}
		return httpcore.FieldErr(errcode.InvalidInput, "cursor", msg)
	}
	return err
}

// problemsError is the 422 of an invalid workflow or template: every problem, each
// with its JSON pointer, code and message.
func problemsError(msg string, ps []workflow.Problem) *httpcore.Error {
	e := &httpcore.Error{Code: errcode.InvalidWorkflow, Message: msg}
	for _, p := range ps {
		e.Errors = append(e.Errors, httpcore.FieldError{Field: p.Pointer, Code: p.Code, Message: p.Message})
	}
	return e
}

// ValidationResult is the answer of POST /workflows/definitions/validate: the
// predecessor's WorkflowValidationResponse (is_valid; errors and warnings as {loc,
// msg, type}; suggestions) with chatter's problems beside it (each with its node or
// edge id, JSON pointer and code).
type ValidationResult struct {
	IsValid     bool               `json:"is_valid"`
	Errors      []ValidationIssue  `json:"errors"`
	Warnings    []ValidationIssue  `json:"warnings"`
	Suggestions []string           `json:"suggestions"`
	Problems    []workflow.Problem `json:"problems"`
}

// ValidationIssue is one problem in the predecessor's shape: loc is the JSON
// pointer's segments (array indexes as numbers), type the problem's code.
type ValidationIssue struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

func validationResult(ps, warnings []workflow.Problem) ValidationResult {
	out := ValidationResult{IsValid: len(ps) == 0, Errors: issues(ps), Warnings: issues(warnings),
		Suggestions: []string{}, Problems: ps}
	if out.Problems == nil {
		out.Problems = []workflow.Problem{}
	}
	return out
}

func issues(ps []workflow.Problem) []ValidationIssue {
	out := make([]ValidationIssue, len(ps))
	for i, p := range ps {
		loc := []any{}
		for _, seg := range strings.Split(strings.TrimPrefix(p.Pointer, "/"), "/") {
			seg = strings.NewReplacer("~1", "/", "~0", "~").Replace(seg)
			if n, err := strconv.Atoi(seg); err == nil {
				loc = append(loc, n)
			} else if seg != "" {
				loc = append(loc, seg)
			}
		}
		out[i] = ValidationIssue{Loc: loc, Msg: p.Message, Type: p.Code}
	}
	return out
}

// jsonNames is the set of JSON names of T's fields.
func jsonNames[T any]() map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeFor[T]()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

// handle adapts a handler that returns an error to http.Handler.
func handle(f func(w http.ResponseWriter, r *http.Request, uid string) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r, httpcore.UserID(r.Context())); err != nil {
			httpapi.Fail(w, r, err)
		}
	})
}

// handleList serves GET /{id}/<list> routes: the id and the page are checked, then
// list's page is written with write (a forged cursor is a 422 naming cursor).
func handleList[T any](list func(ctx context.Context, uid, id string, p store.PageRequest) (store.Page[T], error),
	write func(http.ResponseWriter, *http.Request, store.Page[T])) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		p, err := offsetPage(r, executionLimit)
		if err != nil {
			return err
		}
		pg, err := list(r.Context(), uid, id, p)
		if err != nil {
			return listErr(err, p)
		}
		write(w, r, pg)
		return nil
	})
}

// handleID is handle for the /{id} routes that take no query parameters: the id is
// checked and any query parameter refused before f runs.
func handleID(f func(w http.ResponseWriter, r *http.Request, uid, id string) error) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		if err := onlyQuery(r); err != nil {
			return err
		}
		return f(w, r, uid, id)
	})
}
