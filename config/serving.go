package config

import "time"

// Serving defaults (general_settings keys of memproxy's own).
const (
	// DefaultRequestBodyTimeout bounds the time a client may take to send a
	// request body (request_body_timeout): a 32 MiB body still arrives at
	// about 2 Mbit/s, while a client sending one byte now and then is cut.
	DefaultRequestBodyTimeout = 120 * time.Second
	// DefaultMaxConnectionsPerIP caps the connections one source address
	// holds on each gateway listener (max_connections_per_ip). Behind a
	// load balancer every connection comes from its address: raise the cap
	// or set 0 (no cap) there, and cap at the balancer.
	DefaultMaxConnectionsPerIP = 256
	// DefaultDrainTimeout is how long running requests may finish after
	// SIGTERM (drain_timeout): the providers' SDKs wait 10 minutes for an
	// answer by default, so a coding agent's long stream fits.
	DefaultDrainTimeout = 10 * time.Minute
)

func defaultGeneral() GeneralSettings {
	return GeneralSettings{
		MaxRequestSizeMB:    DefaultMaxRequestSizeMB,
		RequestBodyTimeout:  DefaultRequestBodyTimeout.Seconds(),
		MaxConnectionsPerIP: DefaultMaxConnectionsPerIP,
		DrainTimeout:        DefaultDrainTimeout.Seconds(),
	}
}

// RequestBodyTimeoutDuration returns request_body_timeout (the default for
// a struct not built by Parse or Default).
func (s GeneralSettings) RequestBodyTimeoutDuration() time.Duration {
	if s.RequestBodyTimeout <= 0 {
		return DefaultRequestBodyTimeout
	}
	return seconds(s.RequestBodyTimeout)
}

// DrainTimeoutDuration returns drain_timeout (the default for a struct not
// built by Parse or Default).
func (s GeneralSettings) DrainTimeoutDuration() time.Duration {
	if s.DrainTimeout <= 0 {
		return DefaultDrainTimeout
	}
	return seconds(s.DrainTimeout)
}

const maxServingSeconds = 24 * 3600

func (s *GeneralSettings) validateServing(fail func(key, format string, args ...any)) {
	if v := s.RequestBodyTimeout; v <= 0 || v > maxServingSeconds {
		fail("general_settings.request_body_timeout", "must be a number of seconds more than 0 and at most %d, got %v", maxServingSeconds, v)
	}
	if v := s.DrainTimeout; v <= 0 || v > maxServingSeconds {
		fail("general_settings.drain_timeout", "must be a number of seconds more than 0 and at most %d, got %v", maxServingSeconds, v)
	}
	if s.MaxConnectionsPerIP < 0 {
		fail("general_settings.max_connections_per_ip", "must be 0 (no cap) or more, got %d", s.MaxConnectionsPerIP)
	}
}
