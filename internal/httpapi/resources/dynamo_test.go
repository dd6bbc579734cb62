package resources_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/chatterhq/chatter"
	"github.com/chatterhq/chatter/internal/store/dynamo"
	"github.com/chatterhq/chatter/internal/store/dynamo/dynamotable"
	"github.com/chatterhq/chatter/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// dynamoEnv serves the API over the DynamoDB store on moto, in a table of its own.
func dynamoEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, envOpts{st: dynamoStore(t)})
}

// dynamoStore is the DynamoDB store on moto, in a table of its own.
func dynamoStore(t *testing.T) *dynamo.Store {
	t.Helper()
	db := dynamodb.NewFromConfig(testenv.AWSConfig(t))
	name := fmt.Sprintf("resources-test-%d", time.Now().UnixNano())
	if err := dynamotable.CreateTable(context.Background(), db, chatter.TemplateYAML, name); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	return dynamo.New(db, name, dynamo.Options{})
}

func TestDynamo_OtherUsersRecordIsNotFoundOnEveryIDRoute(t *testing.T) {
	e := dynamoEnv(t)
	def := e.createDefinition(t, "alice")
	tpl := e.createTemplate(t, "alice")
	run := e.chat(t, "alice", `{"message":"secret plan","workflow_definition_id":"`+def+`"}`)
	checkIsolation(t, e, def, tpl, run.ExecutionID, run.ConversationID)
}

func TestDynamo_PaginationAndForgedCursors(t *testing.T) {
	e := dynamoEnv(t)
	checkPagination(t, e)
	def := e.createDefinition(t, "alice")
	run := e.chat(t, "alice", `{"message":"hi","workflow_definition_id":"`+def+`"}`)
	for _, p := range listPaths(def, run.ExecutionID, run.ConversationID) {
		r := e.get(t, "alice", p+"?cursor=forged.cursor")
		pr := r.problem(t)
		if r.StatusCode != 422 || len(pr.Errors) != 1 || pr.Errors[0].Field != "cursor" {
			t.Errorf("%s: %d %s", p, r.StatusCode, r.body)
		}
	}
}
