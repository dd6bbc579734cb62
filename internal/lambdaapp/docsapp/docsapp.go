// Package docsapp wires the documents functions: the /api/v1/documents routes
// (httpapi/documents, one Lambda each), the ingest function (S3 "Object Created"
// on the documents bucket -> EventBridge rule -> library.HandleEvent) and the
// retriever the workflow runners use. It is apart from lambdaapp because the
// embedders link the Bedrock runtime SDK, which the other CRUD functions must not
// pay for at cold start.
//
// The embedding model of new documents is CHATTER_EMBEDDING_MODEL (an embed spec,
// e.g. "amazon.titan-embed-text-v2:0/512"); unset, it is the offline hashed model
// (embed.HashedModel) in the local stage and Titan Text Embeddings v2
// (embed.TitanV2Model, through Bedrock with the function's role) elsewhere. The
// OpenAI models take OPENAI_API_KEY (and OPENAI_BASE_URL for a compatible server)
// from the environment. A document keeps the spec it was embedded with, and its
// queries are embedded with that spec, whatever the variable says later.
package docsapp

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatterhq/chatter/internal/documents/blob"
	"github.com/chatterhq/chatter/internal/documents/embed"
	"github.com/chatterhq/chatter/internal/documents/library"
	"github.com/chatterhq/chatter/internal/httpapi/documents"
	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/lambdaapp"
)

// Docs is the documents part of an App.
type Docs struct {
	Blobs   *blob.Store
	Library *library.Library
	// Model is the embed spec new documents get.
	Model string
}

// EmbeddingModel is the spec of new documents under c (see the package comment).
func EmbeddingModel(c lambdaapp.Config) string {
	switch {
	case c.EmbeddingModel != "":
		return c.EmbeddingModel
	case c.Local():
		return embed.HashedModel
	}
	return embed.TitanV2Model
}

// Embedders returns the embedder constructor of app's clients (Bedrock with the
// function's role; OpenAI with getenv's OPENAI_API_KEY and OPENAI_BASE_URL).
func Embedders(app *lambdaapp.App, getenv func(string) string) library.Embedders {
	opts := embed.Options{Bedrock: bedrockruntime.NewFromConfig(app.AWS),
		OpenAI: embed.OpenAIConfig{APIKey: getenv("OPENAI_API_KEY"), BaseURL: getenv("OPENAI_BASE_URL")}}
	return func(spec string) (embed.Embedder, error) { return embed.New(spec, opts) }
}

// NewRetriever is the library as the workflow runners search it: the store and
// the embedders only (a search reads no original).
func NewRetriever(app *lambdaapp.App, getenv func(string) string) *library.Library {
	return library.New(library.Options{Store: app.Store, Embed: Embedders(app, getenv), Logger: app.Logger})
}

// New builds the bucket, the embedders and the library on app. getenv is read
// for the OpenAI embedding key.
func New(app *lambdaapp.App, getenv func(string) string) (*Docs, error) {
	c := app.Config
	if c.DocumentsBucket == "" {
		return nil, &lambdaapp.ConfigError{Var: "CHATTER_DOCUMENTS_BUCKET", Reason: "is required by the documents functions outside the local stage"}
	}
	model := EmbeddingModel(c)
	newEmbedder := Embedders(app, getenv)
	if _, err := newEmbedder(model); err != nil {
		return nil, &lambdaapp.ConfigError{Var: "CHATTER_EMBEDDING_MODEL", Reason: err.Error()}
	}
	// moto and LocalStack serve buckets by path, not by host name.
	client := s3.NewFromConfig(app.AWS, func(o *s3.Options) { o.UsePathStyle = c.Endpoint != "" })
	blobs := blob.New(client, c.DocumentsBucket)
	lib := library.New(library.Options{Store: app.Store, Blobs: blobs, Embed: newEmbedder, Logger: app.Logger})
	return &Docs{Blobs: blobs, Library: lib, Model: model}, nil
}

// Deps are the routes' dependencies on app.
func (d *Docs) Deps(app *lambdaapp.App) documents.Deps {
	return documents.Deps{Store: app.Store, Blobs: d.Blobs, Library: d.Library, EmbeddingModel: d.Model}
}

// Mount mounts the one documents route of pattern on rt.
func (d *Docs) Mount(app *lambdaapp.App, rt *httpcore.Router, pattern string) error {
	for _, r := range documents.Routes(d.Deps(app)) {
		if r.Pattern == pattern {
			rt.Mount(r.Pattern, r.Handler, r.Options...)
			return nil
		}
	}
	return fmt.Errorf("%w %q", lambdaapp.ErrUnknownRoute, pattern)
}

// StartRoute is the main of a documents function behind API Gateway.
func StartRoute(pattern string) {
	app, err := lambdaapp.New(context.Background(), os.Getenv)
	lambdaapp.Must(err)
	d, err := New(app, os.Getenv)
	lambdaapp.Must(err)
	rt := app.Router(httpcore.APIGateway{})
	lambdaapp.Must(d.Mount(app, rt, pattern))
	lambda.Start(lambdaapp.APIGatewayHandler(rt))
}

// StartIngest is the main of the ingest function: one EventBridge envelope (S3's
// Object Created on the documents bucket) per invocation.
func StartIngest() {
	app, err := lambdaapp.New(context.Background(), os.Getenv)
	lambdaapp.Must(err)
	d, err := New(app, os.Getenv)
	lambdaapp.Must(err)
	lambda.Start(d.Library.HandleEvent(app.Config.DocumentsBucket))
}
