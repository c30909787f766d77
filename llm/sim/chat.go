package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// --- request ----------------------------------------------------------------

type chatRequest struct {
	messages     []Message
	stream       bool
	includeUsage bool
	maxTokens    int // <= 0: unlimited (until the answer ends or the context is full)
	stop         []string
	cachePrompt  bool
	jsonMode     bool
	schema       *jnode // in jsonMode; nil or {} = any JSON
}

type reqError struct {
	code     int
	msg, typ string
}

func serverError(msg string) *reqError {
	return &reqError{code: http.StatusInternalServerError, msg: msg, typ: "server_error"}
}

// parseErrorMessage imitates nlohmann::json's parse error text, which
// llama-server returns verbatim (HTTP 500) for a malformed body.
func parseErrorMessage(body []byte, err error) string {
	off := len(body)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = int(se.Offset)
	}
	off = min(max(off, 0), len(body))
	line, col := 1, 1
	for _, c := range body[:off] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	detail := err.Error()
	if off >= len(bytes.TrimRight(body, " \t\r\n")) {
		detail = "unexpected end of input; expected '[', '{', or a literal"
	}
	return fmt.Sprintf("[json.exception.parse_error.101] parse error at line %d, column %d: syntax error while parsing value - %s", line, col, detail)
}

// parseChat reads an OpenAI chat request the way llama-server does,
// including its error answers (all HTTP 500 server_error).
func parseChat(body []byte) (*chatRequest, *reqError) {
	if !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v)
		if err == nil {
			err = errors.New("syntax error")
		}
		return nil, serverError(parseErrorMessage(body, err))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, serverError("'messages' is required")
	}
	msgsRaw, ok := raw["messages"]
	if !ok || isNull(msgsRaw) {
		return nil, serverError("'messages' is required")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(msgsRaw, &items); err != nil {
		return nil, serverError("Expected 'messages' to be an array")
	}
	rq := &chatRequest{cachePrompt: true}
	for _, it := range items {
		m, e := parseMessage(it)
		if e != nil {
			return nil, e
		}
		rq.messages = append(rq.messages, m)
	}
	if n, ok := jsonInt(raw["n"]); ok && n > 1 {
		return nil, serverError("Only one completion choice is allowed")
	}
	if n, ok := jsonInt(raw["n_cmpl"]); ok && n > 1 {
		return nil, serverError("Only one completion choice is allowed")
	}
	rq.stream, _ = jsonBool(raw["stream"])
	if so, ok := raw["stream_options"]; ok {
		var opts map[string]json.RawMessage
		if json.Unmarshal(so, &opts) == nil {
			rq.includeUsage, _ = jsonBool(opts["include_usage"])
		}
	}
	for _, k := range []string{"max_tokens", "max_completion_tokens", "n_predict"} {
		if n, ok := jsonInt(raw[k]); ok {
			rq.maxTokens = n
			break
		}
	}
	if b, ok := jsonBool(raw["cache_prompt"]); ok {
		rq.cachePrompt = b
	}
	if st, ok := raw["stop"]; ok {
		var one string
		var many []string
		if json.Unmarshal(st, &one) == nil && one != "" {
			rq.stop = []string{one}
		} else if json.Unmarshal(st, &many) == nil {
			for _, x := range many {
				if x != "" {
					rq.stop = append(rq.stop, x)
				}
			}
		}
	}

	// Structured output: llama.cpp's server-common.cpp logic.
	var schema *jnode
	if js, ok := raw["json_schema"]; ok && !isNull(js) {
		schema, _ = parseOrdered(js)
	}
	var grammar string
	if g, ok := raw["grammar"]; ok {
		_ = json.Unmarshal(g, &grammar)
	}
	if schema != nil && grammar != "" {
		return nil, serverError("Cannot use both json_schema and grammar")
	}
	if rfRaw, ok := raw["response_format"]; ok {
		var rf map[string]json.RawMessage
		if json.Unmarshal(rfRaw, &rf) == nil {
			var rtype string
			_ = json.Unmarshal(rf["type"], &rtype)
			switch {
			case rtype == "json_object":
				if sc, has := rf["schema"]; has || schema.isEmpty() {
					schema = &jnode{kind: kObject}
					if has {
						if n, err := parseOrdered(sc); err == nil {
							schema = n
						}
					}
				}
			case rtype == "json_schema":
				schema = &jnode{kind: kObject}
				var wrapper map[string]json.RawMessage
				if json.Unmarshal(rf["json_schema"], &wrapper) == nil {
					if sc, has := wrapper["schema"]; has {
						if n, err := parseOrdered(sc); err == nil {
							schema = n
						}
					}
				}
			case rtype != "" && rtype != "text":
				return nil, serverError(`response_format type must be one of "text" or "json_object", but got: ` + rtype)
			}
		}
	}
	if schema != nil {
		rq.jsonMode, rq.schema = true, schema
	}
	return rq, nil
}

func parseMessage(raw json.RawMessage) (Message, *reqError) {
	var m struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return Message{}, serverError("Expected 'messages' to be an array of objects")
	}
	msg := Message{Role: m.Role}
	if len(m.Content) == 0 || isNull(m.Content) {
		return msg, nil
	}
	if json.Unmarshal(m.Content, &msg.Content) == nil {
		return msg, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(m.Content, &parts); err != nil {
		return Message{}, serverError("Invalid 'content' type")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" || (p.Type == "" && p.Text != "") {
			b.WriteString(p.Text)
		}
	}
	msg.Content = b.String()
	return msg, nil
}

func isNull(r json.RawMessage) bool { return string(bytes.TrimSpace(r)) == "null" }

func jsonBool(r json.RawMessage) (bool, bool) {
	var b bool
	if len(r) == 0 || json.Unmarshal(r, &b) != nil {
		return false, false
	}
	return b, true
}

func jsonInt(r json.RawMessage) (int, bool) {
	var f float64
	if len(r) == 0 || json.Unmarshal(r, &f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	f = math.Max(math.Min(f, math.MaxInt32), math.MinInt32)
	return int(f), true
}

// --- wire shapes -------------------------------------------------------------

type chunkChoice struct {
	FinishReason *string         `json:"finish_reason"`
	Index        int             `json:"index"`
	Delta        json.RawMessage `json:"delta"`
}

type chunk struct {
	Choices           []chunkChoice `json:"choices"`
	Created           int64         `json:"created"`
	ID                string        `json:"id"`
	Model             string        `json:"model"`
	SystemFingerprint string        `json:"system_fingerprint"`
	Object            string        `json:"object"`
	Usage             *usage        `json:"usage,omitempty"`
	Timings           *timings      `json:"timings,omitempty"`
}

type usage struct {
	CompletionTokens    int           `json:"completion_tokens"`
	PromptTokens        int           `json:"prompt_tokens"`
	TotalTokens         int           `json:"total_tokens"`
	PromptTokensDetails promptDetails `json:"prompt_tokens_details"`
}

type promptDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

type timings struct {
	CacheN              int     `json:"cache_n"`
	PromptN             int     `json:"prompt_n"`
	PromptMS            float64 `json:"prompt_ms"`
	PromptPerTokenMS    float64 `json:"prompt_per_token_ms"`
	PromptPerSecond     float64 `json:"prompt_per_second"`
	PredictedN          int     `json:"predicted_n"`
	PredictedMS         float64 `json:"predicted_ms"`
	PredictedPerTokenMS float64 `json:"predicted_per_token_ms"`
	PredictedPerSecond  float64 `json:"predicted_per_second"`
}

type completion struct {
	Choices           []completionChoice `json:"choices"`
	Created           int64              `json:"created"`
	Model             string             `json:"model"`
	SystemFingerprint string             `json:"system_fingerprint"`
	Object            string             `json:"object"`
	Usage             usage              `json:"usage"`
	ID                string             `json:"id"`
	Timings           timings            `json:"timings"`
}

type completionChoice struct {
	FinishReason string      `json:"finish_reason"`
	Index        int         `json:"index"`
	Message      chatMessage `json:"message"`
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

const (
	roleDelta  = `{"role":"assistant","content":null}`
	emptyDelta = `{}`
)

func contentDelta(tok string) json.RawMessage {
	return marshal(struct {
		Content string `json:"content"`
	}{tok})
}

// rate returns per-token milliseconds and tokens per second, 0 when undefined.
func rate(n int, ms float64) (perTok, perSec float64) {
	if n > 0 {
		perTok = ms / float64(n)
	}
	if ms > 0 {
		perSec = 1e3 * float64(n) / ms
	}
	return perTok, perSec
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

// --- serving a chat request ------------------------------------------------

// job is one chat request that got a slot.
type job struct {
	s           *Server
	rq          *chatRequest
	fault       Fault
	id          string
	created     int64
	nPrompt     int
	cached      int
	promptDur   time.Duration
	decodeStart time.Time
	tokens      []string
	finish      string
	sent        int // tokens delivered
}

func (j *job) timings(predicted int, predDur time.Duration) *timings {
	t := &timings{CacheN: j.cached, PromptN: j.nPrompt - j.cached, PromptMS: msOf(j.promptDur), PredictedN: predicted, PredictedMS: msOf(predDur)}
	t.PromptPerTokenMS, t.PromptPerSecond = rate(t.PromptN, t.PromptMS)
	t.PredictedPerTokenMS, t.PredictedPerSecond = rate(t.PredictedN, t.PredictedMS)
	return t
}

func (j *job) usage(completionTokens int) usage {
	return usage{
		CompletionTokens:    completionTokens,
		PromptTokens:        j.nPrompt,
		TotalTokens:         j.nPrompt + completionTokens,
		PromptTokensDetails: promptDetails{CachedTokens: j.cached},
	}
}

func (j *job) chunk(choices ...chunkChoice) chunk {
	if choices == nil {
		choices = []chunkChoice{}
	}
	return chunk{
		Choices: choices, Created: j.created, ID: j.id, Model: j.s.cfg.Model,
		SystemFingerprint: systemFingerprint, Object: "chat.completion.chunk",
	}
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	task, fault := s.arrive()
	defer s.depart()

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		if ctx.Err() == nil {
			writeError(w, http.StatusBadRequest, "cannot read request body: "+err.Error(), "invalid_request_error")
		}
		return
	}
	if fault != FaultNone && !knownFault(fault) {
		s.logf("sim: task %d: unknown fault %q ignored", task, fault)
		fault = FaultNone
	}

	// Faults in front of the server: they do not look at the request.
	switch fault {
	case FaultRefuse:
		s.countFault(task, fault)
		refuse(w)
		return
	case FaultRateLimit:
		s.countFault(task, fault)
		s.mu.Lock()
		ra := s.faults.RetryAfter
		s.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(ra.Seconds()))))
		writeError(w, http.StatusTooManyRequests, "rate limited", "rate_limit_error")
		return
	case FaultServerError:
		s.countFault(task, fault)
		writeError(w, http.StatusInternalServerError, "simulated internal error", "server_error")
		return
	case FaultUnavailable:
		s.countFault(task, fault)
		writeError(w, http.StatusServiceUnavailable, "Loading model", "unavailable_error")
		return
	}

	rq, rerr := parseChat(body)
	if rerr != nil {
		s.logf("sim: task %d: %d %s", task, rerr.code, rerr.msg)
		writeError(w, rerr.code, rerr.msg, rerr.typ)
		return
	}
	if fault == FaultHang {
		s.countFault(task, fault)
		if rq.stream {
			ev := newSSE(w, false)
			if ev.start() != nil {
				return
			}
		}
		<-ctx.Done()
		return
	}
	s.complete(ctx, w, rq, fault, task)
}

// arrive counts a chat request, gives it a task id and draws its fault.
func (s *Server) arrive() (int, Fault) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextTask++
	st := &s.st
	st.requests++
	st.inflight++
	if st.first.IsZero() {
		st.first = now
	}
	return s.nextTask - 1, s.drawFaultLocked()
}

// drawFaultLocked picks the fault of the next request: the script first,
// then the seeded rate.
func (s *Server) drawFaultLocked() Fault {
	if s.scriptPos < len(s.faults.Script) {
		s.scriptPos++
		return s.faults.Script[s.scriptPos-1]
	}
	if s.faults.Rate > 0 && s.faultRNG.Float64() < s.faults.Rate {
		kinds := s.faults.Kinds
		if len(kinds) == 0 {
			kinds = AllFaults()
		}
		return kinds[s.faultRNG.IntN(len(kinds))]
	}
	return FaultNone
}

func (s *Server) depart() {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.inflight--
	s.st.last = now
}

func (s *Server) countFault(task int, f Fault) {
	s.logf("sim: task %d: fault %q", task, f)
	s.mu.Lock()
	s.st.faults[f]++
	s.mu.Unlock()
}

func (s *Server) countPrompt(n, cached int) {
	s.mu.Lock()
	s.st.prompt += int64(n)
	s.st.cached += int64(cached)
	s.mu.Unlock()
}

func (s *Server) countDone(sent int, completed bool) {
	s.mu.Lock()
	s.st.completion += int64(sent)
	if completed {
		s.st.completed++
	}
	s.mu.Unlock()
}

func (s *Server) newID() string {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 32)
	s.mu.Lock()
	for i := range b {
		b[i] = alnum[s.idRNG.IntN(len(alnum))]
	}
	s.mu.Unlock()
	return "chatcmpl-" + string(b)
}

// refuse drops the connection without an HTTP response (a reset if possible).
func refuse(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// complete runs a request through a slot: queue, context check, prompt
// processing, generation and delivery (with the content faults).
func (s *Server) complete(ctx context.Context, w http.ResponseWriter, rq *chatRequest, fault Fault, task int) {
	prompt := RenderPrompt(rq.messages)
	nPrompt := CountTokens(prompt)
	sl, err := s.acquire(ctx, task, prompt)
	if err != nil {
		s.logf("sim: task %d: client gone while queued", task)
		return
	}
	j := &job{s: s, rq: rq, fault: fault, nPrompt: nPrompt}
	cacheUpdate := false
	defer func() {
		var cache string
		if cacheUpdate {
			cache = prompt + assistantPrefix + strings.Join(j.tokens[:j.sent], "")
		}
		s.release(sl, cache, cacheUpdate)
	}()

	nCtx := s.cfg.ContextSize
	if fault == FaultContextOverflow || nPrompt >= nCtx {
		np := nPrompt
		if fault == FaultContextOverflow {
			s.countFault(task, fault)
			np = max(np, nCtx+1)
		}
		s.logf("sim: task %d: prompt of %d tokens exceeds the slot context of %d", task, np, nCtx)
		body := ctxOverflowBody(np, nCtx)
		if rq.stream {
			ev := newSSE(w, false)
			if ev.data(body) == nil {
				_ = ev.done()
			}
			return
		}
		writeJSON(w, http.StatusBadRequest, body)
		return
	}

	j.cached = s.cachedTokens(sl, prompt, nPrompt, rq.cachePrompt)
	s.countPrompt(nPrompt, j.cached)
	j.id, j.created = s.newID(), time.Now().Unix()
	cacheUpdate = true

	closeConn := rq.stream && (fault == FaultTruncate || fault == FaultMalformed)
	ev := newSSE(w, closeConn)
	var prefillSSE *sse
	if rq.stream {
		prefillSSE = ev
	}
	t0 := time.Now()
	if !s.prefill(ctx, j.nPrompt-j.cached, prefillSSE) {
		return
	}
	j.promptDur = time.Since(t0)

	limit := nCtx - nPrompt
	if rq.maxTokens > 0 && rq.maxTokens < limit {
		limit = rq.maxTokens
	}
	j.tokens, j.finish = finishTokens(s.generate(rq, prompt), rq.stop, limit)
	switch fault {
	case FaultEmpty:
		s.countFault(task, fault)
		j.tokens, j.finish = nil, "stop"
	case FaultLength:
		s.countFault(task, fault)
		j.tokens, j.finish = j.tokens[:(len(j.tokens)+1)/2], "length"
	case FaultStall, FaultTruncate, FaultMalformed, FaultStreamError:
		s.countFault(task, fault)
	}
	j.decodeStart = time.Now()
	if rq.stream {
		s.stream(ctx, ev, j)
	} else {
		s.respond(ctx, w, j)
	}
}

// finishTokens applies stop strings and the token limit to generated text.
func finishTokens(text string, stops []string, limit int) ([]string, string) {
	cut := -1
	for _, st := range stops {
		if i := strings.Index(text, st); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut >= 0 {
		text = text[:cut]
	}
	toks := tokenize(text)
	if len(toks) > limit {
		return toks[:max(limit, 0)], "length"
	}
	return toks, "stop"
}

// prefill charges prompt processing for uncached tokens. While streaming it
// sends ": keepalive" comments every s.keepAlive. It reports false if the
// client went away.
func (s *Server) prefill(ctx context.Context, uncached int, ev *sse) bool {
	pps := s.cfg.PromptTokensPerSecond
	if pps <= 0 || uncached <= 0 {
		return ctx.Err() == nil
	}
	deadline := time.Now().Add(time.Duration(float64(uncached) / pps * float64(time.Second)))
	for {
		rem := time.Until(deadline)
		if rem <= 0 {
			return true
		}
		step := rem
		if ev != nil && s.keepAlive > 0 && step > s.keepAlive {
			step = s.keepAlive
		}
		if !sleepCtx(ctx, step) {
			return false
		}
		if ev != nil && time.Until(deadline) > 0 {
			if ev.write(": keepalive\n\n") != nil {
				return false
			}
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// tokenDue is when token i (0-based) is decoded.
func (s *Server) tokenDue(start time.Time, i int) time.Time {
	if s.cfg.TokensPerSecond <= 0 {
		return start
	}
	return start.Add(time.Duration(float64(i+1) / s.cfg.TokensPerSecond * float64(time.Second)))
}

// stream delivers j as server-sent events.
func (s *Server) stream(ctx context.Context, ev *sse, j *job) {
	emit := func(n int) bool {
		for j.sent < n {
			if !sleepCtx(ctx, time.Until(s.tokenDue(j.decodeStart, j.sent))) {
				return false
			}
			if j.sent == 0 {
				if ev.data(j.chunk(chunkChoice{Index: 0, Delta: json.RawMessage(roleDelta)})) != nil {
					return false
				}
			}
			if ev.data(j.chunk(chunkChoice{Index: 0, Delta: contentDelta(j.tokens[j.sent])})) != nil {
				return false
			}
			j.sent++
		}
		return true
	}
	completed := false
	defer func() { s.countDone(j.sent, completed) }()
	few := min(3, len(j.tokens))
	switch j.fault {
	case FaultStall:
		if emit(few) {
			<-ctx.Done()
		}
		return
	case FaultTruncate:
		if len(j.tokens) > 0 {
			emit(max(1, len(j.tokens)/2))
		}
		return
	case FaultMalformed:
		_ = ev.write(`data: {"choices":[{"delta":{"content":"x"` + "\n\n")
		return
	case FaultStreamError:
		if emit(few) && ev.data(errBody(http.StatusInternalServerError, "simulated failure", "server_error")) == nil {
			_ = ev.done()
		}
		return
	}
	if !emit(len(j.tokens)) {
		return
	}
	if len(j.tokens) == 0 {
		if ev.data(j.chunk(chunkChoice{Index: 0, Delta: json.RawMessage(roleDelta)})) != nil {
			return
		}
	}
	predDur := time.Since(j.decodeStart)
	finish := j.finish
	final := j.chunk(chunkChoice{FinishReason: &finish, Index: 0, Delta: json.RawMessage(emptyDelta)})
	tm := j.timings(j.sent, predDur)
	if !j.rq.includeUsage {
		final.Timings = tm
	}
	if ev.data(final) != nil {
		return
	}
	if j.rq.includeUsage {
		u := j.usage(j.sent)
		uc := j.chunk()
		uc.Usage, uc.Timings = &u, tm
		if ev.data(uc) != nil {
			return
		}
	}
	completed = ev.done() == nil && j.fault == FaultNone
}

// respond delivers j as one JSON body.
func (s *Server) respond(ctx context.Context, w http.ResponseWriter, j *job) {
	if j.fault == FaultStall {
		<-ctx.Done()
		return
	}
	if !sleepCtx(ctx, time.Until(s.tokenDue(j.decodeStart, len(j.tokens)-1))) {
		return
	}
	predDur := time.Since(j.decodeStart)
	n := len(j.tokens)
	if j.fault == FaultStreamError {
		writeError(w, http.StatusInternalServerError, "simulated failure", "server_error")
		return
	}
	resp := completion{
		Choices: []completionChoice{{
			FinishReason: j.finish, Index: 0,
			Message: chatMessage{Role: "assistant", Content: strings.Join(j.tokens, "")},
		}},
		Created: j.created, Model: s.cfg.Model, SystemFingerprint: systemFingerprint,
		Object: "chat.completion", Usage: j.usage(n), ID: j.id, Timings: *j.timings(n, predDur),
	}
	body := marshal(resp)
	switch j.fault {
	case FaultMalformed:
		body = body[:len(body)/2]
		setJSONHeaders(w, len(body))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
		s.countDone(n, false)
		j.sent = n
		return
	case FaultTruncate:
		setJSONHeaders(w, len(body))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body[:len(body)/2])
		_ = http.NewResponseController(w).Flush()
		s.countDone(n, false)
		j.sent = n
		return
	}
	setJSONHeaders(w, len(body))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(body)
	j.sent = n
	s.countDone(n, err == nil && j.fault == FaultNone)
}

// --- SSE writer ----------------------------------------------------------------

type sse struct {
	w         http.ResponseWriter
	rc        *http.ResponseController
	closeConn bool
	started   bool
}

func newSSE(w http.ResponseWriter, closeConn bool) *sse {
	return &sse{w: w, rc: http.NewResponseController(w), closeConn: closeConn}
}

// start sends the 200 text/event-stream headers once.
func (e *sse) start() error {
	if e.started {
		return nil
	}
	e.started = true
	h := e.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Server", "llama.cpp")
	if e.closeConn {
		h.Set("Connection", "close")
	}
	e.w.WriteHeader(http.StatusOK)
	return e.rc.Flush()
}

func (e *sse) write(s string) error {
	if err := e.start(); err != nil {
		return err
	}
	if _, err := io.WriteString(e.w, s); err != nil {
		return err
	}
	return e.rc.Flush()
}

func (e *sse) data(v any) error { return e.write("data: " + string(marshal(v)) + "\n\n") }

func (e *sse) done() error { return e.write("data: [DONE]\n\n") }
