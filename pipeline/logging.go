package pipeline

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// LogOptions configures OpenLog.
type LogOptions struct {
	Dir      string     // logs/ of the workspace
	MaxFiles int        // files kept, including the new one
	Level    slog.Level // minimum level written
	// Secrets are values that must never reach a log: API keys and tokens
	// read from the environment variables the config names.
	Secrets []string
	// Mirror, when set, also receives every record (cicdllm -v on the CLI).
	// It must be nil while the terminal UI runs.
	Mirror io.Writer
	Now    time.Time
}

// Log is one run's log file.
type Log struct {
	*slog.Logger
	Path string
	file *os.File
}

// Close flushes and closes the log file.
func (l *Log) Close() error {
	if l == nil || l.file == nil {
		return nil
	}
	err := l.file.Sync()
	return errors.Join(err, l.file.Close())
}

// LogFilePrefix starts every log file name; reset logs deletes only these.
const LogFilePrefix = "cicdllm-"

// OpenLog creates logs/cicdllm-<timestamp>.log, deletes the oldest log files
// beyond MaxFiles, and returns a logger that redacts secrets.
func OpenLog(opts LogOptions) (*Log, error) {
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	base := LogFilePrefix + opts.Now.UTC().Format("20060102-150405.000")
	var f *os.File
	var err error
	for i := 0; i < 100; i++ {
		name := base + ".log"
		if i > 0 {
			name = fmt.Sprintf("%s-%d.log", base, i)
		}
		f, err = os.OpenFile(filepath.Join(opts.Dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, os.ErrExist) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("create log file: %w", err)
	}
	if err := pruneLogs(opts.Dir, opts.MaxFiles, f.Name()); err != nil {
		_ = f.Close()
		return nil, err
	}
	r := newRedactor(opts.Secrets)
	hopts := &slog.HandlerOptions{Level: opts.Level, ReplaceAttr: r.replaceAttr}
	var h slog.Handler = slog.NewTextHandler(f, hopts)
	if opts.Mirror != nil {
		h = slog.NewMultiHandler(h, slog.NewTextHandler(opts.Mirror, hopts))
	}
	return &Log{Logger: slog.New(h), Path: f.Name(), file: f}, nil
}

// LogFiles lists the log files in dir, oldest first (names sort by time).
func LogFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list log files: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), LogFilePrefix) && strings.HasSuffix(e.Name(), ".log") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

func pruneLogs(dir string, keep int, current string) error {
	files, err := LogFiles(dir)
	if err != nil {
		return err
	}
	keep = max(keep, 1)
	for len(files) > keep {
		if files[0] != current {
			if err := os.Remove(files[0]); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("delete old log file: %w", err)
			}
		}
		files = files[1:]
	}
	return nil
}

// redactor keeps secrets out of log files: values of attributes whose name
// says they hold a secret, and any known secret value wherever it appears
// (message, error text, URL).
type redactor struct {
	secrets []string
	keyRe   *regexp.Regexp
}

func newRedactor(secrets []string) *redactor {
	var s []string
	for _, v := range secrets {
		// Very short values would redact ordinary words; no real key is that short.
		if len(v) >= 8 {
			s = append(s, v)
		}
	}
	return &redactor{
		secrets: s,
		keyRe:   regexp.MustCompile(`(?i)(token|secret|passw(or)?d|api[_-]?key|authorization|credential)`),
	}
}

const redacted = "[REDACTED]"

func (r *redactor) replaceAttr(_ []string, a slog.Attr) slog.Attr {
	if a.Key != slog.MessageKey && r.keyRe.MatchString(a.Key) && a.Value.Kind() != slog.KindGroup {
		return slog.String(a.Key, redacted)
	}
	switch a.Value.Kind() {
	case slog.KindString:
		if s := r.scrub(a.Value.String()); s != a.Value.String() {
			return slog.String(a.Key, s)
		}
	case slog.KindAny:
		text := fmt.Sprint(a.Value.Any())
		if s := r.scrub(text); s != text {
			return slog.String(a.Key, s)
		}
	}
	return a
}

func (r *redactor) scrub(s string) string {
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	return s
}
