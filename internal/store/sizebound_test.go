package store

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/chatterhq/chatter/internal/llm"
)

// fillStrings sets every string field of the struct v points to (nested structs
// included; slices, maps and the measured parts aside) to a drawn string.
func fillStrings(t *rapid.T, v reflect.Value, skip map[string]bool) {
	for i := range v.NumField() {
		f, sf := v.Field(i), v.Type().Field(i)
		if !sf.IsExported() || skip[sf.Name] {
			continue
		}
		switch f.Kind() {
		case reflect.String:
			// Long enough that a field sizeBound left out would outgrow recordOverhead;
			// control characters and U+2028 take the longest escapes.
			n := rapid.IntRange(0, 3000).Draw(t, sf.Name+" length")
			unit := rapid.SampledFrom([]string{"a", "\x01", "\"", "\u2028", "é", "\xff"}).Draw(t, sf.Name)
			f.SetString(strings.Repeat(unit, n/len(unit)+1)[:n])
		case reflect.Struct:
			if f.Type() != reflect.TypeFor[time.Time]() {
				fillStrings(t, f, skip)
			}
		}
	}
}

// sizeBound never undercounts: for records whose every string field is drawn (long,
// and of the characters JSON escapes the most), the bound is at least the record's
// size (MessageSize, ExecutionSize). A string field added to Message or Execution and not counted by sizeBound
// fails this test.
func TestSizeBound_IsAnUpperBound(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		now := time.Date(2026, 12, 2, 15, 4, 5, 123456789, time.FixedZone("x", 3600))
		tcs := []ToolCallRecord{{ID: "c", Name: "calculator", Arguments: json.RawMessage(`{"expression":"1+2"}`), Result: "3", DurationMS: 1.5}}
		log := []NodeRun{{Step: 1, NodeID: "llm", Kind: "llm", Status: "ok", StartedAt: now, DurationMS: 2.25}}
		meta := map[string]any{"k": "v"}
		m := &Message{Seq: 1 << 40, ToolCalls: tcs, InputTokens: 1 << 40, OutputTokens: 1 << 40, Cost: 1.0 / 3, CostKnown: true,
			ResponseTimeMS: 1e300, CreatedAt: now, RatingCount: 1 << 40}
		r := 4.5
		m.Rating = &r
		fillStrings(t, reflect.ValueOf(m).Elem(), map[string]bool{})
		if got, want := sizeBound(m, len(m.Content)+encodedLen(m.ToolCalls)), MessageSize(m); got < want {
			t.Fatalf("message bound %d < size %d", got, want)
		}
		e := &Execution{StartedAt: now, FinishedAt: now, DurationMS: 1e300, Cost: 1.0 / 3, CostKnown: true, ToolCalls: 1 << 40,
			Steps: 1 << 40, ToolCallRecords: tcs, Log: log, Metadata: meta, Redacted: true,
			Usage: llm.Usage{InputTokens: 1 << 40, OutputTokens: 1 << 40, CacheReadTokens: 1 << 40, CacheWriteTokens: 1 << 40}}
		fillStrings(t, reflect.ValueOf(e).Elem(), map[string]bool{})
		e.Source.Version = 1 << 40
		measured := len(e.Output) + encodedLen(e.ToolCallRecords) + encodedLen(e.Log) + encodedLen(e.Metadata)
		if got, want := sizeBound(e, measured), ExecutionSize(e); got < want {
			t.Fatalf("execution bound %d < size %d", got, want)
		}
	})
}
