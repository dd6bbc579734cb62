package llm

import (
	"reflect"
	"strings"
	"testing"
)

func TestSummaryRequest_PartsComeBackAsBuilt(t *testing.T) {
	tests := []struct {
		name     string
		previous string
		msgs     []Message
		want     []Message
	}{
		{"first summary", "", []Message{{Role: RoleUser, Content: "hi"}, {Role: RoleAssistant, Content: "hello: there"}},
			[]Message{{Role: RoleUser, Content: "hi"}, {Role: RoleAssistant, Content: "hello: there"}}},
		{"a previous summary over several lines", "line one\n\nSummary so far:\nline two", []Message{{Role: RoleUser, Content: "x"}},
			[]Message{{Role: RoleUser, Content: "x"}}},
		{"line breaks in content become spaces", "s", []Message{{Role: RoleUser, Content: "a\nb\r\nc\rd"}},
			[]Message{{Role: RoleUser, Content: "a b c d"}}},
	}
	for _, tt := range tests {
		req := SummaryRequest("m", tt.previous, tt.msgs, 300)
		if req.Model != "m" || req.MaxTokens != 300 || len(req.Messages) != 1 || req.Messages[0].Role != RoleUser ||
			!strings.HasPrefix(req.System, SummaryInstruction) || len(req.Tools) != 0 {
			t.Errorf("%s: request %+v; want one user message under the summary instruction, no tools", tt.name, req)
		}
		prev, msgs, ok := SummaryParts(req)
		if !ok || prev != tt.previous || !reflect.DeepEqual(msgs, tt.want) {
			t.Errorf("%s: parts %q %+v %t, want %q %+v", tt.name, prev, msgs, ok, tt.previous, tt.want)
		}
	}
}

func TestSummaryParts_OtherRequestsAreNotSummaries(t *testing.T) {
	for name, req := range map[string]*Request{
		"nil":             nil,
		"a chat turn":     {System: "You are helpful.", Messages: []Message{{Role: RoleUser, Content: "hi"}}},
		"no instruction":  {System: "Summary so far:\nx", Messages: []Message{{Role: RoleUser, Content: "user: hi"}}},
		"several turns":   {System: SummaryRequest("", "", nil, 0).System, Messages: []Message{{Role: RoleUser}, {Role: RoleUser}}},
		"no summary part": {System: SummaryInstruction, Messages: []Message{{Role: RoleUser, Content: "user: hi"}}},
	} {
		if _, _, ok := SummaryParts(req); ok {
			t.Errorf("%s: taken for a summary request", name)
		}
	}
}
