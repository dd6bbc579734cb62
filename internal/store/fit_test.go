package store_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"pgregory.net/rapid"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/text"
)

const maxItemBytes = 400 << 10 // DynamoDB's item limit

// The parts of a record, each at its cap, with ids as long as an API path id and
// every other field set, fit MaxRecordBytes; and a record leaves room in its item
// for the keys (at most 2 KB of partition key and 1 KB of sort key, twice with the
// index).
func TestBudgets_PartsFitTheRecord(t *testing.T) {
	id := strings.Repeat("i", 128)
	name := strings.Repeat("n", store.MaxNameBytes)
	now := time.Now()
	m := store.Message{ID: id, ConversationID: id, UserID: id, ExecutionID: id, Seq: 1 << 30, Role: llm.RoleAssistant,
		Status: store.StatusIncomplete, InputTokens: 1 << 30, OutputTokens: 1 << 30, Cost: 1.0 / 3, CostKnown: true,
		Provider: name, Model: name, ResponseTimeMS: 1.0 / 3, CreatedAt: now}
	if n := store.MessageSize(&m) + store.MaxContentLimit + store.MaxToolCallsBytes; n > store.MaxRecordBytes {
		t.Errorf("a message at its caps is %d bytes, over %d", n, store.MaxRecordBytes)
	}
	e := store.Execution{ID: id, UserID: id, ConversationID: id, Source: store.SourceRef{Kind: "definition", ID: id, Name: name, Version: 1 << 30},
		Mode: "streaming", Status: store.ExecCancelled, StartedAt: now, FinishedAt: now, DurationMS: 1.0 / 3,
		Usage: llm.Usage{InputTokens: 1 << 30, OutputTokens: 1 << 30, CacheReadTokens: 1 << 30, CacheWriteTokens: 1 << 30},
		Cost:  1.0 / 3, CostKnown: true, ToolCalls: 1 << 30, Steps: 1 << 30, Provider: name, Model: name, MessageID: id,
		ErrorNodeID: name, ErrorCode: name}
	parts := store.MaxContentLimit + store.MaxMetadataBytes + store.MaxLogBytes + store.MaxRecordedToolCallsBytes + store.MaxErrorBytes
	if n := store.ExecutionSize(&e) + parts; n > store.MaxRecordBytes {
		t.Errorf("an execution at its caps is %d bytes, over %d", n, store.MaxRecordBytes)
	}
	if keys := 2 * (2048 + 1024); store.MaxRecordBytes+keys > maxItemBytes {
		t.Errorf("a record of %d bytes and its keys are over DynamoDB's %d", store.MaxRecordBytes, maxItemBytes)
	}
	if store.DefaultMaxContentBytes > store.MaxContentLimit || store.MaxEventDataBytes+4<<10 > maxItemBytes {
		t.Errorf("default content cap or event data budget over its limit")
	}
}

// bigText draws long strings cheaply: a few runs of characters that JSON escapes
// (or that take several bytes), each up to 60 KB.
func bigText(t *rapid.T, label string) string {
	runs := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) string {
		c := rapid.SampledFrom([]string{"a", "<", `"`, "\\", "\x01", "é", "😀", "\u2028"}).Draw(t, "char")
		return strings.Repeat(c, rapid.IntRange(0, 60<<10/len(c)).Draw(t, "count"))
	}), 0, 3).Draw(t, label)
	return strings.Join(runs, "")
}

func drawCalls(t *rapid.T) []store.ToolCallRecord {
	return rapid.SliceOfN(rapid.Custom(func(t *rapid.T) store.ToolCallRecord {
		args, _ := json.Marshal(map[string]string{"q": bigText(t, "arg")})
		return store.ToolCallRecord{ID: bigText(t, "id")[:0] + "call", Name: "tool", Arguments: args, Result: bigText(t, "result"),
			IsError: rapid.Bool().Draw(t, "is_error")}
	}), 0, 4).Draw(t, "calls")
}

// Whatever a run produced, the records fit, and fitting is a function of its input.
func TestPrepare_WhatARunProducedAlwaysFitsTheSameWay(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		calls := drawCalls(t)
		m := store.Message{ID: "m", ConversationID: "c", UserID: "u", Role: llm.RoleAssistant, Content: bigText(t, "content"),
			ToolCalls: calls, Status: store.StatusComplete, Model: bigText(t, "model")}
		orig, _ := json.Marshal(calls)
		m1, m2 := m, m
		if err := store.PrepareMessage(&m1, 0); err != nil {
			t.Fatalf("PrepareMessage: %v", err)
		}
		_ = store.PrepareMessage(&m2, 0)
		if !reflect.DeepEqual(m1, m2) {
			t.Fatalf("the same message fitted two ways")
		}
		if after, _ := json.Marshal(calls); string(after) != string(orig) {
			t.Fatalf("PrepareMessage edited the caller's tool calls")
		}
		if n := store.MessageSize(&m1); n > store.MaxRecordBytes || !utf8.ValidString(m1.Content) || len(m1.Content) > store.MaxContentLimit {
			t.Fatalf("message fitted to %d bytes (content %d)", n, len(m1.Content))
		}
		if b, _ := store.Encode(m1.ToolCalls); len(b) > store.MaxToolCallsBytes {
			t.Fatalf("tool calls fitted to %d bytes", len(b))
		}
		for _, tc := range m1.ToolCalls {
			if !json.Valid(tc.Arguments) {
				t.Fatalf("fitted arguments are not JSON")
			}
		}

		log := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) store.NodeRun {
			return store.NodeRun{NodeID: "n", Kind: "llm", Status: "error", Error: bigText(t, "error"), Detail: bigText(t, "detail")}
		}), 0, 4).Draw(t, "log")
		e := store.Execution{ID: "e", UserID: "u", Status: store.ExecCompleted, Output: bigText(t, "output"), Log: log,
			ToolCallRecords: calls, ErrorMessage: bigText(t, "error_message"), Source: store.SourceRef{Name: bigText(t, "name")},
			Metadata: map[string]any{"k": bigText(t, "meta"), "l": []any{bigText(t, "meta2"), 1.5}}}
		e1, e2 := e, e
		if err := store.PrepareExecution(&e1, 0); err != nil {
			t.Fatalf("PrepareExecution: %v", err)
		}
		_ = store.PrepareExecution(&e2, 0)
		if !reflect.DeepEqual(e1, e2) {
			t.Fatalf("the same execution fitted two ways")
		}
		if n := store.ExecutionSize(&e1); n > store.MaxRecordBytes || !utf8.ValidString(e1.Output) {
			t.Fatalf("execution fitted to %d bytes", n)
		}
		if b, _ := store.Encode(e1.Metadata); len(b) > store.MaxMetadataBytes {
			t.Fatalf("metadata fitted to %d bytes", len(b))
		}
	})
}

// A reply is never refused for its bytes: what is not UTF-8 is replaced, what is
// over the cap is cut; a user's message is refused instead.
func TestPrepareMessage_RepairsAReplyAndRefusesAUserMessage(t *testing.T) {
	// A run of bytes that are not UTF-8 becomes one U+FFFD.
	m := store.Message{ID: "m", ConversationID: "c", UserID: "u", Role: llm.RoleAssistant, Content: "ok \xff\xfe" + strings.Repeat("é", store.DefaultMaxContentBytes)}
	if err := store.PrepareMessage(&m, store.DefaultMaxContentBytes); err != nil {
		t.Fatalf("PrepareMessage of a reply: %v", err)
	}
	if !utf8.ValidString(m.Content) || !strings.HasPrefix(m.Content, "ok \uFFFDé") || !strings.HasSuffix(m.Content, text.Marker) ||
		len(m.Content) > store.DefaultMaxContentBytes || m.Status != store.StatusIncomplete {
		t.Fatalf("reply fitted to %d bytes, status %s", len(m.Content), m.Status)
	}
	u := store.Message{ID: "m", ConversationID: "c", UserID: "u", Role: llm.RoleUser, Content: "bad \xff"}
	var se *store.Error
	if err := store.PrepareMessage(&u, 0); !errors.As(err, &se) || se.Code != errcode.InvalidInput || se.Field != "message" {
		t.Fatalf("user message not UTF-8: %v, want invalid naming message", err)
	}
}

func TestFitJSON_KeepsStructureAndMarksWhatItCut(t *testing.T) {
	v := map[string]any{"a": strings.Repeat("<", 10000), "b": []any{"short", strings.Repeat("é", 10000)}, "n": 3}
	got, ok := store.FitJSON(v, 4096).(map[string]any)
	if !ok {
		t.Fatalf("FitJSON of a map gave %T", got)
	}
	if b, _ := store.Encode(got); len(b) > 4096 {
		t.Fatalf("fitted to %d bytes", len(b))
	}
	a, _ := got["a"].(string)
	list, _ := got["b"].([]any)
	if !strings.HasSuffix(a, text.Marker) || len(list) != 2 || list[0] != "short" || got["n"] != json.Number("3") {
		t.Fatalf("fitted value %v, want the same shape with long strings marked", got)
	}
	if len(v["a"].(string)) != 10000 {
		t.Fatalf("FitJSON edited its input")
	}
	// Nothing to cut but structure: one marked string of the encoding.
	many := make([]any, 5000)
	for i := range many {
		many[i] = i
	}
	got2, _ := store.FitJSON(map[string]any{"ids": many}, 1024).(map[string]any)
	s, _ := got2["truncated"].(string)
	if b, _ := store.Encode(got2); len(b) > 1024 || !strings.HasPrefix(s, `{"ids":[0,1,2`) || !strings.HasSuffix(s, text.Marker) {
		t.Fatalf("fallback %v", got2)
	}
}
