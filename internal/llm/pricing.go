package llm

import (
	"slices"
	"strings"
)

// PriceTableVersion names the price table below; it is stored beside every cost so a
// recorded cost can be traced to the prices it was computed with. Change it whenever a
// price changes.
const PriceTableVersion = "2026-11"

// Price is a model's list price in USD per 1M tokens. Where a provider publishes no
// cache price, CacheRead and CacheWrite equal Input (cached tokens are billed as plain
// input there).
type Price struct {
	Input      float64
	Output     float64
	CacheRead  float64
	CacheWrite float64
}

// Cost is the price of one or more calls. Known is false when the model is not in the
// table; USD is then 0, never an estimate, so callers can tell "free" from "unknown".
type Cost struct {
	USD          float64 `json:"cost_usd"`
	Known        bool    `json:"cost_known"`
	TableVersion string  `json:"price_table_version"`
}

// ComputeCost prices usage for a provider's model. Every adapter must report
// Usage.InputTokens as the input tokens that were neither read from nor written to the
// cache, with those counted in CacheReadTokens and CacheWriteTokens: Anthropic's and
// Bedrock's input counts already are; OpenAI's prompt_tokens include the cached tokens,
// so its adapter subtracts them. Every token is then priced exactly once:
//
//	USD = (input*Input + output*Output + cacheRead*CacheRead + cacheWrite*CacheWrite) / 1e6
func ComputeCost(provider, model string, u Usage) Cost {
	p, ok := LookupPrice(provider, model)
	if !ok {
		return Cost{TableVersion: PriceTableVersion}
	}
	usd := (float64(u.InputTokens)*p.Input +
		float64(u.OutputTokens)*p.Output +
		float64(u.CacheReadTokens)*p.CacheRead +
		float64(u.CacheWriteTokens)*p.CacheWrite) / 1e6
	return Cost{USD: usd, Known: true, TableVersion: PriceTableVersion}
}

// LookupPrice returns the list price of a provider's model. Model ids are matched
// exactly after normalisation, never by prefix, so an unlisted variant (an audio or
// preview model, a local model behind an OpenAI-compatible server) is unknown rather
// than priced as its namesake:
//
//   - openai: a dated snapshot ("gpt-4o-2024-08-06") resolves to its base model unless
//     the snapshot has its own price.
//   - anthropic: a dated snapshot ("claude-sonnet-4-5-20250929") or "-latest" alias
//     resolves to its base model.
//   - bedrock: an ARN is reduced to its model id; cross-region inference prefixes
//     ("us.", "eu.", "apac.", "global.") are stripped; "anthropic.claude-...-v1:0" ids
//     are priced as the Anthropic model (Bedrock lists the same prices).
//   - devllm: every model is free and known.
//
// Prices are on-demand list prices (Bedrock: US regions). Not modelled: batch and
// priority tiers, long-context surcharges, and regional-endpoint premiums.
func LookupPrice(provider, model string) (Price, bool) {
	_, p, ok := lookup(provider, model)
	return p, ok
}

// OtherModel is the metric dimension value of every model outside the price table.
const OtherModel = "other"

// MetricModel is the value a model takes as a metric dimension: its price table
// entry (a snapshot or alias becomes its base model), else OtherModel. Requests can
// name any model, and each distinct dimension value is a billed custom metric, so
// only the table's models, a small fixed set, appear. devllm's models are all
// "devllm".
func MetricModel(provider, model string) string {
	if key, _, ok := lookup(provider, model); ok {
		return key
	}
	return OtherModel
}

// lookup returns the price table key a provider's model resolves to and its price.
func lookup(provider, model string) (string, Price, bool) {
	provider = strings.ToLower(strings.TrimSpace(provider))
	model = strings.ToLower(strings.TrimSpace(model))
	switch provider {
	case "devllm":
		return "devllm", Price{}, true
	case "openai":
		return lookupOpenAI(model)
	case "anthropic":
		return lookupAnthropic(model)
	case "bedrock":
		return lookupBedrock(model)
	}
	return "", Price{}, false
}

func lookupOpenAI(model string) (string, Price, bool) {
	if p, ok := openaiPrices[model]; ok {
		return model, p, true
	}
	if base, ok := cutDateSuffix(model, "-dddd-dd-dd"); ok {
		p, ok := openaiPrices[base]
		return base, p, ok
	}
	return "", Price{}, false
}

func lookupAnthropic(model string) (string, Price, bool) {
	if p, ok := anthropicPrices[model]; ok {
		return model, p, true
	}
	if base, ok := strings.CutSuffix(model, "-latest"); ok {
		model = base
	} else if base, ok := cutDateSuffix(model, "-dddddddd"); ok {
		model = base
	}
	p, ok := anthropicPrices[model]
	return model, p, ok
}

func lookupBedrock(model string) (string, Price, bool) {
	// arn:aws:bedrock:<region>:<account>:inference-profile/us.anthropic.claude-...
	if i := strings.LastIndexByte(model, '/'); i >= 0 {
		model = model[i+1:]
	}
	for _, prefix := range []string{"us.", "eu.", "apac.", "global."} {
		if rest, ok := strings.CutPrefix(model, prefix); ok {
			model = rest
			break
		}
	}
	if p, ok := bedrockPrices[model]; ok {
		return model, p, true
	}
	if rest, ok := strings.CutPrefix(model, "anthropic."); ok {
		if key, p, ok := lookupAnthropic(cutBedrockVersion(rest)); ok {
			return "anthropic." + key, p, true
		}
	}
	return "", Price{}, false
}

// cutDateSuffix removes a suffix shaped like pattern, where 'd' matches a digit and
// any other byte matches itself.
func cutDateSuffix(model, pattern string) (string, bool) {
	if len(model) <= len(pattern) {
		return model, false
	}
	tail := model[len(model)-len(pattern):]
	for i := 0; i < len(pattern); i++ {
		c := tail[i]
		if pattern[i] == 'd' {
			if c < '0' || c > '9' {
				return model, false
			}
		} else if c != pattern[i] {
			return model, false
		}
	}
	return model[:len(model)-len(pattern)], true
}

// cutBedrockVersion removes a Bedrock version suffix such as "-v1:0" or "-v2".
func cutBedrockVersion(model string) string {
	i := strings.LastIndex(model, "-v")
	if i < 0 || i+2 == len(model) {
		return model
	}
	for _, c := range model[i+2:] {
		if (c < '0' || c > '9') && c != ':' {
			return model
		}
	}
	return model[:i]
}

// anthropicPrice applies Anthropic's cache multipliers: reads 0.1x input, 5-minute
// cache writes 1.25x input.
func anthropicPrice(in, out float64) Price {
	return Price{Input: in, Output: out, CacheRead: in * 0.1, CacheWrite: in * 1.25}
}

// openaiPrice takes OpenAI's cached-input price; OpenAI charges nothing extra to
// write its cache, so writes cost plain input.
func openaiPrice(in, cachedIn, out float64) Price {
	return Price{Input: in, Output: out, CacheRead: cachedIn, CacheWrite: in}
}

// plainPrice is for models without a published cache price.
func plainPrice(in, out float64) Price {
	return Price{Input: in, Output: out, CacheRead: in, CacheWrite: in}
}

var openaiPrices = map[string]Price{
	"gpt-4o":            openaiPrice(2.50, 1.25, 10.00),
	"gpt-4o-2024-05-13": plainPrice(5.00, 15.00), // the first gpt-4o snapshot kept its launch price
	"gpt-4o-mini":       openaiPrice(0.15, 0.075, 0.60),
	"gpt-4.1":           openaiPrice(2.00, 0.50, 8.00),
	"gpt-4.1-mini":      openaiPrice(0.40, 0.10, 1.60),
	"gpt-4.1-nano":      openaiPrice(0.10, 0.025, 0.40),
	"o3":                openaiPrice(2.00, 0.50, 8.00),
	"o4-mini":           openaiPrice(1.10, 0.275, 4.40),
	"gpt-5":             openaiPrice(1.25, 0.125, 10.00),
	"gpt-5-mini":        openaiPrice(0.25, 0.025, 2.00),
	"gpt-5-nano":        openaiPrice(0.05, 0.005, 0.40),
}

var anthropicPrices = map[string]Price{
	"claude-opus-4-5":   anthropicPrice(5.00, 25.00),
	"claude-opus-4-1":   anthropicPrice(15.00, 75.00),
	"claude-opus-4":     anthropicPrice(15.00, 75.00),
	"claude-opus-4-0":   anthropicPrice(15.00, 75.00),
	"claude-sonnet-4-5": anthropicPrice(3.00, 15.00),
	"claude-sonnet-4":   anthropicPrice(3.00, 15.00),
	"claude-sonnet-4-0": anthropicPrice(3.00, 15.00),
	"claude-3-7-sonnet": anthropicPrice(3.00, 15.00),
	"claude-3-5-sonnet": anthropicPrice(3.00, 15.00),
	"claude-haiku-4-5":  anthropicPrice(1.00, 5.00),
	"claude-3-5-haiku":  anthropicPrice(0.80, 4.00),
	// Claude 3 Haiku's cache prices do not follow the multipliers.
	"claude-3-haiku": {Input: 0.25, Output: 1.25, CacheRead: 0.03, CacheWrite: 0.30},
}

// bedrockPrices holds Bedrock models other than Anthropic's, by model id without the
// cross-region prefix.
var bedrockPrices = map[string]Price{
	// Nova reads its prompt cache at a 75% discount and charges nothing extra to write it.
	"amazon.nova-pro-v1:0":   {Input: 0.80, Output: 3.20, CacheRead: 0.20, CacheWrite: 0.80},
	"amazon.nova-lite-v1:0":  {Input: 0.06, Output: 0.24, CacheRead: 0.015, CacheWrite: 0.06},
	"amazon.nova-micro-v1:0": {Input: 0.035, Output: 0.14, CacheRead: 0.00875, CacheWrite: 0.035},

	"meta.llama3-8b-instruct-v1:0":    plainPrice(0.30, 0.60),
	"meta.llama3-70b-instruct-v1:0":   plainPrice(2.65, 3.50),
	"meta.llama3-1-8b-instruct-v1:0":  plainPrice(0.22, 0.22),
	"meta.llama3-1-70b-instruct-v1:0": plainPrice(0.72, 0.72),
	"meta.llama3-2-1b-instruct-v1:0":  plainPrice(0.10, 0.10),
	"meta.llama3-2-3b-instruct-v1:0":  plainPrice(0.15, 0.15),
	"meta.llama3-2-11b-instruct-v1:0": plainPrice(0.16, 0.16),
	"meta.llama3-2-90b-instruct-v1:0": plainPrice(0.72, 0.72),
	"meta.llama3-3-70b-instruct-v1:0": plainPrice(0.72, 0.72),
}

// PricedModels lists the model ids the price table holds for provider, sorted:
// what a client can name knowing its cost is known (devllm prices every model and
// lists none).
func PricedModels(provider string) []string {
	var table map[string]Price
	switch strings.ToLower(strings.TrimSpace(provider)) {
	case "openai":
		table = openaiPrices
	case "anthropic":
		table = anthropicPrices
	case "bedrock":
		table = bedrockPrices
	}
	out := make([]string, 0, len(table))
	for id := range table {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
