package llm

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 0 ", 0},
		{"-3", 0},
		{"1.5", 0}, // not delay-seconds
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"99999999999999999", 24 * time.Hour}, // kept from overflowing
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.value != "" {
			h.Set("Retry-After", tt.value)
		}
		if got := ParseRetryAfter(h, now); got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tt.value, got, tt.want)
		}
	}
}

func TestUsageTotal_CountsCachedTokens(t *testing.T) {
	// OpenAI's documented example: prompt_tokens 2006 of which 1920 cached,
	// completion_tokens 300, total_tokens 2306. The adapter reports input 86.
	u := Usage{InputTokens: 86, CacheReadTokens: 1920, OutputTokens: 300}
	if got := u.Total(); got != 2306 {
		t.Errorf("Total = %d, want 2306 (OpenAI's total_tokens)", got)
	}
}

func TestAccumulator_StartedOnlyByContent(t *testing.T) {
	var a Accumulator
	for _, d := range []Delta{{Kind: DeltaUsage, Usage: Usage{InputTokens: 3}}, {Kind: DeltaText}, {Kind: DeltaFinish, FinishReason: FinishStop}} {
		a.Add(d)
	}
	if a.Started() || !a.ReportedUsage() {
		t.Fatalf("Started %v, ReportedUsage %v after usage, empty text and finish; want false, true", a.Started(), a.ReportedUsage())
	}
	a.Add(Delta{Kind: DeltaToolCall, ToolCall: ToolCallDelta{ID: "c", Name: "n"}})
	if !a.Started() {
		t.Error("a tool-call fragment did not start the call")
	}
}
