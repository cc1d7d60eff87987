package telemetry

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Headers are the exporter's request headers. Their values are
// credentials: String, GoString, LogValue and MarshalJSON show only the
// names.
type Headers map[string]string

const redacted = "[redacted]"

// String lists the header names with redacted values.
func (h Headers) String() string {
	if len(h) == 0 {
		return "map[]"
	}
	var b strings.Builder
	b.WriteString("map[")
	for i, k := range slices.Sorted(maps.Keys(h)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k + ":" + redacted)
	}
	b.WriteByte(']')
	return b.String()
}

// GoString is String, so %#v does not leak either.
func (h Headers) GoString() string { return h.String() }

// LogValue implements slog.LogValuer: the header names, values redacted.
func (h Headers) LogValue() slog.Value { return slog.StringValue(h.String()) }

// MarshalJSON encodes the names with redacted values.
func (h Headers) MarshalJSON() ([]byte, error) {
	m := make(map[string]string, len(h))
	for k := range h {
		m[k] = redacted
	}
	return json.Marshal(m)
}

// ParseHeaders reads headers in the OTEL_EXPORTER_OTLP_HEADERS form,
// "name=value,name2=value2" with percent-encoded values, or as a JSON
// object of strings (LiteLLM's OTEL_HEADERS). Errors never quote the text.
func ParseHeaders(s string) (Headers, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if strings.HasPrefix(s, "{") {
		var m map[string]string
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, errors.New("headers: not a JSON object of strings")
		}
		return Headers(m), nil
	}
	h := Headers{}
	for i, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("headers: entry %d is not name=value", i+1)
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("headers: entry %d (%s): bad percent-encoding", i+1, k)
		}
		h[k] = dv
	}
	return h, nil
}

// WithEnv returns o with the OpenTelemetry environment variables applied
// over it, as the deployment's last word (defaults, then the config file,
// then the environment). lookup is os.LookupEnv in production. Read, most
// specific first:
//
//   - OTEL_SDK_DISABLED=true turns tracing off.
//   - OTEL_TRACES_EXPORTER: otlp, console or none; with otlp,
//     OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL
//     picks grpc or http/protobuf (the default). LiteLLM's OTEL_EXPORTER
//     (otlp_http, otlp_grpc, console, none) is read when it is unset.
//   - OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the traces URL),
//     OTEL_EXPORTER_OTLP_ENDPOINT (a base URL: /v1/traces is appended for
//     HTTP), or LiteLLM's OTEL_ENDPOINT. Setting one of them alone turns
//     OTLP export on.
//   - OTEL_EXPORTER_OTLP_TRACES_HEADERS, OTEL_EXPORTER_OTLP_HEADERS or
//     LiteLLM's OTEL_HEADERS (see ParseHeaders).
//   - OTEL_SERVICE_NAME.
//
// The exporters read the remaining OTEL_EXPORTER_OTLP_* variables
// (certificates, timeout, compression) themselves, the SDK
// OTEL_TRACES_SAMPLER and OTEL_BSP_*, and the resource
// OTEL_RESOURCE_ATTRIBUTES.
func (o Options) WithEnv(lookup func(string) (string, bool)) (Options, error) {
	get := func(names ...string) (string, string) {
		for _, n := range names {
			if v, ok := lookup(n); ok && strings.TrimSpace(v) != "" {
				return strings.TrimSpace(v), n
			}
		}
		return "", ""
	}
	if v, name := get("OTEL_SDK_DISABLED"); v != "" {
		off, err := strconv.ParseBool(v)
		if err != nil {
			return o, fmt.Errorf("%s: want true or false, got %q", name, v)
		}
		if off {
			o.Exporter = ExporterNone
			return o, nil
		}
	}
	proto, protoName := get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
	otlp := func() (string, error) {
		switch proto {
		case "", "http/protobuf":
			return ExporterOTLPHTTP, nil
		case "grpc":
			return ExporterOTLPGRPC, nil
		}
		return "", fmt.Errorf("%s: %q is not supported (use grpc or http/protobuf)", protoName, proto)
	}
	var err error
	envExporter := true // the environment names the exporter
	if v, name := get("OTEL_TRACES_EXPORTER"); v != "" {
		switch v {
		case "otlp":
			o.Exporter, err = otlp()
		case "console", "none":
			o.Exporter = v
		default:
			err = fmt.Errorf("%s: %q is not supported (use otlp, console or none; one exporter only)", name, v)
		}
	} else if v, name := get("OTEL_EXPORTER"); v != "" {
		switch v {
		case "otlp":
			o.Exporter, err = otlp()
		case ExporterOTLPHTTP, ExporterOTLPGRPC, ExporterConsole, ExporterNone:
			o.Exporter = v
		default:
			err = fmt.Errorf("%s: %q is not supported (use %s)", name, v, strings.Join(Exporters(), ", "))
		}
	} else {
		envExporter = false
		if proto != "" && (o.Exporter == ExporterOTLPHTTP || o.Exporter == ExporterOTLPGRPC) {
			o.Exporter, err = otlp()
		}
	}
	if err != nil {
		return o, err
	}

	ep, epName := get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_ENDPOINT")
	if ep != "" {
		if (o.Exporter == "" || o.Exporter == ExporterNone) && !envExporter { // an explicit none stays none
			if o.Exporter, err = otlp(); err != nil {
				return o, err
			}
		}
		if epName == "OTEL_EXPORTER_OTLP_ENDPOINT" && o.Exporter == ExporterOTLPHTTP {
			ep = strings.TrimSuffix(ep, "/") + "/v1/traces"
		}
		o.Endpoint = ep
	}
	if v, name := get("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_HEADERS"); v != "" {
		h, err := ParseHeaders(v)
		if err != nil {
			return o, fmt.Errorf("%s: %w", name, err)
		}
		o.Headers = h
	}
	if v, _ := get("OTEL_SERVICE_NAME"); v != "" {
		o.ServiceName = v
	}
	return o, nil
}
