package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Server kinds Probe recognises.
const (
	KindLlamaCpp = "llama.cpp"
	KindOllama   = "ollama"
	KindVLLM     = "vllm"
	KindMLX      = "mlx_lm"
	KindOpenAI   = "openai"
	KindGeneric  = "openai-compatible"
)

// DefaultSlots is the concurrency used when the server does not say how
// many requests it runs in parallel.
const DefaultSlots = 4

// DefaultContext is the per-request context assumed when the server does
// not report one (Ollama's default below 24 GiB of VRAM).
const DefaultContext = 4096

// ProbeOptions carry the user's overrides; zero values ask the server.
type ProbeOptions struct {
	ContextSize int // llm.context_size
	Concurrency int // llm.concurrency
}

// ServerInfo is what Probe found out.
type ServerInfo struct {
	URL              string
	Kind             string
	Models           []string
	Model            string // the model requests will use
	ContextSize      int    // tokens per request (llama.cpp: per slot)
	ContextSource    string // where ContextSize came from
	Slots            int    // requests the server runs in parallel
	SlotsSource      string
	StructuredOutput string // the mode that works: json_schema, json_object or off
}

// Probe checks that the server is reachable and ready, lists its models,
// picks the model (a configured one must exist), finds the context per
// request, the number of parallel slots and the structured output mode
// that works, and configures the client to match.
func (c *Client) Probe(ctx context.Context, po ProbeOptions) (ServerInfo, error) {
	info := ServerInfo{URL: c.base}
	models, err := c.listModels(ctx)
	if err != nil {
		return info, err
	}
	for _, m := range models {
		info.Models = append(info.Models, m.ID)
	}
	mlx := c.opts.Backend == "mlx"
	if len(info.Models) == 0 && !mlx {
		return info, fmt.Errorf("the LLM server at %s lists no models; load one (e.g. `ollama pull qwen2.5-coder` or `llama-server -m model.gguf`)", c.base)
	}
	want := c.Model()
	switch {
	case mlx && want != "":
		// cicdllm started mlx_lm.server with --model want, so that is what
		// it serves; its /v1/models lists only cache entries it recognises
		// (not single-file models, not local folders it was not started on).
		info.Model = want
	case want == "":
		info.Model = info.Models[0]
		c.log.Info("no model configured; using the first the server lists", "model", info.Model)
	case contains(info.Models, want):
		info.Model = want
	default:
		return info, fmt.Errorf("model %q is not served by %s; available: %s (set llm.model to one of them, or leave it empty for the first)",
			want, c.base, strings.Join(info.Models, ", "))
	}

	var props llamaProps
	isLlama := false
	if !mlx {
		props, isLlama = c.llamaProps(ctx)
	}
	switch {
	case mlx:
		info.Kind = KindMLX
	case isLlama:
		info.Kind = KindLlamaCpp
	case c.isOllama(ctx):
		info.Kind = KindOllama
	case models[0].OwnedBy == "vllm":
		info.Kind = KindVLLM
	case strings.Contains(c.base, "api.openai.com"):
		info.Kind = KindOpenAI
	default:
		info.Kind = KindGeneric
	}
	c.mu.Lock()
	c.kind, c.model = info.Kind, info.Model
	c.mu.Unlock()

	if info.Kind == KindLlamaCpp {
		if err := c.waitHealthy(ctx); err != nil {
			return info, err
		}
	}
	info.ContextSize, info.ContextSource = c.contextSize(ctx, po, info, props, models)
	info.Slots, info.SlotsSource = slotsFor(po, info, props)

	mode, err := c.probeStructured(ctx)
	if err != nil {
		return info, err
	}
	info.StructuredOutput = mode
	c.log.Info("LLM server", "url", c.base, "kind", info.Kind, "model", info.Model, "context", info.ContextSize,
		"context_from", info.ContextSource, "slots", info.Slots, "slots_from", info.SlotsSource, "structured_output", mode)
	return info, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

type modelEntry struct {
	ID          string `json:"id"`
	OwnedBy     string `json:"owned_by"`
	MaxModelLen int    `json:"max_model_len"` // vLLM
}

func (c *Client) listModels(ctx context.Context) ([]modelEntry, error) {
	var body struct {
		Data []modelEntry `json:"data"`
	}
	status, err := c.getJSON(ctx, "/v1/models", &body)
	switch {
	case err != nil && status == 0:
		return nil, fmt.Errorf("cannot reach the LLM server at %s: %w; start one (e.g. `llama-server -m model.gguf --port 8080`) or set llm.base_url", c.base, err)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return nil, fmt.Errorf("the LLM server at %s refused the request (%d): set llm.api_key_env to the name of the environment variable holding the API key", c.base, status)
	case status == http.StatusNotFound:
		return nil, fmt.Errorf("the server at %s has no /v1/models: is llm.base_url an OpenAI-compatible server (llama-server, Ollama, vLLM, LM Studio)?", c.base)
	case err != nil:
		return nil, fmt.Errorf("list models at %s: %w", c.base, err)
	}
	return body.Data, nil
}

type llamaProps struct {
	TotalSlots int `json:"total_slots"`
	DefaultGen struct {
		NCtx int `json:"n_ctx"`
	} `json:"default_generation_settings"`
}

// llamaProps reads llama.cpp's /props; only llama-server (and the
// simulator) serve it with total_slots.
func (c *Client) llamaProps(ctx context.Context) (llamaProps, bool) {
	var p llamaProps
	status, err := c.getJSON(ctx, "/props", &p)
	return p, err == nil && status == http.StatusOK && p.TotalSlots > 0
}

func (c *Client) isOllama(ctx context.Context) bool {
	var v struct {
		Version string `json:"version"`
	}
	status, err := c.getJSON(ctx, "/api/version", &v)
	return err == nil && status == http.StatusOK && v.Version != ""
}

// waitHealthy waits while llama-server answers 503 "Loading model".
func (c *Client) waitHealthy(ctx context.Context) error {
	logged := false
	for {
		status, err := c.getJSON(ctx, "/health", nil)
		if err == nil || status != http.StatusServiceUnavailable {
			return nil
		}
		if !logged {
			c.log.Info("the LLM server is loading its model; waiting", "url", c.base)
			logged = true
		}
		if err := sleep(ctx, time.Second); err != nil {
			return fmt.Errorf("the LLM server at %s is still loading its model: %w", c.base, err)
		}
	}
}

var numCtxRe = regexp.MustCompile(`(?m)^\s*num_ctx\s+(\d+)`)

func (c *Client) contextSize(ctx context.Context, po ProbeOptions, info ServerInfo, props llamaProps, models []modelEntry) (int, string) {
	if po.ContextSize > 0 {
		return po.ContextSize, "config llm.context_size"
	}
	switch info.Kind {
	case KindLlamaCpp:
		var slots []struct {
			NCtx int `json:"n_ctx"`
		}
		if status, err := c.getJSON(ctx, "/slots", &slots); err == nil && status == http.StatusOK && len(slots) > 0 && slots[0].NCtx > 0 {
			return slots[0].NCtx, "llama.cpp /slots"
		}
		if props.DefaultGen.NCtx > 0 {
			return props.DefaultGen.NCtx / max(props.TotalSlots, 1), "llama.cpp /props n_ctx / total_slots"
		}
	case KindOllama:
		var show struct {
			Parameters string `json:"parameters"`
		}
		if status, err := c.postJSON(ctx, "/api/show", map[string]string{"model": info.Model}, &show); err == nil && status == http.StatusOK {
			if m := numCtxRe.FindStringSubmatch(show.Parameters); m != nil {
				n, _ := strconv.Atoi(m[1])
				return n, "ollama /api/show num_ctx"
			}
		}
		return DefaultContext, "ollama default (set num_ctx or llm.context_size for more)"
	case KindVLLM:
		for _, m := range models {
			if m.ID == info.Model && m.MaxModelLen > 0 {
				return m.MaxModelLen, "vllm max_model_len"
			}
		}
	}
	return DefaultContext, "default (the server does not report it; set llm.context_size)"
}

func slotsFor(po ProbeOptions, info ServerInfo, props llamaProps) (int, string) {
	switch {
	case po.Concurrency > 0:
		return po.Concurrency, "config llm.concurrency"
	case info.Kind == KindLlamaCpp && props.TotalSlots > 0:
		return props.TotalSlots, "llama.cpp /props total_slots"
	case info.Kind == KindMLX:
		return 1, "mlx_lm.server batches little"
	}
	return DefaultSlots, "default"
}

// probeStructured finds the structured output mode the server accepts with
// one tiny request per mode, when the mode is "auto".
func (c *Client) probeStructured(ctx context.Context) (string, error) {
	if c.opts.StructuredOutput != "" && c.opts.StructuredOutput != ModeAuto {
		return c.StructuredMode(), nil
	}
	schema := &Schema{Name: "probe", Schema: json.RawMessage(`{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}`)}
	for {
		mode := c.StructuredMode()
		if mode == ModeOff {
			return mode, nil
		}
		_, err := c.attempt(ctx, Request{
			Messages:  []Message{{Role: "user", Content: `Reply with {"ok": true}.`}},
			MaxTokens: 16, Schema: schema,
		}, mode)
		var su *errStructuredUnsupported
		switch {
		case errors.As(err, &su):
			next, _ := c.downgrade(mode)
			c.log.Info("server refused structured output mode", "mode", mode, "next", next, "reason", su.cause.Message)
		case ctx.Err() != nil:
			return "", ctx.Err()
		default:
			// Accepted, or failed for another reason (a busy server, a
			// truncated tiny answer): requests fall back later if needed.
			return mode, nil
		}
	}
}

// getJSON GETs path and decodes a 200 answer into v (v may be nil). status
// is 0 when the server could not be reached.
func (c *Client) getJSON(ctx context.Context, path string, v any) (int, error) {
	return c.doJSON(ctx, http.MethodGet, path, nil, v)
}

func (c *Client) postJSON(ctx context.Context, path string, in, v any) (int, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return 0, err
	}
	return c.doJSON(ctx, http.MethodPost, path, b, v)
}

func (c *Client) doJSON(ctx context.Context, method, path string, body []byte, v any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.FirstTokenTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.opts.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.opts.APIKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, decodeError(resp.StatusCode, raw, resp.Header, false)
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			return resp.StatusCode, fmt.Errorf("unreadable answer from %s%s: %w", c.base, path, err)
		}
	}
	return resp.StatusCode, nil
}
