package store

import (
	"context"
	"time"
)

// Settings are a user's own defaults for their runs, set through the predecessor's
// POST /workflows/memory/configure and /workflows/tools/configure. A part the user
// never configured is nil; a user who configured nothing has empty Settings (never
// not_found).
type Settings struct {
	Memory *MemorySettings `json:"memory,omitempty"`
	Tools  *ToolSettings   `json:"tools,omitempty"`
}

// MemorySettings are the predecessor's memory settings. chatter applies the window
// sizes (see executor.ApplySettings); it keeps the others and returns them.
type MemorySettings struct {
	AdaptiveMode    bool      `json:"adaptive_mode"`
	BaseWindowSize  int       `json:"base_window_size"`
	MaxWindowSize   int       `json:"max_window_size"`
	SummaryStrategy string    `json:"summary_strategy"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// ToolSettings are the predecessor's tool settings. chatter applies
// MaxTotalCalls; it keeps the others and returns them.
type ToolSettings struct {
	MaxTotalCalls            int       `json:"max_total_calls"`
	MaxConsecutiveCalls      int       `json:"max_consecutive_calls"`
	RecursionStrategy        string    `json:"recursion_strategy"`
	EnableRecursionDetection bool      `json:"enable_recursion_detection"`
	UpdatedAt                time.Time `json:"updated_at"`
}

// GetSettings returns userID's settings.
func (m *Memory) GetSettings(_ context.Context, userID string) (*Settings, error) {
	if userID == "" {
		return nil, Invalid("a user id is required")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.settings[userID]
	if s.Memory != nil {
		c := *s.Memory
		s.Memory = &c
	}
	if s.Tools != nil {
		c := *s.Tools
		s.Tools = &c
	}
	return &s, nil
}

// PutMemorySettings stores userID's memory settings, leaving the tool settings as
// they are.
func (m *Memory) PutMemorySettings(_ context.Context, userID string, ms MemorySettings) error {
	return m.putSettings(userID, func(s *Settings) { s.Memory = &ms })
}

// PutToolSettings stores userID's tool settings, leaving the memory settings as
// they are.
func (m *Memory) PutToolSettings(_ context.Context, userID string, ts ToolSettings) error {
	return m.putSettings(userID, func(s *Settings) { s.Tools = &ts })
}

func (m *Memory) putSettings(userID string, set func(*Settings)) error {
	if userID == "" {
		return Invalid("a user id is required")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.settings == nil {
		m.settings = map[string]Settings{}
	}
	s := m.settings[userID]
	set(&s)
	m.settings[userID] = s
	return nil
}
