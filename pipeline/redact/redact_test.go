package redact

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"cicdllm/pipeline/redact/redacttest"
)

// Secret-shaped values are never written literally in this package's
// sources (they would trip secret scanners on the repository itself):
// tests draw them from redacttest.Fake and redacttest.PEM.

func newScanner(t testing.TB, o Options) *Scanner {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fake is redacttest.Fake for a kind that must exist.
func fake(t testing.TB, kind string, seed int64) (name, literal, value string) {
	t.Helper()
	name, literal, value, _, ok := redacttest.Fake(kind, seed)
	if !ok {
		t.Fatalf("redacttest has no kind %q", kind)
	}
	return name, literal, value
}

// ruleFor is the rule expected to name each kind's finding.
func ruleFor(kind string) string {
	switch kind {
	case "aws-access-key-id":
		return "aws-access-token"
	case "azure-storage-key":
		return "azure-storage-account-key"
	case "slack-webhook":
		return "slack-webhook-url"
	case "stripe-secret-key", "stripe-restricted-key":
		return "stripe-access-token"
	case "huggingface-token":
		return "huggingface-access-token"
	case "npm-token":
		return "npm-access-token"
	case "pypi-token":
		return "pypi-upload-token"
	case "sendgrid-api-key":
		return "sendgrid-api-token"
	case "postgres-url-password", "mysql-url-password", "mongodb-url-password", "redis-url-password":
		return "url-password"
	case "generic-password", "generic-api-key", "generic-secret-token":
		return "generic-api-key"
	case "generic-quoted-password":
		return "quoted-password"
	}
	return kind // the redacttest kind is the rule id
}

// TestEveryKindIsRedacted: each kind of secret, in the usual ways of
// writing it, is replaced by a marker naming the right rule.
func TestEveryKindIsRedacted(t *testing.T) {
	s := newScanner(t, Options{})
	forms := []struct {
		name string
		f    func(n, lit string) string
	}{
		{"env", func(n, lit string) string { return n + "=" + lit + "\n" }},
		{"go", func(n, lit string) string { return "const " + strings.ToLower(n) + " = \"" + lit + "\"\n" }},
		{"python", func(n, lit string) string { return n + " = '" + lit + "'\n" }},
		{"json", func(n, lit string) string { return "{\n  \"" + n + "\": \"" + lit + "\"\n}\n" }},
		{"yaml", func(n, lit string) string { return "config:\n  " + strings.ToLower(n) + ": \"" + lit + "\"\n" }},
		{"eof", func(n, lit string) string { return "export " + n + "=\"" + lit + "\"" }},
		{"crlf", func(n, lit string) string { return "@echo off\r\nset " + n + "=\"" + lit + "\"\r\nrem end\r\n" }},
	}
	for _, kind := range redacttest.Kinds() {
		for seed := range int64(3) {
			name, lit, value := fake(t, kind, seed)
			for _, f := range forms {
				if f.name == "env" && kind == "generic-quoted-password" {
					continue // needs quotes: punctuation ends an unquoted value
				}
				in := f.f(name, lit)
				out, fs := s.Redact(in)
				if strings.Contains(out, value) {
					t.Errorf("%s/%s/%d: not redacted: %q", kind, f.name, seed, out)
					continue
				}
				want := ruleFor(kind)
				if !slices.ContainsFunc(fs, func(f Finding) bool { return f.Rule == want }) {
					t.Errorf("%s/%s: findings %v, want rule %s: %q", kind, f.name, fs, want, out)
				}
				if !strings.Contains(out, "<REDACTED:"+want+">") {
					t.Errorf("%s/%s: no <REDACTED:%s> marker: %q", kind, f.name, want, out)
				}
			}
		}
	}
}

// TestPrivateKeys: PEM blocks are removed whole, wherever they are.
func TestPrivateKeys(t *testing.T) {
	s := newScanner(t, Options{})
	for _, kind := range []string{"rsa-private-key", "ec-private-key", "openssh-private-key", "pkcs8-private-key"} {
		block, line, ok := redacttest.PEM(kind, 7)
		if !ok {
			t.Fatal(kind)
		}
		for name, in := range map[string]string{
			"go raw string": "const key = `" + block + "\n`\n",
			"yaml block":    "tls:\n  key: |\n    " + strings.ReplaceAll(block, "\n", "\n    ") + "\n",
			"json escaped":  `{"type": "service_account", "private_key": "` + strings.ReplaceAll(block, "\n", `\n`) + `\n"}`,
			"crlf":          strings.ReplaceAll(block, "\n", "\r\n") + "\r\n",
		} {
			out, fs := s.Redact(in)
			if strings.Contains(out, line) || strings.Contains(out, "PRIVATE KEY") {
				t.Errorf("%s in %s: key left: %q", kind, name, out)
			}
			if len(fs) != 1 || fs[0].Rule != "private-key" {
				t.Errorf("%s in %s: findings %v", kind, name, fs)
			}
		}
	}
}

// TestURLPasswordOnly: only the password of a URL goes; user, host and
// path stay, as do placeholder passwords.
func TestURLPasswordOnly(t *testing.T) {
	s := newScanner(t, Options{})
	_, lit, pw := fake(t, "postgres-url-password", 1)
	out, fs := s.Redact("DATABASE_URL=" + lit + "\n")
	want := "DATABASE_URL=" + strings.Replace(lit, pw, "<REDACTED:url-password>", 1) + "\n"
	if out != want || len(fs) != 1 {
		t.Errorf("got %q %v, want %q", out, fs, want)
	}
	for _, in := range []string{
		"postgres://postgres:postgres@localhost:5432/app",
		"mysql://user:password@localhost/db",
		"amqp://guest:guest@rabbitmq:5672/",
		"redis://:${REDIS_PASSWORD}@cache:6379",
		`f"postgresql://{user}:{password}@{host}/{db}"`,
		`fmt.Sprintf("postgres://%s:%s@%s/%s", u, p, h, d)`,
		"https://ci-bot@github.com/acme/orders.git",
		"ssh://git@github.com:22/acme/orders.git",
		"http://[::1]:8080/healthz",
		"https://example.com:8443/path?q=a@b",
	} {
		if fs := s.Find(in); len(fs) > 0 {
			t.Errorf("%q: redacted %v", in, fs)
		}
	}
}

// TestPlaceholdersAreKept: what documentation and templates put in place
// of a secret is never redacted.
func TestPlaceholdersAreKept(t *testing.T) {
	s := newScanner(t, Options{Emails: true})
	for _, in := range []string{
		"aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
		`API_KEY = "xxxxxxxxxxxxxxxx"`,
		`const apiKey = 'YOUR_API_KEY';`,
		"api_key: <your-key>",
		"password: changeme",
		`admin_password = "changeme"`,
		"password: ${DB_PASSWORD}",
		"- name: DB_PASSWORD\n  value: ${DB_PASSWORD}\n",
		"password: {{ .Values.password }}",
		"NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}",
		"stripe_key = 'sk_live_XXXXXXXXXXXXXXXXXXXXXXXX'",
		"token: ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		`api_key = "example-api-key-123456"`,
		`token := "dummy-token-for-unit-tests-01"`,
		`WEBHOOK_SECRET = "test-secret-value-0123456789"`,
		`api_key="fake_api_key_for_testing_42"`,
		`"apiToken": "aaaaaaaaaaaaaaaaaaaaaaaa"`,
		`license_key = "0000000000000000000000000000"`,
		"export API_TOKEN=REPLACE_ME_WITH_REAL_TOKEN",
		`password = "********************"`,
		`password = "%(db_password)s"`,
		`Authorization: Bearer $TOKEN`,
		"build:\n  cache_key: 3f786850e387550fdab836ed7e6dc881de23001b  # commit of the last green build\n",
		`"integrity": "sha512-Kq5sNclPz7QV2+lfQIuc6R7oRu0dfTk9XeDNDpGc5CYJdxdqVGZSYaaAzBv0kNNYdJVQT4bFSBq1B8hzxzJFHg=="`,
		`key_id = "3b241101-e2bb-4255-8caf-4136c566a962"`,
		`api_version = "2023-05-15-preview"`,
		`const accessTokenHeaderName = "X-Access-Token-Header"`,
		`public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ8ZxqKZlU9E4xw6ZKIpfsa9D3s1ZZ7NMvDqZhz6yYxN"`,
	} {
		if fs := s.Find(in); len(fs) > 0 {
			t.Errorf("%q: redacted %v", in, fs)
		}
	}
}

// TestEmails: addresses go only when asked, and addresses that identify
// nobody stay.
func TestEmails(t *testing.T) {
	const in = "Maintainer: Jane Roe <jane.roe@acme-corp.io>, cc ops+alerts@mail.acme-corp.io\n"
	if fs := newScanner(t, Options{}).Find(in); len(fs) > 0 {
		t.Errorf("Emails off: %v", fs)
	}
	s := newScanner(t, Options{Emails: true})
	out, fs := s.Redact(in)
	if want := "Maintainer: Jane Roe <<REDACTED:email>>, cc <REDACTED:email>\n"; out != want || len(fs) != 2 {
		t.Errorf("got %q %v, want %q", out, fs, want)
	}
	for _, keep := range []string{
		"noreply@github.com", "49699333+dependabot[bot]@users.noreply.github.com", "no-reply@accounts.google.com",
		"jane@example.com", "ops@example.org", "a@mail.example.net", "dev@localhost", "x@host.test",
		"git@github.com:acme/orders.git", "logo@2x.png", "python@3.11", "lodash@4.17.21", "@babel/core@7.22.5",
		"ui-kit@3.1.0-next.canary", "postgres://app:S3cretPassw0rd@db.internal:5432/app",
	} {
		out, _ := s.Redact("see " + keep + " here")
		if !strings.Contains(out, keep) && !strings.Contains(keep, "postgres://") {
			t.Errorf("%q was redacted: %q", keep, out)
		}
		if strings.Contains(out, "<REDACTED:email>") {
			t.Errorf("%q: e-mail marker in %q", keep, out)
		}
	}
}

// TestMarkersNeverRetrigger: text that already went through Redact (an
// LLM answer quoting a redacted chunk, the export pass) yields nothing
// more, while a secret next to a marker is still found.
func TestMarkersNeverRetrigger(t *testing.T) {
	s := newScanner(t, Options{Emails: true})
	for _, in := range []string{
		`api_key = "<REDACTED:generic-api-key>"`,
		"aws_secret_access_key = <REDACTED:aws-secret-access-key>\nX9fK2mQ7vL3pR8tW4nB6Zc1Yd5Eh\n",
		"token: <REDACTED:github-pat>\n",
		"postgres://app:<REDACTED:url-password>@db.internal:5432/app",
		"<REDACTED:private-key>\n\n\n",
		"Contact <REDACTED:email> about <REDACTED:slack-webhook-url>",
		"password: <REDACTED:quoted-password> # <REDACTED:kubernetes-env-value>",
	} {
		if fs := s.Find(in); len(fs) > 0 {
			t.Errorf("%q: %v", in, fs)
		}
	}
	_, tok, _ := fake(t, "github-pat", 3)
	out, fs := s.Redact("a: <REDACTED:github-pat> b: " + tok + "\n")
	if want := "a: <REDACTED:github-pat> b: <REDACTED:github-pat>\n"; out != want || len(fs) != 1 {
		t.Errorf("got %q %v", out, fs)
	}
}

func TestIsPlaceholder(t *testing.T) {
	for s, want := range map[string]bool{
		"<REDACTED:aws-access-token>": true,
		"<REDACTED:email>":            true,
		"<REDACTED:>":                 false,
		"<REDACTED:Foo>":              false,
		"<REDACTED:a b>":              false,
		"x<REDACTED:email>":           false,
		"<REDACTED:email>x":           false,
		"<SECRET:email>":              false,
		"":                            false,
	} {
		if got := IsPlaceholder(s); got != want {
			t.Errorf("IsPlaceholder(%q) = %v", s, got)
		}
	}
}

// TestOffsetsAndIdempotence over the whole corpus: findings are sorted,
// disjoint and point at the original text; rebuilding from them gives
// Redact's output; a second pass finds nothing.
func TestOffsetsAndIdempotence(t *testing.T) {
	s := newScanner(t, Options{Emails: true})
	files, plants, _ := redacttest.Corpus(2)
	for _, p := range redacttest.Files(files) {
		in := files[p]
		out, fs := s.Redact(in)
		var b strings.Builder
		last := 0
		for i, f := range fs {
			if f.Start < last || f.End <= f.Start || f.End > len(in) {
				t.Fatalf("%s: finding %d %v out of order or range", p, i, f)
			}
			b.WriteString(in[last:f.Start] + "<REDACTED:" + f.Rule + ">")
			last = f.End
		}
		b.WriteString(in[last:])
		if b.String() != out {
			t.Errorf("%s: findings do not rebuild the output", p)
		}
		if again := s.Find(out); len(again) > 0 {
			t.Errorf("%s: second pass found %v", p, again)
		}
		for _, pl := range plants {
			if pl.File != p {
				continue
			}
			i := strings.Index(in, pl.Value)
			if i >= 0 && !slices.ContainsFunc(fs, func(f Finding) bool { return f.Start <= i && i+len(pl.Value) <= f.End }) {
				t.Errorf("%s: no finding covers the %s at %d", p, pl.Kind, i)
			}
		}
	}
}

// TestCRLFAndMultibyte: redaction never splits a character or a CRLF
// pair, and leaves everything around the secrets byte for byte.
func TestCRLFAndMultibyte(t *testing.T) {
	s := newScanner(t, Options{Emails: true})
	_, tok, _ := fake(t, "slack-bot-token", 4)
	_, pw, _ := fake(t, "generic-quoted-password", 5)
	_, key, _ := fake(t, "aws-access-key-id", 6)
	in := "# 設定ファイル — ключи\r\n" +
		"SLACK_TOKEN=" + tok + "\r\n" +
		"密码: password = \"" + pw + "\" # пароль 🔑\r\n" +
		"ключ=" + key + "→ä\r\n" +
		"メール: 山田@example.jp, café@bücher.de\r\n"
	out, fs := s.Redact(in)
	if !utf8.ValidString(out) {
		t.Errorf("invalid UTF-8: %q", out)
	}
	if strings.Count(out, "\r\n") != 5 || strings.Count(out, "\n") != 5 {
		t.Errorf("line breaks changed: %q", out)
	}
	if len(fs) < 3 {
		t.Errorf("findings %v in %q", fs, out)
	}
	for _, f := range fs {
		if !utf8.RuneStart(in[f.Start]) || (f.End < len(in) && !utf8.RuneStart(in[f.End])) {
			t.Errorf("finding %v splits a character", f)
		}
	}
	for _, keep := range []string{"# 設定ファイル — ключи\r\n", "密码: password = \"", "\" # пароль 🔑\r\n", "ключ=", "→ä\r\n"} {
		if !strings.Contains(out, keep) {
			t.Errorf("lost %q: %q", keep, out)
		}
	}
}

// TestConcurrentUse: one Scanner, many goroutines, same answers (run with
// -race).
func TestConcurrentUse(t *testing.T) {
	s := newScanner(t, Options{Emails: true})
	files, _, _ := redacttest.Corpus(3)
	want := map[string]string{}
	for p, c := range files {
		want[p], _ = s.Redact(c)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for _, p := range redacttest.Files(files) {
				if got, _ := s.Redact(files[p]); got != want[p] {
					errs <- fmt.Sprintf("goroutine %d: %s differs", g, p)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestEmptyAndPlainText(t *testing.T) {
	s := newScanner(t, Options{Emails: true})
	for _, in := range []string{"", "\n", "package main\n\nfunc main() {}\n", strings.Repeat("key token api auth ", 1000)} {
		out, fs := s.Redact(in)
		if out != in || fs != nil {
			t.Errorf("%.40q: %v", in, fs)
		}
	}
}
