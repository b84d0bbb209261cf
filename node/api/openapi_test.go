package api

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
)

type openAPIDocument struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas   map[string]json.RawMessage `json:"schemas"`
		Responses map[string]json.RawMessage `json:"responses"`
	} `json:"components"`
}

func loadOpenAPI(t *testing.T) (openAPIDocument, map[string]any) {
	t.Helper()
	var doc openAPIDocument
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(OpenAPI(), &raw); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc, raw
}

// TestOpenAPIRoutes checks that the document and the router list the same operations.
func TestOpenAPIRoutes(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	s := New(Options{Backend: newFakeBackend()})
	routed := map[string]bool{}
	for _, rt := range s.routes {
		op := strings.ToLower(rt.method)
		routed[rt.path+" "+op] = true
		if _, ok := doc.Paths[rt.path][op]; !ok {
			t.Errorf("%s %s is routed but not in openapi.json", rt.method, rt.path)
		}
		var o struct {
			Security []map[string][]string `json:"security"`
		}
		if raw, ok := doc.Paths[rt.path][op]; ok {
			if err := json.Unmarshal(raw, &o); err != nil {
				t.Fatal(err)
			}
			if documented := len(o.Security) > 0; documented != rt.write {
				t.Errorf("%s %s: needs a token %v, documented %v", rt.method, rt.path, rt.write, documented)
			}
		}
	}
	for path, ops := range doc.Paths {
		for op := range ops {
			if op == "parameters" || op == "summary" || op == "description" {
				continue
			}
			if !routed[path+" "+op] {
				t.Errorf("openapi.json documents %s %s, which is not routed", strings.ToUpper(op), path)
			}
		}
	}
}

// TestOpenAPIResponses sends every case of the endpoint table and checks that its status is
// documented for the operation and that a JSON answer has every field the documented schema
// requires, with the documented types. It also checks each route answered success once.
func TestOpenAPIResponses(t *testing.T) {
	doc, raw := loadOpenAPI(t)
	c := &schemaChecker{root: raw}
	succeeded := map[string]bool{}
	for _, tc := range cases() {
		t.Run(tc.name, func(t *testing.T) {
			s, rec, _ := tc.run(t)
			req := httptest.NewRequest(tc.method, tc.path, nil)
			_, pattern := s.mux.Handler(req)
			method, path, ok := strings.Cut(pattern, " ")
			if !ok {
				// A fallback (unknown route, wrong method): only the error shape applies.
				c.check(t, "$", map[string]any{"$ref": "#/components/schemas/Error"}, decodeAny(t, rec))
				return
			}
			opRaw, ok := doc.Paths[path][strings.ToLower(method)]
			if !ok {
				t.Fatalf("%s is not documented", pattern)
			}
			var op struct {
				Responses map[string]any `json:"responses"`
			}
			if err := json.Unmarshal(opRaw, &op); err != nil {
				t.Fatal(err)
			}
			resp, ok := op.Responses[strconv.Itoa(rec.Code)]
			if !ok {
				t.Fatalf("%s answered %d, which openapi.json does not document for it", pattern, rec.Code)
			}
			if rec.Code < 300 {
				succeeded[pattern] = true
			}
			if rec.Code == 206 || rec.Code == 304 {
				return
			}
			content, _ := c.resolve(resp)["content"].(map[string]any)
			mt, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type"))
			media, ok := content[mt].(map[string]any)
			if !ok {
				if _, binary := content["application/octet-stream"]; binary {
					return // any media type may stand for a binary body
				}
				t.Fatalf("%s answered %d as %q; documented: %v", pattern, rec.Code, mt, keys(content))
			}
			if mt == "application/json" {
				c.check(t, "$", media["schema"], decodeAny(t, rec))
			}
		})
	}
	s := New(Options{Backend: newFakeBackend()})
	for _, rt := range s.routes {
		p := rt.method + " " + rt.path
		if !succeeded[p] && rt.path != "/events" { // /events streams; events_test.go covers it
			t.Errorf("no case shows %s succeeding", p)
		}
	}
}

func decodeAny(t *testing.T, rec *httptest.ResponseRecorder) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return v
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// schemaChecker checks a JSON value against the subset of OpenAPI 3.0 schemas openapi.json
// uses: $ref, type, nullable, required, properties, items, enum, allOf and oneOf.
type schemaChecker struct{ root map[string]any }

func (c *schemaChecker) resolve(v any) map[string]any {
	m, _ := v.(map[string]any)
	for m != nil {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		var cur any = c.root
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = cur.(map[string]any)[part]
		}
		m, _ = cur.(map[string]any)
	}
	return m
}

func (c *schemaChecker) check(t *testing.T, at string, schema any, v any) {
	t.Helper()
	if err := c.validate(at, schema, v); err != nil {
		t.Error(err)
	}
}

func (c *schemaChecker) validate(at string, schemaV any, v any) error {
	s := c.resolve(schemaV)
	if s == nil {
		return fmt.Errorf("%s: no schema", at)
	}
	if v == nil {
		if s["nullable"] == true {
			return nil
		}
		return fmt.Errorf("%s: null where the schema does not allow it", at)
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, sub := range all {
			if err := c.validate(at, sub, v); err != nil {
				return err
			}
		}
	}
	if one, ok := s["oneOf"].([]any); ok {
		var errs []string
		for _, sub := range one {
			err := c.validate(at, sub, v)
			if err == nil {
				errs = nil
				break
			}
			errs = append(errs, err.Error())
		}
		if errs != nil {
			return fmt.Errorf("%s: matches no oneOf branch: %s", at, strings.Join(errs, "; "))
		}
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || e == v
		}
		if !found {
			return fmt.Errorf("%s: %v is not one of %v", at, v, enum)
		}
	}
	typ, _ := s["type"].(string)
	switch typ {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %T", at, v)
		}
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := obj[r.(string)]; !ok {
				return fmt.Errorf("%s: required field %q is missing", at, r)
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, fv := range obj {
			if ps, ok := props[k]; ok {
				if err := c.validate(at+"."+k, ps, fv); err != nil {
					return err
				}
			} else if s["additionalProperties"] == false {
				return fmt.Errorf("%s: field %q is not documented", at, k)
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array, got %T", at, v)
		}
		for i, e := range arr {
			if err := c.validate(fmt.Sprintf("%s[%d]", at, i), s["items"], e); err != nil {
				return err
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: want a string, got %T", at, v)
		}
	case "integer":
		n, ok := v.(float64)
		if !ok || n != float64(int64(n)) {
			return fmt.Errorf("%s: want an integer, got %v", at, v)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("%s: want a number, got %T", at, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: want a boolean, got %T", at, v)
		}
	}
	return nil
}

// TestSchemaCheckerCatchesMistakes keeps the checker honest: a response missing a required
// field, or with a wrong type, must fail.
func TestSchemaCheckerCatchesMistakes(t *testing.T) {
	_, raw := loadOpenAPI(t)
	c := &schemaChecker{root: raw}
	ref := map[string]any{"$ref": "#/components/schemas/JobReceipt"}
	if err := c.validate("$", ref, map[string]any{"id": 1.0, "tx_hash": "ab", "height": 2.0}); err != nil {
		t.Fatalf("a good receipt fails: %v", err)
	}
	for _, bad := range []map[string]any{
		{"tx_hash": "ab", "height": 2.0},
		{"id": "1", "tx_hash": "ab", "height": 2.0},
		{"id": 1.5, "tx_hash": "ab", "height": 2.0},
		{"id": 1.0, "tx_hash": nil, "height": 2.0},
	} {
		if err := c.validate("$", ref, bad); err == nil {
			t.Errorf("%v passes", bad)
		}
	}
	if err := c.validate("$", map[string]any{"$ref": "#/components/schemas/Job"}, map[string]any{"id": 1.0}); err == nil {
		t.Error("a job with only an id passes")
	}
}
