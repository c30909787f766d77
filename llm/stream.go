package llm

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Usage is the token accounting of one completion.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
	CachedTokens     int // prompt tokens served from the server's prefix cache
}

// Timings are llama.cpp's per-request timings, when the server sends them.
type Timings struct {
	CacheN              int     `json:"cache_n"`
	PromptN             int     `json:"prompt_n"`
	PromptMS            float64 `json:"prompt_ms"`
	PromptPerSecond     float64 `json:"prompt_per_second"`
	PredictedN          int     `json:"predicted_n"`
	PredictedMS         float64 `json:"predicted_ms"`
	PredictedPerSecond  float64 `json:"predicted_per_second"`
	PredictedPerTokenMS float64 `json:"predicted_per_token_ms"`
}

type usageJSON struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

func (u *usageJSON) usage() Usage {
	out := Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens}
	if u.PromptTokensDetails != nil {
		out.CachedTokens = u.PromptTokensDetails.CachedTokens
	}
	return out
}

// chunk is one chat.completion.chunk, or a whole non-streamed completion
// (message instead of delta), or an error object.
type chunk struct {
	Model   string `json:"model"`
	Choices []struct {
		Delta struct {
			Content          *string `json:"content"`
			ReasoningContent *string `json:"reasoning_content"`
		} `json:"delta"`
		Message struct {
			Content          *string `json:"content"`
			ReasoningContent *string `json:"reasoning_content"`
		} `json:"message"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage   *usageJSON      `json:"usage"`
	Timings *Timings        `json:"timings"`
	Error   json.RawMessage `json:"error"`
}

// streamResult is what a stream assembled into.
type streamResult struct {
	text         []byte
	reasoning    int // bytes of reasoning_content seen
	finishReason string
	usage        Usage
	timings      *Timings
	model        string
	sawDone      bool
	tokens       int // content deltas received
}

// maxSSELine bounds one SSE line. A chunk is one token, but error bodies
// and non-chunked servers can be long; 64 KiB (bufio's default) is not
// enough for them.
const maxSSELine = 8 << 20

// readStream reads an OpenAI-style SSE stream. onActivity is called for
// every event and keep-alive comment with whether content has started, so
// the caller can run its first-token and idle timers; onDelta receives content as it arrives. A stream is complete
// only when a choice carried a finish_reason; an error event ends it with
// that error.
func readStream(r io.Reader, onActivity func(firstToken bool), onDelta func(string)) (streamResult, error) {
	var res streamResult
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxSSELine)
	var data []byte
	flush := func() (bool, error) {
		if len(data) == 0 {
			return false, nil
		}
		payload := bytes.TrimSpace(data)
		data = data[:0]
		if bytes.Equal(payload, []byte("[DONE]")) {
			res.sawDone = true
			return true, nil
		}
		err := res.apply(payload, onDelta)
		onActivity(res.tokens > 0)
		return false, err
	}
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			done, err := flush()
			if err != nil {
				return res, err
			}
			if done {
				return res, res.complete()
			}
			continue
		case line[0] == ':':
			// Keep-alive comment (llama.cpp ":", mlx_lm ": keepalive n/m"):
			// the server is alive, still processing the prompt.
			onActivity(res.tokens > 0)
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "data":
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, value...)
		case "error":
			// Older llama.cpp builds sent a non-standard "error:" field.
			return res, decodeError(0, value, nil, false)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return res, fmt.Errorf("a stream line was longer than %d bytes: %w", maxSSELine, err)
		}
		return res, err
	}
	if _, err := flush(); err != nil {
		return res, err
	}
	return res, res.complete()
}

// complete checks the stream really finished: [DONE] or a clean EOF alone
// is not enough, a choice must have carried a finish_reason.
func (res *streamResult) complete() error {
	if res.finishReason == "" {
		return ErrTruncated
	}
	return nil
}

// apply folds one event's JSON into the result.
func (res *streamResult) apply(payload []byte, onDelta func(string)) error {
	var c chunk
	if err := json.Unmarshal(payload, &c); err != nil {
		return fmt.Errorf("%w: unreadable event %q: %v", ErrTruncated, truncateForError(payload), err)
	}
	if len(c.Error) > 0 && string(c.Error) != "null" {
		return decodeError(0, payload, nil, false)
	}
	if c.Model != "" {
		res.model = c.Model
	}
	if c.Usage != nil {
		res.usage = c.Usage.usage()
	}
	if c.Timings != nil {
		res.timings = c.Timings
	}
	for i, ch := range c.Choices {
		if i > 0 {
			break // we ask for one choice
		}
		if d := ch.Delta.Content; d != nil && *d != "" {
			res.text = append(res.text, *d...)
			res.tokens++
			if onDelta != nil {
				onDelta(*d)
			}
		}
		if r := ch.Delta.ReasoningContent; r != nil {
			res.reasoning += len(*r)
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			res.finishReason = *ch.FinishReason
		}
	}
	return nil
}

func truncateForError(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "…"
	}
	return string(b)
}
