package gemini

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// SchemaError is a JSON Schema that cannot be said as a Gemini Schema.
// Path locates the subschema, such as "properties.tags.items" ("" for the
// root).
type SchemaError struct {
	Path string
	Msg  string
}

// Error returns "schema <path>: <msg>".
func (e *SchemaError) Error() string {
	if e.Path == "" {
		return "schema: " + e.Msg
	}
	return "schema " + e.Path + ": " + e.Msg
}

// schemaKeep are the keywords of Gemini's Schema (a subset of the OpenAPI
// 3.0 Schema Object) copied as they are.
var schemaKeep = map[string]bool{
	"format": true, "title": true, "description": true, "nullable": true, "pattern": true,
	"example": true, "default": true, "minimum": true, "maximum": true, "minItems": true,
	"maxItems": true, "minLength": true, "maxLength": true, "minProperties": true,
	"maxProperties": true, "required": true, "propertyOrdering": true,
}

// SchemaFromJSONSchema converts a JSON Schema, as OpenAI function
// parameters and response_format json_schema carry it, into Gemini's
// Schema, which the API checks as strictly as any proto field: an unknown
// keyword is a 400.
//
// Kept: type, format, title, description, nullable, enum, properties,
// required, propertyOrdering, items, anyOf, minItems, maxItems, minLength,
// maxLength, pattern, minProperties, maxProperties, minimum, maximum,
// example, default. Rewritten: a type list drops "null" for nullable true
// (several other types become anyOf); "null" members of anyOf become
// nullable true; oneOf becomes anyOf (Gemini has no exclusive choice);
// const becomes a one-value enum; enum values become strings, as Gemini's
// enum is a string list (an enum of strings with no type gets type
// string); a lone anyOf alternative is merged into its parent; a local $ref (#/$defs/… or #/definitions/…) is
// inlined, with its siblings applied on top; an allOf of one subschema is
// merged into its parent; an empty properties object is dropped (Gemini
// wants properties non-empty when present). Dropped, because Gemini
// refuses them: every other keyword, notably $schema, $id, $defs,
// definitions, $comment, additionalProperties, strict,
// unevaluatedProperties, patternProperties, propertyNames, prefixItems,
// contains, uniqueItems, multipleOf, exclusiveMinimum, exclusiveMaximum,
// not, if/then/else, dependentRequired, dependentSchemas, examples,
// readOnly, writeOnly, deprecated, contentEncoding, contentMediaType.
// These loosen validation but do not change the data's shape.
//
// Refused with a *SchemaError: a recursive or non-local $ref, allOf with
// several subschemas, tuple-form items, the false schema, and anything
// that is not a JSON object where a schema must be.
func SchemaFromJSONSchema(raw json.RawMessage) (json.RawMessage, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var root any
	if err := d.Decode(&root); err != nil {
		return nil, &SchemaError{"", "not JSON: " + err.Error()}
	}
	m, ok := root.(map[string]any)
	if !ok {
		return nil, &SchemaError{"", "a schema must be a JSON object"}
	}
	c := schemaConv{root: m, expanding: map[string]bool{}}
	out, err := c.convert(m, "")
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

type schemaConv struct {
	root      map[string]any
	expanding map[string]bool // $refs being inlined, to refuse recursion
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (c *schemaConv) convert(s any, path string) (map[string]any, error) {
	switch v := s.(type) {
	case bool:
		if v {
			return map[string]any{}, nil
		}
		return nil, &SchemaError{path, "the false schema has no Gemini counterpart"}
	case map[string]any:
		return c.object(v, path)
	}
	return nil, &SchemaError{path, "a schema must be a JSON object"}
}

func (c *schemaConv) object(v map[string]any, path string) (map[string]any, error) {
	out := map[string]any{}
	if ref, ok := v["$ref"]; ok {
		base, err := c.ref(ref, path)
		if err != nil {
			return nil, err
		}
		out = base
	}
	if all, ok := v["allOf"]; ok {
		list, _ := all.([]any)
		if len(list) != 1 {
			return nil, &SchemaError{join(path, "allOf"), "allOf with other than one subschema has no Gemini counterpart"}
		}
		sub, err := c.convert(list[0], join(path, "allOf[0]"))
		if err != nil {
			return nil, err
		}
		for k, x := range sub {
			out[k] = x
		}
	}
	if _, ok := v["anyOf"]; ok {
		if _, both := v["oneOf"]; both {
			return nil, &SchemaError{path, "anyOf and oneOf together have no Gemini counterpart"}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(v)) {
		x := v[k]
		var err error
		switch {
		case schemaKeep[k]:
			out[k] = x
		case k == "type":
			err = c.typ(out, x, path)
		case k == "enum" || k == "const":
			err = enum(out, k, x, path)
		case k == "properties":
			err = c.properties(out, x, path)
		case k == "items":
			if _, tuple := x.([]any); tuple {
				return nil, &SchemaError{join(path, "items"), "tuple-form items have no Gemini counterpart"}
			}
			out["items"], err = c.convert(x, join(path, "items"))
		case k == "anyOf" || k == "oneOf":
			err = c.anyOf(out, x, join(path, k))
		}
		if err != nil {
			return nil, err
		}
	}
	if _, typed := out["type"]; !typed && out["enum"] != nil && stringValues(v["enum"], v["const"]) {
		out["type"] = "string" // Gemini's enum is for strings, and wants the type said
	}
	return out, nil
}

// stringValues reports whether enum and const hold only strings (and null).
func stringValues(enum, cnst any) bool {
	vals, _ := enum.([]any)
	if cnst != nil {
		vals = append(vals, cnst)
	}
	for _, e := range vals {
		if _, ok := e.(string); !ok && e != nil {
			return false
		}
	}
	return true
}

// ref inlines a local $ref.
func (c *schemaConv) ref(ref any, path string) (map[string]any, error) {
	s, _ := ref.(string)
	var target any
	for _, prefix := range []string{"#/$defs/", "#/definitions/"} {
		if name, ok := strings.CutPrefix(s, prefix); ok {
			defs, _ := c.root[strings.Trim(prefix[1:], "/")].(map[string]any)
			target = defs[name]
		}
	}
	if target == nil {
		return nil, &SchemaError{join(path, "$ref"), "only local $refs to #/$defs or #/definitions can be inlined, not " + quote(s)}
	}
	if c.expanding[s] {
		return nil, &SchemaError{join(path, "$ref"), "recursive $ref " + quote(s) + " cannot be inlined"}
	}
	c.expanding[s] = true
	defer delete(c.expanding, s)
	return c.convert(target, join(path, "$ref"))
}

func (c *schemaConv) typ(out map[string]any, x any, path string) error {
	switch t := x.(type) {
	case string:
		out["type"] = t
		return nil
	case []any:
		var types []any
		for _, e := range t {
			if e == "null" {
				out["nullable"] = true
				continue
			}
			if _, ok := e.(string); !ok {
				return &SchemaError{join(path, "type"), "type must be a string or a list of strings"}
			}
			types = append(types, e)
		}
		switch len(types) {
		case 0:
			out["type"] = "null"
		case 1:
			out["type"] = types[0]
		default:
			alts := make([]any, len(types))
			for i, t := range types {
				alts[i] = map[string]any{"type": t}
			}
			if _, has := out["anyOf"]; has {
				return &SchemaError{join(path, "type"), "a type list beside anyOf has no Gemini counterpart"}
			}
			out["anyOf"] = alts
		}
		return nil
	}
	return &SchemaError{join(path, "type"), "type must be a string or a list of strings"}
}

// enum writes enum (or const) values as strings; null allows null.
func enum(out map[string]any, k string, x any, path string) error {
	vals, ok := x.([]any)
	if k == "const" {
		vals, ok = []any{x}, true
	}
	if !ok {
		return &SchemaError{join(path, k), "enum must be a list"}
	}
	strs := make([]any, 0, len(vals))
	for _, e := range vals {
		switch e := e.(type) {
		case nil:
			out["nullable"] = true
		case string:
			strs = append(strs, e)
		case json.Number:
			strs = append(strs, e.String())
		case bool:
			if e {
				strs = append(strs, "true")
			} else {
				strs = append(strs, "false")
			}
		default:
			return &SchemaError{join(path, k), "only scalar enum values have a Gemini counterpart"}
		}
	}
	if prev, ok := out["enum"].([]any); ok {
		strs = append(prev, strs...)
	}
	if len(strs) > 0 {
		out["enum"] = strs
	}
	return nil
}

func (c *schemaConv) properties(out map[string]any, x any, path string) error {
	props, ok := x.(map[string]any)
	if !ok {
		return &SchemaError{join(path, "properties"), "properties must be an object"}
	}
	if len(props) == 0 {
		return nil
	}
	conv := make(map[string]any, len(props))
	for _, name := range slices.Sorted(maps.Keys(props)) {
		s, err := c.convert(props[name], join(path, "properties."+name))
		if err != nil {
			return err
		}
		conv[name] = s
	}
	out["properties"] = conv
	return nil
}

func (c *schemaConv) anyOf(out map[string]any, x any, path string) error {
	list, ok := x.([]any)
	if !ok || len(list) == 0 {
		return &SchemaError{path, "must be a non-empty list of schemas"}
	}
	alts := make([]any, 0, len(list))
	for i, e := range list {
		s, err := c.convert(e, path+"["+strconv.Itoa(i)+"]")
		if err != nil {
			return err
		}
		if len(s) == 1 && s["type"] == "null" {
			out["nullable"] = true
			continue
		}
		alts = append(alts, s)
	}
	if _, has := out["anyOf"]; has {
		return &SchemaError{path, "a type list beside anyOf has no Gemini counterpart"}
	}
	switch len(alts) {
	case 0:
	case 1: // a lone alternative (what is left of X or null) is X itself
		for k, x := range alts[0].(map[string]any) {
			if _, has := out[k]; !has {
				out[k] = x
			}
		}
	default:
		out["anyOf"] = alts
	}
	return nil
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// ParametersFromJSONSchema converts a function's parameters schema as
// SchemaFromJSONSchema does, with the rules Gemini adds at the root: it
// must be an object schema ("type" defaults to object, which Gemini
// requires there), and one without properties yields nil, to be left out,
// as Gemini refuses an object parameters schema with no properties.
func ParametersFromJSONSchema(raw json.RawMessage) (json.RawMessage, error) {
	s, err := SchemaFromJSONSchema(raw)
	if err != nil {
		return nil, err
	}
	var root map[string]json.RawMessage
	if err := json.Unmarshal(s, &root); err != nil {
		return nil, err
	}
	switch t := string(root["type"]); t {
	case "":
		root["type"] = json.RawMessage(`"object"`)
	case `"object"`, `"OBJECT"`:
	default:
		return nil, &SchemaError{"type", "function parameters must be an object schema, not " + t}
	}
	if _, ok := root["properties"]; !ok {
		return nil, nil
	}
	return json.Marshal(root)
}
