package events

import (
	"context"
	"errors"
	"log/slog"
)

// Logger returns the logging subscriber: one structured line per event, with the
// ids as attributes so an execution's trail is one query away. Lines carry the
// event WithoutContent: ids, sizes, codes, tokens and timings, never what was said.
func Logger(logger *slog.Logger) Handler {
	return func(ctx context.Context, e Event) error {
		e = e.WithoutContent()
		attrs := []slog.Attr{
			slog.String("event_id", e.ID),
			slog.String("event_type", e.Type),
			slog.String("execution_id", e.ExecutionID),
			slog.String("user_id", e.UserID),
			slog.String("conversation_id", e.ConversationID),
			slog.String("source_kind", e.Source.Kind),
			slog.String("source_id", e.Source.ID),
			slog.Int("seq", e.Seq),
			slog.Time("time", e.Time),
			slog.Any("data", e.Data)}
		if e.RequestID != "" {
			attrs = append(attrs, slog.String("request_id", e.RequestID))
		}
		logger.LogAttrs(ctx, slog.LevelInfo, "workflow event", attrs...)
		return nil
	}
}

// Subscriber adapts h to what EventBridge invokes (a Lambda handler taking the
// envelope) and what the local delivery loop calls. An envelope that is not a chatter
// event is logged and acknowledged: redelivering it cannot make it one.
func Subscriber(h Handler, logger *slog.Logger) func(ctx context.Context, env Envelope) error {
	return func(ctx context.Context, env Envelope) error {
		e, ok, err := decodeOrDrop(ctx, logger, env)
		if !ok {
			return err
		}
		return h(ctx, e)
	}
}

// decodeOrDrop decodes env; ok is false when there is no event to handle: err
// says why, or is nil for an envelope that is not a chatter event (logged here).
func decodeOrDrop(ctx context.Context, logger *slog.Logger, env Envelope) (e Event, ok bool, err error) {
	e, err = Decode(env)
	var de *DecodeError
	switch {
	case errors.As(err, &de):
		logger.ErrorContext(ctx, "dropping event", "envelope_id", env.ID, "detail_type", env.DetailType, "err", err)
		return e, false, nil
	case err != nil:
		return e, false, err
	}
	return e, true, nil
}

// Chain runs handlers in order and stops at the first error, so one Lambda can
// serve two subscribers (the record and the log) from one rule. Handlers must be
// idempotent: a redelivery runs the ones that succeeded again.
func Chain(handlers ...Handler) Handler {
	return func(ctx context.Context, e Event) error {
		for _, h := range handlers {
			if err := h(ctx, e); err != nil {
				return err
			}
		}
		return nil
	}
}
