package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// ---------------------------------------------------------------------------------------------------- mlx-lm

var mlxFormat = &Format{
	Name:     "mlx-lm",
	Summary:  "directory of train/valid/test.jsonl chat messages for mlx_lm.lora --data",
	Dir:      true,
	Header:   noHeader,
	Encode:   encodeMessages,
	DataFile: func(split string) string { return mlxSplit(split) + ".jsonl" },
	Aux:      noAux,
}

// mlxSplit maps a split name to mlx-lm's file names (train, valid, test).
func mlxSplit(split string) string {
	switch strings.ToLower(split) {
	case "training":
		return "train"
	case "validation", "val", "dev":
		return "valid"
	case "testing", "eval", "evaluation":
		return "test"
	}
	return split
}

// ---------------------------------------------------------------------------------------------------- hf

var hfFormat = &Format{
	Name:     "hf",
	Summary:  "Hugging Face dataset directory: data/<split>.jsonl + README.md dataset card",
	Dir:      true,
	Header:   noHeader,
	Encode:   encodeMessages,
	DataFile: func(split string) string { return "data/" + hfSplit(split) + ".jsonl" },
	Aux:      hfAux,
}

// hfSplit maps a split name to the Hub's conventional split names (train, validation, test).
func hfSplit(split string) string {
	switch strings.ToLower(split) {
	case "training":
		return "train"
	case "valid", "val", "dev":
		return "validation"
	case "testing", "eval", "evaluation":
		return "test"
	}
	return split
}

// hubLicenses are the license identifiers the Hub accepts in a card (hub-docs repositories-licenses.md).
var hubLicenses = map[string]bool{
	"apache-2.0": true, "mit": true, "openrail": true, "bigscience-openrail-m": true, "creativeml-openrail-m": true,
	"bigscience-bloom-rail-1.0": true, "bigcode-openrail-m": true, "afl-3.0": true, "artistic-2.0": true,
	"bsl-1.0": true, "bsd": true, "bsd-2-clause": true, "bsd-3-clause": true, "bsd-3-clause-clear": true,
	"c-uda": true, "cc": true, "cc0-1.0": true, "cc-by-2.0": true, "cc-by-2.5": true, "cc-by-3.0": true,
	"cc-by-4.0": true, "cc-by-sa-3.0": true, "cc-by-sa-4.0": true, "cc-by-nc-2.0": true, "cc-by-nc-3.0": true,
	"cc-by-nc-4.0": true, "cc-by-nd-4.0": true, "cc-by-nc-nd-3.0": true, "cc-by-nc-nd-4.0": true,
	"cc-by-nc-sa-2.0": true, "cc-by-nc-sa-3.0": true, "cc-by-nc-sa-4.0": true, "cdla-sharing-1.0": true,
	"cdla-permissive-1.0": true, "cdla-permissive-2.0": true, "wtfpl": true, "ecl-2.0": true, "epl-1.0": true,
	"epl-2.0": true, "etalab-2.0": true, "eupl-1.1": true, "agpl-3.0": true, "gfdl": true, "gpl": true,
	"gpl-2.0": true, "gpl-3.0": true, "lgpl": true, "lgpl-2.1": true, "lgpl-3.0": true, "isc": true,
	"lppl-1.3c": true, "ms-pl": true, "mpl-2.0": true, "odc-by": true, "odbl": true, "openrail++": true,
	"osl-3.0": true, "postgresql": true, "ofl-1.1": true, "ncsa": true, "unlicense": true, "zlib": true,
	"pddl": true, "lgpl-lr": true, "deepfloyd-if-license": true, "llama2": true, "gemma": true,
}

// hubLicense maps an SPDX id to the Hub's identifier ("" when the Hub has none): lower case, and the GNU
// "-only"/"-or-later" suffixes dropped ("GPL-3.0-or-later" → "gpl-3.0").
func hubLicense(spdx string) string {
	id := strings.ToLower(strings.TrimSpace(spdx))
	id = strings.TrimSuffix(strings.TrimSuffix(id, "-only"), "-or-later")
	id = strings.TrimSuffix(id, "+")
	if hubLicenses[id] {
		return id
	}
	return ""
}

func unknownLicense(id string) bool {
	id = strings.TrimSpace(id)
	return id == "" || strings.EqualFold(id, "NOASSERTION") || strings.EqualFold(id, "NONE") || strings.EqualFold(id, "unknown")
}

// cardLicense returns the card's license and, for "other", its license_name.
func cardLicense(lic map[string]int) (license, name string) {
	known := map[string]bool{}
	unknown := false
	for id, n := range lic {
		if n == 0 {
			continue
		}
		if unknownLicense(id) {
			unknown = true
			continue
		}
		known[id] = true
	}
	switch {
	case len(known) == 0:
		return "unknown", ""
	case len(known) > 1 || unknown:
		return "other", "mixed"
	}
	for id := range known {
		if h := hubLicense(id); h != "" {
			return h, ""
		}
		return "other", licenseSlug(id)
	}
	return "unknown", ""
}

var nonSlug = regexp.MustCompile(`[^a-z0-9.+-]+`)

func licenseSlug(s string) string {
	s = strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if s == "" {
		return "other"
	}
	return s
}

// sizeCategory is the card's size_categories value for n records.
func sizeCategory(n int) string {
	cats := []struct {
		max  int64
		name string
	}{
		{1e3, "n<1K"}, {1e4, "1K<n<10K"}, {1e5, "10K<n<100K"}, {1e6, "100K<n<1M"}, {1e7, "1M<n<10M"},
		{1e8, "10M<n<100M"}, {1e9, "100M<n<1B"},
	}
	for _, c := range cats {
		if int64(n) < c.max {
			return c.name
		}
	}
	return "1B<n<10B"
}

// cardSplitOrder returns the split names of m: train, validation/valid, test first, then the rest sorted.
func cardSplitOrder(m map[string]int) []string {
	rank := func(s string) int {
		switch hfSplit(s) {
		case "train":
			return 0
		case "validation":
			return 1
		case "test":
			return 2
		}
		return 3
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		ri, rj := rank(keys[i]), rank(keys[j])
		if ri != rj {
			return ri < rj
		}
		return keys[i] < keys[j]
	})
	return keys
}

// keysByCount returns the keys of m, most records first, then by name.
func keysByCount(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}

// yamlQuote quotes s as a YAML double-quoted scalar (JSON string syntax is a subset of it).
func yamlQuote(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(buf.String(), "\n")
}

var plainYAML = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_./-]*$`)

// yamlScalar writes s plain when that is unambiguous (split names, paths), else quoted.
func yamlScalar(s string) string {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "null", "y", "n":
		return yamlQuote(s)
	}
	if plainYAML.MatchString(s) {
		return s
	}
	return yamlQuote(s)
}

// mdCell makes s safe inside a Markdown table cell.
func mdCell(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "|", `\|`).Replace(s)
	if s == "" {
		return "–"
	}
	return s
}

func mdCountTable(b *strings.Builder, title string, m map[string]int) {
	fmt.Fprintf(b, "| %s | Records |\n|---|---:|\n", title)
	for _, k := range keysByCount(m) {
		fmt.Fprintf(b, "| %s | %d |\n", mdCell(k), m[k])
	}
	b.WriteString("\n")
}

func hfAux(s Summary, o Options) (map[string][]byte, error) {
	return map[string][]byte{"README.md": []byte(hfCard(s, o))}, nil
}

// hfCard renders the dataset card: YAML metadata (hub-docs datasetcard.md keys, configs per
// datasets-manual-configuration.md) and a generated summary.
func hfCard(s Summary, o Options) string {
	name := s.Name
	if name == "" {
		name = "cicdllm dataset"
	}
	total := 0
	for _, n := range s.Splits {
		total += n
	}
	splits := cardSplitOrder(s.Splits)
	license, licenseName := cardLicense(s.Licenses)

	var b strings.Builder
	b.WriteString("---\n")
	fmt.Fprintf(&b, "pretty_name: %s\n", yamlQuote(name))
	fmt.Fprintf(&b, "license: %s\n", license)
	if licenseName != "" {
		fmt.Fprintf(&b, "license_name: %s\n", licenseName)
	}
	b.WriteString("language:\n- en\n")
	b.WriteString("task_categories:\n- text-generation\n- question-answering\n")
	b.WriteString("annotations_creators:\n- machine-generated\n")
	b.WriteString("language_creators:\n- machine-generated\n")
	fmt.Fprintf(&b, "size_categories:\n- %s\n", sizeCategory(total))
	b.WriteString("tags:\n- code\n- synthetic\n- cicdllm\n")
	b.WriteString("configs:\n- config_name: default\n  data_files:\n")
	for _, sp := range splits {
		fmt.Fprintf(&b, "  - split: %s\n    path: %s\n", yamlScalar(hfSplit(sp)), yamlScalar("data/"+hfSplit(sp)+".jsonl"))
	}
	b.WriteString("---\n\n")

	fmt.Fprintf(&b, "# %s\n\n", name)
	models := strings.Join(backquoteAll(keysByCount(s.Models)), ", ")
	if models == "" {
		models = "local language models"
	}
	fmt.Fprintf(&b, "Synthetic question/answer conversations about source code, generated by cicdllm "+
		"with %s from %d source repositories (%d records). Questions and answers are model output and may contain errors.\n\n",
		models, len(s.Sources), total)

	b.WriteString("## Data\n\n")
	b.WriteString("Each line of `data/<split>.jsonl` is one conversation in the chat `messages` format " +
		"(`{\"messages\": [{\"role\": \"system\"|\"user\"|\"assistant\", \"content\": \"…\"}]}`), which " +
		"TRL's SFTTrainer, axolotl (`chat_template`) and mlx-lm read directly; the trainer applies the model's chat template.\n")
	if o.WithMetadata {
		b.WriteString("A `metadata` object (all values strings, \"\" when unknown) records the provenance of every " +
			"conversation: `sample_id`, `repo`, `repo_url`, `path`, `commit`, `license`, `line_start`, `line_end`, " +
			"`model`, `theme`, `language`, `score`, `human_rating`.\n")
	}
	b.WriteString("\n```python\nfrom datasets import load_dataset\nds = load_dataset(\"path/to/this/directory\")\n```\n\n")

	b.WriteString("| Split | File | Records |\n|---|---|---:|\n")
	for _, sp := range splits {
		fmt.Fprintf(&b, "| %s | `data/%s.jsonl` | %d |\n", mdCell(hfSplit(sp)), hfSplit(sp), s.Splits[sp])
	}
	b.WriteString("\n")

	b.WriteString("## Generation\n\n")
	template := s.Template
	if template == "" {
		template = "hf"
	}
	fmt.Fprintf(&b, "- Tool: cicdllm (export template `%s`)\n", template)
	if !s.Created.IsZero() {
		fmt.Fprintf(&b, "- Created: %s\n", s.Created.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if o.System != "" {
		fmt.Fprintf(&b, "- System prompt added at export: %s\n", mdCell(o.System))
	}
	b.WriteString("\n")
	if len(s.Models) > 0 {
		mdCountTable(&b, "Model", s.Models)
	}
	if len(s.Params) > 0 {
		keys := make([]string, 0, len(s.Params))
		for k := range s.Params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("| Parameter | Value |\n|---|---|\n")
		for _, k := range keys {
			fmt.Fprintf(&b, "| %s | %s |\n", mdCell(k), mdCell(s.Params[k]))
		}
		b.WriteString("\n")
	}

	if len(s.Repos) > 0 {
		b.WriteString("## Records per repository\n\n")
		mdCountTable(&b, "Repository", s.Repos)
	}
	if len(s.Languages) > 0 {
		b.WriteString("## Records per language\n\n")
		mdCountTable(&b, "Language", s.Languages)
	}

	b.WriteString("## Source repositories\n\n")
	if len(s.Sources) == 0 {
		b.WriteString("No source repositories recorded.\n\n")
	} else {
		src := append([]Source(nil), s.Sources...)
		sort.SliceStable(src, func(i, j int) bool {
			if src[i].Name != src[j].Name {
				return src[i].Name < src[j].Name
			}
			return src[i].URL < src[j].URL
		})
		b.WriteString("| Repository | URL | Commit | Licence |\n|---|---|---|---|\n")
		for _, r := range src {
			commit := "–"
			if r.Commit != "" {
				commit = "`" + mdCell(r.Commit) + "`"
			}
			if len(r.Commits) > 1 {
				commit += fmt.Sprintf(" and %d more", len(r.Commits)-1)
			}
			lic := r.License
			if unknownLicense(lic) {
				lic = "NOASSERTION"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", mdCell(r.Name), mdCell(r.URL), commit, mdCell(lic))
		}
		b.WriteString("\n")
	}

	b.WriteString("## Licences and attribution\n\n")
	if len(s.Licenses) > 0 {
		b.WriteString("| Source licence (SPDX) | Records |\n|---|---:|\n")
		for _, k := range keysByCount(s.Licenses) {
			id := k
			if unknownLicense(id) {
				id = "NOASSERTION"
			}
			fmt.Fprintf(&b, "| %s | %d |\n", mdCell(id), s.Licenses[k])
		}
		b.WriteString("\n")
	}
	switch license {
	case "unknown":
		b.WriteString("The licences of the source repositories could not be determined (NOASSERTION), so this card declares `license: unknown`. ")
	case "other":
		b.WriteString("The source repositories are under different or non-standard licences (" +
			strings.Join(backquoteAll(sortedLicenses(s.Licenses)), ", ") + "), so this card declares `license: other`. ")
	default:
		fmt.Fprintf(&b, "Every source repository is under the same licence, declared in this card as `%s`. ", license)
	}
	b.WriteString("The questions and answers were generated from, and may quote, the source files listed above; " +
		"quoted code remains under its repository's licence and copyright, and redistributing this dataset may require " +
		"the attribution and notices those licences ask for (repository, commit and, with metadata, file and lines are " +
		"recorded for that purpose). `ATTRIBUTION.md` lists every source repository with its commits, licence, record count, " +
		"copyright lines and NOTICE file. Check the terms of the generating models as well.\n")
	return b.String()
}

// sortedLicenses lists the licences of m with records, unknown ones as NOASSERTION, sorted.
func sortedLicenses(m map[string]int) []string {
	seen := map[string]bool{}
	var out []string
	for id, n := range m {
		if n == 0 {
			continue
		}
		if unknownLicense(id) {
			id = "NOASSERTION"
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

func backquoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "`" + strings.ReplaceAll(s, "`", "'") + "`"
	}
	return out
}

// ---------------------------------------------------------------------------------------------------- llamafactory

var llamafactoryFormat = &Format{
	Name:     "llamafactory",
	Summary:  "LLaMA-Factory directory: <split>.jsonl + dataset_info.json",
	Dir:      true,
	Header:   noHeader,
	Encode:   encodeMessages,
	DataFile: func(split string) string { return split + ".jsonl" },
	Aux:      llamafactoryAux,
}

type lfColumns struct {
	Messages string `json:"messages"`
}

type lfTags struct {
	RoleTag      string `json:"role_tag"`
	ContentTag   string `json:"content_tag"`
	UserTag      string `json:"user_tag"`
	AssistantTag string `json:"assistant_tag"`
	SystemTag    string `json:"system_tag"`
}

type lfEntry struct {
	FileName   string    `json:"file_name"`
	Formatting string    `json:"formatting"`
	Columns    lfColumns `json:"columns"`
	Tags       lfTags    `json:"tags"`
}

var lfName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// LlamaFactoryDataset names the dataset_info.json entry of a split.
func LlamaFactoryDataset(name, split string) string {
	n := strings.Trim(lfName.ReplaceAllString(name, "_"), "_")
	if n == "" {
		n = "cicdllm"
	}
	return n + "_" + split
}

func llamafactoryAux(s Summary, _ Options) (map[string][]byte, error) {
	info := map[string]lfEntry{} // json.Marshal writes map keys sorted
	splits := s.Splits
	if len(splits) == 0 {
		splits = map[string]int{"train": 0}
	}
	for sp := range splits {
		info[LlamaFactoryDataset(s.Name, sp)] = lfEntry{
			FileName:   sp + ".jsonl",
			Formatting: "sharegpt",
			Columns:    lfColumns{Messages: "messages"},
			Tags: lfTags{RoleTag: "role", ContentTag: "content", UserTag: "user",
				AssistantTag: "assistant", SystemTag: "system"},
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(info); err != nil {
		return nil, err
	}
	return map[string][]byte{"dataset_info.json": buf.Bytes()}, nil
}
