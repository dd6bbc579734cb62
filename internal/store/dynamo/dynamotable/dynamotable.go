// Package dynamotable creates chatter's DynamoDB table from the one description of
// it, template.yaml's AWS::DynamoDB::Table resource. Only the dev stack, the CLI and
// tests use it: it links a YAML parser, which no Lambda needs (the deployed table is
// CloudFormation's), so it lives apart from the store.
package dynamotable

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"gopkg.in/yaml.v3"
)

// TableSpec is the AWS::DynamoDB::Table resource of a SAM/CloudFormation template:
// the only description of chatter's table, read by CreateTable.
type TableSpec struct {
	BillingMode          string `yaml:"BillingMode"`
	AttributeDefinitions []struct {
		AttributeName string `yaml:"AttributeName"`
		AttributeType string `yaml:"AttributeType"`
	} `yaml:"AttributeDefinitions"`
	KeySchema              []keyElement `yaml:"KeySchema"`
	GlobalSecondaryIndexes []struct {
		IndexName  string       `yaml:"IndexName"`
		KeySchema  []keyElement `yaml:"KeySchema"`
		Projection struct {
			ProjectionType   string   `yaml:"ProjectionType"`
			NonKeyAttributes []string `yaml:"NonKeyAttributes"`
		} `yaml:"Projection"`
	} `yaml:"GlobalSecondaryIndexes"`
	TimeToLiveSpecification struct {
		AttributeName string `yaml:"AttributeName"`
		Enabled       bool   `yaml:"Enabled"`
	} `yaml:"TimeToLiveSpecification"`
	PointInTimeRecoverySpecification struct {
		PointInTimeRecoveryEnabled bool `yaml:"PointInTimeRecoveryEnabled"`
	} `yaml:"PointInTimeRecoverySpecification"`
}

type keyElement struct {
	AttributeName string `yaml:"AttributeName"`
	KeyType       string `yaml:"KeyType"`
}

// ParseTableSpec finds the one AWS::DynamoDB::Table resource in a template.
// CloudFormation's short tags (!Ref, !Sub, !GetAtt...) are read as plain values:
// the table's shape never depends on them, only its name does, and the caller names
// the table.
func ParseTableSpec(templateYAML []byte) (*TableSpec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(templateYAML, &doc); err != nil {
		return nil, fmt.Errorf("parsing template: %w", err)
	}
	dropShortTags(&doc)
	var tmpl struct {
		Resources map[string]struct {
			Type       string    `yaml:"Type"`
			Properties yaml.Node `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := doc.Decode(&tmpl); err != nil {
		return nil, fmt.Errorf("reading template resources: %w", err)
	}
	var found []string
	var spec TableSpec
	for name, r := range tmpl.Resources {
		if r.Type != "AWS::DynamoDB::Table" {
			continue
		}
		found = append(found, name)
		if err := r.Properties.Decode(&spec); err != nil {
			return nil, fmt.Errorf("reading table %s: %w", name, err)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("template has %d AWS::DynamoDB::Table resources %v; want exactly one", len(found), found)
	}
	if len(spec.KeySchema) == 0 {
		return nil, fmt.Errorf("table %s has no KeySchema", found[0])
	}
	if spec.BillingMode != string(types.BillingModePayPerRequest) {
		return nil, fmt.Errorf("table %s: BillingMode %q is not supported; chatter's table is PAY_PER_REQUEST", found[0], spec.BillingMode)
	}
	return &spec, nil
}

// dropShortTags turns CloudFormation's local tags into plain YAML, so decoding does
// not trip over "!Sub chatter-${Stage}".
func dropShortTags(n *yaml.Node) {
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		n.Tag = ""
	}
	for _, c := range n.Content {
		dropShortTags(c)
	}
}

// Input builds the CreateTable request for tableName.
func (t *TableSpec) Input(tableName string) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{TableName: aws.String(tableName), BillingMode: types.BillingMode(t.BillingMode),
		KeySchema: keySchema(t.KeySchema)}
	for _, a := range t.AttributeDefinitions {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(a.AttributeName), AttributeType: types.ScalarAttributeType(a.AttributeType)})
	}
	for _, g := range t.GlobalSecondaryIndexes {
		p := &types.Projection{ProjectionType: types.ProjectionType(g.Projection.ProjectionType)}
		if len(g.Projection.NonKeyAttributes) > 0 {
			p.NonKeyAttributes = g.Projection.NonKeyAttributes
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName: aws.String(g.IndexName), KeySchema: keySchema(g.KeySchema), Projection: p})
	}
	return in
}

func keySchema(ks []keyElement) []types.KeySchemaElement {
	out := make([]types.KeySchemaElement, len(ks))
	for i, k := range ks {
		out[i] = types.KeySchemaElement{AttributeName: aws.String(k.AttributeName), KeyType: types.KeyType(k.KeyType)}
	}
	return out
}

// TableAPI is what CreateTable calls.
type TableAPI interface {
	dynamodb.DescribeTableAPIClient
	CreateTable(context.Context, *dynamodb.CreateTableInput, ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTimeToLive(context.Context, *dynamodb.DescribeTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
	UpdateTimeToLive(context.Context, *dynamodb.UpdateTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
	UpdateContinuousBackups(context.Context, *dynamodb.UpdateContinuousBackupsInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateContinuousBackupsOutput, error)
}

// CreateTable creates the table the template defines, named tableName, on whatever
// endpoint client points at (moto, LocalStack, AWS), waits until it is active, and
// turns on TTL and point-in-time recovery as the template says. An existing table
// is fine: only TTL and recovery are (re)applied.
func CreateTable(ctx context.Context, client TableAPI, templateYAML []byte, tableName string) error {
	spec, err := ParseTableSpec(templateYAML)
	if err != nil {
		return err
	}
	_, err = client.CreateTable(ctx, spec.Input(tableName))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("creating table %s: %w", tableName, err)
	}
	if err := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 2*time.Second
	}).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tableName)}, 5*time.Minute); err != nil {
		return fmt.Errorf("waiting for table %s: %w", tableName, err)
	}
	if ttl := spec.TimeToLiveSpecification; ttl.Enabled && ttl.AttributeName != "" {
		d, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(tableName)})
		if err != nil {
			return fmt.Errorf("reading TTL of %s: %w", tableName, err)
		}
		if st := d.TimeToLiveDescription; st == nil || (st.TimeToLiveStatus != types.TimeToLiveStatusEnabled &&
			st.TimeToLiveStatus != types.TimeToLiveStatusEnabling) {
			if _, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(tableName),
				TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(ttl.AttributeName),
					Enabled: aws.Bool(true)}}); err != nil {
				return fmt.Errorf("enabling TTL on %s: %w", tableName, err)
			}
		}
	}
	if spec.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled {
		if _, err := client.UpdateContinuousBackups(ctx, &dynamodb.UpdateContinuousBackupsInput{TableName: aws.String(tableName),
			PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{
				PointInTimeRecoveryEnabled: aws.Bool(true)}}); err != nil {
			return fmt.Errorf("enabling point-in-time recovery on %s: %w", tableName, err)
		}
	}
	return nil
}
