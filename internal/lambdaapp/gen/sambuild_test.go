package main

import (
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// samFunctions are template.yaml's serverless functions: logical ID -> resource.
func samFunctions(t *testing.T, r string) map[string]*yaml.Node {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	res := mapValue(doc.Content[0], "Resources")
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(res.Content); i += 2 {
		if mapValue(res.Content[i+1], "Type").Value == "AWS::Serverless::Function" {
			out[res.Content[i].Value] = res.Content[i+1]
		}
	}
	return out
}

// sam build uses the makefile builder for provided.al2023: every function needs
// Metadata.BuildMethod makefile and its CodeUri folder a Makefile with a
// build-<LogicalId> target, which make -n proves exists and builds that function.
func TestSAMBuild_EveryFunctionHasAMakefileTarget(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := root(t)
	fns := samFunctions(t, r)
	// Every build of every function: a function that runs workflows has a
	// Bedrock-only one, built with -tags chatter_nosdk; no other build is.
	type build struct {
		name, condition string
		bedrock         bool
	}
	byID := map[string]build{}
	for _, f := range functions {
		for _, v := range f.variants() {
			byID[f.logicalID()+v.suffix+"Function"] = build{f.name, v.condition, v.bedrock}
		}
	}
	for _, s := range subscribers {
		byID[function{name: s}.logicalID()+"Function"] = build{name: s}
	}
	if len(fns) != len(byID) {
		t.Errorf("%d functions in template.yaml, want %d (every build of the table's functions and the subscribers)", len(fns), len(byID))
	}
	for id, fn := range fns {
		if m := path(fn, "Metadata", "BuildMethod"); m == nil || m.Value != "makefile" {
			t.Errorf("%s: Metadata.BuildMethod is not makefile", id)
		}
		uri := path(fn, "Properties", "CodeUri")
		if uri == nil || uri.Value != "." {
			t.Errorf("%s: CodeUri %v, want . (the folder of the Makefile)", id, uri)
			continue
		}
		b, ok := byID[id]
		if !ok {
			t.Errorf("%s: not in the function table", id)
			continue
		}
		cond := ""
		if c := mapValue(fn, "Condition"); c != nil {
			cond = c.Value
		}
		if cond != b.condition {
			t.Errorf("%s: Condition %q, want %q", id, cond, b.condition)
		}
		// PROVIDERS (make build's choice) must not change what sam build builds.
		for _, providers := range []string{"all", "bedrock"} {
			cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "-n", "build-"+id)
			cmd.Dir = filepath.Join(r, uri.Value)
			cmd.Env = append(os.Environ(), "ARTIFACTS_DIR=/artifacts/"+id, "PROVIDERS="+providers)
			out, err := cmd.CombinedOutput()
			want := "-o /artifacts/" + id + "/bootstrap ./functions/" + b.name + "\n"
			if err != nil || !strings.Contains(string(out), want) || !strings.Contains(string(out), "GOOS=linux GOARCH=arm64") {
				t.Errorf("make -n build-%s: %v\n%s\nwant a linux/arm64 build with %q", id, err, out, want)
			}
			if strings.Contains(string(out), "chatter_nosdk") != b.bedrock {
				t.Errorf("make -n build-%s (PROVIDERS=%s): -tags chatter_nosdk is %v, want %v\n%s",
					id, providers, !b.bedrock, b.bedrock, out)
			}
		}
	}
}

// Two functions built the way sam build runs the makefile builder: make in the
// CodeUri folder with ARTIFACTS_DIR in the environment; each leaves a Linux
// arm64 executable bootstrap there.
func TestSAMBuild_TargetsWriteLinuxBootstrapToArtifactsDir(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles two functions")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	r := root(t)
	for _, id := range []string{"HealthFunction", "OnEventRecordFunction"} {
		art := t.TempDir()
		cmd := exec.CommandContext(ctx, "make", "build-"+id)
		cmd.Dir = r
		cmd.Env = append(os.Environ(), "ARTIFACTS_DIR="+art)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make build-%s: %v\n%s", id, err, out)
		}
		p := filepath.Join(art, "bootstrap")
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm()&0o111 == 0 {
			t.Fatalf("%s: bootstrap %v, %v; want an executable", id, st, err)
		}
		f, err := elf.Open(p)
		if err != nil {
			t.Fatalf("%s: bootstrap is not ELF: %v", id, err)
		}
		if f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX || f.Machine != elf.EM_AARCH64 || f.Type != elf.ET_EXEC {
			t.Errorf("%s: bootstrap is %v %v %v, want a Linux arm64 executable", id, f.OSABI, f.Machine, f.Type)
		}
		f.Close()
		entries, _ := os.ReadDir(art)
		if len(entries) != 1 {
			t.Errorf("%s: ARTIFACTS_DIR holds %d entries, want only bootstrap", id, len(entries))
		}
	}
	// Without ARTIFACTS_DIR the target refuses rather than writing /bootstrap.
	cmd := exec.CommandContext(ctx, "make", "build-HealthFunction")
	cmd.Dir = r
	cmd.Env = append(os.Environ(), "ARTIFACTS_DIR=")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "ARTIFACTS_DIR is not set") {
		t.Errorf("make without ARTIFACTS_DIR: %v\n%s", err, out)
	}
}

// PROVIDERS chooses the SDKs make build (and make sizes) links: bedrock builds the
// workflow functions with -tags chatter_nosdk, which leaves openai-go and
// anthropic-sdk-go out, and the Secrets Manager and SSM clients that only read
// their keys; all (the default) links the three; anything else stops the build.
// (sam build's targets ignore it: see TestSAMBuild_EveryFunctionHasAMakefileTarget.)
func TestSAMBuild_ProvidersChoosesTheLinkedSDKs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := root(t)
	makeN := func(providers string) (string, error) {
		cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "-n", "functions")
		cmd.Dir = r
		cmd.Env = append(os.Environ(), "PROVIDERS="+providers)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for providers, wantTag := range map[string]bool{"all": false, "bedrock": true} {
		out, err := makeN(providers)
		if err != nil || strings.Contains(out, "chatter_nosdk") != wantTag {
			t.Errorf("PROVIDERS=%s: %v\n%s", providers, err, out)
		}
	}
	if out, err := makeN("gemini"); err == nil || !strings.Contains(out, "PROVIDERS must be") {
		t.Errorf("PROVIDERS=gemini: %v\n%s", err, out)
	}
	for tags, wantSDKs := range map[string]bool{"lambda.norpc": true, "lambda.norpc chatter_nosdk": false} {
		cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-tags", tags, "./functions/chat")
		cmd.Dir = r
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -tags %q: %v", tags, err)
		}
		for _, sdk := range []string{"github.com/openai/openai-go/v3", "github.com/anthropics/anthropic-sdk-go/v2"} {
			if has := slices.Contains(strings.Fields(string(out)), sdk); has != wantSDKs {
				t.Errorf("-tags %q: chat links %s = %v", tags, sdk, has)
			}
		}
		// The keys are read by providers.AWSSecrets' own two calls, never the clients.
		for _, sdk := range []string{"github.com/aws/aws-sdk-go-v2/service/ssm", "github.com/aws/aws-sdk-go-v2/service/secretsmanager"} {
			if slices.Contains(strings.Fields(string(out)), sdk) {
				t.Errorf("-tags %q: chat links %s", tags, sdk)
			}
		}
		if !slices.Contains(strings.Fields(string(out)), "github.com/aws/aws-sdk-go-v2/service/bedrockruntime") {
			t.Errorf("-tags %q: chat does not link Bedrock", tags)
		}
	}
}
