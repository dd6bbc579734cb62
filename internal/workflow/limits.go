package workflow

// Bounds every owner of a memory window or a tool-call limit checks against: a
// memory node's window, a request's memory_window and a user's window settings;
// a tools node's max_tool_calls, a request's and a user's.
const (
	MaxMemoryWindow = 200
	MaxToolCalls    = 50
)
