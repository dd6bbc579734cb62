package openaiapi

import (
	"context"
	"net/http"

	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/workflow"
)

// Owners of the listed models (owned_by).
const (
	OwnerChatter = "chatter" // built-in templates
	OwnerUser    = "user"    // the user's templates and definitions
)

// Models serves GET /v1/models: what this user can name as model — the built-in
// templates, the user's templates (template/<name>) and definitions
// (definition/<id>), then the provider models (owned_by the provider). A user's
// template is listed by name, or by id when a built-in or another of the user's
// templates has that name. created is the definition's creation time, 0 for the
// others.
func Models(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		userID := httpcore.UserID(r.Context())
		out := wire.ModelList{Object: wire.ObjectList, Data: []wire.Model{}}
		add := func(id, owner string, created int64) {
			out.Data = append(out.Data, wire.Model{ID: id, Object: wire.ObjectModel, Created: created, OwnedBy: owner})
		}
		taken := map[string]bool{}
		for _, t := range workflow.Builtins() {
			add(PrefixTemplate+t.Name, OwnerChatter, 0)
			taken[t.Name] = true
		}
		tpls, err := all(r.Context(), func(p store.PageRequest) (store.Page[*workflow.Template], error) {
			return d.Catalog.ListTemplates(r.Context(), userID, p)
		})
		if err != nil {
			httpapi.Fail(w, r, err)
			return
		}
		for _, t := range tpls {
			name := t.Name // by name, as the executor finds it, unless a built-in or another template has it
			if name == "" || taken[name] {
				name = t.ID
			}
			taken[name] = true
			add(PrefixTemplate+name, OwnerUser, 0)
		}
		defs, err := all(r.Context(), func(p store.PageRequest) (store.Page[store.Definition], error) {
			return d.Catalog.ListDefinitions(r.Context(), userID, p)
		})
		if err != nil {
			httpapi.Fail(w, r, err)
			return
		}
		for _, def := range defs {
			add(PrefixDefinition+def.ID, OwnerUser, def.CreatedAt.Unix())
		}
		for _, m := range d.Executor.Models() {
			add(m.ID, m.Provider, 0)
		}
		httpcore.WriteJSON(w, r, http.StatusOK, out)
	})
}

// all reads a list's pages, up to maxListed items.
func all[T any](ctx context.Context, list func(store.PageRequest) (store.Page[T], error)) ([]T, error) {
	var out []T
	p := store.PageRequest{Limit: store.MaxPageSize}
	for len(out) < maxListed {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		page, err := list(p)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.Next == "" {
			break
		}
		p.Cursor = page.Next
	}
	return out[:min(len(out), maxListed)], nil
}
