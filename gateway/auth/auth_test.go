package auth

import (
	"encoding/base64"
	"errors"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestKeysCheck(t *testing.T) {
	const master = "sk-master-0123456789"
	tests := []struct {
		name    string
		master  string
		key     string
		want    Principal
		wantErr error
	}{
		{"master accepted", master, master, Principal{Admin: true}, nil},
		{"wrong key", master, "sk-master-0123456788", Principal{}, ErrBadKey},
		{"prefix of master", master, master[:len(master)-1], Principal{}, ErrBadKey},
		{"master plus a byte", master, master + "x", Principal{}, ErrBadKey},
		{"case differs", master, strings.ToUpper(master), Principal{}, ErrBadKey},
		{"empty key", master, "", Principal{}, ErrNoKey},
		{"no master configured, empty key", "", "", Principal{}, ErrNoKey},
		{"no master configured, any key", "", "sk-anything", Principal{}, ErrBadKey},
		{"no master configured, NUL key", "", "\x00", Principal{}, ErrBadKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewKeys(tt.master).Check(t.Context(), tt.key)
			if !reflect.DeepEqual(got, tt.want) || err != tt.wantErr {
				t.Errorf("Check(%q) = %+v, %v; want %+v, %v", tt.key, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestKeyFromHeader(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
		want string
	}{
		{"bearer", http.Header{"Authorization": {"Bearer sk-1"}}, "sk-1"},
		{"bearer lower case", http.Header{"Authorization": {"bearer sk-1"}}, "sk-1"},
		{"bearer upper case", http.Header{"Authorization": {"BEARER sk-1"}}, "sk-1"},
		{"bearer with padding", http.Header{"Authorization": {"Bearer   sk-1  "}}, "sk-1"},
		{"bearer without token", http.Header{"Authorization": {"Bearer "}}, ""},
		{"bearer without space", http.Header{"Authorization": {"Bearersk-1"}}, ""},
		{"basic is not a key", http.Header{"Authorization": {"Basic c2stMTo="}}, ""},
		{"bare token is not a key", http.Header{"Authorization": {"sk-1"}}, ""},
		{"short authorization", http.Header{"Authorization": {"Bear"}}, ""},
		{"x-api-key fallback", http.Header{"X-Api-Key": {"sk-ant-1"}}, "sk-ant-1"},
		{"x-api-key trimmed", http.Header{"X-Api-Key": {" sk-ant-1 "}}, "sk-ant-1"},
		{"bearer wins over x-api-key", http.Header{"Authorization": {"Bearer sk-1"}, "X-Api-Key": {"sk-2"}}, "sk-1"},
		// A non-Bearer Authorization is not silently replaced by x-api-key.
		{"non-bearer authorization hides x-api-key", http.Header{"Authorization": {"Basic x"}, "X-Api-Key": {"sk-2"}}, ""},
		{"first authorization value", http.Header{"Authorization": {"Bearer a", "Bearer b"}}, "a"},
		{"none", http.Header{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KeyFromHeader(tt.h); got != tt.want {
				t.Errorf("KeyFromHeader(%v) = %q, want %q", tt.h, got, tt.want)
			}
		})
	}
}

func TestNewKey(t *testing.T) {
	for _, prefix := range []string{"", "sk-mp-", "sk-memproxy-admin-"} {
		seen := map[string]bool{}
		for range 1000 {
			k := NewKey(prefix)
			rest, ok := strings.CutPrefix(k, prefix)
			if !ok {
				t.Fatalf("NewKey(%q) = %q: no prefix", prefix, k)
			}
			if len(rest) != 43 { // 32 bytes in unpadded base64
				t.Fatalf("NewKey(%q) = %q: %d characters after the prefix, want 43", prefix, k, len(rest))
			}
			b, err := base64.RawURLEncoding.DecodeString(rest)
			if err != nil || len(b) != 32 {
				t.Fatalf("NewKey(%q) = %q: not 32 bytes of URL-safe base64: %v", prefix, k, err)
			}
			if seen[k] {
				t.Fatalf("NewKey(%q) repeated %q", prefix, k)
			}
			seen[k] = true
		}
	}
}

func TestNewKeyIsAcceptedAsMaster(t *testing.T) {
	k := NewKey("sk-")
	if p, err := NewKeys(k).Check(t.Context(), k); err != nil || !p.Admin {
		t.Errorf("Check(new key) = %+v, %v", p, err)
	}
	if _, err := NewKeys(k).Check(t.Context(), NewKey("sk-")); !errors.Is(err, ErrBadKey) {
		t.Errorf("Check(other new key) err = %v, want ErrBadKey", err)
	}
}

func TestResolve(t *testing.T) {
	rules := []HeaderRule{
		{Header: "User-Agent", Pattern: regexp.MustCompile(`^OpenAIClientImpl/Java`), UserID: "java-user"},
		{Header: "User-Agent", Pattern: regexp.MustCompile(`^claude-cli/`), UserID: "claude-user"},
		{Header: "X-Team", Pattern: regexp.MustCompile(`^infra$`), UserID: "infra-user"},
		// Would match any User-Agent, but comes after the specific rules.
		{Header: "User-Agent", Pattern: regexp.MustCompile(`.`), UserID: "catch-all"},
	}
	full := &Resolver{Rules: rules, DefaultUser: "dev"}
	tests := []struct {
		name     string
		r        *Resolver
		h        http.Header
		p        Principal
		user     string
		rule     string
		project  string
		adminOut bool
	}{
		{"non-admin ignores user header", full,
			http.Header{"X-Memory-User-Id": {"mallory"}, "User-Agent": {"claude-cli/1.0"}, "X-Memory-Project": {"p1"}},
			Principal{User: "alice"}, "alice", "key", "p1", false},
		{"non-admin with empty user stays empty", full,
			http.Header{"X-Memory-User-Id": {"mallory"}}, Principal{}, "", "key", "", false},
		{"admin custom header wins", full,
			http.Header{"X-Memory-User-Id": {"bob"}, "User-Agent": {"claude-cli/1.0"}},
			Principal{Admin: true}, "bob", "header:X-Memory-User-Id", "", true},
		{"admin first matching rule", full,
			http.Header{"User-Agent": {"claude-cli/1.0.3 (external, cli)"}},
			Principal{Admin: true}, "claude-user", "pattern:^claude-cli/", "", true},
		{"admin rule on another header, earlier in order", full,
			http.Header{"User-Agent": {"curl/8"}, "X-Team": {"infra"}},
			Principal{Admin: true}, "infra-user", "pattern:^infra$", "", true},
		{"admin rules in order, catch-all last", full,
			http.Header{"User-Agent": {"curl/8"}},
			Principal{Admin: true}, "catch-all", "pattern:.", "", true},
		{"admin default", full,
			http.Header{"X-Memory-Project": {"proj"}},
			Principal{Admin: true}, "dev", "default", "proj", true},
		{"admin built-in default", &Resolver{},
			http.Header{}, Principal{Admin: true}, "default-dev", "default", "", true},
		{"custom header names", &Resolver{CustomHeader: "X-User", ProjectHeader: "X-Proj"},
			http.Header{"X-User": {"carol"}, "X-Proj": {"p2"}, "X-Memory-User-Id": {"not-me"}, "X-Memory-Project": {"not-me"}},
			Principal{Admin: true}, "carol", "header:X-User", "p2", true},
		{"custom header name in lower case", &Resolver{CustomHeader: "x-user"},
			http.Header{"X-User": {"dan"}}, Principal{Admin: true}, "dan", "header:x-user", "", true},
		{"empty custom header falls through", full,
			http.Header{"X-Memory-User-Id": {""}}, Principal{Admin: true}, "dev", "default", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.r.Resolve(tt.h, tt.p)
			want := Identity{User: tt.user, UserRule: tt.rule, Project: tt.project, Admin: tt.adminOut, Ingress: IngressHTTP, Key: tt.p}
			if !reflect.DeepEqual(*id, want) {
				t.Errorf("Resolve = %+v, want %+v", *id, want)
			}
		})
	}
}

func TestResolveDetectsClient(t *testing.T) {
	for _, p := range []Principal{{User: "alice"}, {Admin: true}} {
		var asked []string
		r := &Resolver{DetectClient: func(get func(string) string) (string, string) {
			asked = append(asked, get("User-Agent"), get("x-stainless-lang"))
			return "openai-node", `^OpenAI/JS`
		}}
		id := r.Resolve(http.Header{"User-Agent": {"OpenAI/JS 4.0"}, "X-Stainless-Lang": {"js"}}, p)
		if id.Client != "openai-node" || id.ClientPattern != `^OpenAI/JS` {
			t.Errorf("admin=%v: client %q pattern %q", p.Admin, id.Client, id.ClientPattern)
		}
		if len(asked) != 2 || asked[0] != "OpenAI/JS 4.0" || asked[1] != "js" {
			t.Errorf("admin=%v: DetectClient saw %q", p.Admin, asked)
		}
	}
}
