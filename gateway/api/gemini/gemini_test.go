package gemini

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/memproxy/memproxy/gateway/llm"
)

func TestParseError(t *testing.T) {
	tests := []struct {
		body, msg, status string
		ok                bool
	}{
		{`{"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}}`,
			"Resource has been exhausted (e.g. check quota).", "RESOURCE_EXHAUSTED", true},
		{`{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",` +
			`"details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]}}`,
			"API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT", true},
		{`{"error":{"message":"no status"}}`, "no status", "", true},
		{`{"error":{"code":500}}`, "", "", false},
		{`{"error":{"message":"x","type":"invalid_request_error"}}`, "x", "", true}, // an OpenAI envelope still has a message
		{`[{"error":{"message":"in a list"}}]`, "", "", false},
		{`upstream connect error`, "", "", false},
	}
	for _, tt := range tests {
		msg, status, ok := ParseError([]byte(tt.body))
		if msg != tt.msg || status != tt.status || ok != tt.ok {
			t.Errorf("ParseError(%s) = %q %q %v, want %q %q %v", tt.body, msg, status, ok, tt.msg, tt.status, tt.ok)
		}
	}
}

func TestMarshalError(t *testing.T) {
	for status, name := range map[int]string{400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
		429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"} {
		b := MarshalError(status, "boom")
		var e ErrorBody
		if err := json.Unmarshal(b, &e); err != nil || e.Error.Code != status || e.Error.Status != name || e.Error.Message != "boom" {
			t.Errorf("MarshalError(%d) = %s", status, b)
		}
		if msg, st, ok := ParseError(b); !ok || msg != "boom" || st != name {
			t.Errorf("ParseError(MarshalError(%d)) = %q %q %v", status, msg, st, ok)
		}
	}
	if got := StatusName(http.StatusTeapot); got != "FAILED_PRECONDITION" {
		t.Errorf("StatusName(418) = %s", got)
	}
}

func TestUsageLLM(t *testing.T) {
	var none *UsageMetadata
	if none.LLM() != (llm.Usage{}) {
		t.Error("nil usage is not zero")
	}
	var u UsageMetadata
	_ = json.Unmarshal([]byte(`{"promptTokenCount":2095,"candidatesTokenCount":11,"totalTokenCount":2136,"cachedContentTokenCount":1800,`+
		`"thoughtsTokenCount":25,"toolUsePromptTokenCount":5,"promptTokensDetails":[{"modality":"TEXT","tokenCount":2095}]}`), &u)
	want := llm.Usage{PromptTokens: 2100, CompletionTokens: 36, CachedTokens: 1800, ReasoningTokens: 25}
	if got := u.LLM(); got != want {
		t.Errorf("LLM() = %+v, want %+v", got, want)
	}
}

func TestPartFromURL(t *testing.T) {
	tests := []struct {
		url  string
		want string // JSON of the part; "" for an error
	}{
		{"data:image/PNG;base64,iVBORw0KGgo=", `{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}}`},
		{"data:application/pdf;name=a.pdf;base64,JVBERi0=", `{"inlineData":{"mimeType":"application/pdf","data":"JVBERi0="}}`},
		{"https://example.com/a/b.webp?x=1.png", `{"fileData":{"mimeType":"image/webp","fileUri":"https://example.com/a/b.webp?x=1.png"}}`},
		{"https://example.com/v1.2/render", `{"fileData":{"fileUri":"https://example.com/v1.2/render"}}`},
		{"data:image/png,raw", ""},
		{"data:;base64,AAAA", ""},
		{"http://example.com/a.png", ""},
		{"ftp://example.com/a.png", ""},
	}
	for _, tt := range tests {
		p, err := PartFromURL(tt.url)
		got := ""
		if err == nil {
			b, _ := json.Marshal(p)
			got = string(b)
		}
		if got != tt.want {
			t.Errorf("PartFromURL(%q) = %s, %v; want %s", tt.url, got, err, tt.want)
		}
	}
}

func TestSchemaFromJSONSchema(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"kept as is", `{"type":"object","title":"T","description":"d","properties":{"a":{"type":"string","format":"date-time","pattern":"^x","minLength":1,"maxLength":9}},` +
			`"required":["a"],"propertyOrdering":["a"],"minProperties":1,"maxProperties":3}`,
			`{"description":"d","maxProperties":3,"minProperties":1,"properties":{"a":{"format":"date-time","maxLength":9,"minLength":1,"pattern":"^x","type":"string"}},"propertyOrdering":["a"],"required":["a"],"title":"T","type":"object"}`},
		{"dropped keywords", `{"$schema":"x","$id":"y","$comment":"c","type":"object","additionalProperties":false,"strict":true,` +
			`"properties":{"n":{"type":"number","multipleOf":2,"exclusiveMinimum":0,"minimum":1,"maximum":1e3},"l":{"type":"array","uniqueItems":true,"minItems":1,"maxItems":2,"items":true}},` +
			`"patternProperties":{"^x":{}},"not":{"required":["z"]},"examples":[{}],"example":{"n":1},"default":{}}`,
			`{"default":{},"example":{"n":1},"properties":{"l":{"items":{},"maxItems":2,"minItems":1,"type":"array"},"n":{"maximum":1e3,"minimum":1,"type":"number"}},"type":"object"}`},
		{"type list", `{"type":["integer","null"]}`, `{"nullable":true,"type":"integer"}`},
		{"type list of several", `{"type":["integer","string"]}`, `{"anyOf":[{"type":"integer"},{"type":"string"}]}`},
		{"only null", `{"type":"null"}`, `{"type":"null"}`},
		{"oneOf", `{"oneOf":[{"type":"string"},{"type":"integer"},{"type":"null"}]}`, `{"anyOf":[{"type":"string"},{"type":"integer"}],"nullable":true}`},
		{"lone alternative", `{"anyOf":[{"type":"string","description":"inner"},{"type":"null"}],"description":"outer"}`, `{"description":"outer","nullable":true,"type":"string"}`},
		{"const", `{"const":"x"}`, `{"enum":["x"],"type":"string"}`},
		{"numeric enum", `{"type":"integer","enum":[1,2.5,true,null]}`, `{"enum":["1","2.5","true"],"nullable":true,"type":"integer"}`},
		{"untyped mixed enum", `{"enum":["a",1]}`, `{"enum":["a","1"]}`},
		{"ref with siblings", `{"$defs":{"P":{"type":"object","description":"a person","properties":{"n":{"type":"string"}}}},"type":"object",` +
			`"properties":{"p":{"$ref":"#/$defs/P","description":"the host"},"q":{"allOf":[{"$ref":"#/definitions/Q"}]}},"definitions":{"Q":{"type":"boolean"}}}`,
			`{"properties":{"p":{"description":"the host","properties":{"n":{"type":"string"}},"type":"object"},"q":{"type":"boolean"}},"type":"object"}`},
		{"same ref twice", `{"$defs":{"S":{"type":"string"}},"type":"object","properties":{"a":{"$ref":"#/$defs/S"},"b":{"items":{"$ref":"#/$defs/S"},"type":"array"}}}`,
			`{"properties":{"a":{"type":"string"},"b":{"items":{"type":"string"},"type":"array"}},"type":"object"}`},
		{"empty properties", `{"type":"object","properties":{},"required":[]}`, `{"required":[],"type":"object"}`},
		{"keys are not keywords", `{"type":"object","properties":{"additionalProperties":{"type":"string"},"$ref":{"type":"integer"}}}`,
			`{"properties":{"$ref":{"type":"integer"},"additionalProperties":{"type":"string"}},"type":"object"}`},
	}
	for _, tt := range tests {
		got, err := SchemaFromJSONSchema(json.RawMessage(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("%s:\n got %s, %v\nwant %s", tt.name, got, err, tt.want)
		}
	}
}

func TestSchemaFromJSONSchemaRefused(t *testing.T) {
	tests := []struct{ name, in, path string }{
		{"not an object", `[1]`, ""},
		{"not JSON", `{`, ""},
		{"false schema", `{"type":"object","properties":{"a":false}}`, "properties.a"},
		{"tuple items", `{"type":"array","items":[{"type":"string"}]}`, "items"},
		{"remote ref", `{"$ref":"https://example.com/s.json"}`, "$ref"},
		{"missing def", `{"$ref":"#/$defs/Nope"}`, "$ref"},
		{"recursive ref", `{"$defs":{"N":{"type":"object","properties":{"next":{"$ref":"#/$defs/N"}}}},"$ref":"#/$defs/N"}`, "$ref.properties.next.$ref"},
		{"allOf of two", `{"allOf":[{"type":"string"},{"type":"integer"}]}`, "allOf"},
		{"anyOf and oneOf", `{"anyOf":[{"type":"string"}],"oneOf":[{"type":"integer"}]}`, ""},
		{"empty anyOf", `{"anyOf":[]}`, "anyOf"},
		{"bad type", `{"type":3}`, "type"},
		{"object enum", `{"enum":[{"a":1}]}`, "enum"},
	}
	for _, tt := range tests {
		_, err := SchemaFromJSONSchema(json.RawMessage(tt.in))
		se, ok := errors.AsType[*SchemaError](err)
		if !ok || se.Path != tt.path {
			t.Errorf("%s: err = %v, want a *SchemaError at %q", tt.name, err, tt.path)
		}
	}
}

func TestParametersFromJSONSchema(t *testing.T) {
	tests := []struct{ in, want, errPath string }{
		{`{"type":"object","properties":{"a":{"type":"string"}}}`, `{"properties":{"a":{"type":"string"}},"type":"object"}`, ""},
		{`{"properties":{"a":{"type":"string"}}}`, `{"properties":{"a":{"type":"string"}},"type":"object"}`, ""},
		{`{"type":"object","properties":{},"additionalProperties":false}`, ``, ""},
		{`{}`, ``, ""},
		{`{"type":"array","items":{"type":"string"}}`, ``, "type"},
	}
	for _, tt := range tests {
		got, err := ParametersFromJSONSchema(json.RawMessage(tt.in))
		se, _ := errors.AsType[*SchemaError](err)
		if string(got) != tt.want || (tt.errPath == "") != (err == nil) || (se != nil && se.Path != tt.errPath) {
			t.Errorf("ParametersFromJSONSchema(%s) = %s, %v; want %s (error at %q)", tt.in, got, err, tt.want, tt.errPath)
		}
	}
}
