package provider

import (
	"context"
	"sync"
	"testing"
	"time"
)

// memShare is a HealthShare in a map; cooled receives each announced id.
type memShare struct {
	mu     sync.Mutex
	until  map[string]time.Time
	cooled chan string
}

func (m *memShare) Cool(_ context.Context, id string, until time.Time) error {
	m.mu.Lock()
	m.until[id] = until
	m.mu.Unlock()
	m.cooled <- id
	return nil
}

func (m *memShare) Clear(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.until, id)
	return nil
}

func (m *memShare) Cooling(context.Context) (map[string]time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]time.Time{}
	for k, v := range m.until {
		out[k] = v
	}
	return out, nil
}

// TestSharedCooldown: a deployment cooled down by one replica's router is
// skipped by another's after its next Sync, without failing there first.
func TestSharedCooldown(t *testing.T) {
	share := &memShare{until: map[string]time.Time{}, cooled: make(chan string, 4)}
	opts := RouterOptions{Retries: 1, AllowedFails: 2, Cooldown: time.Minute, Share: share}
	a, b := newRig(t, opts, "m", 2), newRig(t, opts, "m", 2)
	bad := func(g *rig) attemptFunc {
		return g.by(func(d *Deployment) answer {
			if d.UpstreamModel == "m/0" {
				return answer{status: 500}
			}
			return answer{status: 200}
		})
	}
	for i := 0; a.tries("m/0") < 2; i++ {
		if i == 100 {
			t.Fatal("m/0 never tried twice on replica a")
		}
		a.do("m", bad(a))
	}
	if id := <-share.cooled; id != "m#0" {
		t.Fatalf("announced %q, want m#0", id)
	}
	if b.cooling("m/0") {
		t.Fatal("b cooling before its Sync")
	}
	if err := b.r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !b.cooling("m/0") || b.cooling("m/1") {
		t.Fatal("b did not take a's cooldown of m/0")
	}
	for range 20 {
		b.do("m", bad(b))
	}
	if n := b.tries("m/0"); n != 0 {
		t.Errorf("b tried the deployment a cooled down %d times", n)
	}
}
