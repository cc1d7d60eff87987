package config

import (
	"encoding/json"
	"log/slog"
)

// redactedText is what a non-empty Secret shows wherever it is printed,
// logged or marshalled.
const redactedText = "[redacted]"

// Secret is a credential read from a config file (a master key, a provider
// API key, a header value). Its String, GoString, LogValue, MarshalJSON and
// MarshalYAML methods all return "[redacted]" (or "" for an empty secret),
// so a Secret cannot leak through fmt, log/slog, encoding/json or YAML by
// accident. Reveal returns the real value and is the only way to get it.
type Secret string

// Reveal returns the secret's real value. Call it only where the value is
// sent to its intended recipient (an upstream header, a key comparison, the
// edge credential file).
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]", or "" when the secret is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redactedText
}

// GoString returns the same text as String, so %#v does not leak either.
func (s Secret) GoString() string { return s.String() }

// LogValue implements slog.LogValuer: a Secret logs as "[redacted]" (or "").
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON encodes the redacted text, never the value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalYAML encodes the redacted text, never the value. Code that must
// persist the real value (SaveEdge) marshals Reveal() explicitly.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// redact returns a Secret whose value is the redacted text itself, so even
// Reveal on a redacted copy cannot return the credential.
func (s Secret) redact() Secret { return Secret(s.String()) }
