// Package blob keeps the originals of uploaded documents in an S3 bucket (private,
// encrypted, with EventBridge notifications on: template.yaml's DocumentsBucket).
// Storing an object is what starts its ingest: S3 sends "Object Created" to the
// default event bus, a rule passes it to the ingest function.
//
// An original's key is documents/<base64url(user id)>/<document id>: the owner and
// the document travel in the key, so the ingest knows whose document an event is
// about without trusting anything else in it, and no user id needs escaping.
//
// Large files go straight to S3 with a presigned PUT (PresignPut): the signature
// covers the content length and type, so S3 refuses a body of another size.
package blob

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// API is the part of the S3 client the store calls.
type API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	CopyObject(ctx context.Context, in *s3.CopyObjectInput, opts ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
}

// ErrNotFound: no object under the key.
var ErrNotFound = errors.New("blob: no such object")

// ErrTooLarge: the object is larger than the caller accepts.
var ErrTooLarge = errors.New("blob: object too large")

// Store is a bucket of originals. It is safe for concurrent use.
type Store struct {
	client  API
	presign *s3.PresignClient
	bucket  string
}

// New returns the store of bucket through client (a *s3.Client also presigns).
func New(client *s3.Client, bucket string) *Store {
	return &Store{client: client, presign: s3.NewPresignClient(client), bucket: bucket}
}

// Bucket is the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

const keyPrefix = "documents/"

// Key is the object key of a user's document.
func Key(userID, docID string) string {
	return keyPrefix + base64.RawURLEncoding.EncodeToString([]byte(userID)) + "/" + docID
}

// ParseKey is the owner and document of a key made by Key; ok is false for any
// other key. A URL-escaped key (as S3 notifications may carry it) is read too.
func ParseKey(key string) (userID, docID string, ok bool) {
	if k, err := url.QueryUnescape(key); err == nil {
		key = k
	}
	rest, ok := strings.CutPrefix(key, keyPrefix)
	if !ok {
		return "", "", false
	}
	enc, doc, ok := strings.Cut(rest, "/")
	if !ok || doc == "" || strings.Contains(doc, "/") {
		return "", "", false
	}
	u, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(u) == 0 {
		return "", "", false
	}
	return string(u), doc, true
}

// Put stores data under key and returns the object's ETag.
func (s *Store) Put(ctx context.Context, key, contentType string, data []byte) (string, error) {
	out, err := s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: &key, Body: strings.NewReader(string(data)),
		ContentType: nonEmpty(contentType), ContentLength: aws.Int64(int64(len(data)))})
	if err != nil {
		return "", fmt.Errorf("blob: storing %s: %w", key, err)
	}
	return strings.Trim(aws.ToString(out.ETag), `"`), nil
}

// Object is a read original.
type Object struct {
	Data        []byte
	ContentType string
	ETag        string
}

// Get reads the object under key: ErrNotFound when there is none, ErrTooLarge
// when it is larger than max bytes (read no further).
func (s *Store) Get(ctx context.Context, key string, max int64) (*Object, error) {
	// An object stored without a checksum (a presigned PUT, moto) is fine: say nothing.
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key},
		func(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true })
	if err != nil {
		if noSuchKey(err) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("blob: reading %s: %w", key, err)
	}
	defer out.Body.Close()
	if aws.ToInt64(out.ContentLength) > max {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, aws.ToInt64(out.ContentLength), max)
	}
	b, err := io.ReadAll(io.LimitReader(out.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("blob: reading %s: %w", key, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	return &Object{Data: b, ContentType: aws.ToString(out.ContentType), ETag: strings.Trim(aws.ToString(out.ETag), `"`)}, nil
}

// Delete removes the object under key; deleting a missing object succeeds.
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key}); err != nil {
		return fmt.Errorf("blob: deleting %s: %w", key, err)
	}
	return nil
}

// Touch copies the object onto itself with new metadata (generation), which makes
// S3 send a new "Object Created" event: how a reprocess reaches the ingest on the
// same route as an upload.
func (s *Store) Touch(ctx context.Context, key string, generation int) error {
	_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &s.bucket, Key: &key,
		CopySource: aws.String(s.bucket + "/" + url.PathEscape(key)), MetadataDirective: types.MetadataDirectiveReplace,
		Metadata: map[string]string{"generation": strconv.Itoa(generation)}})
	if err != nil {
		if noSuchKey(err) {
			return ErrNotFound
		}
		return fmt.Errorf("blob: touching %s: %w", key, err)
	}
	return nil
}

// Upload is a presigned PUT: send the body with exactly these headers.
type Upload struct {
	URL       string      `json:"url"`
	Method    string      `json:"method"`
	Headers   http.Header `json:"headers"`
	ExpiresAt time.Time   `json:"expires_at"`
}

// PresignPut signs a PUT of size bytes of contentType under key, valid for ttl.
func (s *Store) PresignPut(ctx context.Context, key, contentType string, size int64, ttl time.Duration, now time.Time) (*Upload, error) {
	req, err := s.presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: &key,
		ContentType: nonEmpty(contentType), ContentLength: aws.Int64(size)}, s3.WithPresignExpires(ttl))
	if err != nil {
		return nil, fmt.Errorf("blob: presigning %s: %w", key, err)
	}
	h := http.Header{}
	for k, vs := range req.SignedHeader {
		if strings.EqualFold(k, "host") {
			continue
		}
		h[http.CanonicalHeaderKey(k)] = vs
	}
	return &Upload{URL: req.URL, Method: req.Method, Headers: h, ExpiresAt: now.Add(ttl).UTC()}, nil
}

// noSuchKey: S3 found no object (GetObject models the error; CopyObject only
// names its code).
func noSuchKey(err error) bool {
	var nk *types.NoSuchKey
	var ae smithy.APIError
	return errors.As(err, &nk) || errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound")
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// PresignGet signs a GET of the object under key, valid for ttl, that downloads as
// filename.
func (s *Store) PresignGet(ctx context.Context, key, filename string, ttl time.Duration) (string, error) {
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key,
		ResponseContentDisposition: aws.String(ContentDisposition(filename))}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("blob: presigning %s: %w", key, err)
	}
	return req.URL, nil
}

// ContentDisposition is the attachment header of a download named filename
// (RFC 6266, with the UTF-8 form for names beyond ASCII).
func ContentDisposition(filename string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, filename)
	return `attachment; filename="` + ascii + `"; filename*=UTF-8''` + url.PathEscape(filename)
}
