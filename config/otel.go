package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// OpenTelemetry exporters litellm_settings.otel_exporter accepts.
const (
	OTelExporterHTTP    = "otlp_http" // default when otel: true
	OTelExporterGRPC    = "otlp_grpc"
	OTelExporterConsole = "console"
	OTelExporterNone    = "none"
)

var otelExporters = []string{OTelExporterHTTP, OTelExporterGRPC, OTelExporterConsole, OTelExporterNone}

// Telemetry is litellm_settings' OpenTelemetry keys: where the gateway
// sends its traces. The process's OTEL_* environment is applied over it
// by the command (see internal/telemetry).
type Telemetry struct {
	// Enabled is litellm_settings.otel.
	Enabled bool
	// Exporter is the effective exporter: otel_exporter (default
	// otlp_http) when Enabled, else "none".
	Exporter string
	// Endpoint is otel_endpoint, an http:// or https:// URL; "" for the
	// exporter's default.
	Endpoint string
	// ServiceName is otel_service_name; "" lets the command pick.
	ServiceName string
	// Headers are otel_headers: the collector's credentials. In the file
	// either a mapping of header names to values or a string
	// "name=value,name2=value2" (OTEL_EXPORTER_OTLP_HEADERS' form, values
	// percent-encoded) or a JSON object; nil when none.
	Headers map[string]Secret
}

// HeaderValues returns the headers with their real values, for the
// exporter only.
func (t Telemetry) HeaderValues() map[string]string {
	if len(t.Headers) == 0 {
		return nil
	}
	m := make(map[string]string, len(t.Headers))
	for k, v := range t.Headers {
		m[k] = v.Reveal()
	}
	return m
}

func (t Telemetry) redacted() Telemetry {
	t.Endpoint = redactURL(t.Endpoint)
	if t.Headers != nil {
		h := make(map[string]Secret, len(t.Headers))
		for k, v := range t.Headers {
			h[k] = v.redact()
		}
		t.Headers = h
	}
	return t
}

// OTelKeys holds litellm_settings' otel keys as the file has them.
type OTelKeys struct {
	OTel            bool   `yaml:"otel"`
	OTelExporter    string `yaml:"otel_exporter"`
	OTelEndpoint    string `yaml:"otel_endpoint"`
	OTelServiceName string `yaml:"otel_service_name"`
	// OTelHeaders is a string or a mapping (see Telemetry.Headers).
	OTelHeaders any `yaml:"otel_headers"`
}

// resolveTelemetry checks the otel keys of f and returns them resolved.
// Messages never quote a header value or the endpoint, which may hold
// credentials.
func (d *decoder) resolveTelemetry(f *gatewayFile) Telemetry {
	const p = "litellm_settings."
	k := f.LiteLLM.OTelKeys
	t := Telemetry{Enabled: k.OTel, Exporter: k.OTelExporter, Endpoint: k.OTelEndpoint, ServiceName: strings.TrimSpace(k.OTelServiceName)}
	switch t.Exporter {
	case "":
		t.Exporter = OTelExporterHTTP
	case OTelExporterHTTP, OTelExporterGRPC, OTelExporterConsole, OTelExporterNone:
	default:
		d.fail(p+"otel_exporter", "unsupported exporter %q (supported: %s)", t.Exporter, strings.Join(otelExporters, ", "))
	}
	if !t.Enabled {
		t.Exporter = OTelExporterNone
	}
	if ep := t.Endpoint; ep != "" {
		if u, err := url.Parse(ep); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.fail(p+"otel_endpoint", "must be an http:// or https:// URL with a host, e.g. http://localhost:4318/v1/traces")
		}
	}
	t.Headers = d.otelHeaders(p+"otel_headers", k.OTelHeaders)
	return t
}

// otelHeaders decodes otel_headers: nothing, a string or a mapping of
// scalars.
func (d *decoder) otelHeaders(key string, v any) map[string]Secret {
	raw := map[string]string{}
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		s := strings.TrimSpace(v)
		switch {
		case s == "":
			return nil
		case strings.HasPrefix(s, "{"):
			if err := json.Unmarshal([]byte(s), &raw); err != nil {
				d.fail(key, "not a JSON object of strings")
				return nil
			}
		default:
			for i, part := range strings.Split(s, ",") {
				if strings.TrimSpace(part) == "" {
					continue
				}
				name, val, ok := strings.Cut(part, "=")
				dv, err := url.PathUnescape(strings.TrimSpace(val))
				if !ok || err != nil {
					d.fail(key, "entry %d: expected name=value (value percent-encoded), separated by commas", i+1)
					return nil
				}
				raw[strings.TrimSpace(name)] = dv
			}
		}
	case map[string]any:
		for name, val := range v {
			switch val.(type) {
			case map[string]any, []any, nil:
				d.fail(key+"."+name, "expected a header value (a string)")
			default:
				raw[name] = fmt.Sprint(val)
			}
		}
	default:
		d.fail(key, "expected a mapping of header names to values, or a string name=value,…")
		return nil
	}
	out := make(map[string]Secret, len(raw))
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		switch {
		case !validHeaderName(name):
			d.fail(key, "invalid header name %q", name)
		default:
			if err := validHeaderValue(raw[name]); err != nil {
				d.fail(key+"."+name, "header value %v", err)
			}
		}
		out[name] = Secret(raw[name])
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
