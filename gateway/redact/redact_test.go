package redact

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	cases := map[string]string{
		"my key is sk-proj-abcdefghijklmnopqrstuvwxyz012345 ok":       "my key is [REDACTED] ok",
		"anthropic sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv-_xyz":          "anthropic [REDACTED]",
		"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def":          "Authorization: Bearer [REDACTED]",
		"db at postgres://app:hunter2secret@db.internal:5432/prod":    "db at postgres://app:[REDACTED]@db.internal:5432/prod",
		"aws AKIAIOSFODNN7EXAMPLE here":                               "aws [REDACTED] here",
		"token ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ":              "token [REDACTED]",
		`config: api_key = "s3cr3tvalue99"`:                           `config: api_key = "[REDACTED]"`,
		"PASSWORD=correcthorsebattery":                                "PASSWORD=[REDACTED]",
		"google AIzaSyA1234567890abcdefghijklmnopqrstuv":              "google [REDACTED]",
		"we use pnpm and deploy on tuesdays":                          "we use pnpm and deploy on tuesdays",
		"the sk-short word and a password field in the form are fine": "the sk-short word and a password field in the form are fine",
	}
	for in, want := range cases {
		if got := String(in); got != want {
			t.Errorf("String(%q)\n = %q\nwant %q", in, got, want)
		}
	}
	pem := "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----\nend"
	if got := String(pem); strings.Contains(got, "MIIEow") || !strings.Contains(got, "end") {
		t.Errorf("private key: %q", got)
	}
}
