package registry

import (
	"strings"
	"testing"
)

func TestRangeFromEnv(t *testing.T) {
	cases := []struct {
		name     string
		env      map[string]string
		min, max int
		errVar   string // the variable the error must name; "" for success
	}{
		{"unset", nil, 8895, 9999, ""},
		{"empty", map[string]string{EnvPortMin: "", EnvPortMax: ""}, 8895, 9999, ""},
		{"both", map[string]string{EnvPortMin: "20000", EnvPortMax: "20019"}, 20000, 20019, ""},
		{"single port", map[string]string{EnvPortMin: "9000", EnvPortMax: "9000"}, 9000, 9000, ""},
		{"bounds", map[string]string{EnvPortMin: "1024", EnvPortMax: "65535"}, 1024, 65535, ""},
		{"min only", map[string]string{EnvPortMin: "9000"}, 9000, 9999, ""},
		{"max only", map[string]string{EnvPortMax: "9100"}, 8895, 9100, ""},
		{"min not a number", map[string]string{EnvPortMin: "abc"}, 0, 0, EnvPortMin},
		{"max not a number", map[string]string{EnvPortMax: "9k"}, 0, 0, EnvPortMax},
		{"min with space", map[string]string{EnvPortMin: " 9000"}, 0, 0, EnvPortMin},
		{"min privileged", map[string]string{EnvPortMin: "1023"}, 0, 0, EnvPortMin},
		{"max too high", map[string]string{EnvPortMax: "65536"}, 0, 0, EnvPortMax},
		{"max negative", map[string]string{EnvPortMax: "-1"}, 0, 0, EnvPortMax},
		{"min above default max", map[string]string{EnvPortMin: "10000"}, 0, 0, EnvPortMin},
		{"min above max", map[string]string{EnvPortMin: "9500", EnvPortMax: "9400"}, 0, 0, EnvPortMax},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			min, max, err := RangeFromEnv(func(k string) string { return c.env[k] })
			if c.errVar == "" {
				if err != nil || min != c.min || max != c.max {
					t.Fatalf("RangeFromEnv = %d, %d, %v; want %d, %d, nil", min, max, err, c.min, c.max)
				}
				return
			}
			if err == nil {
				t.Fatalf("RangeFromEnv = %d, %d, nil; want an error naming %s", min, max, c.errVar)
			}
			if !strings.Contains(err.Error(), c.errVar+"=") {
				t.Errorf("error %q does not name %s", err, c.errVar)
			}
			if min != 0 || max != 0 {
				t.Errorf("RangeFromEnv returned %d, %d with an error, want 0, 0", min, max)
			}
		})
	}
}
