package main

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// continuePrefix starts the names of the models entries setup writes, so a
// later setup replaces them and leaves the user's own alone.
const continuePrefix = "memedge "

// continueDev is Continue's config.yaml (schema v1): one models entry per
// gateway model, provider openai, apiBase the edge port.
var continueDev = setupClient{
	name: "Continue",
	path: func() (string, error) { return homeFile("CONTINUE_GLOBAL_DIR", ".continue", "config.yaml") },
	apply: func(old []byte, t setupTarget) ([]byte, error) {
		root, err := continueRoot(old)
		if err != nil {
			return nil, err
		}
		models := mapValue(root, "models")
		if models == nil {
			models = &yaml.Node{Kind: yaml.SequenceNode}
			root.Content = append(root.Content, scalar("models"), models)
		}
		if models.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("models is not a list")
		}
		kept := models.Content[:0]
		for _, m := range models.Content {
			if n := mapValue(m, "name"); n == nil || !strings.HasPrefix(n.Value, continuePrefix) {
				kept = append(kept, m)
			}
		}
		models.Content = kept
		want := t.Models
		if t.Model != "" {
			want = []string{t.Model}
		}
		for _, id := range want {
			models.Content = append(models.Content, mapping(
				"name", continuePrefix+t.Project+": "+id, "provider", "openai", "model", id,
				"apiBase", t.Base+"/v1", "apiKey", "memedge"))
		}
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(root); err != nil {
			return nil, err
		}
		return buf.Bytes(), enc.Close()
	},
	read: func(data []byte) (string, string, error) {
		root, err := continueRoot(data)
		if err != nil {
			return "", "", err
		}
		if models := mapValue(root, "models"); models != nil {
			for _, m := range models.Content {
				n, b, id := mapValue(m, "name"), mapValue(m, "apiBase"), mapValue(m, "model")
				if n != nil && b != nil && id != nil && strings.HasPrefix(n.Value, continuePrefix) {
					return strings.TrimSuffix(b.Value, "/v1"), id.Value, nil
				}
			}
		}
		return "", "", nil
	},
	next: "Reload Continue; the models named \"memedge …\" appear in its model list.",
}

// continueRoot decodes config.yaml's top-level mapping; an empty file gets
// the fields schema v1 requires.
func continueRoot(b []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML (fix or move the file, then run setup again): %w", err)
	}
	if len(doc.Content) == 0 {
		return mapping("name", "memedge", "version", "1.0.0", "schema", "v1"), nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the top level is not a mapping")
	}
	return root, nil
}

// mapValue returns the value of key in mapping m, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

// mapping builds a mapping node from key, value, key, value….
func mapping(kv ...string) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for _, s := range kv {
		m.Content = append(m.Content, scalar(s))
	}
	return m
}
