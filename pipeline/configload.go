package pipeline

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// ConfigFileName is the workspace's config file, looked up in the workdir.
const ConfigFileName = "cicdllm.toml"

// EnvPrefix starts every environment override: CICDLLM_<SECTION>_<KEY>.
const EnvPrefix = "CICDLLM_"

// Source says where the value of a setting came from.
type Source string

// Sources, in increasing precedence.
const (
	SourceDefault Source = "default"
	SourceFile    Source = "file"
	SourceEnv     Source = "env"
	SourceFlag    Source = "flag"
)

// Setting is one key of the effective configuration and its origin.
type Setting struct {
	Key    string // "llm.base_url"
	Value  string // as a TOML literal
	Source Source
	Origin string // "cicdllm.toml:3", "CICDLLM_LLM_BASE_URL", "--max-log-files"; empty for defaults
	Doc    string
}

// Override is a value given on the command line for a config key.
type Override struct {
	Key   string // "logging.max_log_files"
	Value string // as typed by the user
	Flag  string // "--max-log-files", for messages
}

// LoadOptions tells LoadConfig where to look.
type LoadOptions struct {
	Workdir   string                      // the workspace; "" is the current directory
	Path      string                      // --config; overrides the search
	LookupEnv func(string) (string, bool) // nil uses os.LookupEnv
	Environ   func() []string             // nil uses os.Environ; used to catch misspelt CICDLLM_* variables
	Overrides []Override                  // flags, applied last
}

// Loaded is the outcome of LoadConfig.
type Loaded struct {
	Config   Config
	File     string // the config file used; "" when none was found
	settings map[string]Setting
}

// Settings lists every key in documentation order with its value and source.
func (l *Loaded) Settings() []Setting {
	out := make([]Setting, 0, len(l.settings))
	for _, f := range configFields() {
		out = append(out, l.settings[f.Key])
	}
	return out
}

// Setting returns one key's value and source.
func (l *Loaded) Setting(key string) (Setting, bool) {
	s, ok := l.settings[key]
	return s, ok
}

// Problem is one thing wrong with the configuration.
type Problem struct {
	Where string // "cicdllm.toml:12", "environment variable CICDLLM_LLM_MODEL", "flag --max-tokens"
	Key   string
	Msg   string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Where != "" {
		b.WriteString(p.Where)
		b.WriteString(": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// ConfigError lists every problem found, one per line, so a user can fix
// them all in one go rather than one per run.
type ConfigError struct {
	Problems []Problem
}

func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// FindConfigFile returns the config file to use, in this order: explicit
// (--config), $CICDLLM_CONFIG, <workdir>/cicdllm.toml,
// $XDG_CONFIG_HOME/cicdllm/config.toml (~/.config when unset). An explicitly
// named file that does not exist is an error; finding none is not.
func FindConfigFile(workdir, explicit string, lookupEnv func(string) (string, bool)) (string, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	if explicit != "" {
		return requireFile(explicit, "--config")
	}
	if p, ok := lookupEnv("CICDLLM_CONFIG"); ok && p != "" {
		return requireFile(p, "CICDLLM_CONFIG")
	}
	candidates := []string{filepath.Join(workdir, ConfigFileName)}
	if xdg, ok := lookupEnv("XDG_CONFIG_HOME"); ok && xdg != "" {
		candidates = append(candidates, filepath.Join(xdg, "cicdllm", "config.toml"))
	} else if home, ok := lookupEnv("HOME"); ok && home != "" {
		candidates = append(candidates, filepath.Join(home, ".config", "cicdllm", "config.toml"))
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c, nil
		}
	}
	return "", nil
}

func requireFile(path, from string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("config file %s (from %s) does not exist; create it with `cicdllm config init` or fix the path", path, from)
		}
		return "", fmt.Errorf("config file %s (from %s): %w", path, from, err)
	}
	if st.IsDir() {
		return "", fmt.Errorf("config file %s (from %s) is a directory; name a .toml file", path, from)
	}
	return path, nil
}

// LoadConfig builds the effective configuration: defaults < file <
// CICDLLM_* environment < flags, then validates it. Every problem is
// reported at once in a *ConfigError, each naming the file and line, the
// environment variable or the flag it came from.
func LoadConfig(opts LoadOptions) (*Loaded, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.Environ == nil {
		opts.Environ = os.Environ
	}
	path, err := FindConfigFile(opts.Workdir, opts.Path, opts.LookupEnv)
	if err != nil {
		return nil, &ConfigError{Problems: []Problem{{Msg: err.Error()}}}
	}
	l := &Loaded{Config: DefaultConfig(), File: path, settings: map[string]Setting{}}
	fields := configFields()
	byKey := make(map[string]configField, len(fields))
	for _, f := range fields {
		byKey[f.Key] = f
		l.settings[f.Key] = Setting{Key: f.Key, Source: SourceDefault, Doc: f.Doc}
	}
	var problems []Problem
	lines := map[string]int{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, &ConfigError{Problems: []Problem{{Where: path, Msg: fmt.Sprintf("cannot read the config file: %v", err)}}}
		}
		lines = tomlKeyLines(data)
		problems = append(problems, l.applyFile(path, data, byKey, lines)...)
	}
	problems = append(problems, l.applyEnv(opts, fields)...)
	for _, o := range opts.Overrides {
		f, ok := byKey[o.Key]
		if !ok {
			// A programming error in main.go rather than user input, but say it plainly.
			problems = append(problems, Problem{Where: "flag " + o.Flag, Msg: fmt.Sprintf("maps to unknown config key %q", o.Key)})
			continue
		}
		if err := f.setString(&l.Config, o.Value); err != nil {
			problems = append(problems, Problem{Where: "flag " + o.Flag, Msg: err.Error()})
			continue
		}
		l.settings[f.Key] = Setting{Key: f.Key, Source: SourceFlag, Origin: o.Flag, Doc: f.Doc}
	}
	for _, p := range l.Config.Validate() {
		p.Where = l.origin(p.Key, path, lines)
		problems = append(problems, p)
	}
	for _, f := range fields {
		s := l.settings[f.Key]
		s.Value = f.format(&l.Config)
		l.settings[f.Key] = s
	}
	if len(problems) > 0 {
		return l, &ConfigError{Problems: problems}
	}
	return l, nil
}

// origin tells where the value of key came from, for a validation message.
func (l *Loaded) origin(key, path string, lines map[string]int) string {
	s := l.settings[key]
	switch s.Source {
	case SourceFile:
		return fileLine(path, lines[key])
	case SourceEnv:
		return "environment variable " + s.Origin
	case SourceFlag:
		return "flag " + s.Origin
	}
	if path != "" {
		return path
	}
	return "built-in default"
}

func fileLine(path string, line int) string {
	if line > 0 {
		return path + ":" + strconv.Itoa(line)
	}
	return path
}

func (l *Loaded) applyFile(path string, data []byte, byKey map[string]configField, lines map[string]int) []Problem {
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			msg := strings.TrimSuffix(strings.TrimSpace(pe.Message), ".")
			return []Problem{{Where: fileLine(path, pe.Position.Line), Msg: "invalid TOML: " + msg + "; fix the syntax (see config.example.toml)"}}
		}
		return []Problem{{Where: path, Msg: "invalid TOML: " + err.Error()}}
	}
	sections := configSections()
	var problems []Problem
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		table, ok := raw[name].(map[string]any)
		if _, known := sections[name]; !known {
			problems = append(problems, Problem{Where: fileLine(path, lines[name]), Key: name,
				Msg: "unknown " + kindOfKey(ok) + Suggest(name, slices.Sorted(maps.Keys(sections))) + "; known sections: " + strings.Join(slices.Sorted(maps.Keys(sections)), ", ")})
			continue
		}
		if !ok {
			problems = append(problems, Problem{Where: fileLine(path, lines[name]), Key: name,
				Msg: fmt.Sprintf("must be a table ([%s]), not a %s", name, tomlTypeName(raw[name]))})
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(table)) {
			key := name + "." + k
			f, ok := byKey[key]
			if !ok {
				problems = append(problems, Problem{Where: fileLine(path, lines[key]), Key: key,
					Msg: "unknown key" + Suggest(k, sections[name]) + "; keys of [" + name + "]: " + strings.Join(sections[name], ", ")})
				continue
			}
			if err := f.setTOML(&l.Config, table[k]); err != nil {
				problems = append(problems, Problem{Where: fileLine(path, lines[key]), Key: key, Msg: err.Error()})
				continue
			}
			l.settings[key] = Setting{Key: key, Source: SourceFile, Origin: fileLine(filepath.Base(path), lines[key]), Doc: f.Doc}
		}
	}
	return problems
}

func kindOfKey(isTable bool) string {
	if isTable {
		return "section"
	}
	return "top-level key (every key belongs in a [section])"
}

// EnvName is the environment variable that overrides a config key.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func (l *Loaded) applyEnv(opts LoadOptions, fields []configField) []Problem {
	var problems []Problem
	known := map[string]bool{}
	for _, f := range fields {
		name := EnvName(f.Key)
		known[name] = true
		v, ok := opts.LookupEnv(name)
		if !ok {
			continue
		}
		if err := f.setString(&l.Config, v); err != nil {
			problems = append(problems, Problem{Where: "environment variable " + name, Key: f.Key, Msg: err.Error()})
			continue
		}
		l.settings[f.Key] = Setting{Key: f.Key, Source: SourceEnv, Origin: name, Doc: f.Doc}
	}
	// A misspelt override would otherwise be silently ignored. Only names
	// that start like a section are checked, so unrelated CICDLLM_* variables
	// (CICDLLM_CONFIG, test switches) stay free.
	var names []string
	for _, f := range fields {
		names = append(names, EnvName(f.Key))
	}
	for _, kv := range opts.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if known[name] || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		for section := range configSections() {
			if strings.HasPrefix(name, EnvPrefix+strings.ToUpper(section)+"_") {
				problems = append(problems, Problem{Where: "environment variable " + name,
					Msg: "does not match any config key" + Suggest(name, names) + "; unset it or see `cicdllm config show` for the names"})
				break
			}
		}
	}
	return problems
}

// configField is one leaf key of Config, found by reflection so that the
// struct stays the single definition of the schema.
type configField struct {
	Key        string // "llm.base_url"
	Section    string
	Name       string
	Doc        string
	SectionDoc string
	index      []int
}

func configFields() []configField {
	var out []configField
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		sec := t.Field(i)
		st := sec.Type
		for j := range st.NumField() {
			f := st.Field(j)
			out = append(out, configField{
				Key:        sec.Tag.Get("toml") + "." + f.Tag.Get("toml"),
				Section:    sec.Tag.Get("toml"),
				Name:       f.Tag.Get("toml"),
				Doc:        f.Tag.Get("doc"),
				SectionDoc: sec.Tag.Get("doc"),
				index:      []int{i, j},
			})
		}
	}
	return out
}

// configSections maps each section to its key names, in schema order.
func configSections() map[string][]string {
	m := map[string][]string{}
	for _, f := range configFields() {
		m[f.Section] = append(m[f.Section], f.Name)
	}
	return m
}

func (f configField) value(c *Config) reflect.Value {
	return reflect.ValueOf(c).Elem().FieldByIndex(f.index)
}

var (
	durationType = reflect.TypeFor[Duration]()
	sizeType     = reflect.TypeFor[Size]()
)

// setTOML stores a decoded TOML value, checking its type.
func (f configField) setTOML(c *Config, raw any) error {
	v := f.value(c)
	switch {
	case v.Type() == durationType:
		s, ok := raw.(string)
		if !ok {
			return fmt.Errorf("expected a duration string such as \"30s\", got %s %v; durations need quotes and a unit", tomlTypeName(raw), raw)
		}
		d, err := parseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case v.Type() == sizeType:
		switch x := raw.(type) {
		case int64:
			if x < 0 {
				return fmt.Errorf("size %d is negative", x)
			}
			v.SetInt(x)
		case string:
			s, err := parseSize(x)
			if err != nil {
				return err
			}
			v.SetInt(int64(s))
		default:
			return fmt.Errorf("expected a size such as \"5MiB\" or a number of bytes, got %s", tomlTypeName(raw))
		}
	case v.Kind() == reflect.String:
		s, ok := raw.(string)
		if !ok {
			return fmt.Errorf("expected a string, got %s %v; put the value in double quotes", tomlTypeName(raw), raw)
		}
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			return fmt.Errorf("expected true or false, got %s %v", tomlTypeName(raw), raw)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int:
		n, ok := raw.(int64)
		if !ok {
			return fmt.Errorf("expected a whole number, got %s %v", tomlTypeName(raw), raw)
		}
		v.SetInt(n)
	case v.Kind() == reflect.Float64:
		switch x := raw.(type) {
		case float64:
			v.SetFloat(x)
		case int64:
			v.SetFloat(float64(x))
		default:
			return fmt.Errorf("expected a number, got %s %v", tomlTypeName(raw), raw)
		}
	case v.Kind() == reflect.Slice:
		items, ok := raw.([]any)
		if !ok {
			return fmt.Errorf("expected a list of strings such as [\"a\", \"b\"], got %s", tomlTypeName(raw))
		}
		out := make([]string, 0, len(items))
		for i, it := range items {
			s, ok := it.(string)
			if !ok {
				return fmt.Errorf("item %d of the list: expected a string, got %s %v", i+1, tomlTypeName(it), it)
			}
			out = append(out, s)
		}
		v.Set(reflect.ValueOf(out))
	default:
		return fmt.Errorf("cannot be set (unsupported type %s)", v.Type())
	}
	return nil
}

// setString parses a value typed in an environment variable or flag.
// Lists are comma-separated there.
func (f configField) setString(c *Config, s string) error {
	v := f.value(c)
	switch {
	case v.Type() == durationType:
		d, err := parseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case v.Type() == sizeType:
		n, err := parseSize(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(n))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not a boolean; use true or false", s)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		v.SetInt(n)
	case v.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(x)
	case v.Kind() == reflect.Slice:
		out := []string{}
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
		v.Set(reflect.ValueOf(out))
	default:
		return fmt.Errorf("cannot be set (unsupported type %s)", v.Type())
	}
	return nil
}

// format renders the current value as a TOML literal.
func (f configField) format(c *Config) string {
	v := f.value(c)
	switch {
	case v.Type() == durationType:
		return tomlString(Duration(v.Int()).String())
	case v.Type() == sizeType:
		return tomlString(Size(v.Int()).String())
	case v.Kind() == reflect.String:
		return tomlString(v.String())
	case v.Kind() == reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case v.Kind() == reflect.Int:
		return strconv.FormatInt(v.Int(), 10)
	case v.Kind() == reflect.Float64:
		s := strconv.FormatFloat(v.Float(), 'f', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		return s
	case v.Kind() == reflect.Slice:
		parts := make([]string, v.Len())
		for i := range v.Len() {
			parts[i] = tomlString(v.Index(i).String())
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v.Interface())
}

// tomlString quotes s as a TOML basic string. strconv.Quote is not enough:
// its \x escapes are not valid TOML.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func tomlTypeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "table"
	}
	return fmt.Sprintf("%T", v)
}

// Suggest returns ` (did you mean "X"?)` when a known name is within two
// edits of got, else "".
func Suggest(got string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(got), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance counts insertions, deletions, substitutions and swaps of
// neighbouring letters (optimal string alignment), so "stauts" is one edit
// from "status", as a typist would expect.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// tomlKeyLines maps dotted keys ("llm.base_url") and table names ("llm") to
// the line that defines them. BurntSushi/toml does not expose key positions,
// and error messages must name the line, so this scanner follows table
// headers and `key =` lines, skipping multi-line strings.
func tomlKeyLines(data []byte) map[string]int {
	out := map[string]int{}
	table := ""
	inMulti := ""
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		t := strings.TrimSpace(line)
		if inMulti != "" {
			if strings.Count(t, inMulti)%2 == 1 {
				inMulti = ""
			}
			continue
		}
		if t == "" || t[0] == '#' {
			continue
		}
		if t[0] == '[' {
			name := strings.Trim(strings.TrimSpace(stripComment(t)), "[]")
			table = unquoteKey(name)
			if _, ok := out[table]; !ok {
				out[table] = n
			}
			continue
		}
		eq := keyEnd(t)
		if eq < 0 {
			continue
		}
		key := unquoteKey(strings.TrimSpace(t[:eq]))
		if table != "" {
			key = table + "." + key
		}
		if _, ok := out[key]; !ok {
			out[key] = n
		}
		rest := t[eq+1:]
		for _, q := range []string{`"""`, `'''`} {
			if strings.Count(rest, q)%2 == 1 {
				inMulti = q
			}
		}
	}
	return out
}

// keyEnd finds the '=' that ends a key, ignoring '=' inside quoted keys.
// It returns -1 for lines that are not key/value pairs.
func keyEnd(t string) int {
	var quote byte
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			if i > 0 && t[i-1] != '.' && t[i-1] != ' ' {
				return -1
			}
			quote = c
		case c == '=':
			return i
		case c == ',' || c == '[' || c == '{' || c == '#':
			return -1
		}
	}
	return -1
}

func stripComment(s string) string {
	if i := strings.IndexByte(s, '#'); i >= 0 {
		return s[:i]
	}
	return s
}

func unquoteKey(k string) string {
	parts := strings.Split(k, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}
