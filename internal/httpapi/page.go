package httpapi

import (
	"net/http"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/store"
)

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
	httpcore.WriteJSON(w, r, http.StatusOK, List[T]{Items: items, NextCursor: p.Next})
}
