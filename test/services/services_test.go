package services

import "testing"

func TestPostgresAddr(t *testing.T) {
	for in, want := range map[string]string{
		DefaultPostgresURL: "127.0.0.1:5432",
		"postgres://u:p@db.internal:6543/x?sslmode=disable": "db.internal:6543",
		"postgresql://u@[::1]/x":                            "[::1]:5432",
		"postgres:///x?host=/tmp":                           "127.0.0.1:5432",
	} {
		if got, err := PostgresAddr(in); err != nil || got != want {
			t.Errorf("PostgresAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
