package redacttest

import (
	"encoding/base64"
	"fmt"
)

// addLookalikes places strings that look like secrets but are not: hashes,
// ids, integrity values, placeholders, encoded test data, versions,
// colours, long identifiers, exempt addresses and URLs without passwords.
func (b *builder) addLookalikes() {
	g := b.g
	look := func(kind, snippet string, values ...string) {
		b.put(kind, snippet)
		b.looks = append(b.looks, values...)
	}
	hex := func(n int) string { return g.unique(func() string { return g.s(hexChars, n) }) }

	// Git commit ids.
	shaForms := []struct{ kind, f string }{
		{"md", "- Fix the retry loop in the uploader (commit %s)."},
		{"go", "// buildCommit is stamped by the release script.\nconst buildCommit = %q"},
		{"yaml", "steps:\n  - uses: actions/checkout@%s # v4.1.1"},
		{"toml", "[dependencies.parser]\ngit = \"https://github.com/acme/parser\"\nrev = \"%s\""},
		{"sh", "git fetch origin && git checkout %s"},
		{"py", "REVISION = \"%s\"  # git rev-parse HEAD"},
		{"json", "  \"lastDeployedCommit\": \"%s\""},
		{"yaml", "build:\n  cache_key: %s  # commit of the last green build"},
		{"js", "export const BUILD_SHA = '%s';"},
		{"md", "Bisecting points at %s as the first bad commit."},
	}
	for i := range 20 {
		f := shaForms[i%len(shaForms)]
		v := hex(40)
		look(f.kind, fmt.Sprintf(f.f, v), v)
	}

	// SHA-256 digests.
	digestForms := []struct{ kind, f string }{
		{"sh", "echo \"%s  orders-linux-amd64.tar.gz\" | sha256sum -c -"},
		{"docker", "FROM alpine@sha256:%s"},
		{"json", "  \"imageDigest\": \"sha256:%s\""},
		{"toml", "[[artifact]]\nname = \"schema.sql\"\nchecksum = \"%s\""},
		{"py", "EXPECTED_SHA256 = \"%s\""},
		{"md", "```\n%s  dist/orders-2.4.1.zip\n```\n"},
		{"yaml", "bundle:\n  artifact_key: %s  # sha256 of the bundle"},
		{"go", "const schemaHash = %q"},
	}
	for i := range 15 {
		f := digestForms[i%len(digestForms)]
		v := hex(64)
		look(f.kind, fmt.Sprintf(f.f, v), v)
	}

	// go.sum lines, quoted in documentation (a real go.sum is never read).
	for i := range 10 {
		v := "h1:" + g.unique(func() string { return g.s(b64Chars, 43) }) + "="
		mod := []string{"github.com/acme/orders-sdk", "golang.org/x/sync", "github.com/stretchr/testify", "gopkg.in/yaml.v3", "github.com/google/uuid"}[i%5]
		look("md", fmt.Sprintf("Pinned in go.sum:\n\n```\n%s v1.%d.%d %s\n```\n", mod, g.between(0, 20), g.between(0, 9), v), v)
	}

	// UUIDs.
	uuidForms := []struct{ kind, f string }{
		{"yaml", "tenant_id: %s"},
		{"json", "  \"requestId\": \"%s\""},
		{"go", "var defaultOrg = uuid.MustParse(%q)"},
		{"py", "DEFAULT_ORG = \"%s\""},
		{"toml", "key_id = \"%s\""},
		{"json", "  \"apiKeyId\": \"%s\""},
		{"js", "const correlationId = '%s';"},
		{"yaml", "identity:\n  access_key_id: %s"},
	}
	for i := range 15 {
		f := uuidForms[i%len(uuidForms)]
		v := g.unique(func() string {
			return g.s(hexChars, 8) + "-" + g.s(hexChars, 4) + "-4" + g.s(hexChars, 3) + "-" + "89ab"[g.r.IntN(4):][:1] + g.s(hexChars, 3) + "-" + g.s(hexChars, 12)
		})
		look(f.kind, fmt.Sprintf(f.f, v), v)
	}

	// npm integrity values.
	for i := range 10 {
		raw := make([]byte, 64)
		for j := range raw {
			raw[j] = byte(g.r.IntN(256))
		}
		v := "sha512-" + base64.StdEncoding.EncodeToString(raw)
		pkg := []string{"lodash", "react", "express", "chalk", "debug"}[i%5]
		if i%2 == 0 {
			look("json", fmt.Sprintf("  \"%s-%d\": {\"version\": \"4.%d.%d\", \"integrity\": \"%s\"}", pkg, i, g.between(0, 20), g.between(0, 30), v), v)
		} else {
			look("md", fmt.Sprintf("yarn.lock entry:\n\n```\n%s@^4.0.0:\n  version \"4.%d.0\"\n  integrity %s\n```\n", pkg, i, v), v)
		}
	}

	// Harder cases, where gitleaks' generic rule fires too: values next to
	// "key"/"token" names that are identifiers or public by design. A
	// redactor may take some of them; the false-positive rate counts them.
	uuid := g.unique(func() string {
		return g.s(hexChars, 8) + "-" + g.s(hexChars, 4) + "-4" + g.s(hexChars, 3) + "-a" + g.s(hexChars, 3) + "-" + g.s(hexChars, 12)
	})
	look("py", fmt.Sprintf("payment = client.charge(amount=1200, idempotency_key=\"%s\")", uuid), uuid)
	ck := "v2-" + hex(40)
	look("js", fmt.Sprintf("const cacheKey = '%s';", ck), ck)
	pk := g.unique(func() string { return "pk_test_" + g.mixed(24) })
	look("js", fmt.Sprintf("const stripe = Stripe({ publishableKey: '%s' });", pk), pk)

	// Placeholders.
	look("md", "Example `~/.aws/credentials`:\n\n```ini\n[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n```\n",
		"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	look("py", "API_KEY = \"xxxxxxxxxxxxxxxx\"  # set in production", "xxxxxxxxxxxxxxxx")
	look("js", "const apiKey = 'YOUR_API_KEY';", "YOUR_API_KEY")
	look("yaml", "upstream:\n  api_key: <your-key>", "your-key")
	look("yaml", "admin:\n  password: changeme", "changeme")
	look("yaml", "database:\n  password: ${DB_PASSWORD}\n  env:\n    - name: DB_PASSWORD\n      value: ${DB_PASSWORD}", "${DB_PASSWORD}")
	look("yaml", "auth:\n  password: {{ .Values.password }}", "{{ .Values.password }}")
	look("yaml", "publish:\n  env:\n    NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}", "${{ secrets.NPM_TOKEN }}")
	look("js", "const stripe = Stripe(process.env.STRIPE_KEY || 'sk_live_XXXXXXXXXXXXXXXXXXXXXXXX');", "sk_live_XXXXXXXXXXXXXXXXXXXXXXXX")
	look("md", "Tokens look like `ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`; never paste yours in an issue.", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
	look("py", "api_key = \"example-api-key-123456\"", "example-api-key-123456")
	look("go", "func TestClient(t *testing.T) {\n\ttoken := \"dummy-token-for-unit-tests-01\"\n\t_ = token\n}", "dummy-token-for-unit-tests-01")
	look("py", "WEBHOOK_SECRET = \"test-secret-value-0123456789\"", "test-secret-value-0123456789")
	look("py", "client = ApiClient(api_key=\"fake_api_key_for_testing_42\")", "fake_api_key_for_testing_42")
	look("json", "  \"apiToken\": \"aaaaaaaaaaaaaaaaaaaaaaaa\"", "aaaaaaaaaaaaaaaaaaaaaaaa")
	look("toml", "license_key = \"0000000000000000000000000000\"", "0000000000000000000000000000")
	look("sh", "export API_TOKEN=REPLACE_ME_WITH_REAL_TOKEN", "REPLACE_ME_WITH_REAL_TOKEN")
	look("docker", "ENV DATABASE_URL=postgres://postgres:postgres@localhost:5432/app", "postgres:postgres@localhost")
	look("md", "Local development uses `mysql://user:password@localhost/orders`.", "user:password@localhost")
	look("yaml", "broker:\n  url: amqp://guest:guest@rabbitmq:5672/", "guest:guest@rabbitmq")
	look("go", "dsn := fmt.Sprintf(\"%s:%s@tcp(%s)/%s\", cfg.User, cfg.Password, cfg.Host, cfg.Name)", "%s:%s@tcp")
	look("py", "url = f\"postgresql://{user}:{password}@{host}/{db}\"", "{user}:{password}@{host}")

	// Encoded test data: low entropy, or plainly not a credential.
	look("go", "func TestEncode(t *testing.T) {\n\tif got := encode([]byte(\"hello world\")); got != \"aGVsbG8gd29ybGQ=\" {\n\t\tt.Fatal(got)\n\t}\n}", "aGVsbG8gd29ybGQ=")
	look("js", "const pixel = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';",
		"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
	look("json", "  \"emptyBlock\": \"AAAAAAAAAAAAAAAAAAAAAA==\"", "AAAAAAAAAAAAAAAAAAAAAA==")
	for i, phrase := range []string{"the quick brown fox jumps over the lazy dog", "lorem ipsum dolor sit amet", "hello, world",
		"multipart boundary test payload", "{\"id\":1,\"name\":\"widget\"}"} {
		v := base64.StdEncoding.EncodeToString([]byte(phrase))
		kind := []string{"py", "go", "js", "md", "yaml"}[i]
		look(kind, fmt.Sprintf(map[string]string{
			"py": "SAMPLE_BODY = \"%s\"", "go": "var fixture = %q", "js": "const encoded = '%s';",
			"md": "The body is base64: `%s`.", "yaml": "fixture:\n  body: %s",
		}[kind], v), v)
	}

	// Versions, colours, identifiers.
	for i, v := range []string{"python@3.11", "node@18.17.1", "lodash@4.17.21", "@babel/core@7.22.5", "typescript@5.4.5",
		"pnpm@8.15.4", "ruby@3.3.0", "openjdk@17.0.2", "ui-kit@3.1.0-next.canary", "react-dom@18.2.0"} {
		switch i % 3 {
		case 0:
			look("md", "Install the toolchain with `brew install "+v+"` first.", v)
		case 1:
			look("sh", "npm install --save-exact "+v, v)
		default:
			look("json", fmt.Sprintf("  \"packageManager%d\": \"%s\"", i, v), v)
		}
	}
	for range 10 {
		v := g.unique(func() string { return "#" + g.s(hexChars, 6) })
		look("js", fmt.Sprintf("export const theme = { primary: '%s', radius: 4 };", v), v)
	}
	for _, l := range []struct{ kind, snippet, value string }{
		{"go", "type AbstractSingletonProxyFactoryBean struct{ delegate any }", "AbstractSingletonProxyFactoryBean"},
		{"go", "const accessTokenHeaderName = \"X-Access-Token-Header\"", "X-Access-Token-Header"},
		{"go", "const apiKeyRotationPolicyName = \"quarterly_rotation_policy\"", "quarterly_rotation_policy"},
		{"py", "secret_manager_resource_path = \"projects/acme/secrets/db-password/versions/latest\"", "projects/acme/secrets/db-password/versions/latest"},
		{"py", "TOKEN_REFRESH_SCHEDULER_INTERVAL_SECONDS = 3600", "TOKEN_REFRESH_SCHEDULER_INTERVAL_SECONDS"},
		{"toml", "auth_provider = \"oauth2_provider_v2\"", "oauth2_provider_v2"},
		{"js", "const passwordResetTokenExpiryMinutes = 30;", "passwordResetTokenExpiryMinutes"},
		{"js", "export function keyboardShortcutRegistryInitializer() {}", "keyboardShortcutRegistryInitializer"},
		{"py", "api_version = \"2023-05-15-preview\"", "2023-05-15-preview"},
		{"yaml", "oauth:\n  token_endpoint: https://auth.acme.io/oauth2/v1/token", "https://auth.acme.io/oauth2/v1/token"},
		// Addresses that identify nobody and URLs without a password.
		{"md", "Commits by `noreply@github.com` are merges.", "noreply@github.com"},
		{"yaml", "bots:\n  - 49699333+dependabot[bot]@users.noreply.github.com", "49699333+dependabot[bot]@users.noreply.github.com"},
		{"md", "Write to jane@example.com for access.", "jane@example.com"},
		{"py", "SUPPORT = \"ops@example.org\"", "ops@example.org"},
		{"md", "Retina assets are named like `logo@2x.png`.", "logo@2x.png"},
		{"sh", "git clone https://ci-bot@github.com/acme/orders.git", "https://ci-bot@github.com/acme/orders.git"},
		{"sh", "git remote add mirror ssh://git@github.com:22/acme/orders.git", "ssh://git@github.com:22/acme/orders.git"},
		{"yaml", "probe:\n  url: http://[::1]:8080/healthz", "http://[::1]:8080/healthz"},
		{"md", "The API also answers on `https://api.acme.io:443/v2`.", "https://api.acme.io:443/v2"},
		{"toml", "origin = \"git@github.com:acme/orders.git\"", "git@github.com:acme/orders.git"},
	} {
		look(l.kind, l.snippet, l.value)
	}
}
