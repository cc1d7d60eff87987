package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/test/services"
)

// TestLimitsSharedAcrossReplicas: two gateways on one Redis share a
// project's request counter, so a limit holds however requests are spread.
func TestLimitsSharedAcrossReplicas(t *testing.T) {
	addr := services.RequireRedis(t)
	host, port, _ := strings.Cut(addr, ":")
	project := fmt.Sprintf("shared-%d", time.Now().UnixNano()) // fresh counters on the shared Redis
	cfg := modelConfig("http://127.0.0.1:9") +
		"litellm_settings:\n  cache_params: {type: redis, host: " + host + ", port: " + port + "}\n" +
		"limits:\n  projects:\n    " + project + ": {rpm: 3}\n"
	a, b := startGateway(t, cfg), startGateway(t, cfg)
	send := func(g *gateway) int {
		req, _ := http.NewRequest(http.MethodPost, g.httpURL+"/v1/chat/completions",
			strings.NewReader(`{"model":"mock","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+g.masterKey)
		req.Header.Set("X-Memory-Project", project)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		return resp.StatusCode
	}
	got := []int{send(a), send(b), send(a), send(b), send(a)}
	if fmt.Sprint(got) != "[200 200 200 429 429]" {
		t.Errorf("statuses across two replicas: %v, want three allowed then 429s", got)
	}
}
