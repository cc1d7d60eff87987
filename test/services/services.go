// Package services gives tests the machine's PostgreSQL and Redis. A test
// that needs one calls RequirePostgres or RequireRedis: when the service is
// absent it skips with a clear message, unless MEMPROXY_REQUIRE_SERVICES is
// set (as in CI), where absence fails the test instead.
package services

import (
	"net"
	"os"
	"testing"
	"time"
)

// Defaults of the services on development machines and CI.
const (
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultRedisAddr   = "127.0.0.1:6379"
)

// RequirePostgres returns the URL of a reachable PostgreSQL
// (MEMPROXY_TEST_POSTGRES_URL, default DefaultPostgresURL).
func RequirePostgres(t testing.TB) string {
	t.Helper()
	url := env("MEMPROXY_TEST_POSTGRES_URL", DefaultPostgresURL)
	require(t, "PostgreSQL", env("MEMPROXY_TEST_POSTGRES_ADDR", "127.0.0.1:5432"))
	return url
}

// RequireRedis returns the address of a reachable Redis
// (MEMPROXY_TEST_REDIS_ADDR, default DefaultRedisAddr).
func RequireRedis(t testing.TB) string {
	t.Helper()
	addr := env("MEMPROXY_TEST_REDIS_ADDR", DefaultRedisAddr)
	require(t, "Redis", addr)
	return addr
}

func require(t testing.TB, name, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
		return
	}
	if os.Getenv("MEMPROXY_REQUIRE_SERVICES") != "" {
		t.Fatalf("%s at %s is required (MEMPROXY_REQUIRE_SERVICES is set) but not reachable: %v", name, addr, err)
	}
	t.Skipf("%s at %s is not reachable (%v); skipping. Set MEMPROXY_REQUIRE_SERVICES=1 to make this a failure.", name, addr, err)
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
