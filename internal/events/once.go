package events

import "context"

// Marker remembers event ids. Mark returns true the first time it sees an id and
// false for every later call with the same id (a redelivery).
type Marker interface {
	Mark(ctx context.Context, e Event) (first bool, err error)
}

// MarkerFunc adapts a function to Marker.
type MarkerFunc func(ctx context.Context, e Event) (bool, error)

func (f MarkerFunc) Mark(ctx context.Context, e Event) (bool, error) { return f(ctx, e) }

// Once runs h only for the first delivery of each event id. Delivery is
// at-least-once, and a handler whose effect cannot be undone or recognised later —
// an EMF line counts a metric the moment it is written — must not run twice. The id
// is marked before h runs: should h then fail, the event is not retried (a metric
// is lost rather than counted twice). A Marker error asks for the event again.
func Once(m Marker, h Handler) Handler {
	return func(ctx context.Context, e Event) error {
		first, err := m.Mark(ctx, e)
		if err != nil || !first {
			return err
		}
		return h(ctx, e)
	}
}
