// Package embed turns texts into vectors for document search, and encodes vectors
// for storage.
//
// Embedders (all safe for concurrent use):
//
//   - Hashed ("chatter-hashed-v1"): offline and deterministic, for local runs and
//     tests. Hashed features of the terms.Tokenize terms and of adjacent term pairs,
//     L2-normalised, 256 dimensions by default. It ranks by shared meaning-bearing
//     words (after stop words and stemming), not by synonyms. Changing terms or the
//     hashing changes every vector: that needs a new model name.
//   - Titan ("amazon.titan-embed-text-v2:0"): Bedrock InvokeModel, one call per text
//     (the model takes one inputText), at most Options.Concurrency at once,
//     normalize=true, 1024 dimensions by default (256 and 512 also).
//   - OpenAI ("text-embedding-3-small", "text-embedding-3-large"): POST
//     {base}/embeddings with plain net/http (the openai-go SDK would add ~19 MiB and
//     its init time to the ingest Lambda for one JSON call), batches of at most
//     OpenAIBatchTexts texts and OpenAIBatchChars characters.
//
// A model spec names the model and, when it is not the model's default, the
// dimensions: "amazon.titan-embed-text-v2:0/512". Embedder.Model returns the spec
// and New accepts it, so the spec recorded with a document's chunks is what its
// queries are embedded with; vectors of different specs are never compared.
//
// Titan and OpenAI are Metered: EmbedMetered also returns the input tokens the
// provider counted, for the document's cost. Hashed costs nothing and is not.
//
// Provider failures are *llm.Error values (codes rate_limited, unavailable, auth,
// invalid_request, ...), classified as the chat providers classify them, so the
// ingest retries what is retryable and fails the rest. An empty text is an error
// naming its index; no embedder sends one.
package embed

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Embedder turns texts into vectors of Dimensions() floats, one per text, in order.
type Embedder interface {
	// Model is the spec to record with the vectors (see the package comment).
	Model() string
	Dimensions() int
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Usage is what one call cost, as the provider counted it.
type Usage struct {
	InputTokens int
}

// Metered is an Embedder whose provider reports token counts (Titan, OpenAI), so
// the ingest can record what embedding a document cost. Embed is EmbedMetered
// without the usage.
type Metered interface {
	Embedder
	EmbedMetered(ctx context.Context, texts []string) ([][]float32, Usage, error)
}

// Model ids.
const (
	HashedModel      = "chatter-hashed-v1"
	TitanV2Model     = "amazon.titan-embed-text-v2:0"
	OpenAISmallModel = "text-embedding-3-small"
	OpenAILargeModel = "text-embedding-3-large"
)

// ErrUnknownModel is returned (wrapped) by New for a spec it cannot serve.
var ErrUnknownModel = errors.New("unknown embedding model")

// Options are what New needs for the provider-backed embedders.
type Options struct {
	Bedrock     InvokeModelAPI // required for Titan
	OpenAI      OpenAIConfig   // APIKey required for OpenAI models (unless BaseURL names a keyless server)
	Concurrency int            // calls in flight at once; DefaultConcurrency when 0
}

// DefaultConcurrency bounds the provider calls one Embed makes at once.
const DefaultConcurrency = 4

// New returns the embedder for a model spec.
func New(spec string, opts Options) (Embedder, error) {
	model, dims, err := parseSpec(spec)
	if err != nil {
		return nil, err
	}
	switch model {
	case HashedModel:
		if dims == 0 {
			dims = DefaultHashedDimensions
		}
		return NewHashed(dims)
	case TitanV2Model:
		if opts.Bedrock == nil {
			return nil, fmt.Errorf("embed: model %s needs a Bedrock client", model)
		}
		return NewTitan(opts.Bedrock, dims, opts.Concurrency)
	case OpenAISmallModel, OpenAILargeModel:
		return NewOpenAI(model, dims, opts.OpenAI, opts.Concurrency)
	}
	return nil, fmt.Errorf("embed: %w %q (known: %s, %s, %s, %s)", ErrUnknownModel, model, HashedModel, TitanV2Model, OpenAISmallModel, OpenAILargeModel)
}

// parseSpec splits "model/dims"; dims is 0 when the spec names none.
func parseSpec(spec string) (model string, dims int, err error) {
	model, d, ok := strings.Cut(strings.TrimSpace(spec), "/")
	if model == "" {
		return "", 0, fmt.Errorf("embed: %w: empty model spec", ErrUnknownModel)
	}
	if ok {
		dims, err = strconv.Atoi(d)
		if err != nil || dims <= 0 {
			return "", 0, fmt.Errorf("embed: model spec %q: dimensions must be a positive integer", spec)
		}
	}
	return model, dims, nil
}

// formatSpec is the spec of model at dims, naming dims only when they are not def.
func formatSpec(model string, dims, def int) string {
	if dims == def {
		return model
	}
	return model + "/" + strconv.Itoa(dims)
}

// checkTexts rejects the empty texts no provider accepts.
func checkTexts(texts []string) error {
	for i, t := range texts {
		if strings.TrimSpace(t) == "" {
			return fmt.Errorf("embed: texts[%d] is empty", i)
		}
	}
	return nil
}

// parallel runs fn(ctx, i) for i in [0, n), at most limit at once, and returns the
// first error; the others' context is cancelled by it.
func parallel(ctx context.Context, n, limit int, fn func(ctx context.Context, i int) error) error {
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { first = err; cancel(err) })
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// httpDoer is the part of *http.Client the OpenAI embedder uses.
type httpDoer interface {
	Do(*http.Request) (*http.Response, error)
}
