package usage

import (
	"math"
	"strconv"
	"time"

	"github.com/memproxy/memproxy/internal/jsonstr"
)

// Journal records are written by hand: encoding/json reflected over the
// row's 35 fields on every request (a few percent of the gateway's CPU
// under load). The bytes are exactly json.Marshal's for the same value
// (TestAppendMatchesMarshal, FuzzAppendFloat and internal/jsonstr's fuzzer
// hold them to it), so
// journals written by either read back alike.

// appendEntry appends json.Marshal(entry{Phase: phase, Record: *r}).
// r's numbers are finite (Finish made them so).
func appendEntry(b []byte, phase string, r *Record) []byte {
	b = append(b, '{')
	if phase != "" {
		b = append(b, `"phase":`...)
		b = jsonstr.Append(b, phase, true)
		b = append(b, ',')
	}
	b = append(b, `"time":`...)
	b = appendTime(b, r.Time)
	b = appendStringField(b, "request_id", r.RequestID, false)
	b = appendStringField(b, "user", r.User, false)
	b = appendStringField(b, "project", r.Project, false)
	b = appendStringField(b, "client", r.Client, false)
	b = appendStringField(b, "hostname", r.Hostname, true)
	b = appendStringField(b, "edge_id", r.EdgeID, true)
	b = appendStringField(b, "ingress", r.Ingress, false)
	b = appendStringField(b, "method", r.Method, false)
	b = appendStringField(b, "path", r.Path, false)
	b = appendStringField(b, "model", r.Model, false)
	b = appendStringField(b, "upstream_model", r.UpstreamModel, true)
	b = appendStringField(b, "provider", r.Provider, true)
	b = append(b, `,"stream":`...)
	b = strconv.AppendBool(b, r.Stream)
	b = appendIntField(b, "status", int64(r.Status))
	b = appendStringField(b, "error_type", r.ErrorType, true)
	b = appendIntField(b, "prompt_tokens", r.PromptTokens)
	b = appendIntField(b, "completion_tokens", r.CompletionTokens)
	b = appendIntField(b, "cached_tokens", r.CachedTokens)
	b = appendIntField(b, "cache_write_tokens", r.CacheWriteTokens)
	b = appendIntField(b, "reasoning_tokens", r.ReasoningTokens)
	b = appendFloatField(b, "latency_ms", r.LatencyMS)
	b = appendFloatField(b, "ttfb_ms", r.TTFBMS)
	if r.Cost == nil {
		b = append(b, `,"cost":null`...)
	} else {
		b = appendFloatField(b, "cost", *r.Cost)
	}
	if r.Unpriced {
		b = append(b, `,"unpriced":true`...)
	}
	b = appendStringField(b, "session_id", r.SessionID, true)
	b = appendStringField(b, "memory_status", r.MemoryStatus, true)
	b = appendIntField(b, "memories", int64(r.MemoryCount))
	b = appendStringField(b, "memory_ids", r.MemoryIDs, true)
	b = appendFloatField(b, "memory_ms", r.MemoryMS)
	b = appendIntField(b, "tool_rounds", int64(r.ToolRounds))
	b = appendStringField(b, "tools_called", r.ToolsCalled, true)
	b = appendStringField(b, "purpose", r.Purpose, true)
	b = appendStringField(b, "parent_request_id", r.ParentRequestID, true)
	if r.CacheHit {
		b = append(b, `,"cache_hit":true`...)
	}
	return append(b, '}')
}

// appendBeginEntry appends json.Marshal(e).
func appendBeginEntry(b []byte, e *beginEntry) []byte {
	b = append(b, `{"phase":`...)
	b = jsonstr.Append(b, e.Phase, true)
	b = append(b, `,"time":`...)
	b = appendTime(b, e.Time)
	b = appendStringField(b, "request_id", e.RequestID, false)
	b = appendStringField(b, "user", e.User, true)
	b = appendStringField(b, "project", e.Project, true)
	b = appendStringField(b, "client", e.Client, true)
	b = appendStringField(b, "hostname", e.Hostname, true)
	b = appendStringField(b, "edge_id", e.EdgeID, true)
	b = appendStringField(b, "ingress", e.Ingress, true)
	b = appendStringField(b, "method", e.Method, false)
	b = appendStringField(b, "path", e.Path, false)
	b = appendStringField(b, "model", e.Model, true)
	return append(b, '}')
}

// appendStringField appends `,"name":"value"` (nothing for an empty value
// with omitEmpty). name needs no escaping.
func appendStringField(b []byte, name, value string, omitEmpty bool) []byte {
	if omitEmpty && value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return jsonstr.Append(b, value, true)
}

func appendIntField(b []byte, name string, v int64) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, v, 10)
}

// appendFloatField appends a finite float64 as encoding/json does:
// shortest representation, exponent form only below 1e-6 or from 1e21,
// with a one-digit negative exponent written without its leading zero.
func appendFloatField(b []byte, name string, f float64) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2] = b[n-1] // e-07 → e-7
		b = b[:n-1]
	}
	return b
}

// appendTime appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds). Records carry the time of a request, well within the
// years 0–9999 that format allows.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
