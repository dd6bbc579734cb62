package bedrock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
)

// This file speaks Bedrock's wire format: ConverseStream answers HTTP 200 with
// application/vnd.amazon.eventstream and a body of binary event-stream messages whose
// JSON payloads carry the "p" padding field the real service adds.

func encodeFrame(t testing.TB, msgType, typeHeader, typeValue, payload string) []byte {
	t.Helper()
	var m eventstream.Message
	m.Headers.Set(typeHeader, eventstream.StringValue(typeValue))
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	m.Headers.Set(":message-type", eventstream.StringValue(msgType))
	m.Payload = []byte(payload)
	var buf bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&buf, m); err != nil {
		t.Fatalf("encode frame: %v", err)
	}
	return buf.Bytes()
}

func evFrame(t testing.TB, eventType, payload string) []byte {
	return encodeFrame(t, "event", ":event-type", eventType, payload)
}

func excFrame(t testing.TB, exceptionType, payload string) []byte {
	return encodeFrame(t, "exception", ":exception-type", exceptionType, payload)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func messageStart(t testing.TB) []byte {
	return evFrame(t, "messageStart", `{"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS","role":"assistant"}`)
}

func textDelta(t testing.TB, index int, text string) []byte {
	return evFrame(t, "contentBlockDelta", fmt.Sprintf(`{"contentBlockIndex":%d,"delta":{"text":%s},"p":"abcdefghijk"}`, index, jsonString(text)))
}

func toolStart(t testing.TB, index int, id, name string) []byte {
	return evFrame(t, "contentBlockStart", fmt.Sprintf(`{"contentBlockIndex":%d,"p":"abcdefghij","start":{"toolUse":{"name":%s,"toolUseId":%s}}}`, index, jsonString(name), jsonString(id)))
}

func toolDelta(t testing.TB, index int, input string) []byte {
	return evFrame(t, "contentBlockDelta", fmt.Sprintf(`{"contentBlockIndex":%d,"delta":{"toolUse":{"input":%s}},"p":"abcdefghijklmn"}`, index, jsonString(input)))
}

func blockStop(t testing.TB, index int) []byte {
	return evFrame(t, "contentBlockStop", fmt.Sprintf(`{"contentBlockIndex":%d,"p":"abcdefghijklmnopq"}`, index))
}

func messageStop(t testing.TB, reason string) []byte {
	return evFrame(t, "messageStop", fmt.Sprintf(`{"p":"abcdefghijklmnopqrstuvwxy","stopReason":%s}`, jsonString(reason)))
}

func metadata(t testing.TB, in, out, cacheRead, cacheWrite int) []byte {
	return evFrame(t, "metadata", fmt.Sprintf(`{"metrics":{"latencyMs":431},"p":"abcdefghijklmnopqr","usage":{"cacheReadInputTokens":%d,"cacheWriteInputTokens":%d,"inputTokens":%d,"outputTokens":%d,"totalTokens":%d}}`,
		cacheRead, cacheWrite, in, out, in+out))
}

// reply is one scripted answer of the fake service.
type reply struct {
	status  int      // 0 means 200 with an event stream
	errType string   // x-amzn-ErrorType of an HTTP error
	body    string   // JSON body of an HTTP error
	frames  [][]byte // event-stream body, each written and flushed on its own
	hold    bool     // after the frames, keep the response open until the client goes away
}

type recorded struct {
	method, path, auth, contentType string
	body                            []byte
}

// fakeBedrock is an httptest server that plays one reply per request, in order.
type fakeBedrock struct {
	srv     *httptest.Server
	mu      sync.Mutex
	replies []reply
	reqs    []recorded
	gone    chan struct{} // closed when a held response saw its client leave
}

func newFakeBedrock(t testing.TB, replies ...reply) *fakeBedrock {
	t.Helper()
	f := &fakeBedrock{replies: replies, gone: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeBedrock) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{method: r.Method, path: r.URL.Path, auth: r.Header.Get("Authorization"), contentType: r.Header.Get("Content-Type"), body: body})
	var rep reply
	if len(f.replies) > 0 {
		rep, f.replies = f.replies[0], f.replies[1:]
	} else {
		rep = reply{status: http.StatusInternalServerError, errType: "InternalServerException", body: `{"message":"no scripted reply"}`}
	}
	f.mu.Unlock()

	w.Header().Set("X-Amzn-Requestid", "4b1d7c6e-0000-4000-8000-000000000001")
	if rep.status != 0 && rep.status != http.StatusOK {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Errortype", rep.errType+":http://internal.amazon.com/coral/com.amazon.bedrock/")
		w.WriteHeader(rep.status)
		_, _ = io.WriteString(w, rep.body)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	for _, fr := range rep.frames {
		if _, err := w.Write(fr); err != nil {
			return
		}
		_ = rc.Flush()
	}
	if rep.hold {
		<-r.Context().Done()
		close(f.gone)
	}
}

func (f *fakeBedrock) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func testConfig() aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""),
	}
}

func (f *fakeBedrock) client() *bedrockruntime.Client {
	return NewClient(testConfig(), f.srv.URL)
}

func (f *fakeBedrock) provider(cfg Config) *Provider {
	return New(f.client(), cfg)
}
