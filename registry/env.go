package registry

import (
	"fmt"
	"os"
	"strconv"
)

// Environment variables read by RangeFromEnv.
const (
	EnvPortMin = "MEMEDGE_PORT_MIN"
	EnvPortMax = "MEMEDGE_PORT_MAX"
)

// RangeFromEnv reads the allocation range from MEMEDGE_PORT_MIN and
// MEMEDGE_PORT_MAX through getenv (os.Getenv when nil). An unset or empty
// variable takes its default (DefaultPortMin, DefaultPortMax). A set value
// must be a decimal integer with no surrounding space, and the result must
// satisfy 1024 <= min <= max <= 65535; otherwise the error names the
// offending variable and its value.
func RangeFromEnv(getenv func(string) string) (min, max int, err error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if min, err = envPort(getenv, EnvPortMin, DefaultPortMin); err != nil {
		return 0, 0, err
	}
	if max, err = envPort(getenv, EnvPortMax, DefaultPortMax); err != nil {
		return 0, 0, err
	}
	if min > max {
		return 0, 0, fmt.Errorf("registry: %s=%d is greater than %s=%d", EnvPortMin, min, EnvPortMax, max)
	}
	return min, max, nil
}

// envPort parses one port variable, or returns def when it is unset.
func envPort(getenv func(string) string, name string, def int) (int, error) {
	s := getenv(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("registry: %s=%q is not a number", name, s)
	}
	if n < 1024 || n > 65535 {
		return 0, fmt.Errorf("registry: %s=%d is outside 1024..65535", name, n)
	}
	return n, nil
}
