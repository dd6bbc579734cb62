package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestWorkflowValidate_BadInputIsAProblemAndExit1(t *testing.T) {
	cases := []struct {
		file, code, pointer string
	}{
		{"malformed.json", "malformed_json", ""},
		{"unknown_type.json", "unknown_node_type", "/nodes/1/type"},
		{"dangling_edge.json", "dangling_edge", "/edges/1/target"},
		{"unreachable.json", "unreachable_node", "/nodes/2"},
		{"unbounded_cycle.json", "unbounded_cycle", "/nodes/1"},
		{"bad_condition.json", "invalid_condition", "/edges/1/data/condition"},
		{"too_many_nodes.json", "too_many_nodes", "/nodes"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			code, out, _ := runCLI(t, "workflow", "validate", "testdata/"+c.file)
			if code != 1 {
				t.Fatalf("exit = %d, want 1; output %s", code, out)
			}
			var v validateOutput
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
			if v.Valid || len(v.Problems) == 0 {
				t.Fatalf("want problems, got %+v", v)
			}
			found := false
			for _, p := range v.Problems {
				if p.Code == c.code && (c.pointer == "" || p.Pointer == c.pointer) && p.Message != "" {
					found = true
				}
			}
			if !found {
				t.Fatalf("problems = %+v, want code %s at %s", v.Problems, c.code, c.pointer)
			}
		})
	}
}

func TestWorkflowValidate_ValidFileExits0(t *testing.T) {
	code, out, _ := runCLI(t, "workflow", "validate", "testdata/tool_chat.json")
	if code != 0 || !strings.Contains(out, `"valid": true`) {
		t.Fatalf("exit %d, output %s", code, out)
	}
}

func TestWorkflowRun_FileRunsToolRoundTripOffline(t *testing.T) {
	code, out, errOut := runCLI(t, "workflow", "run", "testdata/tool_chat.json", "--message", `/tool calculator {"expression":"6*7"}`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var resp struct {
		Response  string `json:"response"`
		Status    string `json:"status"`
		ToolCalls []struct {
			Name, Result string
		} `json:"tool_calls"`
		Usage struct {
			TotalTokens int `json:"total_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatal(err, out)
	}
	if resp.Response != "The calculator tool returned: 42." || resp.Status != "completed" ||
		len(resp.ToolCalls) != 1 || resp.ToolCalls[0].Result != "42" || resp.Usage.TotalTokens == 0 {
		t.Fatalf("unexpected response %+v", resp)
	}
}

func TestWorkflowRun_StreamPrintsTokens(t *testing.T) {
	code, out, errOut := runCLI(t, "workflow", "run", "--template", "general_chat", "--message", "hello stream", "--stream")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != "You said: hello stream." {
		t.Fatalf("stdout = %q", out)
	}
	if !strings.Contains(errOut, "[usage:") {
		t.Fatalf("stderr lacks usage: %q", errOut)
	}
}

func TestWorkflowRun_InvalidFilePrintsProblems(t *testing.T) {
	code, out, _ := runCLI(t, "workflow", "run", "testdata/dangling_edge.json", "--message", "hi")
	if code != 1 || !strings.Contains(out, "dangling_edge") {
		t.Fatalf("exit %d, out %s", code, out)
	}
}

func TestWorkflowRun_FailedRunExits1(t *testing.T) {
	code, _, errOut := runCLI(t, "workflow", "run", "--template", "general_chat", "--message", "/fail invalid_request")
	if code != 1 || !strings.Contains(errOut, "llm_error") {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"bogus"}, {"workflow"}, {"workflow", "validate"},
		{"workflow", "run", "--message", "x"}, {"workflow", "run", "--template", "general_chat"}} {
		if code, _, _ := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestTemplates_ListsEveryBuiltin(t *testing.T) {
	code, out, _ := runCLI(t, "templates")
	if code != 0 {
		t.Fatal(code)
	}
	for _, name := range []string{"general_chat", "document_qa", "code_assistant", "customer_support", "research_assistant",
		"data_analyst", "blog_writing_assistant", "meeting_summarizer", "learning_tutor", "document_reviewer", "universal_chat"} {
		if !strings.Contains(out, name) {
			t.Errorf("missing %s", name)
		}
	}
}
