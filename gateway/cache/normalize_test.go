package cache

import "testing"

func TestNormalizeEqual(t *testing.T) {
	base := `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0.2}`
	for _, body := range []string{
		base,
		"{ \"temperature\" : 0.2,\n\t\"messages\":[ {\"content\":\"hi\", \"role\":\"user\"} ],\r\n \"model\":\"gpt-4o\" }\n",
		`{"model":"gpt-4o","messages":[{"role":"user","content":"\u0068\u0069"}],"temperature":0.2}`,
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0.2,"stream":true,"stream_options":{"include_usage":true}}`,
		`{"user":"end-user-42","metadata":{"user_id":"u1"},"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0.2}`,
	} {
		if got, want := norm(t, body), norm(t, base); got != want {
			t.Errorf("Normalize(%s)\n = %s\nwant %s", body, got, want)
		}
	}
}

func TestNormalizeDifferent(t *testing.T) {
	base := `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`
	for _, body := range []string{
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi!"}]}`,
		`{"model":"gpt-4o","messages":[{"role":"system","content":"hi"}]}`,
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"},{"role":"user","content":"hi"}]}`,
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi","user":"x"}]}`, // nested: kept
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":1}`,
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"n":2}`,
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"tools":[]}`,
	} {
		if norm(t, body) == norm(t, base) {
			t.Errorf("Normalize(%s) equals the base request's", body)
		}
	}
	if norm(t, `{"t":1}`) == norm(t, `{"t":1.0}`) {
		t.Errorf("numbers are not kept as written")
	}
}

func TestNormalizeCanonical(t *testing.T) {
	for in, want := range map[string]string{
		`{"b":[1, -2.5e3, true, false, null], "a":{"z":"", "y":{}}}`: `{"a":{"y":{},"z":""},"b":[1,-2.5e3,true,false,null]}`,
		`{"s":"q\"b\\s\/ \n\t\u0001 <&> é 😀"}`:                       `{"s":"q\"b\\s/ \u000a\u0009\u0001 <&> é 😀"}`,
		`{"stream":false,"messages":[{"stream":true}]}`:              `{"messages":[{"stream":true}]}`,
		`{}`: `{}`,
	} {
		if got := norm(t, in); got != want {
			t.Errorf("Normalize(%s)\n = %s\nwant %s", in, got, want)
		}
		if again := norm(t, want); again != want {
			t.Errorf("Normalize is not idempotent on %s: %s", want, again)
		}
	}
}

func TestNormalizeRejects(t *testing.T) {
	deep := ""
	for range 300 {
		deep += "["
	}
	for _, body := range []string{
		``, `null`, `[]`, `"s"`, `{`, `{"a":}`, `{"a":1}{}`, `{"a":1} x`,
		`{"a":1,"a":2}`, `{"m":[{"x":1,"x":1}]}`, `{"stream":true,"stream":false}`,
		"{\"a\":\"\xff\"}",
		`{"a":` + deep,
	} {
		if out, err := Normalize([]byte(body)); err == nil {
			t.Errorf("Normalize(%.40q) = %s; want an error", body, out)
		}
	}
}

func norm(t *testing.T, body string) string {
	t.Helper()
	out, err := Normalize([]byte(body))
	if err != nil {
		t.Fatalf("Normalize(%s): %v", body, err)
	}
	return string(out)
}
