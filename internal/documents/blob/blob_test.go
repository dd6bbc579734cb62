package blob_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatterhq/chatter/internal/documents/blob"
	"github.com/chatterhq/chatter/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var bucketSeq atomic.Int64

// newStore makes a bucket of its own on moto (path-style addressing: moto's
// endpoint has no per-bucket host names).
func newStore(t *testing.T, ctx context.Context) *blob.Store {
	t.Helper()
	client := s3.NewFromConfig(testenv.AWSConfig(t), func(o *s3.Options) { o.UsePathStyle = true })
	name := fmt.Sprintf("docs-test-%d-%d", time.Now().UnixNano(), bucketSeq.Add(1))
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	return blob.New(client, name)
}

func TestKey_RoundTripsAnyUserAndRefusesOtherKeys(t *testing.T) {
	for _, u := range []string{"alice", "auth0|123", "a/b c+d", "ünï"} {
		k := blob.Key(u, "01JDOC")
		if gu, gd, ok := blob.ParseKey(k); !ok || gu != u || gd != "01JDOC" {
			t.Errorf("ParseKey(Key(%q)) = %q %q %v", u, gu, gd, ok)
		}
	}
	for _, k := range []string{"", "documents/", "documents/YWxpY2U", "other/YWxpY2U/d", "documents/!!/d", "documents/YWxpY2U/d/e"} {
		if _, _, ok := blob.ParseKey(k); ok {
			t.Errorf("ParseKey(%q) ok, want refused", k)
		}
	}
}

func TestStore_PutGetTouchDeleteOnMoto(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := newStore(t, ctx)
	k := blob.Key("alice", "d1")
	etag, err := s.Put(ctx, k, "text/markdown", []byte("# Title\n\nbody"))
	if err != nil || etag == "" {
		t.Fatalf("Put = %q %v", etag, err)
	}
	o, err := s.Get(ctx, k, 1<<20)
	if err != nil || string(o.Data) != "# Title\n\nbody" || o.ContentType != "text/markdown" || o.ETag != etag {
		t.Fatalf("Get = %+v %v", o, err)
	}
	if _, err := s.Get(ctx, k, 4); !errors.Is(err, blob.ErrTooLarge) {
		t.Fatalf("Get over max: %v, want ErrTooLarge", err)
	}
	if err := s.Touch(ctx, k, 2); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	if o, err := s.Get(ctx, k, 1<<20); err != nil || string(o.Data) != "# Title\n\nbody" {
		t.Fatalf("Get after Touch = %+v %v", o, err)
	}
	if err := s.Delete(ctx, k); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx, k, 1<<20); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, k); err != nil {
		t.Fatalf("Delete twice: %v", err)
	}
	if err := s.Touch(ctx, k, 3); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Touch of a missing object: %v", err)
	}
}

func TestStore_PresignedPutStoresTheBody(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := newStore(t, ctx)
	k := blob.Key("bob", "d2")
	body := []byte("plain text body")
	up, err := s.PresignPut(ctx, k, "text/plain", int64(len(body)), 15*time.Minute, time.Now())
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	if up.Method != http.MethodPut || up.Headers.Get("Content-Type") != "text/plain" {
		t.Fatalf("upload = %+v", up)
	}
	req, _ := http.NewRequestWithContext(ctx, up.Method, up.URL, bytes.NewReader(body))
	for h, vs := range up.Headers {
		req.Header[h] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT status %d", resp.StatusCode)
	}
	if o, err := s.Get(ctx, k, 1<<20); err != nil || string(o.Data) != string(body) {
		t.Fatalf("Get = %+v %v", o, err)
	}
}

// FuzzParseKey: any key parses without panicking, and every key Key makes parses
// back to its owner and document.
func FuzzParseKey(f *testing.F) {
	f.Add("alice", "01JDOC", "documents/YWxpY2U/01JDOC")
	f.Add("auth0|x y", "d", "documents/%2F/x")
	f.Fuzz(func(t *testing.T, user, doc, raw string) {
		blob.ParseKey(raw)
		if user == "" || doc == "" || strings.ContainsAny(doc, "/%+") {
			return
		}
		if u, d, ok := blob.ParseKey(blob.Key(user, doc)); !ok || u != user || d != doc {
			t.Fatalf("ParseKey(Key(%q, %q)) = %q %q %v", user, doc, u, d, ok)
		}
	})
}
