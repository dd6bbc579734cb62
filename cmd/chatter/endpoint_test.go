package main

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/store/dynamo"
	"github.com/chatterhq/chatter/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestWorkflowRun_EndpointPersistsAcrossInvocations(t *testing.T) {
	ep := testenv.Endpoint(t)
	table := fmt.Sprintf("chatter-cli-%d", time.Now().UnixNano())
	code, out, errOut := runCLI(t, "workflow", "run", "--template", "general_chat", "--message", "remember me",
		"--endpoint", ep, "--table", table, "--user", "cli-user")
	if code != 0 {
		t.Fatalf("first run exit %d: %s %s", code, out, errOut)
	}
	var first struct {
		ConversationID string `json:"conversation_id"`
	}
	if err := json.Unmarshal([]byte(out), &first); err != nil || first.ConversationID == "" {
		t.Fatalf("output %q: %v", out, err)
	}
	// A second process-like invocation continues the stored conversation.
	code, out, errOut = runCLI(t, "workflow", "run", "--template", "general_chat", "--message", "again",
		"--conversation", first.ConversationID, "--endpoint", ep, "--table", table, "--user", "cli-user")
	if code != 0 {
		t.Fatalf("continuing run exit %d: %s %s", code, out, errOut)
	}
	s := dynamo.New(dynamodb.NewFromConfig(testenv.AWSConfig(t)), table, dynamo.Options{})
	pg, err := s.ListMessages(context.Background(), "cli-user", first.ConversationID, store.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pg.Items) != 4 || pg.Items[0].Content != "remember me" || pg.Items[2].Content != "again" || pg.Items[3].Seq != 4 {
		t.Fatalf("stored messages %+v, want both turns in order", pg.Items)
	}
}

func TestWorkflowRun_WithoutEndpointAConversationDoesNotCarryOver(t *testing.T) {
	code, _, errOut := runCLI(t, "workflow", "run", "--template", "general_chat", "--message", "hi", "--conversation", "nope")
	if code != 1 {
		t.Fatalf("exit %d (%s), want 1: the in-memory store starts empty", code, errOut)
	}
}

func TestWorkflowRun_BadEndpointIsAnError(t *testing.T) {
	code, _, errOut := runCLI(t, "workflow", "run", "--template", "general_chat", "--message", "hi", "--endpoint", "not a url")
	if code != 1 || errOut == "" {
		t.Fatalf("exit %d, stderr %q; want 1 and a message", code, errOut)
	}
}
