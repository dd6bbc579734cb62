package resources

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/store"
)

// offsetPage reads the predecessor's pagination — ?limit (at least 1, default def;
// more than store.MaxPageSize is answered with that many, and the answer says so)
// and ?offset (0 to store.MaxOffset) — and chatter's ?cursor, refusing any query
// parameter but those and extra. Every refusal is a 422 naming the parameter.
func offsetPage(r *http.Request, def int, extra ...string) (store.PageRequest, error) {
	if err := onlyQuery(r, append([]string{"limit", "offset", "cursor"}, extra...)...); err != nil {
		return store.PageRequest{}, err
	}
	q := r.URL.Query()
	p := store.PageRequest{Limit: def, Cursor: q.Get("cursor")}
	var err error
	if p.Limit, err = intParam(q, "limit", def, 1, -1); err != nil {
		return p, err
	}
	p.Limit = min(p.Limit, store.MaxPageSize)
	if p.Offset, err = intParam(q, "offset", 0, 0, store.MaxOffset); err != nil {
		return p, err
	}
	return p, nil
}

// intParam reads an integer query parameter from lo to hi (hi < 0: no bound), def
// when absent.
func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	s := q.Get(name)
	if !q.Has(name) {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || hi >= 0 && n > hi {
		msg := name + " must be an integer of at least " + strconv.Itoa(lo)
		if hi >= 0 {
			msg = name + " must be an integer from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi)
		}
		return 0, httpcore.FieldErr(errcode.InvalidInput, name, msg)
	}
	return n, nil
}

// boolParam reads a boolean query parameter as the predecessor (FastAPI) did: true,
// 1, yes, on, t, y and false, 0, no, off, f, n in any case. nil when absent.
func boolParam(q url.Values, name string) (*bool, error) {
	if !q.Has(name) {
		return nil, nil
	}
	var v bool
	switch strings.ToLower(q.Get(name)) {
	case "true", "1", "yes", "on", "t", "y":
		v = true
	case "false", "0", "no", "off", "f", "n":
	default:
		return nil, httpcore.FieldErr(errcode.InvalidInput, name, name+" must be true or false")
	}
	return &v, nil
}

// setPageHeaders describes the page of a list answered as a bare JSON array (the
// old shape of messages and of a definition's executions): X-Total-Count, and a
// Link to the next page (rel="next", by cursor) when there is one.
func setPageHeaders(w http.ResponseWriter, r *http.Request, total int, p store.PageRequest, next string) {
	w.Header().Set(httpcore.HeaderTotalCount, strconv.Itoa(total))
	if next == "" {
		return
	}
	u := url.URL{Path: r.URL.Path, RawQuery: url.Values{"limit": {strconv.Itoa(p.Size())}, "cursor": {next}}.Encode()}
	w.Header().Set(httpcore.HeaderLink, "<"+u.String()+`>; rel="next"`)
}
