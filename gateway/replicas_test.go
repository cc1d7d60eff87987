package gateway

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/store"
)

// TestSecondGatewayOnOneSQLiteFile: a second gateway on the same embedded
// database refuses to start, naming the way out; once the first has
// stopped, a new one starts.
func TestSecondGatewayOnOneSQLiteFile(t *testing.T) {
	dir := t.TempDir()
	open := func() (*Server, error) {
		return New(context.Background(), Options{Config: config.Default(), DataDir: dir, MasterKey: testMaster})
	}
	first, err := open()
	if err != nil {
		t.Fatal(err)
	}
	if second, err := open(); !errors.Is(err, store.ErrShared) || !strings.Contains(err.Error(), "PostgreSQL") {
		if second != nil {
			second.Close()
		}
		t.Fatalf("a second gateway on %s: %v, want ErrShared naming PostgreSQL", dir, err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	third, err := open()
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	third.Close()
}
