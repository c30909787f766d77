package redact

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// The vendored gitleaks files must stay byte for byte as released
// (gitleaks v8.30.1, config/gitleaks.toml and LICENSE).
func TestGitleaksFilesUnchanged(t *testing.T) {
	for name, want := range map[string]string{
		"gitleaks.toml":    "e163e53b9e7e8a8511e77271e2b323ed057759542a6d988258afe3a1fa329caf",
		"LICENSE.gitleaks": "e3884b252b3bfc045e55be43a34d1e80da070bc6f804ac95bf4660e97d62ebc6",
	} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s changed: sha256 %s", name, got)
		}
	}
}

// gitleaksRuleIDs reads the rule ids straight from gitleaks.toml.
func gitleaksRuleIDs(t *testing.T) []string {
	t.Helper()
	var cfg struct{ Rules []struct{ ID string } }
	if _, err := toml.DecodeFile("gitleaks.toml", &cfg); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range cfg.Rules {
		ids = append(ids, r.ID)
	}
	return ids
}

// TestRuleCoverage: every gitleaks rule is active except the two that
// need a file path, plus cicdllm's own rules; e-mail only on request.
func TestRuleCoverage(t *testing.T) {
	skipped := []string{"hashicorp-tf-password", "pkcs12-file"}
	added := []string{"url-password", "aws-secret-access-key", "azure-storage-account-key", "azure-sas-token",
		"authorization-header", "quoted-password", "kubernetes-env-value"}
	ids := gitleaksRuleIDs(t)
	if len(ids) != 222 {
		t.Errorf("gitleaks.toml has %d rules, want 222", len(ids))
	}
	for _, o := range []Options{{}, {Emails: true}} {
		got := newScanner(t, o).Rules()
		for _, id := range ids {
			if slices.Contains(got, id) == slices.Contains(skipped, id) {
				t.Errorf("rule %s: active = %v", id, slices.Contains(got, id))
			}
		}
		for _, id := range added {
			if !slices.Contains(got, id) {
				t.Errorf("rule %s missing", id)
			}
		}
		if slices.Contains(got, "email") != o.Emails {
			t.Errorf("Emails %v: email rule active = %v", o.Emails, !o.Emails)
		}
		if want := len(ids) - len(skipped) + len(added) + map[bool]int{true: 1}[o.Emails]; len(got) != want {
			t.Errorf("%d rules, want %d", len(got), want)
		}
	}
}

// TestKeywordsAreInTheMatch guards the line windows: a rule runs only
// around its keywords, which gitleaks' convention puts inside the match.
// Rules whose keywords need not be in the match must be scanned whole,
// and a new such rule in an updated gitleaks.toml must fail here.
func TestKeywordsAreInTheMatch(t *testing.T) {
	// Keywords that appear in the regex only through a character class or
	// an alternation, checked by hand.
	byHand := []string{"authress-service-client-access-key", "generic-api-key", "github-app-token", "harness-api-key",
		"intra42-client-secret", "linkedin-client-id", "linkedin-client-secret", "lob-api-key", "lob-pub-api-key",
		"messagebird-api-token", "messagebird-client-id", "privateai-api-token", "slack-config-access-token",
		"slack-legacy-token", "slack-legacy-workspace-token", "slack-user-token", "stripe-access-token",
		"facebook-page-access-token", "cloudflare-origin-ca-key", "aws-secret-access-key"}
	unescape := strings.NewReplacer(`\.`, ".", `\-`, "-", `\/`, "/")
	s := newScanner(t, Options{Emails: true})
	for _, r := range s.rules {
		if r.before < 0 || slices.Contains(byHand, r.id) {
			continue
		}
		src := strings.ToLower(unescape.Replace(r.src))
		for _, k := range r.keywords {
			if !strings.Contains(src, k) {
				t.Errorf("%s: keyword %q is not written in the regex; check the rule and list it", r.id, k)
			}
		}
	}
	for _, id := range []string{"airtable-personnal-access-token", "facebook-access-token", "sourcegraph-access-token", "kubernetes-secret-yaml"} {
		i := slices.IndexFunc(s.rules, func(r rule) bool { return r.id == id })
		if i < 0 || s.rules[i].before >= 0 {
			t.Errorf("%s must be scanned whole", id)
		}
	}
}

// TestMatchPlans documents how the rules run: anchored at keywords, in
// line windows, or over the whole text.
func TestMatchPlans(t *testing.T) {
	s := newScanner(t, Options{Emails: true})
	var anchored, windowed, whole []string
	quick := 0
	for _, r := range s.rules {
		if r.quick != nil {
			quick++
		}
		switch {
		case r.anchored != nil:
			anchored = append(anchored, r.id)
		case r.before < 0:
			whole = append(whole, r.id)
		default:
			windowed = append(windowed, r.id)
		}
	}
	t.Logf("%d rules anchored at keywords (%d with a quick check), %d in line windows, %d whole-text: %v",
		len(anchored), quick, len(windowed), len(whole), whole)
	g := s.rules[slices.IndexFunc(s.rules, func(r rule) bool { return r.id == "generic-api-key" })]
	if g.quick == nil {
		t.Fatal("generic-api-key has no quick check")
	}
	if !g.quick.first['='] || g.quick.first['a'] || g.quick.span < 33 || g.quick.span > 100 {
		t.Errorf("generic-api-key quick check: span %d", g.quick.span)
	}
	for _, id := range []string{"generic-api-key", "jwt", "private-key", "quoted-password", "authorization-header", "twilio-api-key"} {
		if !slices.Contains(anchored, id) {
			t.Errorf("%s should be anchored at its keywords", id)
		}
	}
}

func TestParseRuleFileErrors(t *testing.T) {
	for _, tc := range []struct{ toml, want string }{
		{"[[rules]]\nid = \"x\"\nregex = '''a('''\nkeywords = [\"a\"]\n", `rule "x": compile regex`},
		{"[[rules]]\nid = \"x\"\nregex = '''a'''\n", `rule "x": a rule without keywords`},
		{"[[rules]]\nid = \"x\"\nregex = '''a'''\nkeywords = [\"a\"]\n[[rules.required]]\nid = \"y\"\n", `unsupported setting "rules.required`},
		{"[[rules]]\nid = \"x\"\nregex = '''(a)'''\nsecretGroup = 2\nkeywords = [\"a\"]\n", "secretGroup 2"},
		{"[[rules]]\nregex = '''a'''\nkeywords = [\"a\"]\n", "has no id"},
		{"[[rules]]\nid = \"x\"\nregex = '''a'''\nkeywords = [\"a\"]\n[[rules.allowlists]]\nregexTarget = \"file\"\nregexes = ['''b''']\n", `unknown regexTarget "file"`},
		{"title = 3", "extra.toml"},
	} {
		_, _, err := parseRuleFile("extra.toml", []byte(tc.toml), false)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "redaction rules: ") {
			t.Errorf("%q: error %v, want one containing %q", tc.toml, err, tc.want)
		}
	}
}

// TestEntropyIsGitleaks: same formula as gitleaks' shannonEntropy
// (per rune counts over the length in bytes).
func TestEntropyIsGitleaks(t *testing.T) {
	ref := func(s string) float64 {
		counts := map[rune]int{}
		for _, r := range s {
			counts[r]++
		}
		var e float64
		for _, n := range counts {
			f := float64(n) / float64(len(s))
			e -= f * math.Log2(f)
		}
		return e
	}
	for _, s := range []string{"a", "aaaa", "abcd", "Zr9u0g8Xq2bK4n7vYt1cW6pE3sLmA5dHfJ0kQ8xN", "密码password", "ключ🔑"} {
		if got, want := shannonEntropy(s), ref(s); math.Abs(got-want) > 1e-12 {
			t.Errorf("%q: %v, want %v", s, got, want)
		}
	}
}

// TestAllowlistSemantics: gitleaks' OR and AND conditions and targets.
func TestAllowlistSemantics(t *testing.T) {
	re := regexp.MustCompile("^sec")
	stop := newAutomaton([]string{"word"})
	for _, tc := range []struct {
		a                   allowlist
		secret, match, line string
		want                bool
	}{
		{allowlist{re: re}, "secret", "", "", true},
		{allowlist{re: re}, "other", "", "", false},
		{allowlist{stop: stop}, "a-word-here", "", "", true},
		{allowlist{stop: stop}, "aWoRdx", "", "", false}, // mixed case: chance, not a word
		{allowlist{re: re, target: targetMatch}, "x", "second", "", true},
		{allowlist{re: re, target: targetLine}, "x", "", "sec = x", true},
		{allowlist{re: re, stop: stop, and: true}, "sec-word", "", "", true},
		{allowlist{re: re, stop: stop, and: true}, "sec-none", "", "", false},
		{allowlist{re: re, and: true, hasPaths: true}, "secret", "", "", false}, // no path to satisfy
	} {
		if got := tc.a.allows(tc.secret, tc.match, tc.line); got != tc.want {
			t.Errorf("%+v on %q/%q/%q: %v", tc.a, tc.secret, tc.match, tc.line, got)
		}
	}
}

// TestQuickCheckIsNecessary: wherever an anchored rule matches, its quick
// check passes (random texts built from assignment-like pieces).
func TestQuickCheckIsNecessary(t *testing.T) {
	s := newScanner(t, Options{Emails: true})
	r := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"=", " = ", ": ", ":=", "=>", "||", "?=", ",", "\"", "'", "`", "\n", "\r\n", " ", "\t", "_", "-", ".",
		"/", "+", "==", ";", "abc", "XYZ", "Key", "token", "123", "ſ", "é", "(", ")", "\\n",
		"Zr9u0g8Xq2bK4n7vYt1cW6pE3sLmA5dHfJ0kQ8xN", "f3a9c1d7e5b2a8f4c6d0e9b1a7c3f5d2"}
	matched := 0
	for _, rl := range s.rules {
		if rl.quick == nil {
			continue
		}
		for range 2000 {
			var b strings.Builder
			b.WriteString(rl.keywords[r.IntN(len(rl.keywords))])
			for range r.IntN(12) {
				b.WriteString(pieces[r.IntN(len(pieces))])
			}
			text := b.String()
			if rl.anchored.MatchString(text) {
				matched++
				if !rl.quick.pass(text, 0) {
					t.Errorf("%s matches %q but its quick check fails", rl.id, text)
				}
			}
		}
	}
	if matched < 200 {
		t.Errorf("only %d random texts matched: the test proves little", matched)
	}
	t.Logf("%d matching texts checked", matched)
}
