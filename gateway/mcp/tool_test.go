package mcp

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

var openAIName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func TestToolNames(t *testing.T) {
	long := strings.Repeat("x", 80)
	remote := []string{"echo", "get-sum", "fs.read_file", "fs_read_file", "a/b", long, long + "y", "Échec", "echo"}
	got := ToolNames("everything", remote)
	want := map[string]string{
		"echo":         "everything__echo",
		"get-sum":      "everything__get-sum",
		"fs.read_file": "everything__fs_read_file", // sorted first, so it keeps the plain name
		"a/b":          "everything__a_b",
		"Échec":        "everything____chec", // each byte of É becomes '_'
	}
	for r, w := range want {
		if got[r] != w {
			t.Errorf("ToolNames[%q] = %q, want %q", r, got[r], w)
		}
	}
	if n := got["fs_read_file"]; !strings.HasPrefix(n, "everything__fs_read_file_") || len(n) != len("everything__fs_read_file_")+8 {
		t.Errorf("colliding name got %q, want the plain name and a hash suffix", n)
	}
	seen := map[string]string{}
	for r, n := range got {
		if !openAIName.MatchString(n) {
			t.Errorf("%q → %q: not a valid OpenAI function name", r, n)
		}
		if !strings.HasPrefix(n, "everything"+Separator) {
			t.Errorf("%q → %q: not namespaced", r, n)
		}
		if o, dup := seen[n]; dup {
			t.Errorf("%q and %q both named %q", r, o, n)
		}
		seen[n] = r
	}
	if len(got) != 8 {
		t.Errorf("got %d names for 8 distinct tools: %v", len(got), got)
	}
	if got[long] == got[long+"y"] || len(got[long]) != MaxToolName {
		t.Errorf("long names: %q, %q", got[long], got[long+"y"])
	}
	// The same tools give the same names, whatever their order.
	again := ToolNames("everything", []string{long + "y", "fs_read_file", "Échec", long, "a/b", "fs.read_file", "get-sum", "echo"})
	for r, n := range got {
		if again[r] != n {
			t.Errorf("unstable name for %q: %q then %q", r, n, again[r])
		}
	}
}

func TestMCPToolDefinition(t *testing.T) {
	def := definition("srv__echo", &sdk.Tool{Name: "echo", Description: "Echoes",
		InputSchema: map[string]any{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
			"properties": map[string]any{"message": map[string]any{"type": "string"}}, "required": []any{"message"}}})
	var d struct {
		Type     string `json:"type"`
		Function struct {
			Name        string         `json:"name"`
			Description string         `json:"description"`
			Parameters  map[string]any `json:"parameters"`
		} `json:"function"`
	}
	if err := json.Unmarshal(def, &d); err != nil {
		t.Fatal(err)
	}
	f := d.Function
	if d.Type != "function" || f.Name != "srv__echo" || f.Description != "Echoes" || f.Parameters["type"] != "object" ||
		f.Parameters["$schema"] != nil || f.Parameters["properties"].(map[string]any)["message"] == nil {
		t.Errorf("definition = %s", def)
	}
	// A tool without a usable schema still gets an object schema.
	def = definition("srv__x", &sdk.Tool{Name: "x", Title: "X tool", InputSchema: map[string]any{"type": "string"}})
	if !strings.Contains(string(def), `"parameters":{"properties":{},"type":"object"}`) || !strings.Contains(string(def), `"description":"X tool"`) {
		t.Errorf("definition without schema = %s", def)
	}
}

func TestMCPToolResultText(t *testing.T) {
	r := &sdk.CallToolResult{Content: []sdk.Content{
		&sdk.TextContent{Text: "one"},
		&sdk.ImageContent{MIMEType: "image/png", Data: []byte("abc")},
		&sdk.EmbeddedResource{Resource: &sdk.ResourceContents{URI: "file:///a", Text: "embedded"}},
		&sdk.ResourceLink{Name: "doc", URI: "file:///doc"},
		&sdk.TextContent{Text: "two"},
	}}
	if got, want := resultText(r), "one\n[image image/png, 3 bytes: not shown]\nembedded\n[resource doc: file:///doc]\ntwo"; got != want {
		t.Errorf("resultText = %q, want %q", got, want)
	}
	if got := resultText(&sdk.CallToolResult{StructuredContent: map[string]any{"sum": 3}}); got != `{"sum":3}` {
		t.Errorf("structured only = %q", got)
	}
	big := resultText(&sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: strings.Repeat("é", MaxResultBytes)}}})
	if len(big) > MaxResultBytes+64 || !strings.HasSuffix(big, "bytes]") || !strings.HasPrefix(big, "éé") {
		t.Errorf("cut result: %d bytes, ends %q", len(big), big[len(big)-20:])
	}
}
