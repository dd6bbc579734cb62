package lambdaapp

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/store"
)

// Stage names.
const (
	// StageLocal is the stage of the dev server and tests; an empty CHATTER_STAGE
	// means it. Only here may the cursor key be missing (a random one is drawn) and
	// the table and bus default to LocalName.
	StageLocal = "local"
	// LocalName is the default table and bus name in the local stage.
	LocalName = "chatter-local"
	// LocalRegion is the default region in the local stage.
	LocalRegion = "us-east-1"
	// LocalDocumentsBucket is the default documents bucket in the local stage.
	LocalDocumentsBucket = "chatter-local-documents"
)

// MinCursorKeyBytes is the shortest CHATTER_CURSOR_KEY accepted: an HMAC-SHA256
// key shorter than the hash adds no strength and is easier to guess.
const MinCursorKeyBytes = 32

// Config is what every chatter Lambda (and the local dev server) reads from its
// environment. Zero numeric fields mean the owning package's default.
type Config struct {
	Stage    string // CHATTER_STAGE; "" reads as StageLocal
	Table    string // CHATTER_TABLE
	EventBus string // CHATTER_EVENT_BUS; needed only by functions that run workflows
	// Endpoint is AWS_ENDPOINT_URL: moto or LocalStack locally, empty on AWS.
	Endpoint string
	// Region is AWS_REGION (else AWS_DEFAULT_REGION); us-east-1 in the local stage
	// when unset, which is what moto and LocalStack expect.
	Region string

	// JWT settings of the functions that verify tokens themselves (the streaming
	// Function URL). Behind API Gateway the authorizer has checked them already.
	JWTIssuer   string // CHATTER_JWT_ISSUER
	JWTAudience string // CHATTER_JWT_AUDIENCE
	JWKSURL     string // CHATTER_JWKS_URL; default <issuer>/.well-known/jwks.json

	// CursorKey signs list cursors (CHATTER_CURSOR_KEY, the raw bytes of the
	// string, at least MinCursorKeyBytes). Every instance must share it, so it is
	// required outside the local stage; template.yaml generates it in Secrets
	// Manager and hands it over by a deploy-time dynamic reference.
	CursorKey []byte

	BodyLimit        int64  // CHATTER_BODY_LIMIT, bytes of a request body
	MaxMessageBytes  int    // CHATTER_MAX_MESSAGE_BYTES, bytes of one message
	MetricsNamespace string // CHATTER_METRICS_NAMESPACE; "" = events.DefaultNamespace

	// Rates are the per-user limits per minute of each route class
	// (CHATTER_RATE_CHAT, CHATTER_RATE_STREAM, CHATTER_RATE_OTHER); a class not
	// set keeps httpcore.DefaultRates, 0 turns its limit off.
	Rates map[httpcore.Class]httpcore.Rate

	// CORS is the browser policy of CHATTER_ALLOWED_ORIGINS, a comma-separated list
	// of origins (scheme://host[:port], "*" alone, or http://localhost:* and the
	// like; see httpcore.CORS); nil when unset. Set it only where nothing in front
	// answers CORS: the dev stack (which defaults it to httpcore.LoopbackOrigins), a
	// Function URL without Cors, a container. template.yaml leaves it unset: the
	// HTTP API's CorsConfiguration and the Function URL's Cors answer there, from the
	// AllowedOrigins parameter, and a second set of headers would make browsers
	// refuse the response.
	CORS *httpcore.CORS

	// DefaultProvider and DefaultModel (CHATTER_DEFAULT_PROVIDER,
	// CHATTER_DEFAULT_MODEL) are reported by GET /workflows/defaults; the functions
	// that run workflows resolve providers themselves (providers.Load).
	DefaultProvider string
	DefaultModel    string

	// DocumentsBucket (CHATTER_DOCUMENTS_BUCKET) holds the originals of uploaded
	// documents; LocalDocumentsBucket in the local stage when unset, required by
	// the documents functions elsewhere (docsapp checks it).
	DocumentsBucket string
	// EmbeddingModel (CHATTER_EMBEDDING_MODEL) is the embed spec new documents are
	// embedded with; "" is docsapp's default for the stage (the offline hashed
	// model locally, Titan Text Embeddings v2 elsewhere).
	EmbeddingModel string

	// StreamURL (CHATTER_STREAM_URL) is the streaming Function URL, the second host,
	// named in the served OpenAPI document's servers; template.yaml sets it on the
	// openapi function from the ChatStream Function URL, the dev stack to its own
	// address (it serves streams itself).
	StreamURL string
}

// Local reports whether c is the local stage.
func (c Config) Local() bool { return c.Stage == StageLocal }

// ConfigError names the variable whose value is wrong and why.
type ConfigError struct {
	Var    string
	Reason string
}

func (e *ConfigError) Error() string { return "lambdaapp: " + e.Var + ": " + e.Reason }

// ConfigFromEnv reads Config through getenv (os.Getenv in a Lambda). Every wrong
// variable is reported, each as a *ConfigError naming it (errors.Join). Values are
// trimmed of surrounding spaces; secrets never appear in errors.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	p := parser{get: func(k string) string { return strings.TrimSpace(getenv(k)) }}
	c := Config{
		Stage:           p.get("CHATTER_STAGE"),
		Table:           p.get("CHATTER_TABLE"),
		EventBus:        p.get("CHATTER_EVENT_BUS"),
		JWTIssuer:       p.url("CHATTER_JWT_ISSUER"),
		JWTAudience:     p.get("CHATTER_JWT_AUDIENCE"),
		JWKSURL:         p.url("CHATTER_JWKS_URL"),
		Endpoint:        p.url("AWS_ENDPOINT_URL"),
		Region:          RegionFromEnv(p.get),
		BodyLimit:       int64(p.positive("CHATTER_BODY_LIMIT")),
		MaxMessageBytes: p.positive("CHATTER_MAX_MESSAGE_BYTES"),
		DefaultProvider: p.get("CHATTER_DEFAULT_PROVIDER"),
		DefaultModel:    p.get("CHATTER_DEFAULT_MODEL"),
		DocumentsBucket: p.get("CHATTER_DOCUMENTS_BUCKET"),
		EmbeddingModel:  p.get("CHATTER_EMBEDDING_MODEL"),
	}
	if c.MaxMessageBytes > store.MaxContentLimit {
		p.fail("CHATTER_MAX_MESSAGE_BYTES", fmt.Sprintf("must be at most %d (a message and its record must fit a DynamoDB item), got %d",
			store.MaxContentLimit, c.MaxMessageBytes))
	}
	if c.Stage == "" {
		c.Stage = StageLocal
	}
	if !validName(c.Stage) {
		p.fail("CHATTER_STAGE", fmt.Sprintf("must be lower-case letters, digits and -, got %q", c.Stage))
	}
	switch {
	case c.Table == "" && c.Local():
		c.Table = LocalName
	case c.Table == "":
		p.fail("CHATTER_TABLE", "is required outside the local stage")
	}
	if c.Region == "" && c.Local() {
		c.Region = LocalRegion
	}
	if c.EventBus == "" && c.Local() {
		c.EventBus = LocalName
	}
	if c.DocumentsBucket == "" && c.Local() {
		c.DocumentsBucket = LocalDocumentsBucket
	}
	if c.JWKSURL == "" && c.JWTIssuer != "" {
		c.JWKSURL = strings.TrimSuffix(c.JWTIssuer, "/") + "/.well-known/jwks.json"
	}
	switch key := getenv("CHATTER_CURSOR_KEY"); {
	case key == "" && !c.Local():
		p.fail("CHATTER_CURSOR_KEY", "is required outside the local stage (every instance must sign cursors with the same key)")
	case key != "" && len(key) < MinCursorKeyBytes:
		p.fail("CHATTER_CURSOR_KEY", fmt.Sprintf("must be at least %d bytes, got %d", MinCursorKeyBytes, len(key)))
	case key != "":
		c.CursorKey = []byte(key)
	}
	if ns := p.get("CHATTER_METRICS_NAMESPACE"); ns != "" {
		// CloudWatch: 1..255 characters, no colon-led names.
		if len(ns) > 255 || strings.HasPrefix(ns, ":") {
			p.fail("CHATTER_METRICS_NAMESPACE", "must be 1 to 255 characters and not start with ':'")
		}
		c.MetricsNamespace = ns
	}
	if v := p.get("CHATTER_STREAM_URL"); v != "" {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			p.fail("CHATTER_STREAM_URL", "must be an absolute http(s) URL")
		}
		c.StreamURL = v
	}
	if v := p.get("CHATTER_ALLOWED_ORIGINS"); v != "" {
		cors, err := httpcore.NewCORS(splitList(v))
		if err != nil {
			p.fail("CHATTER_ALLOWED_ORIGINS", err.Error())
		}
		c.CORS = cors
	}
	for _, r := range []struct {
		name  string
		class httpcore.Class
	}{{"CHATTER_RATE_CHAT", httpcore.ClassChat}, {"CHATTER_RATE_STREAM", httpcore.ClassStream}, {"CHATTER_RATE_OTHER", httpcore.ClassOther}} {
		if p.get(r.name) == "" {
			continue
		}
		n := p.nonNegative(r.name)
		if c.Rates == nil {
			c.Rates = map[httpcore.Class]httpcore.Rate{}
		}
		c.Rates[r.class] = httpcore.Rate{Limit: n, Window: time.Minute}
	}
	return c, errors.Join(p.errs...)
}

// RegionFromEnv is the region the environment names: AWS_REGION, else
// AWS_DEFAULT_REGION (the SDK's order; Lambda sets both), else "".
func RegionFromEnv(getenv func(string) string) string {
	return cmp.Or(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"))
}

// splitList splits a comma-separated variable into its trimmed, non-empty items.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

type parser struct {
	get  func(string) string
	errs []error
}

func (p *parser) fail(name, reason string) {
	p.errs = append(p.errs, &ConfigError{Var: name, Reason: reason})
}

// url reads an absolute http(s) URL.
func (p *parser) url(name string) string {
	v := p.get(name)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.fail(name, fmt.Sprintf("must be an absolute http(s) URL, got %q", v))
		return ""
	}
	return v
}

// positive reads an optional integer > 0; 0 when unset.
func (p *parser) positive(name string) int {
	v := p.get(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		p.fail(name, fmt.Sprintf("must be a positive integer, got %q", v))
		return 0
	}
	return n
}

// nonNegative reads an integer >= 0.
func (p *parser) nonNegative(name string) int {
	v := p.get(name)
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		p.fail(name, fmt.Sprintf("must be a whole number of requests per minute (0 = no limit), got %q", v))
		return 0
	}
	return n
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
