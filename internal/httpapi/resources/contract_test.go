package resources_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	legacy "github.com/getkin/kin-openapi/routers/legacy"
)

// The predecessor's contract (testdata/predecessor-openapi.json, a copy of
// ../shared/contracts/predecessor-openapi.json): the old service's OpenAPI reduced to
// structure. Its clients must keep working, so every operation under /workflows and
// /conversations is exercised here with requests built from the old request schemas,
// and every response is validated against the old document itself.

var (
	oldOnce   sync.Once
	oldDoc    *openapi3.T
	oldRouter routers.Router
	oldErr    error
)

func oldContract(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	oldOnce.Do(func() {
		b, err := os.ReadFile("testdata/predecessor-openapi.json")
		if err != nil {
			oldErr = err
			return
		}
		oldDoc, oldErr = openapi3.NewLoader().LoadFromData(b)
		if oldErr != nil {
			return
		}
		if oldErr = oldDoc.Validate(context.Background()); oldErr != nil {
			return
		}
		oldRouter, oldErr = legacy.NewRouter(oldDoc)
	})
	if oldErr != nil {
		t.Fatalf("predecessor contract: %v", oldErr)
	}
	return oldDoc, oldRouter
}

// contractOps lists "METHOD /path" of every operation of the old contract outside
// /documents (which a later step serves).
func contractOps(t testing.TB) []string {
	doc, _ := oldContract(t)
	var ops []string
	for path, item := range doc.Paths.Map() {
		if strings.HasPrefix(path, "/api/v1/documents") {
			continue
		}
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	slices.Sort(ops)
	return ops
}

// checkOld validates a real exchange against the old contract: the request must be
// one the old schema allows (so a case cannot test a request the old clients never
// sent) and the response must match the old response schema of its status. It
// returns the operation ("METHOD /path") it matched.
func checkOld(t testing.TB, req *http.Request, body string, resp response) string {
	t.Helper()
	_, router := oldContract(t)
	rreq := req.Clone(context.Background())
	rreq.URL.Scheme, rreq.URL.Host = "", ""
	if body != "" {
		rreq.Body = io.NopCloser(strings.NewReader(body))
	}
	route, params, err := router.FindRoute(rreq)
	if err != nil {
		t.Fatalf("%s %s is not an operation of the old contract: %v", req.Method, req.URL.Path, err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: rreq, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		t.Fatalf("the case sends a request the old contract does not allow: %s %s: %v\nbody: %.400s", req.Method, req.URL.Path, err, body)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
		Header: resp.Header, Options: opts}
	out.SetBodyBytes(resp.body)
	if resp.StatusCode < 300 {
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("%s %s -> %d does not match the old contract: %v\nbody: %.800s", req.Method, req.URL.Path,
				resp.StatusCode, err, resp.body)
		}
	}
	return req.Method + " " + route.Path
}

// contractCase exercises one old operation: it sends one or more requests built from
// the old request schema (minimal and full variants) through e.old and asserts what
// the old clients rely on beyond the schema.
type contractCase struct {
	op  string // "METHOD /path" exactly as the old contract writes it
	run func(t *testing.T, e *env)
}

// contractCases is every case, by area; each area's file appends to it in init.
var contractCases []contractCase

func TestContract_EveryOldOperationAnswersAsTheOldContractSays(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range contractCases {
		covered[c.op] = true
		t.Run(c.op, func(t *testing.T) {
			e := newEnv(t, envOpts{noCheck: true})
			c.run(t, e)
		})
	}
	for _, op := range contractOps(t) {
		if !covered[op] {
			t.Errorf("no contract case for %s", op)
		}
	}
	if n := len(contractOps(t)); n != 39 {
		t.Errorf("the old contract has %d operations outside /documents, want 39", n)
	}
}

// old sends a request to the API as an old client would (bearer token of user,
// JSON body) and validates the exchange against the old contract.
func (e *env) old(t *testing.T, method, user, path string, body any) response {
	t.Helper()
	var s string
	switch b := body.(type) {
	case nil:
	case string:
		s = b
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		s = string(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp := e.do(t, method, user, path, s)
	checkOld(t, req, s, resp)
	return resp
}
