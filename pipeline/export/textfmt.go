package export

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"
)

// ---------------------------------------------------------------------------------------------------- csv

var csvMetaColumns = []string{"sample_id", "repo", "path", "commit", "line_start", "line_end", "model", "theme", "score"}

var csvFormat = &Format{
	Name:     "csv",
	Summary:  "CSV user_content,assistant_content (RFC 4180; spreadsheets, pandas)",
	Header:   csvHeader,
	Encode:   encodeCSV,
	DataFile: fileDataName(".csv"),
	Aux:      noAux,
}

func csvHeader(o Options) []byte {
	cols := []string{"user_content", "assistant_content"}
	if o.WithMetadata {
		cols = append(cols, csvMetaColumns...)
	}
	b, _ := csvRow(cols)
	return b
}

// csvField prepares a value for CSV: valid UTF-8, CRLF inside the value as "\n" (see the package comment).
func csvField(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\r\n", "\n")
}

// csvRow writes one RFC 4180 row terminated by CRLF. encoding/csv's UseCRLF would also rewrite "\n" inside quoted
// fields as CRLF and drop bare "\r", so the row is written with "\n" and only its terminator is replaced.
func csvRow(fields []string) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	clean := make([]string, len(fields))
	for i, f := range fields {
		clean[i] = csvField(f)
	}
	if err := w.Write(clean); err != nil {
		return nil, err
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	b = append(b[:len(b)-1], '\r', '\n')
	return b, nil
}

func encodeCSV(r Record, o Options) ([]byte, error) {
	c, err := prepareRecord(r, o)
	if err != nil {
		return nil, err
	}
	var users, answers []string
	for _, t := range c.turns {
		if t.Role == "user" {
			users = append(users, t.Content)
		} else {
			answers = append(answers, t.Content)
		}
	}
	row := []string{strings.Join(users, "\n"), strings.Join(answers, "\n")}
	if o.WithMetadata {
		m := r.Meta
		row = append(row, strconv.FormatInt(m.SampleID, 10), m.Repo, m.Path, m.Commit,
			intOrEmpty(m.LineStart), intOrEmpty(m.LineEnd), m.Model, m.Theme, scoreString(m.Score))
	}
	return csvRow(row)
}

// ---------------------------------------------------------------------------------------------------- alpaca

var alpacaFormat = &Format{
	Name:     "alpaca-jsonl",
	Summary:  "Alpaca {instruction,input,output,system,history} JSONL (LLaMA-Factory, axolotl)",
	Header:   noHeader,
	Encode:   encodeAlpaca,
	DataFile: fileDataName(".jsonl"),
	Aux:      noAux,
}

type alpacaRow struct {
	Instruction string      `json:"instruction"`
	Input       string      `json:"input"`
	Output      string      `json:"output"`
	System      string      `json:"system,omitempty"`
	History     [][2]string `json:"history,omitempty"`
	Metadata    *jsonMeta   `json:"metadata,omitempty"`
}

func encodeAlpaca(r Record, o Options) ([]byte, error) {
	c, err := prepareRecord(r, o)
	if err != nil {
		return nil, err
	}
	n := len(c.turns)
	row := alpacaRow{
		Instruction: c.turns[n-2].Content,
		Output:      c.turns[n-1].Content,
		System:      c.system,
		Metadata:    metaObject(r.Meta, o),
	}
	for i := 0; i+1 < n-2; i += 2 {
		row.History = append(row.History, [2]string{c.turns[i].Content, c.turns[i+1].Content})
	}
	return encodeJSONLine(row)
}

// ---------------------------------------------------------------------------------------------------- messages

type messagesRow struct {
	Messages []chatMessage `json:"messages"`
	Metadata *jsonMeta     `json:"metadata,omitempty"`
}

func encodeMessages(r Record, o Options) ([]byte, error) {
	c, err := prepareRecord(r, o)
	if err != nil {
		return nil, err
	}
	return encodeJSONLine(messagesRow{Messages: c.messages(), Metadata: metaObject(r.Meta, o)})
}

func messagesFormat(name, summary string) *Format {
	return &Format{
		Name:     name,
		Summary:  summary,
		Header:   noHeader,
		Encode:   encodeMessages,
		DataFile: fileDataName(".jsonl"),
		Aux:      noAux,
	}
}

// ---------------------------------------------------------------------------------------------------- sharegpt

var sharegptFormat = &Format{
	Name:     "sharegpt-jsonl",
	Summary:  "ShareGPT {\"conversations\":[{from,value}]} JSONL (LLaMA-Factory, axolotl)",
	Header:   noHeader,
	Encode:   encodeShareGPT,
	DataFile: fileDataName(".jsonl"),
	Aux:      noAux,
}

type sharegptTurn struct {
	From  string `json:"from"`
	Value string `json:"value"`
}

type sharegptRow struct {
	Conversations []sharegptTurn `json:"conversations"`
	Metadata      *jsonMeta      `json:"metadata,omitempty"`
}

func encodeShareGPT(r Record, o Options) ([]byte, error) {
	c, err := prepareRecord(r, o)
	if err != nil {
		return nil, err
	}
	row := sharegptRow{Metadata: metaObject(r.Meta, o)}
	if c.system != "" {
		row.Conversations = append(row.Conversations, sharegptTurn{"system", c.system})
	}
	for _, t := range c.turns {
		from := "human"
		if t.Role == "assistant" {
			from = "gpt"
		}
		row.Conversations = append(row.Conversations, sharegptTurn{from, t.Content})
	}
	return encodeJSONLine(row)
}

// ---------------------------------------------------------------------------------------------------- prompt-completion

var promptCompletionFormat = &Format{
	Name:     "prompt-completion-jsonl",
	Summary:  "TRL conversational prompt/completion JSONL; loss on the answer only",
	Header:   noHeader,
	Encode:   encodePromptCompletion,
	DataFile: fileDataName(".jsonl"),
	Aux:      noAux,
}

type promptCompletionRow struct {
	Prompt     []chatMessage `json:"prompt"`
	Completion []chatMessage `json:"completion"`
	Metadata   *jsonMeta     `json:"metadata,omitempty"`
}

func encodePromptCompletion(r Record, o Options) ([]byte, error) {
	c, err := prepareRecord(r, o)
	if err != nil {
		return nil, err
	}
	msgs := c.messages()
	n := len(msgs)
	return encodeJSONLine(promptCompletionRow{Prompt: msgs[:n-1], Completion: msgs[n-1:], Metadata: metaObject(r.Meta, o)})
}

// ---------------------------------------------------------------------------------------------------- text templates

type textRow struct {
	Text     string    `json:"text"`
	Metadata *jsonMeta `json:"metadata,omitempty"`
}

// textFormat builds a {"text": …} format from a renderer that writes the conversation without BOS.
func textFormat(name, summary, bos string, render func(c conversation, o Options) string) *Format {
	return &Format{
		Name:    name,
		Summary: summary,
		Header:  noHeader,
		Encode: func(r Record, o Options) ([]byte, error) {
			c, err := prepareRecord(r, o)
			if err != nil {
				return nil, err
			}
			text := render(c, o)
			if o.BOS {
				text = bos + text
			}
			return encodeJSONLine(textRow{Text: text, Metadata: metaObject(r.Meta, o)})
		},
		DataFile: fileDataName(".jsonl"),
		Aux:      noAux,
	}
}

// Llama 3.x: "<|start_header_id|>{role}<|end_header_id|>\n\n{content|trim}<|eot_id|>" per turn.
var llama3Format = textFormat("llama3",
	"Llama 3.x chat text {\"text\"} JSONL (TRL, mlx-lm); --llama-date adds the 3.1 header",
	"<|begin_of_text|>", renderLlama3)

func renderLlama3(c conversation, o Options) string {
	var b strings.Builder
	head := func(role string) {
		b.WriteString("<|start_header_id|>")
		b.WriteString(role)
		b.WriteString("<|end_header_id|>\n\n")
	}
	if o.LlamaDate != "" {
		// Llama 3.1/3.3 template: the system turn is always written.
		head("system")
		b.WriteString("Cutting Knowledge Date: December 2023\n")
		b.WriteString("Today Date: " + o.LlamaDate + "\n\n")
		b.WriteString(pyTrim(c.system))
		b.WriteString("<|eot_id|>")
	} else if c.system != "" {
		// Llama 3 template: the system message is an ordinary turn.
		head("system")
		b.WriteString(pyTrim(c.system))
		b.WriteString("<|eot_id|>")
	}
	for _, t := range c.turns {
		head(t.Role)
		b.WriteString(pyTrim(t.Content))
		b.WriteString("<|eot_id|>")
	}
	return b.String()
}

// Mistral V3 (SentencePiece): "[INST] {user}[/INST] {answer|trim}</s>", the system prompt at the start of the last
// user turn (mistral-common InstructTokenizerV3).
var mistralFormat = textFormat("mistral",
	"Mistral v3 [INST] text {\"text\"} JSONL (Mistral-7B-v0.3, Mixtral 8x22B, Codestral)",
	"<s>", renderMistral)

func renderMistral(c conversation, _ Options) string {
	var b strings.Builder
	last := c.lastUser()
	for i, t := range c.turns {
		if t.Role == "user" {
			b.WriteString("[INST] ")
			if i == last && c.system != "" {
				b.WriteString(c.system)
				b.WriteString("\n\n")
			}
			b.WriteString(t.Content)
			b.WriteString("[/INST]")
		} else {
			b.WriteString(" ")
			b.WriteString(pyTrim(t.Content))
			b.WriteString("</s>")
		}
	}
	return b.String()
}

// Gemma 2/3: "<start_of_turn>{user|model}\n{content|trim}<end_of_turn>\n", the system prompt + "\n\n" before the
// first user turn (Gemma 3's template).
var gemmaFormat = textFormat("gemma",
	"Gemma 2/3 chat text {\"text\"} JSONL; the system prompt joins the first user turn",
	"<bos>", renderGemma)

func renderGemma(c conversation, _ Options) string {
	var b strings.Builder
	for i, t := range c.turns {
		role := t.Role
		if role == "assistant" {
			role = "model"
		}
		b.WriteString("<start_of_turn>")
		b.WriteString(role)
		b.WriteString("\n")
		if i == 0 && c.system != "" {
			b.WriteString(c.system)
			b.WriteString("\n\n")
		}
		b.WriteString(pyTrim(t.Content))
		b.WriteString("<end_of_turn>\n")
	}
	return b.String()
}

// QwenDefaultSystem is the system prompt Qwen2.5's chat template writes when the conversation has none.
const QwenDefaultSystem = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

// Qwen2.5 ChatML: "<|im_start|>{role}\n{content}<|im_end|>\n", content not trimmed.
var qwenFormat = textFormat("qwen",
	"Qwen2.5 ChatML text {\"text\"} JSONL (<|im_start|>…<|im_end|>)",
	"", renderQwen)

func renderQwen(c conversation, _ Options) string {
	var b strings.Builder
	turn := func(role, content string) {
		b.WriteString("<|im_start|>")
		b.WriteString(role)
		b.WriteString("\n")
		b.WriteString(content)
		b.WriteString("<|im_end|>\n")
	}
	sys := c.system
	if sys == "" {
		sys = QwenDefaultSystem
	}
	turn("system", sys)
	for _, t := range c.turns {
		turn(t.Role, t.Content)
	}
	return b.String()
}
