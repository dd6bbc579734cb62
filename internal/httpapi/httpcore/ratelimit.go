package httpcore

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"
)

// Limiter counts requests in fixed windows shared across instances (the DynamoDB
// store's window items; store.Memory for tests and the dev server).
type Limiter interface {
	// Hit counts one request for key in the window containing now and returns the
	// count so far (a count over limit means this request is over) and when the
	// window ends.
	Hit(ctx context.Context, key string, window time.Duration, limit int) (count int, resetAt time.Time, err error)
}

// Class names a group of routes that share a rate limit.
type Class string

const (
	ClassChat   Class = "chat"
	ClassStream Class = "stream"
	ClassOther  Class = "other"
)

// Rate is a limit per user per window.
type Rate struct {
	Limit  int
	Window time.Duration
}

// DefaultRates are the limits of each class unless configured.
var DefaultRates = map[Class]Rate{
	ClassChat:   {Limit: 30, Window: time.Minute},
	ClassStream: {Limit: 20, Window: time.Minute},
	ClassOther:  {Limit: 120, Window: time.Minute},
}

// RateLimit limits each user per route class (classOf picks it per request). Every
// limited response, allowed or not, carries RateLimit-Limit, RateLimit-Remaining
// and RateLimit-Reset; a refused one is a 429 problem with Retry-After.
//
// A limiter error fails open: the request goes through and a warning is logged.
// The limiter is a DynamoDB table; refusing every request while it is briefly
// unavailable would turn a degraded counter into a full outage, and the limits
// guard cost, not security.
func RateLimit(l Limiter, rates map[Class]Rate, classOf func(*http.Request) Class, now func() time.Time) Middleware {
	if now == nil {
		now = time.Now
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			uid := UserID(r.Context())
			class := classOf(r)
			rate, ok := rates[class]
			if !ok {
				rate, ok = DefaultRates[class]
			}
			if uid == "" || !ok || rate.Limit <= 0 {
				next.ServeHTTP(w, r)
				return
			}
			count, reset, err := l.Hit(r.Context(), "RL#"+string(class)+"#"+uid, rate.Window, rate.Limit)
			if err != nil {
				Logger(r.Context()).Warn("rate limiter failed; allowing the request", "class", string(class), "err", err)
				next.ServeHTTP(w, r)
				return
			}
			secs := int64((reset.Sub(now()) + time.Second - 1) / time.Second)
			secs = max(secs, 1)
			h := w.Header()
			h.Set(HeaderRateLimitLimit, strconv.Itoa(rate.Limit))
			h.Set(HeaderRateLimitRemaining, strconv.Itoa(max(rate.Limit-count, 0)))
			h.Set(HeaderRateLimitReset, strconv.FormatInt(secs, 10))
			if count > rate.Limit {
				h.Set(HeaderRetryAfter, strconv.FormatInt(secs, 10))
				Fail(w, r, &Error{Code: errcode.RateLimited, Message: "more than " + strconv.Itoa(rate.Limit) +
					" " + string(class) + " requests per " + rate.Window.String() + "; retry in " + strconv.FormatInt(secs, 10) + " s"})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
