package openai

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

func ptr(s string) *string { return &s }

func TestParseError(t *testing.T) {
	tests := []struct {
		name string
		body string
		want ErrorDetail
		ok   bool
	}{
		{
			name: "OpenAI envelope",
			body: `{"error":{"message":"Incorrect API key provided: sk-abc***xyz.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			want: ErrorDetail{Message: "Incorrect API key provided: sk-abc***xyz.", Type: "invalid_request_error", Code: ptr("invalid_api_key")},
			ok:   true,
		},
		{
			name: "OpenAI envelope with param and null code",
			body: `{"error":{"message":"Invalid value for 'temperature'.","type":"invalid_request_error","param":"temperature","code":null}}`,
			want: ErrorDetail{Message: "Invalid value for 'temperature'.", Type: "invalid_request_error", Param: ptr("temperature")},
			ok:   true,
		},
		{
			name: "error as a string (Ollama)",
			body: `{"error":"model \"llama3\" not found, try pulling it first"}`,
			want: ErrorDetail{Message: `model "llama3" not found, try pulling it first`},
			ok:   true,
		},
		{
			name: "top-level message",
			body: `{"object":"error","message":"The model does not exist.","type":"NotFoundError","code":404}`,
			want: ErrorDetail{Message: "The model does not exist."},
			ok:   true,
		},
		{
			name: "detail string (FastAPI)",
			body: `{"detail":"Not Found"}`,
			want: ErrorDetail{Message: "Not Found"},
			ok:   true,
		},
		{
			name: "envelope without message falls back to message",
			body: `{"error":{"type":"server_error","message":""},"message":"overloaded"}`,
			want: ErrorDetail{Message: "overloaded"},
			ok:   true,
		},
		{
			name: "empty error string falls back to detail",
			body: `{"error":"","detail":"bad gateway"}`,
			want: ErrorDetail{Message: "bad gateway"},
			ok:   true,
		},
		{name: "detail array (FastAPI validation)", body: `{"detail":[{"loc":["body","model"],"msg":"field required"}]}`},
		{name: "envelope without any message", body: `{"error":{"type":"server_error","code":"x"}}`},
		{name: "error null", body: `{"error":null}`},
		{name: "empty object", body: `{}`},
		{name: "JSON null", body: `null`},
		{name: "JSON array", body: `[{"error":"x"}]`},
		{name: "HTML", body: `<html><body><h1>502 Bad Gateway</h1></body></html>`},
		{name: "plain text", body: `upstream connect error or disconnect/reset before headers`},
		{name: "empty", body: ``},
		{name: "truncated JSON", body: `{"error":{"message":"cut`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseError([]byte(tt.body))
			if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseError = %s, %v; want %s, %v", show(got), ok, show(tt.want), tt.ok)
			}
		})
	}
}

func show(d ErrorDetail) string { b, _ := json.Marshal(d); return string(b) }

func TestMarshalStreamError(t *testing.T) {
	tests := []struct {
		typ, code, msg string
		want           string
	}{
		{"api_error", "stream_cut", "upstream closed the stream",
			`data: {"error":{"message":"upstream closed the stream","type":"api_error","param":null,"code":"stream_cut"}}` + "\n\n"},
		{"server_error", "", "boom",
			`data: {"error":{"message":"boom","type":"server_error","param":null,"code":null}}` + "\n\n"},
		// A newline in the message stays escaped: the event is one line.
		{"api_error", "x", "line one\nline two\r\n\n",
			`data: {"error":{"message":"line one\nline two\r\n\n","type":"api_error","param":null,"code":"x"}}` + "\n\n"},
	}
	for _, tt := range tests {
		got := MarshalStreamError(tt.typ, tt.code, tt.msg)
		if string(got) != tt.want {
			t.Errorf("MarshalStreamError(%q, %q, %q) =\n%q\nwant\n%q", tt.typ, tt.code, tt.msg, got, tt.want)
		}
		// And it reads back through ParseError.
		d, ok := ParseError(bytes.TrimSuffix(bytes.TrimPrefix(got, []byte("data: ")), []byte("\n\n")))
		if !ok || d.Message != tt.msg || d.Type != tt.typ {
			t.Errorf("ParseError(MarshalStreamError) = %s, %v", show(d), ok)
		}
	}
}

func TestWriteError(t *testing.T) {
	for _, tt := range []struct {
		retryAfter int
		wantRetry  string
	}{{0, ""}, {-1, ""}, {30, "30"}} {
		rec := httptest.NewRecorder()
		WriteError(rec, http.StatusTooManyRequests, NewError("rate_limit_error", "rate_limited", "slow down"), tt.retryAfter)
		want := `{"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":"rate_limited"}}`
		if rec.Code != http.StatusTooManyRequests || rec.Body.String() != want {
			t.Errorf("WriteError wrote %d %s, want 429 %s", rec.Code, rec.Body, want)
		}
		h := rec.Result().Header
		if h.Get("Content-Type") != "application/json" || h.Get("Content-Length") != "94" || h.Get("Retry-After") != tt.wantRetry {
			t.Errorf("retryAfter %d: headers %v", tt.retryAfter, h)
		}
	}
}
