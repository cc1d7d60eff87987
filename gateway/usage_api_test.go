package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/memproxy/memproxy/gateway/adminapi"
	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/usage"
)

// usageRows are written straight into the harness's store: two users,
// two projects, two days, one error, one unpriced row.
func usageRows(now time.Time) []usage.Record {
	day := now.UTC().Truncate(24 * time.Hour)
	cost := func(v float64) *float64 { return &v }
	return []usage.Record{
		{RequestID: "u1", Time: day.Add(-20 * time.Hour), User: "alice", Project: "shop", Client: "cursor", Model: "gpt-test", Status: 200, PromptTokens: 10, CompletionTokens: 5, LatencyMS: 100, Cost: cost(0.5)},
		{RequestID: "u2", Time: day.Add(1 * time.Minute), User: "alice", Project: "shop", Client: "cursor", Model: "gpt-test", Status: 200, PromptTokens: 20, CompletionTokens: 5, LatencyMS: 300, Cost: cost(0.25)},
		{RequestID: "u3", Time: day.Add(2 * time.Minute), User: "bob", Project: "blog", Client: "claude-code", Model: "mock", Status: 429, LatencyMS: 50},
		{RequestID: "u4", Time: day.Add(3 * time.Minute), User: "bob", Project: "shop", Client: "claude-code", Model: "mock", Status: 200, PromptTokens: 7, LatencyMS: 200, Unpriced: true},
	}
}

func usageHarness(t *testing.T) (*harness, time.Time) {
	t.Helper()
	h := newHarness(t, "")
	now := time.Now()
	if err := h.srv.db.WriteUsage(t.Context(), usageRows(now)); err != nil {
		t.Fatal(err)
	}
	return h, now
}

// getUsage calls path with the master key and decodes the answer.
func getUsage(t *testing.T, h *harness, path string) (int, map[string]any) {
	t.Helper()
	req, _ := newReq(http.MethodGet, h.httpURL+path, nil)
	resp, err := httpDo(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(resp.body), &out); err != nil {
		t.Fatalf("GET %s: %d %q", path, resp.StatusCode, resp.body)
	}
	return resp.StatusCode, out
}

func TestUsageList(t *testing.T) {
	h, now := usageHarness(t)
	day := now.UTC().Truncate(24 * time.Hour)
	for _, tc := range []struct {
		query string
		want  string // request ids, newest first
	}{
		{"", "u4 u3 u2 u1"},
		{"?status=error", "u3"},
		{"?status=errors", "u3"},
		{"?status=200&user=alice", "u2 u1"},
		{"?project=shop&limit=2", "u4 u2"},
		{"?since=" + url.QueryEscape(day.Add(90*time.Second).Format(time.RFC3339)), "u4 u3"},
		{"?until=" + day.Format(time.DateOnly), "u1"},
		{"?since=3d&client=claude-code&model=mock", "u4 u3"},
		{"?session=none", ""},
	} {
		code, out := getUsage(t, h, "/v1/usage"+tc.query)
		var got []string
		data, _ := out["data"].([]any)
		for _, r := range data {
			got = append(got, r.(map[string]any)["request_id"].(string))
		}
		if code != 200 || strings.Join(got, " ") != tc.want {
			t.Errorf("GET /v1/usage%s = %d %v; want %s", tc.query, code, got, tc.want)
		}
	}
}

func TestUsageGroupBy(t *testing.T) {
	h, now := usageHarness(t)
	code, out := getUsage(t, h, "/v1/usage?group_by=day,project&since=3d")
	if code != 200 {
		t.Fatalf("%d %v", code, out)
	}
	today := now.UTC().Truncate(24 * time.Hour).Format(time.RFC3339)
	yesterday := now.UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour).Format(time.RFC3339)
	type row struct {
		bucket, project     string
		requests, errors    float64
		prompt, cost, unpr  float64
		p50                 float64
		hasModel, hasBucket bool
	}
	var got []row
	for _, d := range out["data"].([]any) {
		m := d.(map[string]any)
		_, hasModel := m["model"]
		got = append(got, row{m["bucket"].(string), m["project"].(string), m["requests"].(float64), m["errors"].(float64),
			m["prompt_tokens"].(float64), m["cost"].(float64), m["unpriced"].(float64), m["latency_p50_ms"].(float64), hasModel, true})
	}
	want := []row{
		{yesterday, "shop", 1, 0, 10, 0.5, 0, 100, false, true},
		{today, "blog", 1, 1, 0, 0, 0, 50, false, true},
		{today, "shop", 2, 0, 27, 0.25, 1, 250, false, true},
	}
	if len(got) != len(want) {
		t.Fatalf("group_by=day,project: %+v; want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: %+v; want %+v", i, got[i], want[i])
		}
	}
	if out["has_more"] != false || out["since"] == nil {
		t.Errorf("has_more %v since %v", out["has_more"], out["since"])
	}

	// status as a key comes back as a number; limit caps the rows.
	_, out = getUsage(t, h, "/v1/usage?group_by=status&limit=1")
	if d := out["data"].([]any); len(d) != 1 || d[0].(map[string]any)["status"] != 200.0 || out["has_more"] != true {
		t.Errorf("group_by=status&limit=1: %v", out)
	}

	for _, bad := range []string{"week", "day,hour", "project,project", "project,", "path", "project;drop"} {
		code, out := getUsage(t, h, "/v1/usage?group_by="+url.QueryEscape(bad))
		if code != 400 || !strings.Contains(jsonString(out), "invalid_group_by") {
			t.Errorf("group_by=%s: %d %v; want 400 invalid_group_by", bad, code, out)
		}
	}
	for _, bad := range []string{"status=abc", "status=99", "since=yesterday", "until=-3d", "since=0d", "limit=0", "limit=10001"} {
		if code, out := getUsage(t, h, "/v1/usage?"+bad); code != 400 {
			t.Errorf("%s: %d %v; want 400", bad, code, out)
		}
	}
}

func TestUsageSummary(t *testing.T) {
	h, _ := usageHarness(t)
	code, out := getUsage(t, h, "/v1/usage/summary?since=7d")
	if code != 200 {
		t.Fatalf("%d %v", code, out)
	}
	tot := out["totals"].(map[string]any)
	if tot["requests"] != 4.0 || tot["errors"] != 1.0 || tot["cost"] != 0.75 || tot["unpriced"] != 1.0 ||
		tot["prompt_tokens"] != 37.0 || tot["latency_p50_ms"] != 150.0 {
		t.Errorf("totals %v", tot)
	}
	top := out["top_projects"].([]any)
	if len(top) != 2 || top[0].(map[string]any)["name"] != "shop" || top[0].(map[string]any)["requests"] != 3.0 {
		t.Errorf("top_projects %v", top)
	}
	if n := len(out["top_models"].([]any)) + len(out["top_clients"].([]any)); n != 4 {
		t.Errorf("top models and clients: %d entries; want 4", n)
	}
	_, out = getUsage(t, h, "/v1/usage/summary?status=error")
	if out["totals"].(map[string]any)["requests"] != 1.0 {
		t.Errorf("summary of errors: %v", out)
	}
}

// TestUsageUserKey calls the usage API with the identities a user key and
// a broken authentication would give: a user key sees only its own rows.
func TestUsageUserKey(t *testing.T) {
	h, _ := usageHarness(t)
	// The admin API alone, with an authentication that hands it id.
	call := func(id *auth.Identity, path, query string) (int, string) {
		api := adminapi.New(adminapi.Deps{DB: h.srv.db, Authenticate: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if id != nil {
					r = r.WithContext(auth.WithIdentity(r.Context(), id))
				}
				next.ServeHTTP(w, r)
			})
		}})
		rt := mux.NewRouter()
		api.Routes(rt)
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path+query, nil))
		return w.Code, w.Body.String()
	}
	bob := &auth.Identity{User: "bob"}
	for _, tc := range []struct {
		name    string
		id      *auth.Identity
		query   string
		code    int
		has     []string
		hasNone []string
	}{
		{"own rows", bob, "", 200, []string{`"u3"`, `"u4"`}, []string{`"u1"`, `"u2"`}},
		{"own user named", bob, "?user=bob&status=error", 200, []string{`"u3"`}, []string{`"u4"`}},
		{"another user", bob, "?user=alice", 403, []string{"usage_forbidden"}, []string{`"u1"`}},
		{"grouped", bob, "?group_by=user", 200, []string{`"bob"`}, []string{`"alice"`}},
		{"user key without a user", &auth.Identity{}, "", 403, []string{"usage_forbidden"}, nil},
		{"no identity", nil, "", 403, []string{"usage_forbidden"}, nil},
		{"master key", &auth.Identity{Admin: true}, "?user=alice", 200, []string{`"u1"`}, []string{`"u3"`}},
	} {
		code, body := call(tc.id, "/v1/usage", tc.query)
		if code != tc.code {
			t.Errorf("%s: %d %s; want %d", tc.name, code, body, tc.code)
		}
		for _, s := range tc.has {
			if !strings.Contains(body, s) {
				t.Errorf("%s: %s lacks %s", tc.name, body, s)
			}
		}
		for _, s := range tc.hasNone {
			if strings.Contains(body, s) {
				t.Errorf("%s: %s shows %s", tc.name, body, s)
			}
		}
	}
	code, body := call(bob, "/v1/usage/summary", "")
	if code != 200 || !strings.Contains(body, `"requests":2,`) || strings.Contains(body, `"alice"`) {
		t.Errorf("summary for bob: %d %s", code, body)
	}
	if code, _ := call(bob, "/v1/usage/summary", "?user=alice"); code != 403 {
		t.Errorf("summary of alice for bob: %d; want 403", code)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
