package resources

import (
	"context"
	"net/http"
	"strconv"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/store"
)

// The predecessor's lists answer total_count and page by ?offset and ?limit;
// chatter's page by an opaque ?cursor. Both work on every list of this file's
// helpers: ?offset=N skips N items, ?limit (1..100, default 20) bounds the page,
// total_count counts the whole list, and next_cursor (absent on the last page)
// continues right after the page. ?cursor and ?offset together are a 422 naming
// offset: each says where the page starts.

// listQuery is where a page of a list starts and how long it is.
type listQuery struct {
	store.PageRequest     // Limit, and Cursor when the page starts at a cursor
	Offset            int // items skipped from the start when there is no cursor
}

// parseListQuery reads ?limit, ?cursor and ?offset, refusing any other query
// parameter but extra.
func parseListQuery(r *http.Request, extra ...string) (listQuery, error) {
	p, err := page(r, append([]string{"offset"}, extra...)...)
	if err != nil {
		return listQuery{}, err
	}
	q := listQuery{PageRequest: p}
	if s := r.URL.Query().Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return q, httpapi.FieldErr(errcode.InvalidInput, "offset", "offset must be an integer of 0 or more")
		}
		if p.Cursor != "" {
			return q, httpapi.FieldErr(errcode.InvalidInput, "offset", "send offset or cursor, not both")
		}
		q.Offset = n
	}
	return q, nil
}

// lister reads one page of a store list.
type lister[T any] func(ctx context.Context, p store.PageRequest) (store.Page[T], error)

// listWindow is one page of a list with the list's length.
type listWindow[T any] struct {
	Items []T
	Next  string // the cursor after Items; empty when the list ends there
	Total int
}

// window reads the page q asks for and counts the whole list, reading it once from
// the start in pages of store.MaxPageSize (a store page may hold fewer items than
// asked; the walk goes on by cursor). A cursor the store refuses is a 422 naming
// cursor.
func window[T any](ctx context.Context, list lister[T], q listQuery) (listWindow[T], error) {
	var w listWindow[T]
	pos, cursor, ended := 0, "", false
	read := func(limit int, cur string) ([]T, error) {
		pg, err := list(ctx, store.PageRequest{Limit: limit, Cursor: cur})
		if err != nil {
			return nil, listErr(err, store.PageRequest{Cursor: cur})
		}
		cursor, ended = pg.Next, pg.Next == ""
		pos += len(pg.Items)
		return pg.Items, nil
	}
	if q.Cursor != "" {
		items, err := read(q.Limit, q.Cursor)
		if err != nil {
			return w, err
		}
		w.Items, w.Next = items, cursor
		n, err := count(ctx, list)
		w.Total = n
		return w, err
	}
	for !ended && pos < q.Offset {
		if _, err := read(min(store.MaxPageSize, q.Offset-pos), cursor); err != nil {
			return w, err
		}
	}
	if !ended && pos >= q.Offset {
		items, err := read(q.Limit, cursor)
		if err != nil {
			return w, err
		}
		w.Items, w.Next = items, cursor
	}
	for !ended {
		if _, err := read(store.MaxPageSize, cursor); err != nil {
			return w, err
		}
	}
	w.Total = pos
	return w, nil
}

// count is the length of a list.
func count[T any](ctx context.Context, list lister[T]) (int, error) {
	w, err := window(ctx, list, listQuery{PageRequest: store.PageRequest{Limit: store.MaxPageSize}, Offset: 0})
	return w.Total, err
}
