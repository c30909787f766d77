package llm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrTruncated reports a stream that ended without the server saying it was
// finished (no finish_reason). Its text is never a result; the request is
// retried from scratch.
var ErrTruncated = errors.New("the server ended the stream before finishing the answer")

// ErrEmptyCompletion reports a completion with no text.
var ErrEmptyCompletion = errors.New("the model returned an empty answer")

// ErrContextOverflow matches every *ContextOverflowError with errors.Is.
var ErrContextOverflow = errors.New("the prompt does not fit the model's context")

// ContextOverflowError says the prompt (plus the answer budget) is larger
// than the context the server gives one request. Retrying the same input is
// pointless; the caller splits it. Token counts are 0 when the server did
// not give them.
type ContextOverflowError struct {
	PromptTokens  int
	ContextTokens int
	Message       string
}

func (e *ContextOverflowError) Error() string {
	if e.PromptTokens > 0 && e.ContextTokens > 0 {
		return fmt.Sprintf("the prompt (%d tokens) does not fit the model's context (%d tokens per request)", e.PromptTokens, e.ContextTokens)
	}
	return "the prompt does not fit the model's context: " + e.Message
}

// Is makes errors.Is(err, ErrContextOverflow) true.
func (e *ContextOverflowError) Is(target error) bool { return target == ErrContextOverflow }

// TimeoutError reports which of the client's timers fired.
type TimeoutError struct {
	Phase string // "connect", "first token", "idle", "total"
	After time.Duration
}

func (e *TimeoutError) Error() string {
	switch e.Phase {
	case "first token":
		return fmt.Sprintf("no token from the server within %s (llm.first_token_timeout)", e.After)
	case "idle":
		return fmt.Sprintf("the server went silent for %s in the middle of an answer (llm.idle_timeout)", e.After)
	case "total":
		return fmt.Sprintf("the request took longer than %s (llm.request_timeout)", e.After)
	}
	return fmt.Sprintf("%s timeout after %s", e.Phase, e.After)
}

// APIError is an error answer from the server.
type APIError struct {
	StatusCode int    // 0 for an error event inside a 200 stream
	Type       string // e.g. "server_error", "invalid_request_error"
	Code       string
	Message    string
	RetryAfter time.Duration // from Retry-After / Retry-After-Ms, 0 when absent
	Retryable  bool
}

func (e *APIError) Error() string {
	var b strings.Builder
	if e.StatusCode > 0 {
		fmt.Fprintf(&b, "the server answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	} else {
		b.WriteString("the server reported an error in the stream")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	switch e.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		b.WriteString(" (check the API key: llm.api_key_env names the variable that holds it)")
	case http.StatusNotFound:
		b.WriteString(" (check llm.base_url and llm.model)")
	}
	return b.String()
}

// errStructuredUnsupported means the server refused the response_format we
// sent; the client falls back to a simpler mode instead of retrying.
type errStructuredUnsupported struct{ cause *APIError }

func (e *errStructuredUnsupported) Error() string {
	return "the server does not support this structured output mode: " + e.cause.Message
}
func (e *errStructuredUnsupported) Unwrap() error { return e.cause }

// errorBody covers the error shapes of every server we talk to:
// llama.cpp / OpenAI {"error":{"code":400,"message":..,"type":..}},
// Ollama and mlx_lm {"error":"text"}, old vLLM {"object":"error","message":..}.
type errorBody struct {
	Error   json.RawMessage `json:"error"`
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
}

type errorObject struct {
	Code          json.RawMessage `json:"code"`
	Message       string          `json:"message"`
	Type          string          `json:"type"`
	NPromptTokens int             `json:"n_prompt_tokens"`
	NCtx          int             `json:"n_ctx"`
}

// decodeError turns an error body into a typed error. status is the HTTP
// status, or 0 for an error event inside a stream.
func decodeError(status int, body []byte, header http.Header, structured bool) error {
	var eb errorBody
	obj := errorObject{}
	if err := json.Unmarshal(body, &eb); err == nil {
		switch {
		case len(eb.Error) > 0 && eb.Error[0] == '{':
			_ = json.Unmarshal(eb.Error, &obj)
		case len(eb.Error) > 0 && eb.Error[0] == '"':
			_ = json.Unmarshal(eb.Error, &obj.Message)
		default:
			obj.Message, obj.Type, obj.Code = eb.Message, eb.Type, eb.Code
		}
	} else {
		obj.Message = strings.TrimSpace(string(body))
		if len(obj.Message) > 300 {
			obj.Message = obj.Message[:300] + "…"
		}
	}
	code := strings.Trim(string(obj.Code), `"`)
	// Inside a 200 stream the only status is the one embedded in the error.
	effective := status
	if effective == 0 {
		effective, _ = strconv.Atoi(code)
	}
	if overflow := contextOverflow(obj, code); overflow != nil {
		return overflow
	}
	e := &APIError{StatusCode: status, Type: obj.Type, Code: code, Message: obj.Message}
	if header != nil {
		e.RetryAfter = retryAfter(header)
	}
	msg := strings.ToLower(obj.Message)
	if structured && (effective == 400 || effective == 422 || effective == 500 || effective == 501) &&
		(strings.Contains(msg, "response_format") || strings.Contains(msg, "json_schema") ||
			strings.Contains(msg, "json_object") || strings.Contains(msg, "grammar") || strings.Contains(msg, "structured")) {
		return &errStructuredUnsupported{cause: e}
	}
	switch {
	case code == "insufficient_quota" || obj.Type == "insufficient_quota":
		e.Retryable = false
	case effective == 500 && invalidRequest(msg):
		// llama.cpp answers malformed requests with 500 server_error; they
		// fail the same way every time.
		e.Retryable = false
	case effective == 408 || effective == 409 || effective == 429 || effective >= 500:
		e.Retryable = true
	}
	if header != nil {
		switch header.Get("X-Should-Retry") {
		case "true":
			e.Retryable = true
		case "false":
			e.Retryable = false
		}
	}
	return e
}

// invalidRequest recognises llama.cpp's 500 answers to bad requests.
func invalidRequest(msg string) bool {
	for _, s := range []string{"is required", "parse error", "only one completion choice", "must be one of", "not supported", "invalid", "cannot use both"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

var (
	vllmOverflowRe = regexp.MustCompile(`maximum context length is (\d+) tokens.*?(?:requested|has) (\d+)(?: input)? tokens`)
	llamaRequestRe = regexp.MustCompile(`request \((\d+) tokens\) exceeds the available context size \((\d+) tokens\)`)
)

func contextOverflow(obj errorObject, code string) *ContextOverflowError {
	msg := strings.ToLower(obj.Message)
	if obj.Type != "exceed_context_size_error" && code != "context_length_exceeded" &&
		!strings.Contains(msg, "maximum context length") && !strings.Contains(msg, "exceeds the available context size") &&
		!strings.Contains(msg, "larger than the max context size") {
		return nil
	}
	e := &ContextOverflowError{PromptTokens: obj.NPromptTokens, ContextTokens: obj.NCtx, Message: obj.Message}
	if e.PromptTokens == 0 {
		if m := vllmOverflowRe.FindStringSubmatch(msg); m != nil {
			e.ContextTokens, _ = strconv.Atoi(m[1])
			e.PromptTokens, _ = strconv.Atoi(m[2])
		} else if m := llamaRequestRe.FindStringSubmatch(msg); m != nil {
			e.PromptTokens, _ = strconv.Atoi(m[1])
			e.ContextTokens, _ = strconv.Atoi(m[2])
		}
	}
	return e
}

// retryAfter reads Retry-After-Ms, then Retry-After (seconds or an HTTP
// date), as OpenAI's SDK does.
func retryAfter(h http.Header) time.Duration {
	if ms := h.Get("Retry-After-Ms"); ms != "" {
		if v, err := strconv.ParseFloat(ms, 64); err == nil && v > 0 {
			return time.Duration(v * float64(time.Millisecond))
		}
	}
	ra := h.Get("Retry-After")
	if ra == "" {
		return 0
	}
	if v, err := strconv.ParseFloat(ra, 64); err == nil && v > 0 {
		return time.Duration(v * float64(time.Second))
	}
	if t, err := http.ParseTime(ra); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// retryable says whether another attempt of the same request can succeed.
func retryable(err error) bool {
	var api *APIError
	var te *TimeoutError
	switch {
	case err == nil:
		return false
	case errors.As(err, &api):
		return api.Retryable
	case errors.As(err, &te), errors.Is(err, ErrTruncated):
		return true
	case errors.Is(err, ErrContextOverflow), errors.Is(err, ErrEmptyCompletion):
		return false
	}
	return isConnectionError(err)
}

// serverDown says whether err means the server is unreachable or failing,
// which feeds the circuit breaker. A 429 does not: the server is alive and
// asked us to slow down.
func serverDown(err error) bool {
	var api *APIError
	var te *TimeoutError
	switch {
	case err == nil:
		return false
	case errors.As(err, &api):
		return api.Retryable && api.StatusCode != http.StatusTooManyRequests && api.StatusCode != http.StatusConflict
	case errors.As(err, &te), errors.Is(err, ErrTruncated):
		return true
	}
	return isConnectionError(err)
}

func isConnectionError(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &oe) || (errors.As(err, &ne) && ne.Timeout()) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "server closed") ||
		strings.Contains(err.Error(), "EOF")
}
