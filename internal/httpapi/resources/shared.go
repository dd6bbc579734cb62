package resources

import (
	"net/http"

	"github.com/chatterhq/chatter/internal/store"
)

// PathParam reads the path wildcard name as this package reads ids (see pathID),
// for the route packages beside it (httpapi/documents).
func PathParam(r *http.Request, name string) (string, error) { return pathParam(r, name) }

// OffsetPage reads the predecessor's ?limit and ?offset (and chatter's ?cursor) as
// every list of this package does (see offsetPage).
func OffsetPage(r *http.Request, def int, extra ...string) (store.PageRequest, error) {
	return offsetPage(r, def, extra...)
}

// OnlyQuery refuses query parameters other than allowed (422 naming the first), as
// every route of this package does.
func OnlyQuery(r *http.Request, allowed ...string) error { return onlyQuery(r, allowed...) }
