package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jnode is a JSON value that keeps the order of object keys, so that
// generated objects list their properties in schema order.
type jnode struct {
	kind jkind
	b    bool
	num  json.Number
	str  string
	arr  []*jnode
	keys []string
	vals map[string]*jnode
}

type jkind uint8

const (
	kNull jkind = iota
	kBool
	kNumber
	kString
	kArray
	kObject
)

func parseOrdered(data []byte) (*jnode, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := decodeNode(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("trailing data")
	}
	return n, nil
}

func decodeNode(dec *json.Decoder, depth int) (*jnode, error) {
	if depth > 200 {
		return nil, errors.New("too deep")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &jnode{kind: kObject, vals: map[string]*jnode{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				if _, dup := n.vals[k]; !dup {
					n.keys = append(n.keys, k)
				}
				n.vals[k] = v
			}
			_, err := dec.Token()
			return n, err
		case '[':
			n := &jnode{kind: kArray}
			for dec.More() {
				v, err := decodeNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.arr = append(n.arr, v)
			}
			_, err := dec.Token()
			return n, err
		}
	case bool:
		return &jnode{kind: kBool, b: t}, nil
	case json.Number:
		return &jnode{kind: kNumber, num: t}, nil
	case string:
		return &jnode{kind: kString, str: t}, nil
	case nil:
		return &jnode{kind: kNull}, nil
	}
	return nil, errors.New("unexpected token")
}

// isEmpty is nlohmann::json::empty(): true for null, {} and [].
func (n *jnode) isEmpty() bool {
	if n == nil {
		return true
	}
	switch n.kind {
	case kNull:
		return true
	case kObject:
		return len(n.keys) == 0
	case kArray:
		return len(n.arr) == 0
	}
	return false
}

func (n *jnode) get(k string) *jnode {
	if n == nil || n.kind != kObject {
		return nil
	}
	return n.vals[k]
}

func (n *jnode) getString(k string) string {
	if v := n.get(k); v != nil && v.kind == kString {
		return v.str
	}
	return ""
}

func (n *jnode) getNum(k string) (float64, bool) {
	v := n.get(k)
	if v == nil || v.kind != kNumber {
		return 0, false
	}
	f, err := v.num.Float64()
	return f, err == nil
}

func (n *jnode) write(b *strings.Builder) {
	switch n.kind {
	case kNull:
		b.WriteString("null")
	case kBool:
		b.WriteString(strconv.FormatBool(n.b))
	case kNumber:
		b.WriteString(n.num.String())
	case kString:
		b.Write(marshal(n.str))
	case kArray:
		b.WriteByte('[')
		for i, v := range n.arr {
			if i > 0 {
				b.WriteByte(',')
			}
			v.write(b)
		}
		b.WriteByte(']')
	case kObject:
		b.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(marshal(k))
			b.WriteByte(':')
			n.vals[k].write(b)
		}
		b.WriteByte('}')
	}
}

// --- instance generation --------------------------------------------------------

// schemaGen writes a JSON instance valid against a JSON schema. Supported:
// type (also as a list), properties (in order), required, items,
// prefixItems, minItems, maxItems, enum, const, anyOf, oneOf, allOf, local
// $ref (#, #/$defs/..., #/definitions/...), string minLength, maxLength and
// common formats, integer/number minimum, maximum, exclusive bounds and
// multipleOf, boolean and null. pattern is not honoured.
type schemaGen struct {
	g    *gen
	root *jnode
}

const (
	maxSchemaDepth = 12 // hard stop for recursive schemas
	deepSchema     = 4  // from here on: only required properties, minItems items
)

// json returns the answer for JSON mode: an instance of schema, or for an
// empty schema {"questions":[...]} when questions were asked, else
// {"answer":"..."}.
func (g *gen) json(schema *jnode) string {
	var b strings.Builder
	if schema.isEmpty() {
		g.defaultJSON(&b)
		return b.String()
	}
	sg := &schemaGen{g: g, root: schema}
	sg.emit(&b, schema, "", 0)
	return b.String()
}

func (g *gen) defaultJSON(b *strings.Builder) {
	if g.askQ {
		b.WriteString(`{"questions":[`)
		for i := 0; i < g.qCount; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(marshal(g.question()))
		}
		b.WriteString("]}")
		return
	}
	b.WriteString(`{"answer":`)
	b.Write(marshal(g.answer(g.answerTokens, false)))
	b.WriteByte('}')
}

func (sg *schemaGen) lookup(ref string) *jnode {
	if ref == "#" {
		return sg.root
	}
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	cur := sg.root
	for _, p := range strings.Split(ref[2:], "/") {
		p = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
		switch {
		case cur == nil:
			return nil
		case cur.kind == kObject:
			cur = cur.vals[p]
		case cur.kind == kArray:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(cur.arr) {
				return nil
			}
			cur = cur.arr[i]
		default:
			return nil
		}
	}
	return cur
}

func (sg *schemaGen) resolve(s *jnode) *jnode {
	for i := 0; i < 32 && s != nil && s.kind == kObject; i++ {
		ref := s.getString("$ref")
		if ref == "" {
			return s
		}
		s = sg.lookup(ref)
	}
	if s == nil {
		return &jnode{kind: kObject, vals: map[string]*jnode{}}
	}
	return s
}

// schemaType is the type to generate: the first non-null entry of "type",
// else one inferred from the keywords present, else "" (anything).
func schemaType(s *jnode) string {
	if t := s.get("type"); t != nil {
		switch t.kind {
		case kString:
			return t.str
		case kArray:
			first := ""
			for _, e := range t.arr {
				if e.kind == kString {
					if e.str != "null" {
						return e.str
					}
					first = "null"
				}
			}
			return first
		}
	}
	switch {
	case s.get("properties") != nil || s.get("required") != nil || s.get("additionalProperties") != nil:
		return "object"
	case s.get("items") != nil || s.get("prefixItems") != nil || s.get("minItems") != nil:
		return "array"
	case s.get("minLength") != nil || s.get("maxLength") != nil || s.get("format") != nil || s.get("pattern") != nil:
		return "string"
	case s.get("minimum") != nil || s.get("maximum") != nil:
		return "number"
	}
	return ""
}

func nullOnly(s *jnode) bool {
	return s != nil && (s.getString("type") == "null" || (s.get("const") != nil && s.get("const").kind == kNull))
}

func (sg *schemaGen) emit(b *strings.Builder, s *jnode, name string, depth int) {
	s = sg.resolve(s)
	if s.kind == kBool {
		if !s.b {
			b.WriteString("null")
			return
		}
		s = &jnode{kind: kObject, vals: map[string]*jnode{}}
	}
	if s.kind != kObject {
		b.WriteString("null")
		return
	}
	if c := s.get("const"); c != nil {
		c.write(b)
		return
	}
	if e := s.get("enum"); e != nil && e.kind == kArray && len(e.arr) > 0 {
		e.arr[sg.g.rng.IntN(len(e.arr))].write(b)
		return
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		if alts := s.get(k); alts != nil && alts.kind == kArray && len(alts.arr) > 0 {
			pick := alts.arr[0]
			for _, a := range alts.arr {
				if !nullOnly(sg.resolve(a)) {
					pick = a
					break
				}
			}
			sg.emit(b, sg.mergeSiblings(s, pick, k), name, depth+1)
			return
		}
	}
	if all := s.get("allOf"); all != nil && all.kind == kArray {
		s = sg.mergeAll(s, all)
	}
	if depth > maxSchemaDepth {
		b.WriteString(minimalFor(schemaType(s)))
		return
	}
	switch schemaType(s) {
	case "object":
		sg.object(b, s, name, depth)
	case "array":
		sg.array(b, s, name, depth)
	case "string":
		sg.str(b, s, name)
	case "integer":
		sg.integer(b, s)
	case "number":
		sg.number(b, s)
	case "boolean":
		b.WriteString(strconv.FormatBool(sg.g.rng.IntN(2) == 0))
	case "null":
		b.WriteString("null")
	default: // anything
		if depth == 0 {
			sg.g.defaultJSON(b)
			return
		}
		sg.str(b, s, name)
	}
}

func minimalFor(t string) string {
	switch t {
	case "object":
		return "{}"
	case "array":
		return "[]"
	case "string":
		return `""`
	case "integer", "number":
		return "0"
	case "boolean":
		return "false"
	}
	return "null"
}

// mergeSiblings applies the keywords next to an anyOf/oneOf to the chosen
// alternative (the alternative's own keywords win).
func (sg *schemaGen) mergeSiblings(parent, alt *jnode, skip string) *jnode {
	alt = sg.resolve(alt)
	if alt.kind != kObject {
		return alt
	}
	m := &jnode{kind: kObject, vals: map[string]*jnode{}}
	for _, k := range parent.keys {
		if k != skip && k != "anyOf" && k != "oneOf" {
			m.keys = append(m.keys, k)
			m.vals[k] = parent.vals[k]
		}
	}
	for _, k := range alt.keys {
		if _, ok := m.vals[k]; !ok {
			m.keys = append(m.keys, k)
		}
		m.vals[k] = alt.vals[k]
	}
	return m
}

// mergeAll folds allOf parts into one schema: properties and required are
// united, other keywords taken from the first part that has them.
func (sg *schemaGen) mergeAll(s, all *jnode) *jnode {
	m := &jnode{kind: kObject, vals: map[string]*jnode{}}
	props := &jnode{kind: kObject, vals: map[string]*jnode{}}
	req := &jnode{kind: kArray}
	seenReq := map[string]bool{}
	add := func(part *jnode) {
		part = sg.resolve(part)
		if part.kind != kObject {
			return
		}
		for _, k := range part.keys {
			v := part.vals[k]
			switch k {
			case "allOf":
			case "properties":
				if v.kind == kObject {
					for _, pk := range v.keys {
						if _, ok := props.vals[pk]; !ok {
							props.keys = append(props.keys, pk)
						}
						props.vals[pk] = v.vals[pk]
					}
				}
			case "required":
				for _, r := range v.arr {
					if r.kind == kString && !seenReq[r.str] {
						seenReq[r.str] = true
						req.arr = append(req.arr, r)
					}
				}
			default:
				if _, ok := m.vals[k]; !ok {
					m.keys = append(m.keys, k)
					m.vals[k] = v
				}
			}
		}
	}
	add(s)
	for _, p := range all.arr {
		add(p)
	}
	if len(props.keys) > 0 {
		m.keys = append(m.keys, "properties")
		m.vals["properties"] = props
	}
	if len(req.arr) > 0 {
		m.keys = append(m.keys, "required")
		m.vals["required"] = req
	}
	return m
}

func (sg *schemaGen) object(b *strings.Builder, s *jnode, name string, depth int) {
	props := s.get("properties")
	required := map[string]bool{}
	var reqOrder []string
	if r := s.get("required"); r != nil && r.kind == kArray {
		for _, e := range r.arr {
			if e.kind == kString && !required[e.str] {
				required[e.str] = true
				reqOrder = append(reqOrder, e.str)
			}
		}
	}
	if (props == nil || len(props.keys) == 0) && len(reqOrder) == 0 {
		if depth == 0 {
			sg.g.defaultJSON(b)
		} else {
			b.WriteString("{}")
		}
		return
	}
	b.WriteByte('{')
	n := 0
	field := func(k string, ps *jnode) {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.Write(marshal(k))
		b.WriteByte(':')
		sg.emit(b, ps, k, depth+1)
	}
	if props != nil {
		for _, k := range props.keys {
			if depth >= deepSchema && !required[k] {
				continue
			}
			field(k, props.vals[k])
		}
	}
	for _, k := range reqOrder {
		if props.get(k) == nil {
			field(k, &jnode{kind: kObject, vals: map[string]*jnode{}})
		}
	}
	b.WriteByte('}')
}

func isQuestionName(name string) bool { return strings.Contains(strings.ToLower(name), "question") }

// hasQuestionProp reports whether an items schema is an object with a
// question-like property (e.g. {question, answer} pairs).
func (sg *schemaGen) hasQuestionProp(items *jnode) bool {
	items = sg.resolve(items)
	for _, k := range items.get("properties").keysOrNil() {
		if isQuestionName(k) {
			return true
		}
	}
	return false
}

func (n *jnode) keysOrNil() []string {
	if n == nil || n.kind != kObject {
		return nil
	}
	return n.keys
}

func (sg *schemaGen) array(b *strings.Builder, s *jnode, name string, depth int) {
	g := sg.g
	var tuple []*jnode
	items := s.get("items")
	if p := s.get("prefixItems"); p != nil && p.kind == kArray {
		tuple = p.arr
	} else if items != nil && items.kind == kArray {
		tuple, items = items.arr, s.get("additionalItems")
	}
	if items == nil {
		items = &jnode{kind: kObject, vals: map[string]*jnode{}}
	}
	minI, maxI := 0, -1
	if v, ok := s.getNum("minItems"); ok {
		minI = int(math.Max(0, v))
	}
	if v, ok := s.getNum("maxItems"); ok {
		maxI = int(math.Max(0, v))
	}
	itemType := schemaType(sg.resolve(items))
	questiony := isQuestionName(name) || sg.hasQuestionProp(items) || (depth == 0 && g.askQ && (itemType == "string" || itemType == ""))
	n := 2 + g.rng.IntN(2)
	if questiony {
		n = g.qCount
	}
	if depth >= deepSchema {
		n = minI
	}
	n = max(n, len(tuple))
	if maxI >= 0 && n > maxI {
		n = maxI
	}
	n = max(n, minI)
	itemName := name
	if questiony && itemName == "" {
		itemName = "questions"
	}
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		if i < len(tuple) {
			sg.emit(b, tuple[i], itemName, depth+1)
		} else {
			sg.emit(b, items, itemName, depth+1)
		}
	}
	b.WriteByte(']')
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

func (sg *schemaGen) str(b *strings.Builder, s *jnode, name string) {
	g := sg.g
	lname := strings.ToLower(name)
	question := false
	var v string
	switch f := s.getString("format"); {
	case f == "date-time":
		v = "2024-05-17T12:00:00Z"
	case f == "date":
		v = "2024-05-17"
	case f == "time":
		v = "12:00:00"
	case f == "email":
		v = "dev@example.com"
	case f == "uri" || f == "url" || f == "uri-reference":
		v = "https://example.com/docs"
	case f == "uuid":
		v = "123e4567-e89b-42d3-a456-426614174000"
	case f == "ipv4":
		v = "192.0.2.1"
	case f == "ipv6":
		v = "2001:db8::1"
	case f == "hostname":
		v = "example.com"
	case isQuestionName(name):
		v, question = g.question(), true
	case strings.Contains(lname, "answer"):
		v = g.answer(min(g.answerTokens, 48), false)
	case containsAny(lname, "explanation", "description", "summary", "reason", "rationale", "detail", "comment", "note", "context"):
		v = g.sentence()
	case containsAny(lname, "code", "snippet"):
		v = g.codeLine()
	case containsAny(lname, "file", "path"):
		v = g.path()
	default:
		v = g.phrase()
	}
	if minL, ok := s.getNum("minLength"); ok {
		for utf8.RuneCountInString(v) < int(minL) {
			if question {
				v = strings.TrimSuffix(v, "?") + " in practice?"
			} else {
				v += " in practice"
			}
		}
	}
	if maxL, ok := s.getNum("maxLength"); ok && utf8.RuneCountInString(v) > int(maxL) {
		r := []rune(v)[:max(int(maxL), 0)]
		if i := strings.LastIndexByte(string(r), ' '); !question && i >= len(r)/2 {
			r = []rune(string(r)[:i]) // whole words
		}
		if question && len(r) > 0 {
			r[len(r)-1] = '?'
		}
		v = string(r)
	}
	b.Write(marshal(v))
}

// bounds returns the inclusive range for a number, with defaults
// [dlo, dhi] when unbounded; integer bounds are rounded inwards.
func bounds(s *jnode, integer bool, dlo, dhi float64) (float64, float64) {
	lo, hasLo := s.getNum("minimum")
	hi, hasHi := s.getNum("maximum")
	if x, ok := s.getNum("exclusiveMinimum"); ok && (!hasLo || x >= lo) {
		lo, hasLo = x, true
		if integer {
			lo = math.Floor(x) + 1
		} else {
			lo = x + math.Max(math.Abs(x)*1e-9, 1e-6)
		}
	}
	if x, ok := s.getNum("exclusiveMaximum"); ok && (!hasHi || x <= hi) {
		hi, hasHi = x, true
		if integer {
			hi = math.Ceil(x) - 1
		} else {
			hi = x - math.Max(math.Abs(x)*1e-9, 1e-6)
		}
	}
	if integer {
		lo, hi = math.Ceil(lo), math.Floor(hi)
	}
	span := dhi - dlo
	switch {
	case !hasLo && !hasHi:
		lo, hi = dlo, dhi
	case !hasLo:
		lo = hi - span
	case !hasHi:
		hi = lo + span
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

func (sg *schemaGen) integer(b *strings.Builder, s *jnode) {
	lo, hi := bounds(s, true, 1, 10)
	v := lo
	if span := hi - lo; span >= 1 && span < 1e15 {
		v = lo + float64(sg.g.rng.Int64N(int64(span)+1))
	}
	if m, ok := s.getNum("multipleOf"); ok && m > 0 && m == math.Trunc(m) {
		if c := math.Ceil(v/m) * m; c <= hi {
			v = c
		} else if f := math.Floor(v/m) * m; f >= lo {
			v = f
		}
	}
	b.WriteString(strconv.FormatFloat(v, 'f', 0, 64))
}

func (sg *schemaGen) number(b *strings.Builder, s *jnode) {
	lo, hi := bounds(s, false, 0, 1)
	v := lo + (hi-lo)*sg.g.rng.Float64()
	if r := math.Round(v*100) / 100; r >= lo && r <= hi {
		v = r
	}
	if m, ok := s.getNum("multipleOf"); ok && m > 0 {
		if c := math.Ceil(lo/m) * m; c <= hi {
			v = c
		}
	}
	b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
}
