package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chatterhq/chatter/internal/httpapi/chat"
	"github.com/chatterhq/chatter/internal/httpapi/resources"
)

func root(t *testing.T) string {
	t.Helper()
	r, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestGenerated_FilesAreUpToDate(t *testing.T) {
	r := root(t)
	files, err := render(r)
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range files {
		got, err := os.ReadFile(filepath.Join(r, rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is out of date (err %v): run `make generate`", rel, err)
		}
	}
}

func TestTable_HasOneFunctionPerRoute(t *testing.T) {
	want := []string{"GET /health", "GET /ready", chat.PathChat, chat.PathChatStream, chat.PathTemplateExecute,
		chat.PathTemplateInline, chat.PathDefinitionExecute, chat.PathDefinitionInline}
	for _, r := range resources.Routes(resources.Deps{}) {
		want = append(want, r.Pattern)
	}
	var got []string
	names := map[string]bool{}
	for _, f := range functions {
		got = append(got, f.pattern)
		if names[f.name] {
			t.Errorf("function name %s twice", f.name)
		}
		names[f.name] = true
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("table routes\n%v\nwant every route once\n%v", got, want)
	}
}

// Every directory under functions/ is a function of the table or a hand-written
// subscriber, with a template entry (CodeUri) and an events/ sample that is JSON.
func TestFunctions_EachHasTemplateEntryAndSampleEvent(t *testing.T) {
	r := root(t)
	tpl, err := os.ReadFile(filepath.Join(r, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	known := slices.Clone(subscribers)
	for _, f := range functions {
		known = append(known, f.name)
	}
	entries, err := os.ReadDir(filepath.Join(r, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	slices.Sort(dirs)
	slices.Sort(known)
	if !slices.Equal(dirs, known) {
		t.Errorf("functions/ holds %v, want %v (a stale generated function?)", dirs, known)
	}
	for _, name := range known {
		if !strings.Contains(string(tpl), "CodeUri: build/"+name+"/\n") {
			t.Errorf("%s: no CodeUri in template.yaml", name)
		}
		b, err := os.ReadFile(filepath.Join(r, "events", name+".json"))
		if err != nil || !json.Valid(b) {
			t.Errorf("%s: events sample missing or not JSON: %v", name, err)
		}
	}
}

// The cold-start rule: CRUD and read functions link neither the executor nor an
// LLM SDK (nor the EventBridge client, which only runs workflows need).
func TestCRUDFunctions_DoNotLinkTheExecutorOrLLMSDKs(t *testing.T) {
	r := root(t)
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./functions/...")
	cmd.Dir = r
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		deps[strings.TrimPrefix(fields[0], "github.com/chatterhq/chatter/functions/")] = fields[1:]
	}
	forbidden := []string{"github.com/chatterhq/chatter/internal/executor", "github.com/chatterhq/chatter/internal/llm/providers",
		"github.com/openai/openai-go", "github.com/anthropics/anthropic-sdk-go",
		"github.com/aws/aws-sdk-go-v2/service/bedrockruntime", "github.com/aws/aws-sdk-go-v2/service/eventbridge",
		"github.com/getkin/kin-openapi"}
	checked := 0
	for _, f := range functions {
		if f.kind != kindRead && f.kind != kindWrite && f.kind != kindStateless && !f.open() {
			continue
		}
		d, ok := deps[f.name]
		if !ok {
			t.Fatalf("go list did not list functions/%s", f.name)
		}
		checked++
		for _, dep := range d {
			for _, bad := range forbidden {
				if dep == bad || strings.HasPrefix(dep, bad+"/") {
					t.Errorf("%s depends on %s", f.name, dep)
				}
			}
		}
	}
	// The execution functions must link the executor: the check above means something.
	if !slices.Contains(deps["chat"], "github.com/chatterhq/chatter/internal/executor") {
		t.Errorf("chat does not depend on the executor; is go list reading the right tree?")
	}
	if checked < 20 {
		t.Errorf("checked %d CRUD functions", checked)
	}
}
