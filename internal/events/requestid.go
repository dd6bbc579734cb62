package events

import "context"

type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the request that caused what
// follows. The events of a run started in it carry the id in their detail
// (request_id), so a subscriber's log lines join the request's.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the id WithRequestID put into ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
