package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/chatterhq/chatter"
	"github.com/chatterhq/chatter/internal/lambdaapp"
	"github.com/chatterhq/chatter/internal/store/dynamo"
	"github.com/chatterhq/chatter/internal/store/dynamo/dynamotable"
)

// loadAWS is the AWS configuration of the dev stack: the SDK's default chain
// (profiles, SSO, shared config; the Lambdas read only their environment, see
// lambdaapp.AWSFromEnv), every client pointed at c.Endpoint when set, and c.Region
// when the chain names none.
func loadAWS(ctx context.Context, c lambdaapp.Config) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if c.Endpoint != "" {
		cfg.BaseEndpoint = aws.String(c.Endpoint)
	}
	if cfg.Region == "" {
		cfg.Region = c.Region
	}
	return cfg, nil
}

// dynamoStore connects to DynamoDB at endpoint and makes sure table exists, created
// from the embedded template.yaml. A loopback endpoint (moto, LocalStack) without
// credentials in the environment gets dummy ones, which those servers accept.
func dynamoStore(ctx context.Context, endpoint, table string) (*dynamo.Store, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("--endpoint %q is not a URL like http://127.0.0.1:4566", endpoint)
	}
	opts := []func(*config.LoadOptions) error{config.WithBaseEndpoint(endpoint)}
	if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		opts = append(opts, config.WithRegion(lambdaapp.LocalRegion))
	}
	if ip := net.ParseIP(u.Hostname()); (u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback())) &&
		os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("AWS config: %w", err)
	}
	db := dynamodb.NewFromConfig(cfg)
	if err := dynamotable.CreateTable(ctx, db, chatter.TemplateYAML, table); err != nil {
		return nil, err
	}
	return dynamo.New(db, table, dynamo.Options{}), nil
}
