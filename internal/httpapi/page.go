package httpapi

import (
	"net/http"
	"strconv"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/store"
)

// Page sizes of every list endpoint.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// ParsePage reads ?limit= (default 20, 1..100) and ?cursor= (opaque; the store
// checks it). A bad limit is a 422 naming limit.
func ParsePage(r *http.Request) (store.PageRequest, error) {
	q := r.URL.Query()
	p := store.PageRequest{Limit: DefaultLimit, Cursor: q.Get("cursor")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return p, FieldErr(errcode.InvalidInput, "limit", "limit must be an integer from 1 to "+strconv.Itoa(MaxLimit))
		}
		p.Limit = n
	}
	return p, nil
}

// List is the shape of every list response.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// WritePage writes a store page as a List (items never null).
func WritePage[T any](w http.ResponseWriter, r *http.Request, p store.Page[T]) {
	items := p.Items
	if items == nil {
		items = []T{}
	}
	WriteJSON(w, r, http.StatusOK, List[T]{Items: items, NextCursor: p.Next})
}
