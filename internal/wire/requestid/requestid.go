// Package requestid carries the id of the HTTP request that caused what follows
// in a context: the middleware puts it there, the executor copies it into each
// event's detail (request_id) so subscriber log lines join the request's. A leaf
// with no dependencies, so CRUD functions link nothing more for it.
package requestid

import "context"

type key struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// From returns the id With put into ctx, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}
