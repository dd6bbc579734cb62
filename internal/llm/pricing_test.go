package llm

import (
	"encoding/json"
	"math"
	"testing"
)

func TestComputeCost_PricesEachTokenKind(t *testing.T) {
	tests := []struct {
		provider, model string
		usage           Usage
		want            float64
	}{
		// (1000*2.50 + 500*10 + 2000*1.25) / 1e6
		{"openai", "gpt-4o", Usage{InputTokens: 1000, OutputTokens: 500, CacheReadTokens: 2000}, 0.01},
		// (1e6*0.05 + 1e6*0.40 + 1e6*0.005) / 1e6
		{"openai", "gpt-5-nano", Usage{InputTokens: 1e6, OutputTokens: 1e6, CacheReadTokens: 1e6}, 0.455},
		// (10000*3 + 2000*15 + 50000*0.30 + 4000*3.75) / 1e6
		{"anthropic", "claude-sonnet-4-5", Usage{InputTokens: 10000, OutputTokens: 2000, CacheReadTokens: 50000, CacheWriteTokens: 4000}, 0.09},
		// (100*15 + 100*75 + 1000*1.5 + 1000*18.75) / 1e6
		{"anthropic", "claude-opus-4-1", Usage{InputTokens: 100, OutputTokens: 100, CacheReadTokens: 1000, CacheWriteTokens: 1000}, 0.02925},
		// (1000*0.80 + 1000*4) / 1e6
		{"anthropic", "claude-3-5-haiku", Usage{InputTokens: 1000, OutputTokens: 1000}, 0.0048},
		// Bedrock Claude is priced as Anthropic's: (10000*1 + 1000*5 + 10000*0.1 + 1000*1.25) / 1e6
		{"bedrock", "us.anthropic.claude-haiku-4-5-20251001-v1:0", Usage{InputTokens: 10000, OutputTokens: 1000, CacheReadTokens: 10000, CacheWriteTokens: 1000}, 0.01725},
		// (1e6*0.035 + 1e6*0.14 + 1e6*0.00875) / 1e6
		{"bedrock", "amazon.nova-micro-v1:0", Usage{InputTokens: 1e6, OutputTokens: 1e6, CacheReadTokens: 1e6}, 0.18375},
		// No cache price: cache reads cost plain input. (1000*0.72 + 1000*0.72 + 1000*0.72) / 1e6
		{"bedrock", "meta.llama3-3-70b-instruct-v1:0", Usage{InputTokens: 1000, OutputTokens: 1000, CacheReadTokens: 1000}, 0.00216},
		{"openai", "gpt-4.1", Usage{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.model, func(t *testing.T) {
			got := ComputeCost(tt.provider, tt.model, tt.usage)
			if !got.Known || got.TableVersion != PriceTableVersion {
				t.Fatalf("cost = %+v, want known with version %s", got, PriceTableVersion)
			}
			if math.Abs(got.USD-tt.want) > 1e-12 {
				t.Errorf("USD = %.12f, want %.12f", got.USD, tt.want)
			}
		})
	}
}

func TestLookupPrice_ResolvesSnapshotsAndPrefixes(t *testing.T) {
	tests := []struct {
		provider, model string
		same            string // the anthropic/openai/bedrock id it must price like
		sameProvider    string
	}{
		{"openai", "gpt-4o-2024-08-06", "gpt-4o", "openai"},
		{"openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini", "openai"},
		{"openai", "gpt-5-2025-08-07", "gpt-5", "openai"},
		{"openai", "GPT-4.1-2025-04-14", "gpt-4.1", "openai"},
		{"OpenAI", " o3-2025-04-16 ", "o3", "openai"},
		{"anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5", "anthropic"},
		{"anthropic", "claude-3-7-sonnet-latest", "claude-3-7-sonnet", "anthropic"},
		{"anthropic", "claude-opus-4-20250514", "claude-opus-4", "anthropic"},
		{"bedrock", "anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7-sonnet", "anthropic"},
		{"bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5", "anthropic"},
		{"bedrock", "eu.anthropic.claude-opus-4-1-20250805-v1:0", "claude-opus-4-1", "anthropic"},
		{"bedrock", "apac.anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet", "anthropic"},
		{"bedrock", "anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku", "anthropic"},
		{"bedrock", "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0", "claude-sonnet-4", "anthropic"},
		{"bedrock", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0", "bedrock"},
		{"bedrock", "us.amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0", "bedrock"},
		{"bedrock", "us.meta.llama3-2-11b-instruct-v1:0", "meta.llama3-2-11b-instruct-v1:0", "bedrock"},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.model, func(t *testing.T) {
			got, ok := LookupPrice(tt.provider, tt.model)
			want, wantOK := LookupPrice(tt.sameProvider, tt.same)
			if !ok || !wantOK || got != want || got.Input == 0 {
				t.Errorf("LookupPrice = %+v, %v; want %+v like %s/%s", got, ok, want, tt.sameProvider, tt.same)
			}
		})
	}
}

func TestLookupPrice_SnapshotWithItsOwnPriceWins(t *testing.T) {
	old, ok := LookupPrice("openai", "gpt-4o-2024-05-13")
	base, _ := LookupPrice("openai", "gpt-4o")
	if !ok || old.Input != 5 || old.Output != 15 || old == base {
		t.Errorf("gpt-4o-2024-05-13 = %+v, %v; want its own 5/15 price", old, ok)
	}
}

func TestComputeCost_UnknownModelIsNotGuessed(t *testing.T) {
	tests := []struct{ provider, model string }{
		{"openai", "llama3.1:8b"},             // a local model behind an OpenAI-compatible server
		{"openai", "gpt-4o-audio-preview"},    // no prefix matching
		{"openai", "gpt-4o-2024-08-06-extra"}, // not a snapshot suffix
		{"anthropic", "gpt-4o"},               // prices are per provider
		{"anthropic", "claude-sonnet-4-5-2025"},
		{"bedrock", "anthropic.claude-v2"},
		{"bedrock", "claude-sonnet-4-5"}, // Bedrock needs the vendor prefix
		{"bedrock", "xx.amazon.nova-pro-v1:0"},
		{"gemini", "gemini-2.5-pro"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.model, func(t *testing.T) {
			got := ComputeCost(tt.provider, tt.model, Usage{InputTokens: 1000, OutputTokens: 1000})
			want := Cost{USD: 0, Known: false, TableVersion: PriceTableVersion}
			if got != want {
				t.Errorf("cost = %+v, want %+v", got, want)
			}
		})
	}
}

func TestComputeCost_DevllmIsFreeAndKnown(t *testing.T) {
	for _, model := range []string{"", "devllm", "anything"} {
		got := ComputeCost("devllm", model, Usage{InputTokens: 1e6, OutputTokens: 1e6, CacheReadTokens: 5, CacheWriteTokens: 5})
		if got != (Cost{USD: 0, Known: true, TableVersion: PriceTableVersion}) {
			t.Errorf("devllm/%s cost = %+v, want 0 known", model, got)
		}
	}
}

func TestPriceTable_EntriesAreConsistent(t *testing.T) {
	for name, table := range map[string]map[string]Price{"openai": openaiPrices, "anthropic": anthropicPrices, "bedrock": bedrockPrices} {
		for model, p := range table {
			if p.Input <= 0 || p.Output < p.Input || p.CacheRead <= 0 || p.CacheRead > p.Input || p.CacheWrite < p.Input {
				t.Errorf("%s/%s = %+v: want 0 < CacheRead <= Input <= Output and CacheWrite >= Input", name, model, p)
			}
			if got, ok := LookupPrice(name, model); !ok || got != p {
				t.Errorf("LookupPrice(%s, %s) = %+v, %v; want the table entry", name, model, got, ok)
			}
		}
	}
}

func TestCost_JSONFieldNames(t *testing.T) {
	b, err := json.Marshal(Cost{USD: 0.5, Known: true, TableVersion: "v"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"cost_usd":0.5,"cost_known":true,"price_table_version":"v"}`; string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
}
