// Package jwtauth verifies bearer tokens in the function itself — against an
// issuer's JSON Web Key Set (the streaming Function URL, which no API Gateway
// authorizer stands in front of) or an in-process key set (the dev stack and tests)
// — and mints tokens for those. It is the only package that links the JWT library:
// the functions behind the HTTP API read the claims its authorizer verified
// (httpcore.APIGateway) and do without it.
package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/wire/errcode"
)

func unauthorized(msg string) *httpcore.Error {
	return &httpcore.Error{Code: errcode.Unauthorized, Message: msg}
}

// DefaultClockSkew is the leeway allowed on exp, nbf and iat.
const DefaultClockSkew = 30 * time.Second

// verifier checks a bearer token against a key set: signature, exp (required),
// nbf, iss, aud, sub (required), with a small clock skew.
type verifier struct {
	keys     jwk.Set
	issuer   string
	audience string
	skew     time.Duration
	now      func() time.Time
}

func newVerifier(keys jwk.Set, issuer, audience string, skew time.Duration, now func() time.Time) (*verifier, error) {
	if issuer == "" || audience == "" {
		return nil, errors.New("jwtauth: an issuer and an audience are required to verify tokens")
	}
	if skew <= 0 {
		skew = DefaultClockSkew
	}
	if now == nil {
		now = time.Now
	}
	return &verifier{keys: keys, issuer: issuer, audience: audience, skew: skew, now: now}, nil
}

func bearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", unauthorized("missing bearer token: send Authorization: Bearer <token>")
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", unauthorized("the Authorization header is not a bearer token")
	}
	return strings.TrimSpace(tok), nil
}

func (v *verifier) verify(tok string) (string, error) {
	t, err := jwt.ParseString(tok,
		jwt.WithKeySet(v.keys),
		jwt.WithValidate(true),
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(v.audience),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.SubjectKey),
		jwt.WithAcceptableSkew(v.skew),
		jwt.WithClock(jwt.ClockFunc(v.now)),
	)
	if err != nil {
		return "", tokenError(err)
	}
	sub, _ := t.Subject()
	return sub, nil
}

// tokenError says what is wrong with a token without repeating it.
func tokenError(err error) *httpcore.Error {
	msg := "the token is malformed"
	switch {
	case errors.Is(err, jws.ParseError()), errors.Is(err, jwt.UnknownPayloadTypeError()):
		// keep "malformed": a token that is not a JWS never reached a signature check
	case errors.Is(err, jwt.TokenExpiredError()):
		msg = "the token has expired"
	case errors.Is(err, jwt.TokenNotYetValidError()):
		msg = "the token is not valid yet (nbf)"
	case errors.Is(err, jwt.InvalidIssuerError()):
		msg = "the token's issuer is not accepted"
	case errors.Is(err, jwt.InvalidAudienceError()):
		msg = "the token's audience is not accepted"
	case errors.Is(err, jwt.InvalidIssuedAtError()):
		msg = "the token's issued-at time is in the future"
	case errors.Is(err, jwt.MissingRequiredClaimError()):
		msg = "the token lacks a required claim (exp and sub are required)"
	case errors.Is(err, jws.VerifyError()), errors.Is(err, jws.VerificationError()):
		msg = "the token's signature is invalid or its key is unknown"
	case errors.Is(err, jwt.ValidateError()):
		msg = "the token is not valid"
	}
	return &httpcore.Error{Code: errcode.Unauthorized, Message: msg, Err: err}
}

// StaticKeys verifies tokens against an in-process key set, with the same checks as
// JWKS. It serves the dev stack (which issues its own tokens) and tests.
type StaticKeys struct{ v *verifier }

// StaticKeysConfig configures StaticKeys.
type StaticKeysConfig struct {
	Keys     jwk.Set // private or public keys; only the public parts are kept
	Issuer   string
	Audience string
	Skew     time.Duration // default DefaultClockSkew
	Now      func() time.Time
}

// NewStaticKeys returns a StaticKeys authenticator.
func NewStaticKeys(c StaticKeysConfig) (*StaticKeys, error) {
	if c.Keys == nil || c.Keys.Len() == 0 {
		return nil, errors.New("jwtauth: StaticKeys needs at least one key")
	}
	pub, err := jwk.PublicSetOf(c.Keys)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: public keys of the static set: %w", err)
	}
	v, err := newVerifier(pub, c.Issuer, c.Audience, c.Skew, c.Now)
	if err != nil {
		return nil, err
	}
	return &StaticKeys{v: v}, nil
}

func (s *StaticKeys) Authenticate(r *http.Request) (string, error) {
	tok, err := bearerToken(r)
	if err != nil {
		return "", err
	}
	return s.v.verify(tok)
}

// NewSigningKey generates an ES256 private key with the given key id, for the dev
// stack and tests.
func NewSigningKey(kid string) (jwk.Key, error) {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: generating a signing key: %w", err)
	}
	k, err := jwk.Import(raw)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: importing the signing key: %w", err)
	}
	if err := k.Set(jwk.KeyIDKey, kid); err != nil {
		return nil, fmt.Errorf("jwtauth: setting kid: %w", err)
	}
	if err := k.Set(jwk.AlgorithmKey, jwa.ES256()); err != nil {
		return nil, fmt.Errorf("jwtauth: setting alg: %w", err)
	}
	return k, nil
}

// MintToken signs a token for subject with key (its alg, ES256 when unset), valid
// from now for ttl (a negative ttl mints an expired token, for tests).
func MintToken(key jwk.Key, issuer, audience, subject string, ttl time.Duration) (string, error) {
	now := time.Now()
	t, err := jwt.NewBuilder().Issuer(issuer).Audience([]string{audience}).Subject(subject).
		IssuedAt(now.Add(min(ttl, 0))).NotBefore(now.Add(min(ttl, 0))).Expiration(now.Add(ttl)).Build()
	if err != nil {
		return "", fmt.Errorf("jwtauth: building a token: %w", err)
	}
	alg := jwa.SignatureAlgorithm(jwa.ES256())
	if a, ok := key.Algorithm(); ok {
		if sa, ok := a.(jwa.SignatureAlgorithm); ok {
			alg = sa
		}
	}
	b, err := jwt.Sign(t, jwt.WithKey(alg, key))
	if err != nil {
		return "", fmt.Errorf("jwtauth: signing a token: %w", err)
	}
	return string(b), nil
}

// JWKS verifies bearer tokens itself against an issuer's JSON Web Key Set, fetched
// on first use and refreshed in the background (jwk.Cache). The Function URL that
// streams has no API Gateway authorizer in front of it, so it uses this.
type JWKS struct {
	cache *jwk.Cache
	url   string
	v     *verifier
	wait  time.Duration
}

// JWKSConfig configures JWKS.
type JWKSConfig struct {
	URL      string
	Issuer   string
	Audience string
	Skew     time.Duration // default DefaultClockSkew
	// MinRefresh bounds how often the set is refetched; default 15 minutes.
	MinRefresh time.Duration
	// Wait bounds how long a request waits for the first fetch; default 5 s.
	Wait       time.Duration
	HTTPClient *http.Client
	Now        func() time.Time
}

// NewJWKS registers the key set URL without fetching it, so a cold start does not
// wait on the network; the first request does. ctx bounds the cache's background
// refresh (context.Background() in a Lambda main).
func NewJWKS(ctx context.Context, c JWKSConfig) (*JWKS, error) {
	if c.URL == "" {
		return nil, errors.New("jwtauth: JWKS needs a URL")
	}
	if c.MinRefresh <= 0 {
		c.MinRefresh = 15 * time.Minute
	}
	if c.Wait <= 0 {
		c.Wait = 5 * time.Second
	}
	cache, err := jwk.NewCache(ctx, httprc.NewClient())
	if err != nil {
		return nil, fmt.Errorf("jwtauth: starting the JWKS cache: %w", err)
	}
	opts := []jwk.RegisterOption{jwk.WithWaitReady(false), jwk.WithMinInterval(c.MinRefresh)}
	if c.HTTPClient != nil {
		opts = append(opts, jwk.WithHTTPClient(c.HTTPClient))
	}
	if err := cache.Register(ctx, c.URL, opts...); err != nil {
		return nil, fmt.Errorf("jwtauth: registering the JWKS URL: %w", err)
	}
	set, err := cache.CachedSet(c.URL)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: JWKS cached set: %w", err)
	}
	v, err := newVerifier(set, c.Issuer, c.Audience, c.Skew, c.Now)
	if err != nil {
		return nil, err
	}
	return &JWKS{cache: cache, url: c.URL, v: v, wait: c.Wait}, nil
}

func (j *JWKS) Authenticate(r *http.Request) (string, error) {
	tok, err := bearerToken(r)
	if err != nil {
		return "", err
	}
	// The cached set blocks without a deadline until the first fetch lands; wait
	// here with one so an unreachable issuer is a 503, not a hung request.
	ctx, cancel := context.WithTimeout(r.Context(), j.wait)
	defer cancel()
	if !j.cache.Ready(ctx, j.url) {
		return "", &httpcore.Error{Code: errcode.Unavailable, Message: "the token keys could not be fetched",
			Err: fmt.Errorf("JWKS %s not ready", j.url)}
	}
	return j.v.verify(tok)
}
