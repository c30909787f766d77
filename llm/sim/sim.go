package sim

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Fault is a failure the simulator injects into one chat request.
type Fault string

// The fault kinds. Each comment describes the wire behaviour.
const (
	FaultNone            Fault = ""
	FaultRefuse          Fault = "refuse"       // accept the TCP connection, read the request, then close (reset) it without any HTTP response
	FaultRateLimit       Fault = "429"          // HTTP 429 with Retry-After (whole seconds, ceil of FaultConfig.RetryAfter) and a rate_limit_error body
	FaultServerError     Fault = "500"          // HTTP 500 {"error":{"code":500,"message":"simulated internal error","type":"server_error"}} (transient)
	FaultUnavailable     Fault = "503"          // HTTP 503 {"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}
	FaultHang            Fault = "hang"         // stream: 200 + SSE headers flushed, then nothing; non-stream: never answers. Holds no slot. Ends when the client goes away or on Close/SetDown(true).
	FaultStall           Fault = "stall"        // stream: role chunk and a few tokens, then nothing; non-stream: never answers. Holds its slot until the client goes away or Close/SetDown(true).
	FaultTruncate        Fault = "truncate"     // stream: some tokens, then the response ends cleanly (Connection: close) without a finish_reason chunk and without [DONE]; non-stream: Content-Length of the full body but only half of it is sent
	FaultMalformed       Fault = "malformed"    // stream: one data: line with broken JSON, then the response ends; non-stream: 200 with a truncated JSON body
	FaultContextOverflow Fault = "ctx"          // exceed_context_size_error as if the prompt did not fit the slot: non-stream HTTP 400; stream HTTP 200 + error event + [DONE]
	FaultEmpty           Fault = "empty"        // a successful response whose content is "" with finish_reason "stop"
	FaultLength          Fault = "length"       // a successful response cut to about half its tokens with finish_reason "length"
	FaultStreamError     Fault = "stream_error" // stream: 200, a few tokens, then an error event (code 500, "simulated failure", server_error) and [DONE]; non-stream: HTTP 500 with that error
)

// AllFaults returns every fault kind except FaultNone, in declaration order.
// It is the set FaultConfig.Rate draws from when FaultConfig.Kinds is empty.
func AllFaults() []Fault {
	return []Fault{
		FaultRefuse, FaultRateLimit, FaultServerError, FaultUnavailable, FaultHang,
		FaultStall, FaultTruncate, FaultMalformed, FaultContextOverflow, FaultEmpty,
		FaultLength, FaultStreamError,
	}
}

func knownFault(f Fault) bool {
	for _, k := range AllFaults() {
		if k == f {
			return true
		}
	}
	return false
}

// FaultConfig selects the faults injected into chat requests.
type FaultConfig struct {
	Rate       float64       // probability (0..1) that a chat request gets a random fault from Kinds (deterministic PRNG from Config.Seed)
	Kinds      []Fault       // faults drawn by Rate; empty = AllFaults()
	Script     []Fault       // consumed one per chat request, in arrival order, BEFORE Rate applies; FaultNone entries mean "no fault for that request"
	RetryAfter time.Duration // for 429; default 1s
}

// Config configures a Server. Zero values select the documented defaults.
type Config struct {
	Slots                 int         // parallel slots; default 4. Requests beyond that queue FIFO (llama.cpp behaviour).
	ContextSize           int         // per-slot context in tokens; default 4096
	TokensPerSecond       float64     // decode rate per slot; 0 = no pacing (as fast as possible)
	PromptTokensPerSecond float64     // prefill rate per slot for UNCACHED prompt tokens; 0 = free
	Model                 string      // id in /v1/models; default "sim"
	AnswerTokens          int         // length of a free-text answer in tokens when max_tokens allows; default 96
	Seed                  int64       // seeds generated content and the fault PRNG
	Faults                FaultConfig // initial faults; see SetFaults

	// PropsNCtxPerSlot makes GET /props report default_generation_settings.n_ctx
	// as the per-slot context (ContextSize), as upstream llama-server does
	// (server-context.cpp get_props: "n_ctx": slot_n_ctx). By default it
	// reports the total, ContextSize*Slots, so that the per-slot context is
	// n_ctx / total_slots. /slots and exceed_context_size_error always carry
	// the per-slot value.
	PropsNCtxPerSlot bool

	// Logf, when set, receives the simulator's log lines; it never prints otherwise.
	Logf func(format string, args ...any)
}

// Stats is a snapshot of the simulator's accounting since New or the last ResetStats.
type Stats struct {
	Requests           int64           // chat requests received (including faulted and invalid ones)
	Completed          int64           // chat requests answered successfully (finish stop or length, no fault)
	Faults             map[Fault]int64 // faults actually applied, by kind
	PromptTokens       int64           // prompt tokens of processed requests (those that got a slot and fit its context)
	CachedPromptTokens int64           // of which served from the slot's prefix cache
	CompletionTokens   int64           // generated tokens delivered to clients
	BusySlotSeconds    float64         // sum over slots of time a slot was held by a request (in-flight holds count up to now)
	WallSeconds        float64         // from the first request's arrival to the last request's end (or now, while requests are in flight)
	Utilisation        float64         // BusySlotSeconds / (Slots * WallSeconds); 0 when no requests
	MaxConcurrent      int             // max slots busy at once
	MaxQueued          int             // max requests waiting for a slot
}

// Server is a simulated llama-server. Create it with New; it is safe for
// concurrent use. Serve it either with Start or through Handler (for example
// with httptest.NewServer); in the latter case call Close before closing the
// httptest server so that hung requests are released.
type Server struct {
	cfg       Config
	created   int64
	handler   http.Handler
	keepAlive time.Duration // interval of ": keepalive" comments during long prompt processing
	lex       *lexicon

	mu   sync.Mutex
	cond *sync.Cond // broadcast whenever a handler finishes

	// faults
	faults    FaultConfig
	scriptPos int
	faultRNG  *rand.Rand
	idRNG     *rand.Rand

	// lifecycle
	started   bool
	closed    bool
	down      bool
	active    int // handlers running
	ep        *epoch
	addr      string // the address actually bound, reused by SetDown(false)
	url       string
	hs        *http.Server
	serveDone chan struct{}

	// slots
	slots    []*slot
	queue    []*waiter
	nbusy    int
	useSeq   int64
	nextTask int

	st statsState
}

// epoch groups the handlers started between two outages so that SetDown(true)
// can abort exactly those.
type epoch struct {
	ctx    context.Context
	cancel context.CancelFunc
	n      int
}

func newEpoch() *epoch {
	ctx, cancel := context.WithCancel(context.Background())
	return &epoch{ctx: ctx, cancel: cancel}
}

type statsState struct {
	requests, completed        int64
	faults                     map[Fault]int64
	prompt, cached, completion int64
	busy                       float64 // finished slot holds in the window, seconds
	windowStart                time.Time
	first, last                time.Time
	inflight                   int
	maxConc, maxQueued         int
}

// New returns a Server for cfg with defaults applied. It does not listen;
// see Start and Handler.
func New(cfg Config) *Server {
	if cfg.Slots <= 0 {
		cfg.Slots = 4
	}
	if cfg.ContextSize <= 0 {
		cfg.ContextSize = 4096
	}
	if cfg.TokensPerSecond < 0 {
		cfg.TokensPerSecond = 0
	}
	if cfg.PromptTokensPerSecond < 0 {
		cfg.PromptTokensPerSecond = 0
	}
	if cfg.Model == "" {
		cfg.Model = "sim"
	}
	if cfg.AnswerTokens <= 0 {
		cfg.AnswerTokens = 96
	}
	seed := uint64(cfg.Seed)
	s := &Server{
		cfg:       cfg,
		created:   time.Now().Unix(),
		keepAlive: 2 * time.Second,
		lex:       newLexicon(),
		faultRNG:  rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		idRNG:     rand.New(rand.NewPCG(seed^0x5bd1e995, 0xc2b2ae3d27d4eb4f)),
		ep:        newEpoch(),
	}
	s.cond = sync.NewCond(&s.mu)
	s.handler = http.HandlerFunc(s.serveHTTP)
	s.slots = make([]*slot, cfg.Slots)
	for i := range s.slots {
		s.slots[i] = &slot{id: i, task: -1}
	}
	s.faults = normFaults(cfg.Faults)
	s.cfg.Faults = s.faults
	s.st = statsState{faults: map[Fault]int64{}, windowStart: time.Now()}
	return s
}

func normFaults(f FaultConfig) FaultConfig {
	if f.RetryAfter <= 0 {
		f.RetryAfter = time.Second
	}
	f.Kinds = append([]Fault(nil), f.Kinds...)
	f.Script = append([]Fault(nil), f.Script...)
	return f
}

// Config returns the effective configuration (defaults applied, current faults).
func (s *Server) Config() Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cfg
	c.Faults = normFaults(s.faults)
	return c
}

// Handler returns the HTTP handler serving every endpoint. FaultRefuse needs
// an http.Hijacker (net/http and httptest servers provide one for HTTP/1.x).
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on addr (for example "127.0.0.1:0"), serves in the
// background and returns the base URL, e.g. "http://127.0.0.1:41234".
func (s *Server) Start(addr string) (string, error) {
	url, err := s.start(addr)
	if err == nil {
		s.logf("sim: listening on %s (%d slots x %d ctx)", url, s.cfg.Slots, s.cfg.ContextSize)
	}
	return url, err
}

func (s *Server) start(addr string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", errors.New("sim: server closed")
	}
	if s.started {
		return "", errors.New("sim: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	bound := ln.Addr().String()
	host, port, err := net.SplitHostPort(bound)
	if err != nil {
		_ = ln.Close()
		return "", err
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	s.started = true
	s.addr = bound
	s.url = "http://" + net.JoinHostPort(host, port)
	s.serveLocked(ln)
	return s.url, nil
}

func (s *Server) serveLocked(ln net.Listener) {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(logWriter{s}, "", 0),
	}
	done := make(chan struct{})
	s.hs, s.serveDone = hs, done
	go func() {
		defer close(done)
		_ = hs.Serve(ln)
	}()
}

type logWriter struct{ s *Server }

func (w logWriter) Write(p []byte) (int, error) {
	w.s.logf("sim: http: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// URL returns the base URL after Start, or "" before.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Close stops serving, aborts in-flight (including hung) requests and waits
// for every handler goroutine to return. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	hs, done := s.hs, s.serveDone
	s.hs, s.serveDone = nil, nil
	ep := s.ep
	s.mu.Unlock()

	var err error
	if hs != nil {
		err = hs.Close()
	}
	ep.cancel()
	if done != nil {
		<-done
	}
	s.mu.Lock()
	for s.active > 0 {
		s.cond.Wait()
	}
	s.mu.Unlock()
	return err
}

// SetDown simulates an outage. down=true closes the listener so that new
// connections are refused, aborts in-flight requests and waits for their
// handlers to return; down=false listens again on the same address. It is
// only valid after Start and before Close.
func (s *Server) SetDown(down bool) error {
	s.mu.Lock()
	if !s.started {
		s.mu.Unlock()
		return errors.New("sim: SetDown before Start")
	}
	if s.closed {
		s.mu.Unlock()
		return errors.New("sim: server closed")
	}
	if down == s.down {
		s.mu.Unlock()
		return nil
	}
	if !down {
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("sim: listen again on %s: %w", s.addr, err)
		}
		s.down = false
		s.serveLocked(ln)
		s.mu.Unlock()
		s.logf("sim: up again on %s", s.url)
		return nil
	}
	s.down = true
	hs, done := s.hs, s.serveDone
	s.hs, s.serveDone = nil, nil
	old := s.ep
	s.ep = newEpoch()
	s.mu.Unlock()

	err := hs.Close()
	old.cancel()
	<-done
	s.mu.Lock()
	for old.n > 0 {
		s.cond.Wait()
	}
	s.mu.Unlock()
	s.logf("sim: down (%s refuses connections)", s.addr)
	return err
}

// SetFaults replaces the fault configuration; the script starts over.
func (s *Server) SetFaults(f FaultConfig) {
	f = normFaults(f)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.scriptPos = 0
}

// Stats returns a snapshot of the accounting window.
func (s *Server) Stats() Stats {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.st
	out := Stats{
		Requests:           st.requests,
		Completed:          st.completed,
		Faults:             make(map[Fault]int64, len(st.faults)),
		PromptTokens:       st.prompt,
		CachedPromptTokens: st.cached,
		CompletionTokens:   st.completion,
		BusySlotSeconds:    st.busy,
		MaxConcurrent:      st.maxConc,
		MaxQueued:          st.maxQueued,
	}
	for k, v := range st.faults {
		out.Faults[k] = v
	}
	for _, sl := range s.slots {
		if sl.busy {
			out.BusySlotSeconds += s.busySinceLocked(sl.acquired, now)
		}
	}
	if !st.first.IsZero() {
		end := st.last
		if st.inflight > 0 {
			end = now
		}
		if d := end.Sub(st.first).Seconds(); d > 0 {
			out.WallSeconds = d
		}
	}
	if out.WallSeconds > 0 {
		out.Utilisation = out.BusySlotSeconds / (float64(len(s.slots)) * out.WallSeconds)
	}
	return out
}

// ResetStats starts a new accounting window. Requests in flight count in the
// new window from now on.
func (s *Server) ResetStats() {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := statsState{faults: map[Fault]int64{}, windowStart: now, inflight: s.st.inflight}
	if st.inflight > 0 {
		st.first = now
	}
	st.maxConc = s.nbusy
	st.maxQueued = len(s.queue)
	s.st = st
}

func (s *Server) busySinceLocked(acquired, now time.Time) float64 {
	if acquired.Before(s.st.windowStart) {
		acquired = s.st.windowStart
	}
	if d := now.Sub(acquired).Seconds(); d > 0 {
		return d
	}
	return 0
}

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

// serveHTTP registers the handler with the current epoch so that Close and
// SetDown can abort it and wait for it, then routes the request.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "server is shutting down", "unavailable_error")
		return
	}
	if s.down {
		// The connection predates the outage and is being closed.
		s.mu.Unlock()
		panic(http.ErrAbortHandler)
	}
	ep := s.ep
	ep.n++
	s.active++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		ep.n--
		s.active--
		s.cond.Broadcast()
		s.mu.Unlock()
	}()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(ep.ctx, cancel)
	defer stop()
	s.route(w, r.WithContext(ctx))
}
