package store

import "context"

// Ping is the readiness check; the in-memory store is always reachable.
func (m *Memory) Ping(ctx context.Context) error { return ctx.Err() }
