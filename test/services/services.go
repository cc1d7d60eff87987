// Package services gives tests the machine's PostgreSQL and Redis. A test
// that needs one calls RequirePostgres or RequireRedis: when the service is
// absent it skips with a clear message, unless MEMPROXY_REQUIRE_SERVICES is
// set (as in CI), where absence fails the test instead.
package services

import (
	"net"
	"net/url"
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
// (MEMPROXY_TEST_POSTGRES_URL, default DefaultPostgresURL). Reachability is
// checked at the host and port of that same URL, so the gate and the
// connection can never disagree.
func RequirePostgres(t testing.TB) string {
	t.Helper()
	u := env("MEMPROXY_TEST_POSTGRES_URL", DefaultPostgresURL)
	addr, err := PostgresAddr(u)
	if err != nil {
		t.Fatalf("MEMPROXY_TEST_POSTGRES_URL: %v", err)
	}
	require(t, "PostgreSQL", addr, "MEMPROXY_TEST_POSTGRES_URL")
	return u
}

// PostgresAddr returns the host:port a PostgreSQL URL connects to (port
// 5432 when the URL names none, 127.0.0.1 when it names no host).
func PostgresAddr(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "5432"
	}
	return net.JoinHostPort(host, port), nil
}

// RequireRedis returns the address of a reachable Redis
// (MEMPROXY_TEST_REDIS_ADDR, default DefaultRedisAddr).
func RequireRedis(t testing.TB) string {
	t.Helper()
	addr := env("MEMPROXY_TEST_REDIS_ADDR", DefaultRedisAddr)
	require(t, "Redis", addr, "MEMPROXY_TEST_REDIS_ADDR")
	return addr
}

// require skips (or, with MEMPROXY_REQUIRE_SERVICES, fails) when nothing
// answers at addr. The skip message starts "NAME: nothing on ADDR": make
// test's summary groups skipped tests by it.
func require(t testing.TB, name, addr, envVar string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
		return
	}
	if os.Getenv("MEMPROXY_REQUIRE_SERVICES") != "" {
		t.Fatalf("%s at %s is required (MEMPROXY_REQUIRE_SERVICES is set) but not reachable: %v", name, addr, err)
	}
	t.Skipf("%s: nothing on %s — set %s, or MEMPROXY_REQUIRE_SERVICES=1 to make this a failure (%v)", name, addr, envVar, err)
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
