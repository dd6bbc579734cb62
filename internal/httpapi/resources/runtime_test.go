package resources_test

import (
	"context"
	"math"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/events/record"
	"github.com/chatterhq/chatter/internal/httpapi/resources"
	"github.com/chatterhq/chatter/internal/store"
)

// deliverWithin plays the record subscriber under a deadline: every event the runs
// emitted so far, as on-event-record would store it (again, for a redelivery).
func (e *env) deliverWithin(t *testing.T, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	repo := e.st.(record.Repo)
	for _, ev := range e.rec.Events() {
		if err := record.Apply(ctx, repo, ev); err != nil {
			t.Fatalf("Apply %s: %v", ev.Type, err)
		}
	}
}

// exact is what the stored execution records of user say, computed here from the
// records themselves: the numbers the aggregates must agree with.
type exact struct {
	runs, completed, failed int64
	tokensIn, tokensOut     int64
	durations               []float64
	nodeRuns, nodeFails     map[string]int64
}

func exactOf(t *testing.T, e *env, user string, f store.ExecutionFilter, keep func(*store.Execution) bool) exact {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pg, err := e.st.ListExecutions(ctx, user, f, store.PageRequest{Limit: store.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	x := exact{nodeRuns: map[string]int64{}, nodeFails: map[string]int64{}}
	for i := range pg.Items {
		ex := &pg.Items[i]
		if !keep(ex) {
			continue
		}
		x.runs++
		switch ex.Status {
		case store.ExecCompleted:
			x.completed++
		case store.ExecFailed:
			x.failed++
		}
		x.tokensIn += int64(ex.Usage.InputTokens)
		x.tokensOut += int64(ex.Usage.OutputTokens)
		x.durations = append(x.durations, ex.DurationMS)
		for _, n := range ex.Log {
			x.nodeRuns[n.NodeID]++
			if n.Status == "error" {
				x.nodeFails[n.NodeID]++
			}
		}
	}
	slices.Sort(x.durations)
	return x
}

// inBucketOf checks that est lies in the histogram bucket of the exact
// nearest-rank q-quantile of sorted.
func inBucketOf(t *testing.T, what string, est *float64, sorted []float64, q float64) {
	t.Helper()
	if est == nil {
		t.Fatalf("%s: null, want an estimate", what)
	}
	v := sorted[int(math.Ceil(q*float64(len(sorted))))-1]
	lo, hi := store.HistBounds(store.HistBucket(v))
	if *est < lo-1e-3 || *est > hi+1e-3 {
		t.Errorf("%s = %v, outside the bucket [%v, %v) of the exact %v", what, *est, lo, hi, v)
	}
}

func checkRuntime(t *testing.T, what string, rt resources.Runtime, x exact) {
	t.Helper()
	if rt.Runs != x.runs || rt.Completed != x.completed || rt.Failed != x.failed || rt.Cancelled != 0 ||
		rt.InputTokens != x.tokensIn || rt.OutputTokens != x.tokensOut || rt.TotalTokens != x.tokensIn+x.tokensOut {
		t.Fatalf("%s: %+v, want %+v", what, rt, x)
	}
	if x.runs == 0 {
		if rt.SuccessRate != nil || rt.P50DurationMS != nil || rt.AvgDurationMS != nil {
			t.Errorf("%s without runs: rates %v %v %v, want null", what, rt.SuccessRate, rt.P50DurationMS, rt.AvgDurationMS)
		}
		return
	}
	if rt.SuccessRate == nil || math.Abs(*rt.SuccessRate-float64(x.completed)/float64(x.runs)) > 1e-9 {
		t.Errorf("%s: success_rate %v, want %d/%d", what, rt.SuccessRate, x.completed, x.runs)
	}
	var sum float64
	for _, d := range x.durations {
		sum += d
	}
	if rt.AvgDurationMS == nil || math.Abs(*rt.AvgDurationMS-sum/float64(x.runs)) > 1e-6 {
		t.Errorf("%s: avg_duration_ms %v, want %v", what, rt.AvgDurationMS, sum/float64(x.runs))
	}
	inBucketOf(t, what+" p50", rt.P50DurationMS, x.durations, 0.5)
	inBucketOf(t, what+" p95", rt.P95DurationMS, x.durations, 0.95)
}

func checkNodes(t *testing.T, what string, nodes []resources.NodeRuntime, x exact) {
	t.Helper()
	if len(nodes) != len(x.nodeRuns) {
		t.Fatalf("%s: nodes %+v, want %v", what, nodes, x.nodeRuns)
	}
	for _, n := range nodes {
		if n.Runs != x.nodeRuns[n.NodeID] || n.Failures != x.nodeFails[n.NodeID] || n.P50DurationMS == nil {
			t.Errorf("%s: node %+v, want runs %d failures %d", what, n, x.nodeRuns[n.NodeID], x.nodeFails[n.NodeID])
		}
	}
}

func TestAnalytics_RuntimeNumbersFromRealRuns(t *testing.T) {
	checkRuntimeFromRuns(t, newEnv(t, envOpts{}))
}

func TestDynamo_Analytics_RuntimeNumbersFromRealRuns(t *testing.T) {
	checkRuntimeFromRuns(t, newEnv(t, envOpts{st: dynamoStore(t)}))
}

// checkRuntimeFromRuns: runs through the executor (devllm), their events delivered
// twice, give the definition and template analytics their numbers — the same as the
// execution records say — and nothing of another user's runs or of refused requests.
func checkRuntimeFromRuns(t *testing.T, e *env) {
	def := e.createDefinition(t, "alice")
	tpl := e.createTemplate(t, "alice") // named "helper"
	defRun := `{"workflow_definition_id":"` + def + `","message":`
	for _, msg := range []string{`"one"`, `"two"`} {
		e.chat(t, "alice", defRun+msg+`}`)
	}
	if r := e.post(t, "alice", "/api/v1/workflows/execute/chat", defRun+`"/fail 400"}`); r.StatusCode == http.StatusOK {
		t.Fatalf("a failing model answered 200: %s", r.body)
	}
	// Refused at preparation: not executions.
	if r := e.post(t, "alice", "/api/v1/workflows/execute/chat", defRun+`"x","provider":"nope"}`); r.StatusCode < 400 || r.StatusCode >= 500 {
		t.Fatalf("an unknown provider: %d %s", r.StatusCode, r.body)
	}
	e.chat(t, "alice", `{"workflow_template_name":"helper","message":"by name"}`)
	e.chat(t, "alice", `{"workflow_template_name":"general_chat","message":"built-in"}`)
	e.chat(t, "bob", `{"workflow_template_name":"general_chat","message":"bob's"}`)
	e.chat(t, "alice", `{"message":"dynamic"}`)
	e.deliverWithin(t, 60*time.Second)
	e.deliverWithin(t, 60*time.Second) // redelivered: nothing counts twice

	ofDef := func(x *store.Execution) bool { return x.Source.Kind == "definition" && x.Source.ID == def }
	want := exactOf(t, e, "alice", store.ExecutionFilter{DefinitionID: def}, ofDef)
	if want.runs != 3 || want.completed != 2 || want.failed != 1 {
		t.Fatalf("the runs did not end as planned: %+v", want)
	}
	r := e.get(t, "alice", "/api/v1/workflows/definitions/"+def+"/analytics")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("analytics: %d %s", r.StatusCode, r.body)
	}
	var a resources.AnalyticsResponse
	r.json(t, &a)
	checkRuntime(t, "definition", a.Runtime.Runtime, want)
	checkRuntime(t, "version 1", a.Runtime.Version.Runtime, want)
	if a.Runtime.Version.Version != 1 || len(a.Runtime.Nodes) != 0 {
		t.Errorf("runtime.version %d, every-version nodes %+v; want version 1 and no nodes", a.Runtime.Version.Version, a.Runtime.Nodes)
	}
	checkNodes(t, "version 1", a.Runtime.Version.Nodes, want)
	if want.nodeFails["llm"] != 1 {
		t.Errorf("the failed run's llm visit is not a failure: %v", want.nodeFails)
	}
	if a.EstimatedExecutionTime == nil || float64(*a.EstimatedExecutionTime) != math.Round(*a.Runtime.Version.P50DurationMS) {
		t.Errorf("estimated_execution_time_ms %v, want the version's p50 %v", a.EstimatedExecutionTime, a.Runtime.Version.P50DurationMS)
	}
	// Another version has no runs yet.
	if r := e.do(t, "PUT", "alice", "/api/v1/workflows/definitions/"+def, chainJSON); r.StatusCode != http.StatusOK {
		t.Fatalf("update: %d %s", r.StatusCode, r.body)
	}
	var a2 resources.AnalyticsResponse
	e.get(t, "alice", "/api/v1/workflows/definitions/"+def+"/analytics").json(t, &a2)
	checkRuntime(t, "definition after update", a2.Runtime.Runtime, want)
	checkRuntime(t, "version 2", a2.Runtime.Version.Runtime, exact{})
	if a2.Runtime.Version.Version != 2 || a2.EstimatedExecutionTime != nil {
		t.Errorf("version 2: %+v, estimate %v", a2.Runtime.Version, a2.EstimatedExecutionTime)
	}

	// Templates, by resolved id: the user's (run by name) and the built-in.
	for _, tc := range []struct{ user, id string }{{"alice", tpl}, {"alice", "general_chat"}, {"bob", "general_chat"}} {
		want := exactOf(t, e, tc.user, store.ExecutionFilter{SourceKind: "template"},
			func(x *store.Execution) bool { return x.Source.ID == tc.id })
		if want.runs != 1 {
			t.Fatalf("%s's runs of %s: %+v", tc.user, tc.id, want)
		}
		r := e.get(t, tc.user, "/api/v1/workflows/templates/"+tc.id+"/analytics")
		if r.StatusCode != http.StatusOK {
			t.Fatalf("template analytics: %d %s", r.StatusCode, r.body)
		}
		var ta resources.TemplateAnalyticsResponse
		r.json(t, &ta)
		if ta.TemplateID != tc.id || ta.Graph.Nodes == 0 || ta.Graph.Entry != "start" || !ta.Graph.CanEnd {
			t.Errorf("%s %s: %+v", tc.user, tc.id, ta)
		}
		checkRuntime(t, tc.user+" "+tc.id, ta.Runtime, want)
		checkNodes(t, tc.user+" "+tc.id, ta.Runtime.Nodes, want)
	}
	// Another user's template and definition are not found.
	for _, p := range []string{"/api/v1/workflows/templates/" + tpl + "/analytics", "/api/v1/workflows/definitions/" + def + "/analytics"} {
		if r := e.get(t, "bob", p); r.StatusCode != http.StatusNotFound {
			t.Errorf("bob GET %s: %d %s", p, r.StatusCode, r.body)
		}
	}
}
