package gateway

import (
	"testing"

	"github.com/memproxy/memproxy/gateway/track"
)

// TestFailedAuthRowsSampled: a key-less client's failures get at most a
// minute's sample of rows (two minutes' if the run straddles a minute),
// while every authenticated request keeps its row.
func TestFailedAuthRowsSampled(t *testing.T) {
	h := newHarness(t, "")
	const probes = 3 * track.AuthFailRowsPerSource
	for range probes {
		if resp, _ := h.post(chatBody, "Authorization", ""); resp.StatusCode != 401 {
			t.Fatalf("status %d, want 401", resp.StatusCode)
		}
	}
	ok, _ := h.post(chatBody)
	failed := 0
	for _, r := range h.rows() {
		if r.ErrorType == "authentication_error" {
			failed++
		}
	}
	if failed < track.AuthFailRowsPerSource || failed > 2*track.AuthFailRowsPerSource {
		t.Errorf("%d rows for %d key-less requests, want %d (a minute's sample) to %d", failed, probes, track.AuthFailRowsPerSource, 2*track.AuthFailRowsPerSource)
	}
	if r := rowByID(t, h.rows(), ok); r.Status != 200 {
		t.Errorf("authenticated request's row: %+v", r)
	}
}
