package pipeline

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"cicdllm/pipeline/redact"
	"cicdllm/store"
)

// SkipSecretFile: a file that is a credential by nature (a private key,
// .env, .npmrc with a token...). It is never read into a prompt.
const SkipSecretFile = "secret_file"

// safetyFilter applies [safety] to what goes to the LLM and what comes back,
// counting what it removed by stage and rule. Counts are flushed to the
// store as files finish.
type safetyFilter struct {
	scan    *redact.Scanner
	secrets bool          // redact spans (safety.redact_secrets)
	files   bool          // skip credential files (safety.skip_credential_files)
	counter *atomic.Int64 // the run's Snapshot.Redacted, when set

	mu      sync.Mutex
	pending map[string]map[string]int // stage → rule → count, not yet stored
}

// newSafetyFilter returns nil when [safety] asks for nothing.
func newSafetyFilter(cfg SafetyConfig) (*safetyFilter, error) {
	if !cfg.RedactSecrets && !cfg.RedactEmails && !cfg.SkipCredentialFiles {
		return nil, nil
	}
	scan, err := redact.New(redact.Options{Emails: cfg.RedactEmails})
	if err != nil {
		return nil, err
	}
	return &safetyFilter{scan: scan, secrets: cfg.RedactSecrets || cfg.RedactEmails, files: cfg.SkipCredentialFiles,
		pending: map[string]map[string]int{}}, nil
}

// credentialFile says why a file must not be read at all ("" = it may).
func (r *safetyFilter) credentialFile(path, content string) string {
	if r == nil || !r.files {
		return ""
	}
	return r.scan.CredentialFile(path, []byte(content))
}

// text redacts s for a stage. The line count never changes (a multi-line
// secret such as a PEM block becomes one placeholder followed by the same
// number of line breaks), so chunk line spans and sample provenance still
// point at the right lines of the original file.
func (r *safetyFilter) text(stage, s string) string {
	if r == nil || !r.secrets || s == "" {
		return s
	}
	out, findings := r.scan.Redact(s)
	if len(findings) == 0 {
		return s
	}
	r.count(stage, findings)
	if strings.Count(out, "\n") == strings.Count(s, "\n") {
		return out
	}
	return keepLines(s, findings)
}

// keepLines rebuilds a redaction from its (sorted, non-overlapping)
// findings, padding each placeholder with the line breaks it replaced.
func keepLines(s string, findings []redact.Finding) string {
	var b strings.Builder
	last := 0
	for _, f := range findings {
		if f.Start < last || f.End > len(s) {
			continue
		}
		b.WriteString(s[last:f.Start])
		b.WriteString("<REDACTED:" + f.Rule + ">")
		// The same line breaks, CRLF ones included.
		span := s[f.Start:f.End]
		for i := 0; i < len(span); i++ {
			if span[i] == '\n' {
				if i > 0 && span[i-1] == '\r' {
					b.WriteByte('\r')
				}
				b.WriteByte('\n')
			}
		}
		last = f.End
	}
	b.WriteString(s[last:])
	return b.String()
}

func (r *safetyFilter) count(stage string, findings []redact.Finding) {
	if r.counter != nil {
		r.counter.Add(int64(len(findings)))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.pending[stage]
	if m == nil {
		m = map[string]int{}
		r.pending[stage] = m
	}
	for _, f := range findings {
		m[f.Rule]++
	}
}

// flush stores the counts gathered so far.
func (r *safetyFilter) flush(ctx context.Context, st *store.Store, log *slog.Logger) {
	if r == nil || st == nil {
		return
	}
	r.mu.Lock()
	pending := r.pending
	r.pending = map[string]map[string]int{}
	r.mu.Unlock()
	for stage, byRule := range pending {
		if err := st.AddRedactions(ctx, stage, byRule); err != nil {
			log.Error("record redaction counts", "err", err)
		}
	}
}

// IsLoopback reports whether a server URL stays on this machine.
func IsLoopback(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
