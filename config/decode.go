package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// envPrefix marks a scalar whose value is read from the environment.
const envPrefix = "os.environ/"

// maxNodes bounds how many YAML nodes one file may expand to, so a file of
// nested aliases cannot make the walk exponential.
const maxNodes = 1 << 20

// keyPath is where a node sits: disp has list indexes (for messages), schema
// has "[]" (for the known-keys table).
type keyPath struct{ disp, schema string }

func (p keyPath) field(name string) keyPath {
	if p.disp == "" {
		return keyPath{name, name}
	}
	return keyPath{p.disp + "." + name, p.schema + "." + name}
}

func (p keyPath) index(i int) keyPath {
	return keyPath{p.disp + "[" + strconv.Itoa(i) + "]", p.schema + "[]"}
}

// decoder decodes a yaml.Node tree into Go structs strictly: unknown keys,
// duplicate keys and wrong types become Errors that name file, line and key.
// Known-but-unimplemented keys (known) are recorded in ignored and skipped.
type decoder struct {
	file    string
	env     func(string) (string, bool) // nil: os.environ/ is not resolved
	known   *keyTable                   // nil: every unknown key is an error
	errs    []*Error
	ignored map[string]bool
	covered []string       // keys suggested for misspelled ones; see fail
	lines   map[string]int // display path -> line, for validation messages
	nodes   int
}

func newDecoder(file string, env func(string) (string, bool), known *keyTable) *decoder {
	return &decoder{file: file, env: env, known: known, ignored: map[string]bool{}, lines: map[string]int{}}
}

// root parses data as a single YAML document whose top level is a mapping.
// It returns nil after recording an error otherwise.
func (d *decoder) root(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		d.syntax(err)
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || isNull(doc.Content[0]) {
		d.add(1, "", "file is empty; expected a YAML mapping of settings")
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.add(extra.Line, "", "file holds more than one YAML document; expected one")
		return nil
	} else if !errors.Is(err, io.EOF) {
		d.syntax(err)
		return nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		d.add(top.Line, "", "top level must be a mapping of settings, got %s", describe(top))
		return nil
	}
	return top
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// describe names a node's kind for type errors.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	}
	return "an unsupported YAML node"
}

// want names what a Go type expects, for type errors.
func want(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Pointer:
		return want(t.Elem())
	}
	return t.String()
}

// value decodes n into v. A null node leaves v unchanged (its default).
func (d *decoder) value(n *yaml.Node, v reflect.Value, p keyPath) {
	if d.nodes++; d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.add(n.Line, p.disp, "file expands to more than %d YAML nodes (aliases?)", maxNodes)
		}
		return
	}
	n = deref(n)
	if isNull(n) {
		return
	}
	t := v.Type()
	switch t.Kind() {
	case reflect.Struct:
		d.structValue(n, v, p)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.add(n.Line, p.disp, "expected %s, got %s", want(t), describe(n))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		d.pairs(n, p, func(k, val *yaml.Node, cp keyPath) {
			elem := reflect.New(t.Elem()).Elem()
			d.value(val, elem, cp)
			v.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), elem)
		})
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.add(n.Line, p.disp, "expected %s, got %s", want(t), describe(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			ip := p.index(i)
			d.lines[ip.disp] = item.Line
			d.value(item, s.Index(i), ip)
		}
		v.Set(s)
	case reflect.Interface:
		if x := d.anyValue(n, p); x != nil {
			v.Set(reflect.ValueOf(x))
		}
	default:
		d.scalarValue(n, v, p)
	}
}

// pairs walks a mapping's entries, rejecting non-scalar and duplicate keys.
func (d *decoder) pairs(n *yaml.Node, p keyPath, f func(k, v *yaml.Node, cp keyPath)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.add(k.Line, p.disp, "keys must be plain strings, got %s", describe(k))
			continue
		}
		cp := p.field(k.Value)
		if first, dup := seen[k.Value]; dup {
			d.add(k.Line, cp.disp, "duplicate key (first set on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		d.lines[cp.disp] = k.Line
		f(k, v, cp)
	}
}

func (d *decoder) structValue(n *yaml.Node, v reflect.Value, p keyPath) {
	if n.Kind != yaml.MappingNode {
		d.add(n.Line, p.disp, "expected a mapping, got %s", describe(n))
		return
	}
	fields := yamlFields(v.Type())
	d.pairs(n, p, func(k, val *yaml.Node, cp keyPath) {
		if i, ok := fields[k.Value]; ok {
			d.value(val, v.FieldByIndex(i), cp)
			return
		}
		d.extra(k, val, cp, func() []string {
			names := d.known.childrenOf(p.schema)
			for name := range fields {
				names = append(names, name)
			}
			return names
		})
	})
}

// extra handles a key the Go type does not have: refused, ignored (known but
// not implemented), or unknown.
func (d *decoder) extra(k, val *yaml.Node, p keyPath, candidates func() []string) {
	if d.known != nil {
		if reason, ok := d.known.refused[p.schema]; ok {
			d.add(k.Line, p.disp, "%s", reason)
			return
		}
		if d.known.exact[p.schema] {
			d.ignored[p.schema] = true
			return
		}
		if d.known.container[p.schema] {
			d.ignoredTree(deref(val), p)
			return
		}
	}
	msg := "unknown key"
	if s := suggest(k.Value, candidates()); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
		parent := strings.TrimSuffix(strings.TrimSuffix(p.disp, k.Value), ".")
		d.covered = append(d.covered, keyPath{disp: parent}.field(s).disp)
	}
	d.add(k.Line, p.disp, "%s", msg)
}

// ignoredTree checks the keys under a known-but-unimplemented section
// against the table, recording the known ones; values are not decoded and
// os.environ/ references in them are not resolved.
func (d *decoder) ignoredTree(n *yaml.Node, p keyPath) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.add(n.Line, p.disp, "expected a mapping, got %s", describe(n))
		return
	}
	d.pairs(n, p, func(k, val *yaml.Node, cp keyPath) {
		d.extra(k, val, cp, func() []string { return d.known.childrenOf(p.schema) })
	})
}

// scalar returns the text of a scalar, resolving os.environ/NAME. ok is
// false after an error was recorded.
func (d *decoder) scalar(n *yaml.Node, p keyPath) (val string, fromEnv, ok bool) {
	if d.env == nil || n.ShortTag() != "!!str" || !strings.HasPrefix(n.Value, envPrefix) {
		return n.Value, false, true
	}
	name := strings.TrimPrefix(n.Value, envPrefix)
	if name == "" || strings.ContainsAny(name, " \t=/") {
		d.add(n.Line, p.disp, "invalid environment reference %q; expected os.environ/NAME", n.Value)
		return "", false, false
	}
	val, set := d.env(name)
	switch {
	case !set:
		d.add(n.Line, p.disp, "environment variable %s is not set (referenced as %s)", name, n.Value)
		return "", false, false
	case val == "":
		d.add(n.Line, p.disp, "environment variable %s is set but empty (referenced as %s)", name, n.Value)
		return "", false, false
	}
	return val, true, true
}

func (d *decoder) scalarValue(n *yaml.Node, v reflect.Value, p keyPath) {
	t := v.Type()
	if n.Kind != yaml.ScalarNode {
		d.add(n.Line, p.disp, "expected %s, got %s", want(t), describe(n))
		return
	}
	val, fromEnv, ok := d.scalar(n, p)
	if !ok {
		return
	}
	if t.Kind() == reflect.String {
		v.SetString(val)
		return
	}
	tmp := &yaml.Node{Kind: yaml.ScalarNode, Tag: n.Tag, Value: val, Line: n.Line}
	if fromEnv {
		tmp.Tag = "" // let YAML infer the type of the variable's text
	}
	base := t
	if t.Kind() == reflect.Pointer { // an optional scalar: YAML allocates it
		base = t.Elem()
	}
	ptr := reflect.New(t)
	err := tmp.Decode(ptr.Interface())
	if err == nil && reflect.Zero(base).CanInt() && tmp.ShortTag() != "!!int" {
		err = errors.New("not an integer") // YAML would truncate 1.5 to 1
	}
	if err != nil {
		if fromEnv {
			val = n.Value + " (value hidden)"
		}
		d.add(n.Line, p.disp, "expected %s, got %s", want(t), strconv.Quote(val))
		return
	}
	v.Set(ptr.Elem())
}

// anyValue decodes a free-form node (model_info) into maps, slices and
// scalars, resolving os.environ/ in its strings.
func (d *decoder) anyValue(n *yaml.Node, p keyPath) any {
	if d.nodes++; d.nodes > maxNodes {
		return nil
	}
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		d.pairs(n, p, func(k, val *yaml.Node, cp keyPath) { m[k.Value] = d.anyValue(val, cp) })
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, item := range n.Content {
			s[i] = d.anyValue(item, p.index(i))
		}
		return s
	case yaml.ScalarNode:
		val, fromEnv, ok := d.scalar(n, p)
		if !ok || fromEnv {
			return val
		}
		var x any
		if err := n.Decode(&x); err != nil {
			d.add(n.Line, p.disp, "invalid value %s", describe(n))
		}
		return x
	}
	return nil
}

// yamlFields maps a struct's yaml tag names to field index paths, skipping
// unexported fields and fields tagged "-". An embedded struct tagged
// `yaml:",inline"` contributes its fields as if they were the outer's.
func yamlFields(t reflect.Type) map[string][]int {
	m := make(map[string][]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opt, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.Anonymous && name == "" && opt == "inline" && f.Type.Kind() == reflect.Struct {
			for k, idx := range yamlFields(f.Type) {
				m[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "-" || name == "" {
			continue
		}
		m[name] = []int{i}
	}
	return m
}
