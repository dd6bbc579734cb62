package embed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chatterhq/chatter/internal/llm"
)

// OpenAIConfig configures the OpenAI embedder.
type OpenAIConfig struct {
	APIKey     string
	BaseURL    string       // default https://api.openai.com/v1; an OpenAI-compatible server otherwise
	HTTPClient *http.Client // default a client with a 60 s timeout
}

// OpenAI request limits: the API takes up to 2048 inputs and 300,000 tokens per
// request and 8,192 tokens per input; these batch sizes stay well inside them.
const (
	OpenAIBatchTexts  = 256
	OpenAIBatchChars  = 200_000 // under 300,000 tokens even at one token a character
	OpenAIMaxChars    = 24_000  // per text: about 6,000 tokens of English; the API rejects more than 8,192 (invalid_request)
	openAIDefaultBase = "https://api.openai.com/v1"
	maxResponseBytes  = 64 << 20
)

var openAIDims = map[string]int{OpenAISmallModel: 1536, OpenAILargeModel: 3072}

// OpenAI embeds with OpenAI's embeddings endpoint.
type OpenAI struct {
	model, key, url string
	dims, defDims   int
	client          httpDoer
	concurrency     int
}

var _ Metered = (*OpenAI)(nil)

// NewOpenAI returns an OpenAI embedder for model; dims 0 means the model's full
// size, fewer are asked for with the dimensions parameter.
func NewOpenAI(model string, dims int, cfg OpenAIConfig, concurrency int) (*OpenAI, error) {
	def, ok := openAIDims[model]
	if !ok {
		return nil, fmt.Errorf("embed: %w %q", ErrUnknownModel, model)
	}
	if dims == 0 {
		dims = def
	}
	if dims > def {
		return nil, fmt.Errorf("embed: %s dimensions must be at most %d, got %d", model, def, dims)
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = openAIDefaultBase
		if cfg.APIKey == "" {
			return nil, fmt.Errorf("embed: model %s needs an OpenAI API key", model)
		}
	}
	var client httpDoer = cfg.HTTPClient
	if cfg.HTTPClient == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	return &OpenAI{model: model, key: cfg.APIKey, url: base + "/embeddings", dims: dims, defDims: def, client: client, concurrency: concurrency}, nil
}

func (o *OpenAI) Model() string   { return formatSpec(o.model, o.dims, o.defDims) }
func (o *OpenAI) Dimensions() int { return o.dims }

type openAIRequest struct {
	Model          string   `json:"model"`
	Input          []string `json:"input"`
	EncodingFormat string   `json:"encoding_format"`
	Dimensions     int      `json:"dimensions,omitempty"`
}

type openAIResponse struct {
	Data []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
	Usage struct {
		PromptTokens int `json:"prompt_tokens"`
	} `json:"usage"`
}

type openAIErrorBody struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    any    `json:"code"`
	} `json:"error"`
}

// Embed implements Embedder.
func (o *OpenAI) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	vs, _, err := o.EmbedMetered(ctx, texts)
	return vs, err
}

// EmbedMetered implements Metered: texts go in batches of at most OpenAIBatchTexts
// texts and OpenAIBatchChars characters, at most the configured number at once. The
// usage adds up each response's usage.prompt_tokens.
func (o *OpenAI) EmbedMetered(ctx context.Context, texts []string) ([][]float32, Usage, error) {
	if err := checkTexts(texts); err != nil {
		return nil, Usage{}, err
	}
	var batches [][2]int // [start, end) into texts
	start, chars := 0, 0
	for i, s := range texts {
		n := utf8.RuneCountInString(s)
		if n > OpenAIMaxChars {
			return nil, Usage{}, fmt.Errorf("embed: texts[%d] has %d characters, more than %d", i, n, OpenAIMaxChars)
		}
		if i > start && (i-start == OpenAIBatchTexts || chars+n > OpenAIBatchChars) {
			batches = append(batches, [2]int{start, i})
			start, chars = i, 0
		}
		chars += n
	}
	if start < len(texts) {
		batches = append(batches, [2]int{start, len(texts)})
	}
	out := make([][]float32, len(texts))
	tokens := make([]int, len(batches))
	err := parallel(ctx, len(batches), o.concurrency, func(ctx context.Context, b int) error {
		lo, hi := batches[b][0], batches[b][1]
		vs, n, err := o.batch(ctx, texts[lo:hi])
		if err != nil {
			return fmt.Errorf("embed: texts[%d:%d]: %w", lo, hi, err)
		}
		copy(out[lo:hi], vs)
		tokens[b] = n
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

func (o *OpenAI) batch(ctx context.Context, texts []string) ([][]float32, int, error) {
	req := openAIRequest{Model: o.model, Input: texts, EncodingFormat: "float"}
	if o.dims != o.defDims {
		req.Dimensions = o.dims
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, 0, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url, bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	hr.Header.Set("Content-Type", "application/json")
	if o.key != "" {
		hr.Header.Set("Authorization", "Bearer "+o.key)
	}
	resp, err := o.client.Do(hr)
	if err != nil {
		if e := llm.ContextError("openai", err); e != nil {
			return nil, 0, e
		}
		if e := llm.ContextError("openai", ctx.Err()); e != nil {
			return nil, 0, e
		}
		return nil, 0, &llm.Error{Provider: "openai", Code: llm.CodeUnavailable, Message: "embeddings request failed: " + err.Error(), Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, 0, &llm.Error{Provider: "openai", Code: llm.CodeUnavailable, Status: resp.StatusCode, Message: "reading embeddings response: " + err.Error(), Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		var eb openAIErrorBody
		msg := http.StatusText(resp.StatusCode)
		if json.Unmarshal(data, &eb) == nil && eb.Error.Message != "" {
			msg = eb.Error.Message
		}
		return nil, 0, &llm.Error{Provider: "openai", Code: llm.CodeForStatus(resp.StatusCode), Status: resp.StatusCode, Message: msg,
			RetryAfter: llm.ParseRetryAfter(resp.Header, time.Now())}
	}
	var r openAIResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, 0, &llm.Error{Provider: "openai", Code: llm.CodeMalformed, Status: resp.StatusCode, Message: "undecodable embeddings response: " + err.Error(), Err: err}
	}
	out := make([][]float32, len(texts))
	for _, d := range r.Data {
		if d.Index < 0 || d.Index >= len(texts) || out[d.Index] != nil || len(d.Embedding) != o.dims {
			return nil, 0, &llm.Error{Provider: "openai", Code: llm.CodeMalformed, Status: resp.StatusCode,
				Message: fmt.Sprintf("embeddings response item %d of %d has %d dimensions (asked for %d) or is repeated", d.Index, len(texts), len(d.Embedding), o.dims)}
		}
		out[d.Index] = d.Embedding
	}
	for i, v := range out {
		if v == nil {
			return nil, 0, &llm.Error{Provider: "openai", Code: llm.CodeMalformed, Status: resp.StatusCode, Message: fmt.Sprintf("embeddings response lacks item %d", i)}
		}
	}
	return out, r.Usage.PromptTokens, nil
}
