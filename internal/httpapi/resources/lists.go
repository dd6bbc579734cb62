package resources

import (
	"context"

	"github.com/chatterhq/chatter/internal/store"
)

// The predecessor's lists answer total_count and page by ?offset and ?limit;
// chatter's page by an opaque ?cursor. Both work on every list (offsetPage reads
// them, the store applies them): ?offset=N skips N items (after the cursor's
// position when both are sent), ?limit bounds the page, total_count counts the
// whole list, and next_cursor (absent on the last page) continues right after the
// page.

// lister reads one page of a store list.
type lister[T any] func(ctx context.Context, p store.PageRequest) (store.Page[T], error)

// listWindow is one page of a list with the list's length.
type listWindow[T any] struct {
	Items []T
	Next  string // the cursor after Items; empty when the list ends there
	Total int
}

// window reads the page p asks for and counts the whole list. A cursor the store
// refuses is a 422 naming cursor.
func window[T any](ctx context.Context, list lister[T], p store.PageRequest) (listWindow[T], error) {
	pg, err := list(ctx, p)
	if err != nil {
		return listWindow[T]{}, listErr(err, p)
	}
	n, err := count(ctx, list)
	return listWindow[T]{Items: pg.Items, Next: pg.Next, Total: n}, err
}

// count is the length of a list, read from the start in pages of
// store.MaxPageSize (a store page may hold fewer items than asked; the walk goes on
// by cursor).
func count[T any](ctx context.Context, list lister[T]) (int, error) {
	n, cursor := 0, ""
	for {
		pg, err := list(ctx, store.PageRequest{Limit: store.MaxPageSize, Cursor: cursor})
		if err != nil {
			return 0, err
		}
		n += len(pg.Items)
		if cursor = pg.Next; cursor == "" {
			return n, nil
		}
	}
}
