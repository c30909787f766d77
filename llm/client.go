package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Structured output modes (llm.structured_output).
const (
	ModeAuto       = "auto"        // find out what the server supports, fall back when refused
	ModeJSONSchema = "json_schema" // response_format json_schema: constrained to the schema
	ModeJSONObject = "json_object" // response_format json_object: any JSON
	ModeOff        = "off"         // no response_format: the prompt asks for JSON, ParseJSON reads it
)

// Options configure a Client. Zero durations take the defaults noted.
type Options struct {
	BaseURL string // e.g. http://127.0.0.1:8080 or https://api.openai.com/v1
	APIKey  string // sent as Authorization: Bearer; empty sends none
	Model   string // empty: the server's default (Probe picks the first listed)
	Backend string // "openai" or "mlx" (mlx_lm.server has no structured output)
	// StructuredOutput is one of the Mode constants; "" means ModeAuto.
	StructuredOutput string

	ConnectTimeout    time.Duration // 10s
	FirstTokenTimeout time.Duration // 120s
	IdleTimeout       time.Duration // 60s
	RequestTimeout    time.Duration // 10m

	MaxRetries     int           // retries of one request while the server is up; negative means none
	RetryBaseDelay time.Duration // 1s: first backoff step (full jitter)
	RetryMaxDelay  time.Duration // 60s
	MaxRetryAfter  time.Duration // 10m: a longer Retry-After fails the request instead

	BreakerThreshold   int           // 5 consecutive server failures open the breaker
	BreakerCooldown    time.Duration // 30s before the first probe
	BreakerMaxCooldown time.Duration // 5m
	OnBreaker          func(BreakerEvent)

	HTTPClient *http.Client // nil: one with the connect timeout and no overall timeout
	Logger     *slog.Logger
}

// Client is an OpenAI-compatible chat client for llama-server, Ollama,
// vLLM, LM Studio, mlx_lm.server and OpenAI. It is safe for concurrent use;
// all requests share one circuit breaker.
type Client struct {
	opts    Options
	base    string // without a trailing /v1
	http    *http.Client
	breaker *breaker
	log     *slog.Logger

	// Counters for Stats; attempts and busy time include failed attempts.
	attempts, retries atomic.Int64
	busy              atomic.Int64 // nanoseconds spent in attempts

	mu     sync.Mutex
	mode   string // structured output mode in use
	kind   string // server kind found by Probe
	model  string
	random *rand.Rand
}

// New builds a client; it does not contact the server (see Probe).
func New(opts Options) (*Client, error) {
	if opts.BaseURL == "" {
		return nil, errors.New("no LLM server URL (llm.base_url)")
	}
	setDefault := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	setDefault(&opts.ConnectTimeout, 10*time.Second)
	setDefault(&opts.FirstTokenTimeout, 120*time.Second)
	setDefault(&opts.IdleTimeout, 60*time.Second)
	setDefault(&opts.RequestTimeout, 10*time.Minute)
	setDefault(&opts.RetryBaseDelay, time.Second)
	setDefault(&opts.RetryMaxDelay, 60*time.Second)
	setDefault(&opts.MaxRetryAfter, 10*time.Minute)
	setDefault(&opts.BreakerCooldown, 30*time.Second)
	setDefault(&opts.BreakerMaxCooldown, 5*time.Minute)
	if opts.BreakerThreshold <= 0 {
		opts.BreakerThreshold = 5
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	mode := opts.StructuredOutput
	switch mode {
	case "", ModeAuto:
		mode = ModeJSONSchema
		if opts.Backend == "mlx" {
			mode = ModeOff
		}
	case ModeJSONSchema, ModeJSONObject, ModeOff:
	default:
		return nil, fmt.Errorf("structured output mode %q is not one of auto, json_schema, json_object, off", mode)
	}
	hc := opts.HTTPClient
	if hc == nil {
		// No http.Client.Timeout: it would cut long streams. The per-request
		// timers in attempt bound every phase instead.
		hc = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: opts.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   opts.ConnectTimeout,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
		}}
	}
	return &Client{
		opts:    opts,
		base:    apiBase(opts.BaseURL),
		http:    hc,
		breaker: newBreaker(opts.BreakerThreshold, opts.BreakerCooldown, opts.BreakerMaxCooldown, opts.OnBreaker),
		log:     opts.Logger,
		mode:    mode,
		model:   opts.Model,
		random:  rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x9e3779b97f4a7c15)),
	}, nil
}

// apiBase strips a trailing "/" and "/v1": configs name either
// http://host:8080 (llama-server) or https://api.openai.com/v1.
func apiBase(u string) string {
	u = strings.TrimRight(u, "/")
	return strings.TrimSuffix(u, "/v1")
}

// StructuredMode reports the structured output mode requests use now.
func (c *Client) StructuredMode() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mode
}

// Model reports the model requests name.
func (c *Client) Model() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.model
}

// Message is one chat message.
type Message struct {
	Role    string `json:"role"` // system, user or assistant
	Content string `json:"content"`
}

// Schema asks for JSON output matching a JSON Schema.
type Schema struct {
	Name   string          // a-z, A-Z, 0-9, _ and -, at most 64 characters (OpenAI's rule)
	Schema json.RawMessage // the JSON Schema object
	Strict bool
}

// Request is one chat completion.
type Request struct {
	Messages    []Message
	MaxTokens   int
	Temperature float64
	Schema      *Schema // nil: free text
	Stream      bool
	// OnDelta receives text as it streams in (Stream only).
	OnDelta func(text string)
	// OnRestart is called before an attempt that follows one which had
	// already streamed text: the caller must discard that partial text,
	// because the new attempt starts from scratch.
	OnRestart func(attempt int, cause error)
}

// Response is a finished completion. FinishReason "length" means the answer
// hit MaxTokens: it is returned, not hidden, and Truncated reports it.
type Response struct {
	Text           string
	FinishReason   string // "stop", "length", ...
	Usage          Usage
	Timings        *Timings // llama.cpp only
	Model          string
	Mode           string // structured output mode used: json_schema, json_object, off, or "" for free text
	Attempts       int
	Duration       time.Duration
	ReasoningBytes int // reasoning_content the model produced besides its answer
}

// Truncated reports an answer cut off by the token budget.
func (r Response) Truncated() bool { return r.FinishReason == "length" }

// Stats counts what a Client has sent since New, for run reports.
type Stats struct {
	Attempts        int64         // HTTP requests sent, retries included
	Retries         int64         // attempts after a request's first
	BreakerOpenings int64         // times the circuit breaker opened
	Busy            time.Duration // summed time of all attempts: slot time the client held
}

// Stats returns the counters so far.
func (c *Client) Stats() Stats {
	return Stats{Attempts: c.attempts.Load(), Retries: c.retries.Load(),
		BreakerOpenings: c.breaker.openCount(), Busy: time.Duration(c.busy.Load())}
}

// Chat runs one chat completion with retries. It retries connection
// errors, timeouts, 408/409/429/5xx and truncated streams with full-jitter
// exponential backoff (never sooner than Retry-After). While the shared
// circuit breaker is open it waits for the server instead of failing. It
// returns *ContextOverflowError, ErrEmptyCompletion, *APIError for other
// refusals, or the context's error.
func (c *Client) Chat(ctx context.Context, req Request) (Response, error) {
	start := time.Now()
	spent := 0 // failed attempts charged to MaxRetries
	streamed := false
	userDelta := req.OnDelta
	req.OnDelta = func(s string) {
		streamed = true
		if userDelta != nil {
			userDelta(s)
		}
	}
	var lastErr error
	for attempt := 1; ; attempt++ {
		probe, err := c.breaker.acquire(ctx)
		if err != nil {
			return Response{}, err
		}
		if streamed && req.OnRestart != nil {
			req.OnRestart(attempt, lastErr)
		}
		streamed = false
		mode := c.modeFor(req)
		c.attempts.Add(1)
		if attempt > 1 {
			c.retries.Add(1)
		}
		began := time.Now()
		resp, err := c.attempt(ctx, req, mode)
		c.busy.Add(int64(time.Since(began)))
		switch {
		case ctx.Err() != nil:
			c.breaker.done(probe, outcomeNeutral, err)
		case serverDown(err):
			c.breaker.done(probe, outcomeDown, err)
		default:
			c.breaker.done(probe, outcomeSuccess, err)
		}
		lastErr = err
		if err == nil {
			resp.Attempts, resp.Duration, resp.Mode = attempt, time.Since(start), mode
			return resp, nil
		}
		if ctx.Err() != nil {
			return Response{}, ctx.Err()
		}
		var su *errStructuredUnsupported
		if errors.As(err, &su) {
			if next, ok := c.downgrade(mode); ok {
				c.log.Warn("server refused structured output; falling back", "mode", mode, "next", next, "reason", su.cause.Message)
				continue
			}
			return Response{}, su.cause
		}
		if !retryable(err) {
			return Response{}, err
		}
		// While the breaker is open the server is down for everyone: wait
		// for it without spending this request's retries.
		if !c.breaker.isOpen() {
			spent++
		}
		if spent > c.opts.MaxRetries {
			return Response{}, fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		wait, err := c.backoff(max(spent, 1), err)
		if err != nil {
			return Response{}, err
		}
		c.log.Debug("retrying LLM request", "attempt", attempt+1, "wait", wait, "err", err)
		if err := sleep(ctx, wait); err != nil {
			return Response{}, err
		}
	}
}

// backoff returns the wait before retry n (1-based): full jitter over an
// exponential ceiling, and never less than the server's Retry-After.
func (c *Client) backoff(n int, cause error) (time.Duration, error) {
	ceiling := c.opts.RetryBaseDelay << min(n-1, 30)
	if ceiling <= 0 || ceiling > c.opts.RetryMaxDelay {
		ceiling = c.opts.RetryMaxDelay
	}
	c.mu.Lock()
	wait := time.Duration(c.random.Int64N(int64(ceiling) + 1))
	c.mu.Unlock()
	var api *APIError
	if errors.As(cause, &api) && api.RetryAfter > 0 {
		if api.RetryAfter > c.opts.MaxRetryAfter {
			return 0, fmt.Errorf("the server asked to wait %s before retrying, longer than llm.max_retry_after (%s): %w",
				api.RetryAfter.Round(time.Second), c.opts.MaxRetryAfter, cause)
		}
		wait = max(wait, api.RetryAfter)
	}
	return wait, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *Client) modeFor(req Request) string {
	if req.Schema == nil {
		return ""
	}
	return c.StructuredMode()
}

// downgrade moves to the next simpler structured output mode after the
// server refused failed, and remembers it for every later request. Only
// "auto" falls back; a mode the user chose explicitly is kept.
func (c *Client) downgrade(failed string) (string, bool) {
	if c.opts.StructuredOutput != "" && c.opts.StructuredOutput != ModeAuto {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mode != failed {
		return c.mode, true // another request already moved on
	}
	switch failed {
	case ModeJSONSchema:
		c.mode = ModeJSONObject
	case ModeJSONObject:
		c.mode = ModeOff
	default:
		return "", false
	}
	return c.mode, true
}

type chatBody struct {
	Model          string         `json:"model,omitempty"`
	Messages       []Message      `json:"messages"`
	MaxTokens      int            `json:"max_tokens,omitempty"`
	Temperature    float64        `json:"temperature"`
	Stream         bool           `json:"stream"`
	StreamOptions  *streamOptions `json:"stream_options,omitempty"`
	CachePrompt    *bool          `json:"cache_prompt,omitempty"`
	ResponseFormat any            `json:"response_format,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

func (c *Client) body(req Request, mode string) ([]byte, error) {
	b := chatBody{Model: c.Model(), Messages: req.Messages, MaxTokens: req.MaxTokens, Temperature: req.Temperature, Stream: req.Stream}
	if req.Stream {
		b.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	c.mu.Lock()
	if c.kind == KindLlamaCpp {
		// llama.cpp keeps each slot's KV cache for the next request with the
		// same prefix; it is on by default, but say so in case a server was
		// started with it off. Other servers reject unknown fields.
		t := true
		b.CachePrompt = &t
	}
	c.mu.Unlock()
	if req.Schema != nil {
		switch mode {
		case ModeJSONSchema:
			b.ResponseFormat = map[string]any{"type": "json_schema", "json_schema": map[string]any{
				"name": req.Schema.Name, "schema": req.Schema.Schema, "strict": req.Schema.Strict}}
		case ModeJSONObject:
			b.ResponseFormat = map[string]any{"type": "json_object"}
		}
	}
	return json.Marshal(b)
}

// attempt runs one HTTP request with its own timers: first token, idle
// between tokens and total.
func (c *Client) attempt(ctx context.Context, req Request, mode string) (Response, error) {
	body, err := c.body(req, mode)
	if err != nil {
		return Response{}, fmt.Errorf("encode request: %w", err)
	}
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	total := time.AfterFunc(c.opts.RequestTimeout, func() {
		cancel(&TimeoutError{Phase: "total", After: c.opts.RequestTimeout})
	})
	defer total.Stop()

	hreq, err := http.NewRequestWithContext(actx, http.MethodPost, c.base+"/v1/chat/completions", bytes.NewReader(body))
	if err != nil {
		return Response{}, fmt.Errorf("build request: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	if req.Stream {
		hreq.Header.Set("Accept", "text/event-stream")
	}
	if c.opts.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.opts.APIKey)
	}
	// One timer watches the stream: first the wait for the first token,
	// then, once text flows, the silence between tokens.
	var started atomic.Bool
	watchdog := time.AfterFunc(c.opts.FirstTokenTimeout, func() {
		if started.Load() {
			cancel(&TimeoutError{Phase: "idle", After: c.opts.IdleTimeout})
		} else {
			cancel(&TimeoutError{Phase: "first token", After: c.opts.FirstTokenTimeout})
		}
	})
	defer watchdog.Stop()
	if !req.Stream {
		// A whole answer arrives at once; only the total timer applies.
		watchdog.Stop()
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		return Response{}, c.wrapTransport(actx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return Response{}, decodeError(resp.StatusCode, raw, resp.Header, mode == ModeJSONSchema || mode == ModeJSONObject)
	}
	ct := resp.Header.Get("Content-Type")
	var res streamResult
	switch {
	case strings.HasPrefix(ct, "text/event-stream"):
		res, err = readStream(resp.Body, func(flowing bool) {
			if !req.Stream {
				return
			}
			started.Store(flowing)
			if flowing {
				watchdog.Reset(c.opts.IdleTimeout)
			} else {
				watchdog.Reset(c.opts.FirstTokenTimeout)
			}
		}, req.OnDelta)
	case strings.HasPrefix(ct, "application/json") || ct == "":
		// Non-streaming, or a server that ignored stream: true.
		res, err = readWhole(resp.Body, req.OnDelta)
	default:
		return Response{}, &APIError{StatusCode: resp.StatusCode, Retryable: true,
			Message: fmt.Sprintf("expected JSON or an event stream, got %q (a proxy error page?)", ct)}
	}
	if err != nil {
		if cause := context.Cause(actx); cause != nil && ctx.Err() == nil {
			var te *TimeoutError
			if errors.As(cause, &te) {
				return Response{}, te
			}
		}
		if ctx.Err() != nil {
			return Response{}, ctx.Err()
		}
		return Response{}, err
	}
	out := Response{Text: string(res.text), FinishReason: res.finishReason, Usage: res.usage, Timings: res.timings,
		Model: res.model, ReasoningBytes: res.reasoning}
	switch {
	case res.finishReason == "abort":
		// vLLM aborts requests when its engine restarts or scales down.
		return Response{}, &APIError{StatusCode: 0, Retryable: true, Message: "the server aborted the request (finish_reason abort)"}
	case strings.TrimSpace(out.Text) == "":
		if res.reasoning > 0 {
			return out, fmt.Errorf("%w: the model spent its %d-token budget reasoning (%d bytes) without answering; raise max_tokens or turn thinking off",
				ErrEmptyCompletion, req.MaxTokens, res.reasoning)
		}
		return out, ErrEmptyCompletion
	}
	return out, nil
}

// readWhole reads a non-streamed completion.
func readWhole(r io.Reader, onDelta func(string)) (streamResult, error) {
	var res streamResult
	raw, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return res, err
	}
	var c chunk
	if err := json.Unmarshal(raw, &c); err != nil {
		return res, fmt.Errorf("%w: unreadable response %q: %v", ErrTruncated, truncateForError(raw), err)
	}
	if len(c.Error) > 0 && string(c.Error) != "null" {
		return res, decodeError(0, raw, nil, false)
	}
	res.model = c.Model
	if c.Usage != nil {
		res.usage = c.Usage.usage()
	}
	res.timings = c.Timings
	if len(c.Choices) > 0 {
		ch := c.Choices[0]
		if ch.Message.Content != nil {
			res.text = []byte(*ch.Message.Content)
		}
		if ch.Message.ReasoningContent != nil {
			res.reasoning = len(*ch.Message.ReasoningContent)
		}
		if ch.FinishReason != nil {
			res.finishReason = *ch.FinishReason
		}
	}
	if res.finishReason == "" {
		return res, ErrTruncated
	}
	if onDelta != nil && len(res.text) > 0 {
		onDelta(string(res.text))
	}
	return res, nil
}

// wrapTransport explains a failed HTTP round trip: which timer fired, or
// that the server cannot be reached.
func (c *Client) wrapTransport(actx context.Context, err error) error {
	var te *TimeoutError
	if cause := context.Cause(actx); errors.As(cause, &te) {
		return te
	}
	if actx.Err() != nil {
		return actx.Err()
	}
	return fmt.Errorf("cannot reach the LLM server at %s: %w", c.base, err)
}
