package main

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// claudeCode is Claude Code's user settings: the env block of
// settings.json is applied to every session. ANTHROPIC_AUTH_TOKEN (sent as
// a bearer token) needs no approval prompt, unlike ANTHROPIC_API_KEY; its
// value does not matter, the edge replaces it with the gateway key.
var claudeCode = setupClient{
	name: "Claude Code",
	path: func() (string, error) { return homeFile("CLAUDE_CONFIG_DIR", ".claude", "settings.json") },
	apply: func(old []byte, t setupTarget) ([]byte, error) {
		doc, err := jsonObject(old)
		if err != nil {
			return nil, err
		}
		env, _ := doc["env"].(map[string]any)
		if env == nil {
			env = map[string]any{}
		}
		env["ANTHROPIC_BASE_URL"] = t.Base
		env["ANTHROPIC_AUTH_TOKEN"] = "memedge"
		if t.Model != "" {
			env["ANTHROPIC_MODEL"] = t.Model
		}
		doc["env"] = env
		b, err := json.MarshalIndent(doc, "", "  ")
		return append(b, '\n'), err
	},
	read: func(data []byte) (string, string, error) {
		doc, err := jsonObject(data)
		if err != nil {
			return "", "", err
		}
		env, _ := doc["env"].(map[string]any)
		base, _ := env["ANTHROPIC_BASE_URL"].(string)
		model, _ := env["ANTHROPIC_MODEL"].(string)
		return base, model, nil
	},
	next: "Start claude in the project; /status shows the base URL.",
}

// jsonObject decodes a JSON object; empty input is an empty object.
func jsonObject(b []byte) (map[string]any, error) {
	doc := map[string]any{}
	if len(bytes.TrimSpace(b)) == 0 {
		return doc, nil
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not a JSON object (fix or move the file, then run setup again): %w", err)
	}
	return doc, nil
}
