// Package devstack runs chatter's AWS resources locally (moto's server, LocalStack):
// it provisions the event bus and the subscriber rules from template.yaml, each
// rule filling an SQS queue with a dead-letter queue as the template's subscriber
// queues do, and delivers those queues' messages, a receive at a time, to the same
// batch handlers the subscriber Lambdas' SQS event sources call.
//
// The documents bucket is made with EventBridge notifications on
// (ProvisionDocuments), and the ingest function's rule is provisioned like the
// subscribers' ones, its !Ref DocumentsBucket replaced by the local bucket's name.
// Locally that rule sits on chatter's bus rather than the default one: moto hands
// S3's events to the rules of every bus. So an upload in `make dev` is ingested by
// the same handler, from the same envelope, as the Lambda on AWS.
package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"gopkg.in/yaml.v3"

	chatter "github.com/chatterhq/chatter"
)

// Rule is one subscriber's EventBridge rule as template.yaml defines it.
type Rule struct {
	// Subscriber names the function as its folder under functions/ does: its
	// logical ID without "Function", in kebab case (OnEventRecordFunction ->
	// on-event-record), the inverse of the Makefile's build-<LogicalId> targets.
	Subscriber string
	// Pattern is the rule's event pattern as JSON.
	Pattern string
	// MaxReceives is the maxReceiveCount of the subscriber's queue in the template
	// (a rule that targets the function itself has none: MaxReceives).
	MaxReceives int
}

// functionDir turns a function's logical ID into its folder name:
// OnEventRecordFunction -> on-event-record.
func functionDir(logicalID string) (string, bool) {
	id, ok := strings.CutSuffix(logicalID, "Function")
	if !ok || id == "" {
		return "", false
	}
	var b strings.Builder
	for i, r := range id {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('-')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String(), true
}

// Refs are the local values of template resources a rule pattern names with !Ref
// (DocumentsBucket -> the local bucket).
type Refs map[string]string

// resolve replaces every "!Ref X" scalar under n whose X refs holds.
func (refs Refs) resolve(n *yaml.Node) {
	if n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!Ref" {
		if v, ok := refs[n.Value]; ok {
			n.Tag, n.Value = "!!str", v
		}
	}
	for _, c := range n.Content {
		refs.resolve(c)
	}
}

// Rules reads the subscriber rules of the template, with the !Ref values of refs:
// every AWS::Events::Rule whose target is the queue of a serverless function's SQS
// event (the event subscribers), and every EventBridgeRule event of a function
// (the ingest).
func Rules(template []byte, refs Refs) ([]Rule, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(template, &doc); err != nil {
		return nil, fmt.Errorf("devstack: parsing template: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("devstack: empty template")
	}
	resources := child(doc.Content[0], "Resources")
	var rules []Rule
	queues := map[string]string{} // queue logical id -> the subscriber it feeds
	for _, res := range pairs(resources) {
		if scalar(child(res.value, "Type")) != "AWS::Serverless::Function" {
			continue
		}
		name, ok := functionDir(res.key)
		for _, ev := range pairs(child(child(res.value, "Properties"), "Events")) {
			typ := scalar(child(ev.value, "Type"))
			if typ != "EventBridgeRule" && typ != "SQS" {
				continue
			}
			if !ok {
				return nil, fmt.Errorf("devstack: function %s is not named <Name>Function", res.key)
			}
			props := child(ev.value, "Properties")
			if typ == "SQS" {
				if q, ok := arnOf(child(props, "Queue")); ok {
					queues[q] = name
				}
				continue
			}
			pat, err := pattern(child(props, "Pattern"), refs)
			if err != nil {
				return nil, fmt.Errorf("devstack: rule %s.%s: %w", res.key, ev.key, err)
			}
			rules = append(rules, Rule{Subscriber: name, Pattern: pat, MaxReceives: MaxReceives})
		}
	}
	for _, res := range pairs(resources) {
		if scalar(child(res.value, "Type")) != "AWS::Events::Rule" {
			continue
		}
		props := child(res.value, "Properties")
		for _, target := range child(props, "Targets").Content {
			q, ok := arnOf(child(target, "Arn"))
			if !ok || queues[q] == "" {
				continue
			}
			pat, err := pattern(child(props, "EventPattern"), refs)
			if err != nil {
				return nil, fmt.Errorf("devstack: rule %s: %w", res.key, err)
			}
			n, err := strconv.Atoi(scalar(child(child(child(child(resources, q), "Properties"), "RedrivePolicy"), "maxReceiveCount")))
			if err != nil || n < 1 {
				return nil, fmt.Errorf("devstack: queue %s has no RedrivePolicy.maxReceiveCount", q)
			}
			rules = append(rules, Rule{Subscriber: queues[q], Pattern: pat, MaxReceives: n})
		}
	}
	return rules, nil
}

// GoRuntimeEnv is the Go runtime's variables (GOGC, GOMEMLIMIT, ...) that the
// template's Globals give every function, as NAME=value: what a function run
// locally needs to start as it does on AWS.
func GoRuntimeEnv(template []byte) ([]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(template, &doc); err != nil {
		return nil, fmt.Errorf("devstack: parsing template: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("devstack: empty template")
	}
	vars := child(child(child(child(doc.Content[0], "Globals"), "Function"), "Environment"), "Variables")
	if vars == nil {
		return nil, errors.New("devstack: the template has no Globals.Function.Environment.Variables")
	}
	var env []string
	for _, p := range pairs(vars) {
		if v := scalar(p.value); strings.HasPrefix(p.key, "GO") && v != "" {
			env = append(env, p.key+"="+v)
		}
	}
	return env, nil
}

// arnOf reads "!GetAtt X.Arn" as X.
func arnOf(n *yaml.Node) (string, bool) {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!GetAtt" {
		return "", false
	}
	return strings.CutSuffix(n.Value, ".Arn")
}

// pattern is an event pattern node as JSON, its !Ref values from refs.
func pattern(pat *yaml.Node, refs Refs) (string, error) {
	if pat == nil {
		return "", errors.New("no pattern")
	}
	refs.resolve(pat)
	var p any
	if err := pat.Decode(&p); err != nil {
		return "", fmt.Errorf("pattern: %w", err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("pattern: %w", err)
	}
	return string(b), nil
}

type pair struct {
	key   string
	value *yaml.Node
}

func pairs(m *yaml.Node) []pair {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	out := make([]pair, 0, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		out = append(out, pair{m.Content[i].Value, m.Content[i+1]})
	}
	return out
}

func child(m *yaml.Node, key string) *yaml.Node {
	for _, p := range pairs(m) {
		if p.key == key {
			return p.value
		}
	}
	return nil
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// MaxReceives is how often a local queue hands out a message before moving it to
// its dead-letter queue when the template gives the function no queue (the
// ingest's rule targets the function, whose retries the rule's RetryPolicy
// bounds); a subscriber's local queue takes its template queue's maxReceiveCount.
const MaxReceives = 5

// ProvisionEvents creates the bus busName and, for every subscriber rule in
// template.yaml (the ingest's included, its !Ref values from refs), the same rule
// targeting an SQS queue (with a dead-letter queue). It returns each subscriber's
// queue URL. Running it again changes nothing.
func ProvisionEvents(ctx context.Context, cfg aws.Config, busName string, refs Refs) (map[string]string, error) {
	rules, err := Rules(chatter.TemplateYAML, refs)
	if err != nil {
		return nil, err
	}
	eb, q := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(busName)}); err != nil {
		var exists *ebtypes.ResourceAlreadyExistsException
		if !errors.As(err, &exists) {
			return nil, fmt.Errorf("devstack: creating bus %s: %w", busName, err)
		}
	}
	queues := make(map[string]string, len(rules))
	for _, r := range rules {
		name := busName + "-" + r.Subscriber
		_, dlqARN, err := createQueue(ctx, q, name+"-dlq", nil)
		if err != nil {
			return nil, err
		}
		redrive, _ := json.Marshal(map[string]any{"deadLetterTargetArn": dlqARN, "maxReceiveCount": r.MaxReceives})
		url, arn, err := createQueue(ctx, q, name, map[string]string{string(sqstypes.QueueAttributeNameRedrivePolicy): string(redrive)})
		if err != nil {
			return nil, err
		}
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventBusName: aws.String(busName),
			EventPattern: aws.String(r.Pattern), State: ebtypes.RuleStateEnabled}); err != nil {
			return nil, fmt.Errorf("devstack: rule %s: %w", name, err)
		}
		if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), EventBusName: aws.String(busName),
			Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(arn)}}}); err != nil {
			return nil, fmt.Errorf("devstack: target of rule %s: %w", name, err)
		}
		queues[r.Subscriber] = url
	}
	return queues, nil
}

func createQueue(ctx context.Context, q *sqs.Client, name string, attrs map[string]string) (url, arn string, err error) {
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", "", fmt.Errorf("devstack: creating queue %s: %w", name, err)
	}
	a, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", "", fmt.Errorf("devstack: queue %s arn: %w", name, err)
	}
	return *out.QueueUrl, a.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], nil
}

// DocumentsBucketRef is the template's logical id of the documents bucket.
const DocumentsBucketRef = "DocumentsBucket"

// ProvisionDocuments creates the documents bucket with EventBridge notifications
// on, as template.yaml's DocumentsBucket has them. Running it again changes
// nothing.
func ProvisionDocuments(ctx context.Context, client *s3.Client, bucket string) error {
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		var owned *s3types.BucketAlreadyOwnedByYou
		var exists *s3types.BucketAlreadyExists
		if !errors.As(err, &owned) && !errors.As(err, &exists) {
			return fmt.Errorf("devstack: creating bucket %s: %w", bucket, err)
		}
	}
	if _, err := client.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String(bucket),
		NotificationConfiguration: &s3types.NotificationConfiguration{EventBridgeConfiguration: &s3types.EventBridgeConfiguration{}}}); err != nil {
		return fmt.Errorf("devstack: EventBridge notifications of bucket %s: %w", bucket, err)
	}
	return nil
}
