package redacttest

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
)

// Alphabets of the generated values.
const (
	upperChars  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lowerChars  = "abcdefghijklmnopqrstuvwxyz"
	digitChars  = "0123456789"
	alnumChars  = upperChars + lowerChars + digitChars
	hexChars    = "0123456789abcdef"
	b64Chars    = alnumChars + "+/"
	b64urlChars = alnumChars + "-_"
	b32Chars    = upperChars + "234567"
	// Punctuation people put in passwords that survives JSON, YAML and
	// shell quoting without escapes (no quotes, backslash, $, &, <, >).
	symbolChars = "!#*+,:;?~-_."
)

// gen draws values from a seeded generator and guarantees each is new.
type gen struct {
	r    *rand.Rand
	used map[string]bool
}

func newGen(seed int64) *gen {
	return &gen{r: rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)), used: map[string]bool{}}
}

// s returns n characters drawn from alphabet.
func (g *gen) s(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(b)
}

// between returns an int in [lo, hi].
func (g *gen) between(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }

// unique calls f until it yields a value not produced before.
func (g *gen) unique(f func() string) string {
	for {
		v := f()
		if !g.used[v] {
			g.used[v] = true
			return v
		}
	}
}

// mixed returns n alphanumerics with at least one upper-case letter, one
// lower-case letter and one digit, as password generators and token
// services produce them.
func (g *gen) mixed(n int) string {
	for {
		v := g.s(alnumChars, n)
		if strings.ContainsAny(v, upperChars) && strings.ContainsAny(v, lowerChars) && strings.ContainsAny(v, digitChars) {
			return v
		}
	}
}

// endAlnum replaces a last character that is not alphanumeric: several
// gitleaks rules end with \b, so their tokens must end in a word character
// (the real services' tokens do).
func (g *gen) endAlnum(v string) string {
	if c := v[len(v)-1]; c == '-' || c == '_' {
		return v[:len(v)-1] + g.s(alnumChars, 1)
	}
	return v
}

// kind describes one planted secret type.
type kind struct {
	name  string
	fixed bool     // a fixed-format token (not the generic class)
	names []string // variable names it is assigned to (UPPER_SNAKE)
	value func(g *gen) string
	// wrap turns the value into the literal placed in the file (a URL, a
	// connection string); nil = the value itself.
	wrap func(v string) string
	// named: the rule needs the variable name next to the value (generic
	// assignments, AWS secret keys), so bare placements are not used.
	named bool
	// quoted: the rule needs the value in quotes.
	quoted bool
}

// tokenKinds are the single-line secrets, fixed-format and generic.
func tokenKinds() []kind {
	return []kind{
		{name: "aws-access-key-id", fixed: true, names: []string{"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"},
			value: func(g *gen) string {
				return []string{"AKIA", "ASIA", "AKIA"}[g.r.IntN(3)] + g.s(b32Chars, 16)
			}},
		{name: "aws-secret-access-key", fixed: true, named: true,
			names: []string{"AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SECRET_ACCESS_KEY", "SECRET_ACCESS_KEY"},
			value: func(g *gen) string { return g.s(b64Chars, 40) }},
		{name: "gcp-api-key", fixed: true, names: []string{"GOOGLE_API_KEY", "GCP_API_KEY", "MAPS_API_KEY", "FIREBASE_API_KEY"},
			value: func(g *gen) string { return "AIza" + g.s(b64urlChars, 35) }},
		{name: "azure-storage-key", fixed: true, names: []string{"AZURE_STORAGE_CONNECTION_STRING", "STORAGE_CONNECTION"},
			value: func(g *gen) string { return g.s(b64Chars, 86) + "==" },
			wrap: func(v string) string {
				return "DefaultEndpointsProtocol=https;AccountName=acmeprodstore;AccountKey=" + v + ";EndpointSuffix=core.windows.net"
			}},
		{name: "azure-ad-client-secret", fixed: true, names: []string{"AZURE_CLIENT_SECRET", "AAD_CLIENT_SECRET"},
			value: func(g *gen) string {
				return g.s(alnumChars, 3) + g.s(digitChars, 1) + "Q~" + g.s(alnumChars+"_.-", 33) + g.s(alnumChars, 1)
			}},
		{name: "azure-sas-token", fixed: true, names: []string{"EXPORT_BLOB_URL", "BACKUP_SAS_URL"},
			value: func(g *gen) string {
				raw := make([]byte, 32)
				for i := range raw {
					raw[i] = byte(g.r.IntN(256))
				}
				v := base64.StdEncoding.EncodeToString(raw)
				return strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(v)
			},
			wrap: func(v string) string {
				return "https://acmeprodstore.blob.core.windows.net/exports/report.csv?sv=2022-11-02&ss=b&srt=o&sp=r&se=2026-01-01T00:00:00Z&spr=https&sig=" + v
			}},
		{name: "github-pat", fixed: true, names: []string{"GITHUB_TOKEN", "GH_TOKEN", "GITHUB_PAT"},
			value: func(g *gen) string { return "ghp_" + g.s(alnumChars, 36) }},
		{name: "github-oauth", fixed: true, names: []string{"GITHUB_OAUTH_TOKEN", "GH_OAUTH"},
			value: func(g *gen) string { return "gho_" + g.s(alnumChars, 36) }},
		{name: "github-app-token", fixed: true, names: []string{"GITHUB_APP_TOKEN", "INSTALLATION_TOKEN"},
			value: func(g *gen) string { return []string{"ghs_", "ghu_"}[g.r.IntN(2)] + g.s(alnumChars, 36) }},
		{name: "github-refresh-token", fixed: true, names: []string{"GITHUB_REFRESH_TOKEN"},
			value: func(g *gen) string { return "ghr_" + g.s(alnumChars, 36) }},
		{name: "github-fine-grained-pat", fixed: true, names: []string{"GITHUB_TOKEN", "RELEASE_TOKEN"},
			value: func(g *gen) string { return "github_pat_" + g.s(alnumChars, 22) + "_" + g.s(alnumChars, 59) }},
		{name: "gitlab-pat", fixed: true, names: []string{"GITLAB_TOKEN", "CI_PUSH_TOKEN"},
			value: func(g *gen) string { return "glpat-" + g.endAlnum(g.s(alnumChars+"_-", 20)) }},
		{name: "slack-bot-token", fixed: true, names: []string{"SLACK_BOT_TOKEN", "SLACK_TOKEN"},
			value: func(g *gen) string {
				return "xoxb-" + g.s(digitChars, 11) + "-" + g.s(digitChars, 12) + "-" + g.s(alnumChars, 24)
			}},
		{name: "slack-user-token", fixed: true, names: []string{"SLACK_USER_TOKEN"},
			value: func(g *gen) string {
				return "xoxp-" + g.s(digitChars, 11) + "-" + g.s(digitChars, 11) + "-" + g.s(digitChars, 12) + "-" + g.s(hexChars, 32)
			}},
		{name: "slack-webhook", fixed: true, names: []string{"SLACK_WEBHOOK_URL", "ALERTS_WEBHOOK"},
			value: func(g *gen) string {
				return "https://hooks.slack.com/services/T" + g.s(upperChars+digitChars, 8) + "/B" + g.s(upperChars+digitChars, 10) + "/" + g.s(alnumChars, 24)
			}},
		{name: "stripe-secret-key", fixed: true, names: []string{"STRIPE_SECRET_KEY", "STRIPE_API_KEY"},
			value: func(g *gen) string {
				return []string{"sk_live_", "sk_test_"}[g.r.IntN(2)] + g.s(alnumChars, []int{24, 99}[g.r.IntN(2)])
			}},
		{name: "stripe-restricted-key", fixed: true, names: []string{"STRIPE_RESTRICTED_KEY"},
			value: func(g *gen) string { return "rk_live_" + g.s(alnumChars, 24) }},
		{name: "openai-api-key", fixed: true, names: []string{"OPENAI_API_KEY", "OPENAI_KEY"},
			value: func(g *gen) string {
				n := []int{74, 58}[g.r.IntN(2)]
				return "sk-" + []string{"proj", "svcacct", "admin"}[g.r.IntN(3)] + "-" + g.s(b64urlChars, n) + "T3BlbkFJ" + g.endAlnum(g.s(b64urlChars, n))
			}},
		{name: "anthropic-api-key", fixed: true, names: []string{"ANTHROPIC_API_KEY", "CLAUDE_API_KEY"},
			value: func(g *gen) string { return "sk-ant-api03-" + g.s(b64urlChars, 93) + "AA" }},
		{name: "huggingface-token", fixed: true, names: []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"},
			value: func(g *gen) string { return "hf_" + g.s(upperChars+lowerChars, 34) }},
		{name: "npm-token", fixed: true, names: []string{"NPM_TOKEN", "NODE_AUTH_TOKEN"},
			value: func(g *gen) string { return "npm_" + g.s(alnumChars, 36) }},
		{name: "pypi-token", fixed: true, names: []string{"PYPI_TOKEN", "TWINE_PASSWORD"},
			value: func(g *gen) string { return "pypi-AgEIcHlwaS5vcmc" + g.s(b64urlChars, g.between(60, 140)) }},
		{name: "sendgrid-api-key", fixed: true, names: []string{"SENDGRID_API_KEY"},
			value: func(g *gen) string { return "SG." + g.s(b64urlChars, 22) + "." + g.s(b64urlChars, 43) }},
		{name: "twilio-api-key", fixed: true, names: []string{"TWILIO_API_KEY", "TWILIO_KEY_SID"},
			value: func(g *gen) string { return "SK" + g.s(hexChars, 32) }},
		{name: "jwt", fixed: true, names: []string{"SERVICE_JWT", "API_BEARER", "ID_TOKEN"},
			value: func(g *gen) string { return jwt(g) }},
		{name: "postgres-url-password", fixed: true, names: []string{"DATABASE_URL", "PG_DSN"},
			value: func(g *gen) string { return g.mixed(g.between(14, 22)) },
			wrap:  func(v string) string { return "postgres://app_rw:" + v + "@db.internal:5432/orders?sslmode=require" }},
		{name: "mysql-url-password", fixed: true, names: []string{"MYSQL_URL", "DB_DSN"},
			value: func(g *gen) string { return g.mixed(12) + "!" + g.mixed(4) },
			wrap:  func(v string) string { return "mysql://reporting:" + v + "@10.0.3.17:3306/analytics" }},
		{name: "mongodb-url-password", fixed: true, names: []string{"MONGO_URI", "MONGODB_URL"},
			value: func(g *gen) string { return g.mixed(g.between(16, 24)) },
			wrap: func(v string) string {
				return "mongodb+srv://svc-ingest:" + v + "@cluster0.abcd1.mongodb.net/events?retryWrites=true"
			}},
		{name: "redis-url-password", fixed: true, names: []string{"REDIS_URL", "CACHE_URL"},
			value: func(g *gen) string { return g.mixed(g.between(20, 32)) },
			wrap:  func(v string) string { return "redis://:" + v + "@cache.internal:6379/0" }},
		{name: "generic-password", named: true,
			names: []string{"DB_PASSWORD", "password", "ADMIN_PASSWORD", "smtp_password", "REDIS_PASSWORD", "rabbitmq_password", "ldapBindPassword"},
			value: func(g *gen) string { return g.mixed(g.between(18, 30)) }},
		{name: "generic-api-key", named: true,
			names: []string{"API_KEY", "api_key", "apiKey", "PAYMENTS_API_KEY", "x_api_key", "mapsApiKey", "internal_api_key"},
			value: func(g *gen) string {
				if g.r.IntN(2) == 0 {
					return g.s(hexChars, 32)
				}
				return g.mixed(32)
			}},
		{name: "generic-secret-token", named: true,
			names: []string{"SECRET_TOKEN", "client_secret", "auth_token", "WEBHOOK_SECRET", "session_secret", "accessToken", "JWT_SECRET"},
			value: func(g *gen) string {
				return g.mixed(g.between(8, 14)) + []string{"-", "_", "."}[g.r.IntN(3)] + g.mixed(g.between(12, 24))
			}},
		{name: "generic-quoted-password", named: true, quoted: true,
			names: []string{"DB_PASSWORD", "password", "adminPassword", "smtp_password", "keystorePassphrase", "mysql_pwd"},
			value: func(g *gen) string {
				return g.mixed(g.between(5, 9)) + g.s(symbolChars, 1) + g.mixed(g.between(4, 8)) + g.s(symbolChars, 1) + g.mixed(3)
			}},
	}
}

// jwt returns a signed-looking JSON Web Token with a random payload.
func jwt(g *gen) string {
	enc := base64.RawURLEncoding
	header := []string{`{"alg":"HS256","typ":"JWT"}`, `{"alg":"RS256","typ":"JWT","kid":"` + g.s(hexChars, 8) + `"}`}[g.r.IntN(2)]
	payload := fmt.Sprintf(`{"sub":"%d","name":"%s","iat":%d,"exp":%d,"scope":"%s"}`,
		g.r.IntN(1_000_000), g.s(lowerChars, 8), 1_700_000_000+g.r.IntN(50_000_000), 1_800_000_000+g.r.IntN(50_000_000),
		[]string{"read", "write", "admin", "read write"}[g.r.IntN(4)])
	return enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload)) + "." + g.endAlnum(g.s(b64urlChars, 43))
}

// pemKind is a PEM private key type.
type pemKind struct {
	name, label string
	prefix      string // base64 start of the DER/openssh body, as real keys begin
	bytes       int    // body size
	width       int    // line width
}

func pemKinds() []pemKind {
	return []pemKind{
		{name: "rsa-private-key", label: "RSA PRIVATE KEY", prefix: "MIIEpAIBAAKCAQEA", bytes: 1190, width: 64},
		{name: "ec-private-key", label: "EC PRIVATE KEY", prefix: "MHcCAQEEI", bytes: 121, width: 64},
		{name: "openssh-private-key", label: "OPENSSH PRIVATE KEY", prefix: "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW", bytes: 400, width: 70},
		{name: "pkcs8-private-key", label: "PRIVATE KEY", prefix: "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ", bytes: 1210, width: 64},
	}
}

// pem returns a PEM block (lines joined with "\n", no final newline) and
// one of its body lines, unique, to stand for it: the value a leak test
// looks for (a whole block cannot be found in a JSON-escaped prompt).
func (g *gen) pem(k pemKind) (block, value string) {
	for {
		raw := make([]byte, k.bytes)
		for i := range raw {
			raw[i] = byte(g.r.IntN(256))
		}
		body := k.prefix + base64.StdEncoding.EncodeToString(raw)[len(k.prefix):]
		var lines []string
		for len(body) > k.width {
			lines = append(lines, body[:k.width])
			body = body[k.width:]
		}
		lines = append(lines, body)
		value = lines[len(lines)/2]
		if len(lines) == 1 || g.used[value] {
			continue
		}
		g.used[value] = true
		block = "-----BEGIN " + k.label + "-----\n" + strings.Join(lines, "\n") + "\n-----END " + k.label + "-----"
		return block, value
	}
}

// Kinds lists the single-line kinds Fake knows, as in Plant.Kind.
func Kinds() []string {
	var ks []string
	for _, k := range tokenKinds() {
		ks = append(ks, k.name)
	}
	return ks
}

// Fake returns a new fake secret of a kind (see Kinds), drawn from seed:
// a variable name it is typically assigned to, the literal to write in a
// file (a URL or connection string for some kinds) and the secret inside
// the literal. It reports false for an unknown kind. Generic kinds need
// their name next to them to be recognisable; FixedFormat says which.
func Fake(kind string, seed int64) (name, literal, value string, fixed, ok bool) {
	for _, k := range tokenKinds() {
		if k.name != kind {
			continue
		}
		g := newGen(seed)
		value = k.value(g)
		literal = value
		if k.wrap != nil {
			literal = k.wrap(value)
		}
		return k.names[0], literal, value, k.fixed, true
	}
	return "", "", "", false, false
}

// PEM returns a fake PEM private key block of a type ("rsa-private-key",
// "ec-private-key", "openssh-private-key", "pkcs8-private-key") and one of
// its body lines, or false for an unknown type.
func PEM(kind string, seed int64) (block, bodyLine string, ok bool) {
	for _, k := range pemKinds() {
		if k.name == kind {
			block, bodyLine = newGen(seed).pem(k)
			return block, bodyLine, true
		}
	}
	return "", "", false
}
