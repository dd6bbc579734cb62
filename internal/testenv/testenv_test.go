package testenv_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/chatterhq/chatter/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestEndpoint_ServesAWSAPIs(t *testing.T) {
	c := sqs.NewFromConfig(testenv.AWSConfig(t))
	out, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("testenv-probe")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.QueueUrl) == "" {
		t.Fatal("no queue url")
	}
	if a, b := testenv.Endpoint(t), testenv.Endpoint(t); a != b {
		t.Fatal("endpoint changed between calls")
	}
}
