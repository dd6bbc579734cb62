package embed

import (
	"context"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/bedrock"
)

// InvokeModelAPI is the part of *bedrockruntime.Client Titan uses.
type InvokeModelAPI interface {
	InvokeModel(ctx context.Context, in *bedrockruntime.InvokeModelInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.InvokeModelOutput, error)
}

var _ InvokeModelAPI = (*bedrockruntime.Client)(nil)

// Titan Text Embeddings v2 limits (Bedrock user guide): 256, 512 or 1024
// dimensions; inputText up to 50,000 characters (and 8,192 tokens).
const (
	TitanDefaultDimensions = 1024
	TitanMaxChars          = 50000
)

// Titan embeds with Amazon Titan Text Embeddings v2 on Bedrock.
type Titan struct {
	api         InvokeModelAPI
	dims        int
	concurrency int
}

var _ Metered = (*Titan)(nil)

// NewTitan returns a Titan embedder; dims 0 means 1024. client is normally built
// once at init with bedrock.NewClient (which turns the SDK's retries off: the
// ingest owns retries).
func NewTitan(client InvokeModelAPI, dims, concurrency int) (*Titan, error) {
	switch dims {
	case 0:
		dims = TitanDefaultDimensions
	case 256, 512, 1024:
	default:
		return nil, fmt.Errorf("embed: %s dimensions must be 256, 512 or 1024, got %d", TitanV2Model, dims)
	}
	return &Titan{api: client, dims: dims, concurrency: concurrency}, nil
}

func (t *Titan) Model() string   { return formatSpec(TitanV2Model, t.dims, TitanDefaultDimensions) }
func (t *Titan) Dimensions() int { return t.dims }

type titanRequest struct {
	InputText  string `json:"inputText"`
	Dimensions int    `json:"dimensions"`
	Normalize  bool   `json:"normalize"`
}

type titanResponse struct {
	Embedding           []float32 `json:"embedding"`
	InputTextTokenCount int       `json:"inputTextTokenCount"`
}

// Embed implements Embedder.
func (t *Titan) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	vs, _, err := t.EmbedMetered(ctx, texts)
	return vs, err
}

// EmbedMetered implements Metered: one InvokeModel per text, at most the configured
// number at once; the first failure cancels the rest and is returned. The usage
// adds up each response's inputTextTokenCount.
func (t *Titan) EmbedMetered(ctx context.Context, texts []string) ([][]float32, Usage, error) {
	if err := checkTexts(texts); err != nil {
		return nil, Usage{}, err
	}
	for i, s := range texts {
		if n := utf8.RuneCountInString(s); n > TitanMaxChars {
			return nil, Usage{}, fmt.Errorf("embed: texts[%d] has %d characters, more than %s takes (%d)", i, n, TitanV2Model, TitanMaxChars)
		}
	}
	out := make([][]float32, len(texts))
	tokens := make([]int, len(texts))
	err := parallel(ctx, len(texts), t.concurrency, func(ctx context.Context, i int) error {
		v, n, err := t.one(ctx, texts[i])
		if err != nil {
			return fmt.Errorf("embed: texts[%d]: %w", i, err)
		}
		out[i], tokens[i] = v, n
		return nil
	})
	if err != nil {
		return nil, Usage{}, err
	}
	var u Usage
	for _, n := range tokens {
		u.InputTokens += n
	}
	return out, u, nil
}

func (t *Titan) one(ctx context.Context, text string) ([]float32, int, error) {
	body, err := json.Marshal(titanRequest{InputText: text, Dimensions: t.dims, Normalize: true})
	if err != nil {
		return nil, 0, err
	}
	res, err := t.api.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{
		ModelId:     aws.String(TitanV2Model),
		Body:        body,
		ContentType: aws.String("application/json"),
		Accept:      aws.String("application/json"),
	})
	if err != nil {
		return nil, 0, bedrock.CallError(ctx, "bedrock", err)
	}
	var r titanResponse
	if err := json.Unmarshal(res.Body, &r); err != nil {
		return nil, 0, &llm.Error{Provider: "bedrock", Code: llm.CodeMalformed, Message: "undecodable " + TitanV2Model + " response: " + err.Error(), Err: err}
	}
	if len(r.Embedding) != t.dims {
		return nil, 0, &llm.Error{Provider: "bedrock", Code: llm.CodeMalformed, Message: fmt.Sprintf("%s returned %d dimensions, asked for %d", TitanV2Model, len(r.Embedding), t.dims)}
	}
	return r.Embedding, r.InputTextTokenCount, nil
}
