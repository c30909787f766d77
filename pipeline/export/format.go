// Package export holds the encoders of cicdllm's export formats (--template): how one question/answer conversation
// becomes one line (or CSV row) of a fine-tuning dataset, and the extra files of the directory formats.
//
// The package imports nothing of cicdllm; the export engine (cicdllm/pipeline) reads the database, builds Records,
// picks a Format with Lookup, writes Header once per data file, then Encode for every record, and for directory
// formats the files Aux returns. Decisions, per format:
//
// Common rules (every format):
//   - A record is an optional leading system turn, then user/assistant turns alternating, starting with user and
//     ending with assistant. Anything else is skipped with a SkipError: "no user turn", "empty answer" (any
//     assistant turn empty or only whitespace), "empty question", "no answer" (the record does not end with an
//     assistant turn), "roles not alternating", "misplaced system turn" (a system turn after the first turn),
//     "unknown role". Every format trains on a final answer, so the rules are the same for all of them.
//   - The system prompt is the record's own system turn; when it has none (or an empty one), Options.System; else
//     none. Content is otherwise written as given (no trimming) except where a chat template trims it.
//   - JSON: one compact object per line, keys in a fixed order, real UTF-8 (json.Encoder with SetEscapeHTML(false):
//     only what JSON requires is escaped, plus U+2028/U+2029), "\n" after every record.
//   - Multi-turn records render all turns in order in every format that has turns.
//   - WithMetadata adds a "metadata" object to every JSON format (trainers ignore unknown columns: TRL, mlx-lm
//     ("Unknown keys are ignored"), axolotl, LLaMA-Factory (drops unmapped columns)). Its values are all strings
//     (OpenAI's metadata shape, and one Arrow type per column when the Hub or `datasets` loads the file), keys
//     always present, "" when unknown: sample_id, repo, repo_url, path, commit, license, line_start, line_end,
//     model, theme, language, score, human_rating. CSV gets extra columns instead (see below).
//
// csv: header user_content,assistant_content (+ sample_id,repo,path,commit,line_start,line_end,model,theme,score
// with WithMetadata). RFC 4180: records end with CRLF (the RFC's line break, and what the prototype's Python
// csv module wrote); fields are quoted only when needed, quotes doubled. Multi-turn: the user turns are joined with
// "\n" into user_content and the assistant turns likewise (the prototype's rule); CSV has no system column, so the
// system prompt is not written. Line breaks inside a field are written as "\n" with CRLF inside content normalised
// to "\n": encoding/csv (and most CSV readers) turn a quoted CRLF into "\n" when reading, so this way the file reads
// back to exactly the strings written; a bare "\r" is kept.
//
// alpaca-jsonl: {"instruction","input","output"} as the prototype, plus LLaMA-Factory's optional "system" and
// "history" (reference §1.4/§1.10): instruction = the last user turn, input = "" (our questions carry their
// context), output = the last answer, system = the system prompt if any, history = the earlier [user, assistant]
// pairs of a multi-turn record. Stanford-Alpaca/axolotl readers ignore system/history (they see the last exchange);
// LLaMA-Factory's alpaca reader uses both.
//
// chatml-jsonl, openai-jsonl: {"messages":[{"role","content"},…]} (OpenAI chat fine-tuning, TRL, mlx-lm chat,
// axolotl chat_template). chatml-jsonl is the prototype's name (OpenAI message objects, not <|im_start|> text);
// openai-jsonl is the same data under the name people look for.
//
// sharegpt-jsonl: {"conversations":[{"from":"system"|"human"|"gpt","value"}]}, the system prompt as the first
// conversation entry (LLaMA-Factory sharegpt, axolotl with from/value mappings).
//
// prompt-completion-jsonl: TRL's conversational prompt-completion, {"prompt":[messages up to the last user turn,
// system included],"completion":[{"role":"assistant","content":last answer}]}; TRL trains on the completion only.
//
// Text templates (llama3, mistral, gemma, qwen): {"text": rendering}, the rendering being byte for byte what the
// model family's own chat template produces for the conversation (add_generation_prompt=false), compared in tests
// against the reference renderings. Without Options.BOS the leading BOS string is left out: TRL and mlx-lm tokenize
// a "text" row with the tokenizer's default add_special_tokens, which prepends BOS itself, so a BOS in the text
// would give a double BOS. Turn terminators are kept; trainers may append EOS (TRL and mlx-lm do when the text does
// not end with the tokenizer's EOS). Special-token strings inside content (e.g. "</s>") are written as they are,
// as the templates do; they become real special tokens when tokenized.
//   - llama3: Llama 3.x headers, content trimmed as the templates do. Without Options.LlamaDate the original
//     Llama 3 template (system turn only when there is a system prompt); with LlamaDate the Llama 3.1/3.3 template
//     (always a system turn starting "Cutting Knowledge Date: December 2023\nToday Date: <date>\n\n").
//   - mistral: Mistral V3 SentencePiece (Mistral-7B-Instruct-v0.3, Mixtral-8x22B-Instruct, Codestral, Mistral
//     Large 2407): "[INST] user[/INST] answer</s>" with the system prompt placed as mistral-common places it, at the
//     start of the LAST user turn ("system\n\nuser"). The HF v3 template would drop the system prompt of a row that
//     ends with an assistant turn (reference §1.1), which is why the tokenizer library's placement is used.
//     Assistant content is trimmed as in the HF v3 template.
//   - gemma: Gemma 2/3, assistant role "model"; the system prompt is folded into the first user turn as Gemma 3's
//     template does (system + "\n\n" + trimmed user; Gemma 2's template rejects a system role).
//   - qwen: Qwen2.5 ChatML, content not trimmed; when there is no system prompt the template's default
//     "You are Qwen, created by Alibaba Cloud. You are a helpful assistant." is written, because that is what
//     Qwen2.5's template renders (and what training from messages would see). Qwen has no BOS.
//
// Directory formats:
//   - mlx-lm: train.jsonl, valid.jsonl, test.jsonl with {"messages":[…]} lines (mlx-lm's "chat" format, rendered
//     with the model's chat template by mlx_lm.lora). No extra files.
//   - hf: data/<split>.jsonl ({"messages":[…]}; Parquet would need a non-standard library) and a README.md
//     dataset card whose YAML header declares configs/data_files per split, license, task categories, languages,
//     tags and size category, followed by a generated summary. The split "valid" is called "validation" on the Hub.
//   - llamafactory: <split>.jsonl with {"messages":[…]} lines and dataset_info.json registering one dataset per
//     split, named <name>_<split>, in LLaMA-Factory's "OpenAI format" (formatting sharegpt with role/content tags).
package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Turn is one message of a conversation; Role is "system", "user" or "assistant".
type Turn struct{ Role, Content string }

// Metadata is the provenance of a record, written with Options.WithMetadata.
type Metadata struct {
	SampleID            int64
	Repo, RepoURL, Path string
	Commit, License     string
	LineStart, LineEnd  int
	Model, Theme        string
	Language            string
	Score               *float64
	HumanRating         int
}

// Record is one conversation to export.
type Record struct {
	Turns []Turn // in order; an optional leading system turn, then user/assistant alternating, ending with assistant
	Meta  Metadata
}

// Options are the export options that change how records are rendered.
type Options struct {
	System       string // --system: used when the record has no system turn of its own
	BOS          bool   // text templates: include the BOS token string
	LlamaDate    string // --llama-date, e.g. "26 Jul 2024": Llama 3.1 date header; "" = no header
	WithMetadata bool
}

// ErrSkip marks a record that cannot be represented (no user turn, an empty assistant answer, a role sequence the
// format forbids); errors.Is(err, ErrSkip) is true for every SkipError.
var ErrSkip = errors.New("record skipped")

// SkipError says why a record was skipped. Encode returns it as *SkipError.
type SkipError struct{ Reason string }

func (e SkipError) Error() string { return "record skipped: " + e.Reason }

// Is makes errors.Is(err, ErrSkip) true.
func (e SkipError) Is(target error) bool { return target == ErrSkip }

// SkipReason returns the reason of a SkipError in err's chain.
func SkipReason(err error) (string, bool) {
	var p *SkipError
	if errors.As(err, &p) && p != nil {
		return p.Reason, true
	}
	var v SkipError
	if errors.As(err, &v) {
		return v.Reason, true
	}
	return "", false
}

func skipErr(reason string) error { return &SkipError{Reason: reason} }

// Skip reasons.
const (
	ReasonNoUser        = "no user turn"
	ReasonEmptyAnswer   = "empty answer"
	ReasonEmptyQuestion = "empty question"
	ReasonNoAnswer      = "no answer"
	ReasonNotAlternate  = "roles not alternating"
	ReasonSystemPlace   = "misplaced system turn"
	ReasonUnknownRole   = "unknown role"
)

// Format is one export format.
type Format struct {
	Name    string
	Summary string // one line for help: what it is and which trainer reads it
	Dir     bool   // writes a directory (mlx-lm, hf, llamafactory) rather than one file
	// Header returns bytes written once at the start of every data file (CSV header row), or nil.
	Header func(o Options) []byte
	// Encode renders one record, including its trailing "\n".
	Encode func(r Record, o Options) ([]byte, error)
	// DataFile names a split's data file inside the directory ("train.jsonl", "data/train.jsonl"); for file formats
	// it is unused (it returns split + the format's extension).
	DataFile func(split string) string
	// Aux returns extra files of a directory format, written after the data (README.md card, dataset_info.json),
	// keyed by relative path. It returns nil for formats without extra files.
	Aux func(s Summary, o Options) (map[string][]byte, error)
}

// Summary describes an export, for dataset cards.
type Summary struct {
	Name      string            // dataset name (output dir base name)
	Template  string            // format name
	Splits    map[string]int    // records per split ("train" only when not split)
	Repos     map[string]int    // records per repository name
	Languages map[string]int    // records per (programming) language
	Models    map[string]int    // records per generating model
	Licenses  map[string]int    // SPDX id → records ("NOASSERTION" when unknown)
	Sources   []Source          // every source repository
	Params    map[string]string // generation parameters (temperature, max_tokens, theme, ...)
	Created   time.Time
}

// Source is one source repository of an export.
type Source struct {
	Name, URL string
	// Commit is the commit of the repository's newest exported record;
	// Commits lists every commit its exported records were generated
	// from, Commit first, the rest sorted.
	Commit  string
	Commits []string
	License string // SPDX licence ("NOASSERTION" when unknown)
	Records int    // records written from it
}

var formats = []*Format{
	csvFormat,
	alpacaFormat,
	messagesFormat("chatml-jsonl", "chat {\"messages\":[…]} JSONL, the prototype's name (TRL, axolotl, mlx-lm)"),
	messagesFormat("openai-jsonl", "OpenAI chat fine-tuning {\"messages\":[…]} JSONL (also TRL, axolotl, mlx-lm)"),
	sharegptFormat,
	promptCompletionFormat,
	llama3Format,
	mistralFormat,
	gemmaFormat,
	qwenFormat,
	mlxFormat,
	hfFormat,
	llamafactoryFormat,
}

// Names returns every format name, in help order.
func Names() []string {
	out := make([]string, len(formats))
	for i, f := range formats {
		out[i] = f.Name
	}
	return out
}

// Lookup returns the format called name (case-insensitive); an unknown name is an error listing Names().
func Lookup(name string) (*Format, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, f := range formats {
		if f.Name == n {
			c := *f
			return &c, nil
		}
	}
	return nil, fmt.Errorf("unknown export format %q (known: %s)", name, strings.Join(Names(), ", "))
}

// conversation is a validated record: the resolved system prompt and the user/assistant turns.
type conversation struct {
	system string // "" = none
	turns  []Turn // user, assistant, user, assistant, …, assistant
}

// prepareRecord validates r and resolves its system prompt.
func prepareRecord(r Record, o Options) (conversation, error) {
	var c conversation
	turns := r.Turns
	haveSystem := false
	if len(turns) > 0 && turns[0].Role == "system" {
		if strings.TrimSpace(turns[0].Content) != "" {
			c.system = turns[0].Content
			haveSystem = true
		}
		turns = turns[1:]
	}
	if !haveSystem && strings.TrimSpace(o.System) != "" {
		c.system = o.System
	}
	hasUser := false
	for _, t := range turns {
		switch t.Role {
		case "user":
			hasUser = true
		case "assistant":
		case "system":
			return c, skipErr(ReasonSystemPlace)
		default:
			return c, skipErr(ReasonUnknownRole)
		}
	}
	if !hasUser {
		return c, skipErr(ReasonNoUser)
	}
	for _, t := range turns {
		if t.Role == "assistant" && strings.TrimSpace(t.Content) == "" {
			return c, skipErr(ReasonEmptyAnswer)
		}
	}
	for _, t := range turns {
		if t.Role == "user" && strings.TrimSpace(t.Content) == "" {
			return c, skipErr(ReasonEmptyQuestion)
		}
	}
	for i, t := range turns {
		want := "user"
		if i%2 == 1 {
			want = "assistant"
		}
		if t.Role != want {
			return c, skipErr(ReasonNotAlternate)
		}
	}
	if turns[len(turns)-1].Role != "assistant" {
		return c, skipErr(ReasonNoAnswer)
	}
	c.turns = turns
	return c, nil
}

// lastUser is the index of the last user turn in c.turns.
func (c conversation) lastUser() int {
	for i := len(c.turns) - 1; i >= 0; i-- {
		if c.turns[i].Role == "user" {
			return i
		}
	}
	return -1
}

// chatMessage is an OpenAI chat message.
type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// messages is the conversation as OpenAI messages, the system prompt first.
func (c conversation) messages() []chatMessage {
	out := make([]chatMessage, 0, len(c.turns)+1)
	if c.system != "" {
		out = append(out, chatMessage{"system", c.system})
	}
	for _, t := range c.turns {
		out = append(out, chatMessage{t.Role, t.Content})
	}
	return out
}

// jsonMeta is the "metadata" object of the JSON formats: flat strings, every key always present.
type jsonMeta struct {
	SampleID    string `json:"sample_id"`
	Repo        string `json:"repo"`
	RepoURL     string `json:"repo_url"`
	Path        string `json:"path"`
	Commit      string `json:"commit"`
	License     string `json:"license"`
	LineStart   string `json:"line_start"`
	LineEnd     string `json:"line_end"`
	Model       string `json:"model"`
	Theme       string `json:"theme"`
	Language    string `json:"language"`
	Score       string `json:"score"`
	HumanRating string `json:"human_rating"`
}

func intOrEmpty(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func scoreString(s *float64) string {
	if s == nil {
		return ""
	}
	return strconv.FormatFloat(*s, 'f', -1, 64)
}

// metaObject returns the metadata object, or nil without WithMetadata.
func metaObject(m Metadata, o Options) *jsonMeta {
	if !o.WithMetadata {
		return nil
	}
	return &jsonMeta{
		SampleID:    strconv.FormatInt(m.SampleID, 10),
		Repo:        m.Repo,
		RepoURL:     m.RepoURL,
		Path:        m.Path,
		Commit:      m.Commit,
		License:     m.License,
		LineStart:   intOrEmpty(m.LineStart),
		LineEnd:     intOrEmpty(m.LineEnd),
		Model:       m.Model,
		Theme:       m.Theme,
		Language:    m.Language,
		Score:       scoreString(m.Score),
		HumanRating: intOrEmpty(m.HumanRating),
	}
}

// encodeJSONLine encodes v as one compact JSON line with real UTF-8 and a trailing "\n".
func encodeJSONLine(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// pyTrim is Jinja's `trim` filter: Python's str.strip(), which removes what str.isspace() accepts (Go's
// unicode.IsSpace plus the information separators U+001C..U+001F).
func pyTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
	})
}

func noHeader(Options) []byte { return nil }

func noAux(Summary, Options) (map[string][]byte, error) { return nil, nil }

func fileDataName(ext string) func(string) string {
	return func(split string) string { return split + ext }
}
