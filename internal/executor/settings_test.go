package executor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
)

// A user's settings (the predecessor's memory and tools configure routes) are the
// defaults of their runs: the base window is the memory_window of a run that sends
// none, the max window caps any, and max_total_calls is the max_tool_calls of a run
// that sends none. Another user's runs are not affected.
func TestExecute_UserSettingsAreTheDefaultsOfTheirRuns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("memory window", func(t *testing.T) {
		rec := &recorder{Provider: devllm.New(devllm.Options{})}
		h := newHarness(t, func(o *executor.Options) { o.Providers = []llm.Provider{rec} })
		first := h.mustRun(t, template("general_chat", "one"), nil) // general_chat has no memory node: the model sees the loaded window
		for _, msg := range []string{"two", "three"} {
			req := template("general_chat", msg)
			req.Input.ConversationID = first.ConversationID
			h.mustRun(t, req, nil)
		}
		if err := h.store.PutMemorySettings(ctx, userA, store.MemorySettings{BaseWindowSize: 2, MaxWindowSize: 3}); err != nil {
			t.Fatal(err)
		}
		history := func(window int) int {
			req := template("general_chat", "now")
			req.Input.ConversationID, req.Input.Config.MemoryWindow = first.ConversationID, window
			h.mustRun(t, req, nil)
			reqs := rec.requests()
			n := 0
			for _, m := range reqs[len(reqs)-1].Messages {
				if m.Role == llm.RoleUser || m.Role == llm.RoleAssistant {
					n++
				}
			}
			return n - 1 // the message of this run
		}
		if got := history(0); got != 2 {
			t.Errorf("no memory_window sent: %d history messages, want the base window 2", got)
		}
		if got := history(10); got != 3 {
			t.Errorf("memory_window 10 sent: %d history messages, want the max window 3", got)
		}
	})

	t.Run("tool calls", func(t *testing.T) {
		calls := strings.TrimSuffix(strings.Repeat("count {} ; /tool ", 4), " ; /tool ")
		run := func(user string, maxCalls int, settings *store.ToolSettings) int64 {
			reg, n := countingTools(t)
			h := newHarness(t, func(o *executor.Options) { o.Tools = reg })
			if settings != nil {
				if err := h.store.PutToolSettings(ctx, userA, *settings); err != nil {
					t.Fatal(err)
				}
			}
			req := inline(toolLoopDef(""), "/tool "+calls)
			req.Input.UserID, req.Input.Config.MaxToolCalls = user, maxCalls
			if _, err := h.x.Execute(ctx, req, nil); err != nil {
				t.Fatal(err)
			}
			return n.Load()
		}
		one := &store.ToolSettings{MaxTotalCalls: 1}
		if got := run(userA, 0, one); got != 1 {
			t.Errorf("no max_tool_calls sent: %d calls ran, want the user's 1", got)
		}
		if got := run(userA, 3, one); got != 3 {
			t.Errorf("max_tool_calls 3 sent: %d calls ran, want 3", got)
		}
		if got := run(userB, 0, one); got != 4 {
			t.Errorf("another user: %d calls ran, want all 4 (the tools node's default 5 bounds them)", got)
		}
	})
}
