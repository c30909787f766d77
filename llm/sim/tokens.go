package sim

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// bytesPerToken is the simulator's tokenizer approximation.
const bytesPerToken = 4

// Message is a chat message as the simulator sees it: its role and its text
// (the text parts of an array-of-parts content, concatenated).
type Message struct {
	Role    string
	Content string
}

const (
	imStart = "<|im_start|>"
	imEnd   = "<|im_end|>"
	// assistantPrefix is what the chat template adds before an assistant
	// turn; the slot cache keeps prompt+assistantPrefix+answer so that the
	// next turn of the same conversation hits the cache.
	assistantPrefix = imStart + "assistant\n"
)

// RenderPrompt renders messages ChatML-style, one
// "<|im_start|>role\ncontent<|im_end|>\n" per message. Its length is what the
// simulator charges as the prompt.
func RenderPrompt(msgs []Message) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString(imStart)
		b.WriteString(m.Role)
		b.WriteByte('\n')
		b.WriteString(m.Content)
		b.WriteString(imEnd)
		b.WriteByte('\n')
	}
	return b.String()
}

// CountTokens is the simulator's token count of a text: ceil(len(bytes)/4).
func CountTokens(text string) int {
	return (len(text) + bytesPerToken - 1) / bytesPerToken
}

// PromptTokens is the prompt size the simulator reports for msgs
// (usage.prompt_tokens): CountTokens(RenderPrompt(msgs)).
func PromptTokens(msgs []Message) int { return CountTokens(RenderPrompt(msgs)) }

// maxWordPiece caps the letters of one generated token, like BPE pieces.
const maxWordPiece = 8

// tokenize splits generated text into token strings the way a BPE tokenizer
// roughly would: a word piece with its leading space, up to three digits,
// a run of whitespace, or one or two punctuation characters. The pieces
// always concatenate back to text and never split a UTF-8 sequence.
func tokenize(text string) []string {
	var out []string
	i := 0
	for i < len(text) {
		start := i
		r, n := utf8.DecodeRuneInString(text[i:])
		if r == ' ' && i+1 < len(text) {
			if r2, n2 := utf8.DecodeRuneInString(text[i+1:]); !unicode.IsSpace(r2) {
				i++
				r, n = r2, n2
			}
		}
		switch {
		case unicode.IsLetter(r):
			i = scanWord(text, i)
		case unicode.IsDigit(r):
			for k := 0; k < 3 && i < len(text); k++ {
				rr, nn := utf8.DecodeRuneInString(text[i:])
				if !unicode.IsDigit(rr) {
					break
				}
				i += nn
			}
		case unicode.IsSpace(r):
			j := i
			for j < len(text) {
				rr, nn := utf8.DecodeRuneInString(text[j:])
				if !unicode.IsSpace(rr) {
					break
				}
				j += nn
			}
			// Leave a final single space to lead the next word.
			if j < len(text) && j-i > 1 && text[j-1] == ' ' {
				j--
			}
			i = j
		default:
			i += n
			if i < len(text) {
				rr, nn := utf8.DecodeRuneInString(text[i:])
				if !unicode.IsLetter(rr) && !unicode.IsDigit(rr) && !unicode.IsSpace(rr) {
					i += nn
				}
			}
		}
		if i == start { // cannot happen, but never loop forever
			_, n := utf8.DecodeRuneInString(text[i:])
			i += n
		}
		out = append(out, text[start:i])
	}
	return out
}

// scanWord consumes letters from i: at most maxWordPiece of them, stopping at
// a lower-to-upper case change (camelCase boundary).
func scanWord(text string, i int) int {
	count := 0
	var prev rune
	for i < len(text) {
		r, n := utf8.DecodeRuneInString(text[i:])
		if !unicode.IsLetter(r) {
			break
		}
		if count > 0 && (count >= maxWordPiece || (unicode.IsLower(prev) && unicode.IsUpper(r))) {
			break
		}
		prev = r
		count++
		i += n
	}
	return i
}
