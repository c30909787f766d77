package hfhub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	defaultParallel  = 4
	defaultAttempts  = 5                      // tries of one request before giving up
	defaultRetryBase = 500 * time.Millisecond // first backoff; doubles per failure
	maxBackoff       = 8 * time.Second
	maxRetryAfter    = 2 * time.Minute // a longer Retry-After fails instead of hanging the CLI
	maxRedirects     = 10
	metadataTimeout  = 30 * time.Second // model info and HEAD requests
	stallTimeout     = 60 * time.Second // no byte of a download for this long: drop and resume
	maxInfoBytes     = 64 << 20         // model info JSON; big repos list many files, not this many
	userAgent        = "cicdllm-hfhub/1"
)

// Client talks to the Hub (or a mirror at Endpoint). The zero value of
// Parallel means 4 files at a time and a nil HTTP the default client. It is
// safe for concurrent use.
type Client struct {
	Endpoint        string       // e.g. https://huggingface.co, no trailing slash
	Token           string       // sent as "authorization: Bearer …", only to Endpoint's host
	HTTP            *http.Client // its redirect policy is replaced: the client follows redirects itself
	Offline         bool         // refuse all network use (HF_HUB_OFFLINE)
	DisableSymlinks bool         // copy files into snapshots instead of linking blobs
	Parallel        int          // files downloaded at once
	Logger          *slog.Logger // nil discards

	attempts  int                                 // 0: defaultAttempts; tests lower it
	retryBase time.Duration                       // 0: defaultRetryBase; tests shorten it
	symlink   func(oldname, newname string) error // nil: os.Symlink; tests make it fail
}

// NewClient makes a Client from the resolved environment.
func NewClient(env Env) *Client {
	return &Client{
		Endpoint:        env.Endpoint,
		Token:           env.Token,
		HTTP:            &http.Client{},
		Offline:         env.Offline,
		DisableSymlinks: env.DisableSymlinks,
		Parallel:        defaultParallel,
		Logger:          slog.New(slog.DiscardHandler),
	}
}

func (c *Client) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c *Client) endpoint() string {
	if c.Endpoint == "" {
		return DefaultEndpoint
	}
	return strings.TrimRight(c.Endpoint, "/")
}

// send makes one request and follows redirects by hand, the way
// huggingface_hub does: metadata requests follow only relative redirects (a
// renamed repo) and stop at an absolute one (the CDN), whose headers carry
// the file's metadata; downloads follow all. The token goes only to the
// endpoint's own scheme, host and port: CDN URLs are pre-signed, and Go's
// own redirect logic would forward it to subdomains such as
// cdn-lfs.huggingface.co. Transport failures come back as *temporaryError
// so retry tries again.
func (c *Client) send(ctx context.Context, method, target string, header http.Header, followAbsolute bool) (*http.Response, error) {
	base := http.DefaultClient
	if c.HTTP != nil {
		base = c.HTTP
	}
	client := *base
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	endpoint, err := url.Parse(c.endpoint())
	if err != nil {
		return nil, fmt.Errorf("HF_ENDPOINT %q is not a URL: %w", c.endpoint(), err)
	}

	for range maxRedirects + 1 {
		req, err := http.NewRequestWithContext(ctx, method, target, nil)
		if err != nil {
			return nil, fmt.Errorf("cannot make a request for %s: %w", target, err)
		}
		for key, values := range header {
			req.Header[key] = values
		}
		req.Header.Set("User-Agent", userAgent)
		if c.Token != "" && sameOrigin(req.URL, endpoint) {
			req.Header.Set("Authorization", "Bearer "+c.Token)
		}
		resp, err := client.Do(req)
		if err != nil {
			// url.Error repeats the URL the message already gives.
			if urlErr, ok := errors.AsType[*url.Error](err); ok {
				err = urlErr.Err
			}
			return nil, &temporaryError{err: fmt.Errorf("cannot reach %s (%s): %w; check the network connection, or HF_ENDPOINT if you use a mirror", req.URL.Host, target, err)}
		}
		location := resp.Header.Get("Location")
		if !isRedirect(resp.StatusCode) || location == "" {
			return resp, nil
		}
		next, err := url.Parse(location)
		if err != nil {
			resp.Body.Close()
			return nil, fmt.Errorf("%s redirected to a malformed location %q: %w", target, location, err)
		}
		if next.Host != "" && !followAbsolute {
			return resp, nil
		}
		drain(resp)
		target = req.URL.ResolveReference(next).String()
	}
	return nil, fmt.Errorf("%s redirected more than %d times; check HF_ENDPOINT", target, maxRedirects)
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// sameOrigin compares scheme, host and port (default ports filled in).
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

// drain reads a little of a body we do not need so the connection can be
// reused, then closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// temporaryError marks a failure worth retrying (connection errors, 408,
// 429, 5xx, a stalled or cut download); after says how long the server
// asked us to wait.
type temporaryError struct {
	err   error
	after time.Duration
}

func (e *temporaryError) Error() string { return e.err.Error() }
func (e *temporaryError) Unwrap() error { return e.err }

// retry runs try until it succeeds, fails with a non-temporary error, or
// fails attempts times in a row. A try that made progress (received bytes)
// resets the count, so a flaky connection can still finish a large file.
func (c *Client) retry(ctx context.Context, try func() (progressed bool, err error)) error {
	attempts := c.attempts
	if attempts <= 0 {
		attempts = defaultAttempts
	}
	failures := 0
	for {
		progressed, err := try()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		var temporary *temporaryError
		if !errors.As(err, &temporary) {
			return err
		}
		if progressed {
			failures = 0
		}
		failures++
		if failures >= attempts {
			if attempts == 1 {
				return err
			}
			return fmt.Errorf("%w (gave up after %d attempts)", err, failures)
		}
		wait := temporary.after
		if wait <= 0 {
			wait = c.backoff(failures)
		}
		if wait > maxRetryAfter {
			return fmt.Errorf("%w; the Hub asks to wait %s before trying again, so try later", err, wait.Round(time.Second))
		}
		c.logger().Warn("hub request failed, retrying", "error", err, "attempt", failures, "wait", wait)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return context.Cause(ctx)
		case <-timer.C:
		}
	}
}

// backoff is exponential from retryBase, capped, minus up to 25% jitter so
// parallel downloads do not retry in step.
func (c *Client) backoff(failures int) time.Duration {
	base := c.retryBase
	if base <= 0 {
		base = defaultRetryBase
	}
	wait := base << min(failures-1, 10)
	wait = min(wait, maxBackoff)
	return wait - time.Duration(rand.Int64N(int64(wait)/4+1))
}

// retryAfter reads how long a 429/503 asks us to wait: the Hub's
// "RateLimit: …;r=0;t=<seconds>" when the window is used up, else
// Retry-After in seconds or as an HTTP date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if limit := h.Get("RateLimit"); limit != "" {
		var remaining, reset string
		for _, part := range strings.Split(limit, ";") {
			key, value, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch key {
			case "r":
				remaining = value
			case "t":
				reset = value
			}
		}
		if seconds, err := strconv.Atoi(reset); remaining == "0" && err == nil && seconds > 0 {
			return time.Duration(seconds) * time.Second
		}
	}
	value := strings.TrimSpace(h.Get("Retry-After"))
	if value == "" {
		return 0
	}
	if seconds, err := strconv.ParseFloat(value, 64); err == nil && seconds >= 0 {
		return time.Duration(seconds * float64(time.Second))
	}
	if when, err := http.ParseTime(value); err == nil {
		return max(when.Sub(now), 0)
	}
	return 0
}

// isRetryableStatus is huggingface_hub's _DEFAULT_RETRY_ON_STATUS_CODES
// plus the rest of 5xx.
func isRetryableStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// request says what a Hub request was about, for error messages.
type request struct {
	id, revision, file string
	url                string
}

// statusError turns an unsuccessful Hub answer into an error that says what
// went wrong and what to do. Retryable statuses come back as
// *temporaryError. It reads (a little of) and closes the body.
func (c *Client) statusError(resp *http.Response, r request) error {
	defer drain(resp)
	status := resp.StatusCode
	code := resp.Header.Get("X-Error-Code")
	answered := fmt.Sprintf("the Hub answered %d %s for %s", status, http.StatusText(status), r.url)
	if message := strings.TrimSpace(resp.Header.Get("X-Error-Message")); message != "" {
		answered += fmt.Sprintf(": %q", message)
	}
	model := c.endpoint() + "/" + r.id

	switch {
	case status == http.StatusTooManyRequests:
		return &temporaryError{
			err:   fmt.Errorf("the Hub is rate-limiting this machine (%s); wait a few minutes and run again — a token in HF_TOKEN gets a higher limit", answered),
			after: retryAfter(resp.Header, time.Now()),
		}
	case isRetryableStatus(status):
		return &temporaryError{
			err:   fmt.Errorf("the Hub had a problem (%s); try again later", answered),
			after: retryAfter(resp.Header, time.Now()),
		}
	case (status == http.StatusUnauthorized || status == http.StatusForbidden) && !c.isEndpoint(r.url):
		// Only the CDN's pre-signed link was refused; a new run asks the Hub
		// for a fresh one.
		return fmt.Errorf("%s refused the download link for %s of %s (%s); the link probably expired: run the download again", hostOf(r.url), r.file, r.id, answered)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		if c.Token != "" {
			return fmt.Errorf("%s is gated or private and the token in use cannot read it (%s): check HF_TOKEN (or the token file from `hf auth login`), and accept the model's terms at %s with that account", r.id, answered, model)
		}
		if code == "RepoNotFound" {
			return fmt.Errorf("%s does not exist, or it is gated or private: set HF_TOKEN to an access token (https://huggingface.co/settings/tokens) if you should have access, otherwise check the id (%s)", r.id, answered)
		}
		return fmt.Errorf("%s is gated or private: set HF_TOKEN to an access token of an account that can read it (https://huggingface.co/settings/tokens) and accept the model's terms at %s (%s)", r.id, model, answered)
	case status == http.StatusNotFound && code == "EntryNotFound":
		return fmt.Errorf("%s has no file %q at revision %q (%s)", r.id, r.file, r.revision, answered)
	case status == http.StatusNotFound && code == "RevisionNotFound":
		return fmt.Errorf("%s has no revision %q: check the branch, tag or commit hash (%s)", r.id, r.revision, answered)
	case status == http.StatusNotFound && (code == "RepoNotFound" || r.file == ""):
		return fmt.Errorf("model %s does not exist on %s: check the id, for example %s (%s)", r.id, c.endpoint(), exampleID, answered)
	}
	return errors.New(answered)
}

// isEndpoint reports whether rawURL is on the Hub itself rather than a CDN.
func (c *Client) isEndpoint(rawURL string) bool {
	u, err := url.Parse(rawURL)
	endpoint, endpointErr := url.Parse(c.endpoint())
	return err == nil && endpointErr == nil && sameOrigin(u, endpoint)
}

func hostOf(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		return u.Host
	}
	return rawURL
}
