package resources_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/chatterhq/chatter/internal/httpapi/apitest"
)

// The predecessor's contract (apitest.Old): the old service's OpenAPI reduced to
// structure. Its clients must keep working, so every operation under /workflows and
// /conversations is exercised here with requests built from the old request schemas,
// and every response is validated against the old document itself.

// contractOps lists "METHOD /path" of every operation of the old contract outside
// /documents: those ten are served by httpapi/documents, whose
// TestDocuments_EveryOldOperationAnswersAsTheOldContractSays covers each against
// this same contract (over S3, which this package's env does not have).
func contractOps(t testing.TB) []string { return apitest.Old(t).Ops("/api/v1/documents") }

// checkOld validates a real exchange against the old contract: the request must be
// one the old schema allows (so a case cannot test a request the old clients never
// sent) and a 2xx response must match the old response schema of its status. It
// returns the operation ("METHOD /path") it matched.
func checkOld(t testing.TB, req *http.Request, body string, resp response) string {
	t.Helper()
	old := apitest.Old(t)
	op := old.Request(t, req, []byte(body))
	old.Response(t, req, []byte(body), resp.StatusCode, resp.Header, resp.body)
	return op
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
	if n := len(apitest.Old(t).Ops()); n != 49 {
		t.Errorf("the old contract has %d operations, want 49 (39 here and 10 under /documents)", n)
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
