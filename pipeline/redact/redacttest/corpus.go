// Package redacttest builds a synthetic repository for testing secret
// redaction: hundreds of planted fake secrets in realistic places, and
// strings that look like secrets but are not. Everything is generated from
// a seed; no value is a real credential (the tokens only have the shape of
// the real services' tokens).
//
// Values are chosen so that a test can look for them in JSON request
// bodies: no quotes, backslashes, '<', '>', '&' or line breaks (a PEM key
// is represented by one of its body lines).
package redacttest

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// Plant is one planted fake secret.
type Plant struct {
	Kind        string // "github-pat", "generic-password", "rsa-private-key"...
	Value       string // the secret text, unique in the corpus
	File        string // the corpus path holding it
	FixedFormat bool   // a token with a fixed prefix or shape, not the generic class
}

// Corpus returns a repository (path → content), the fake secrets planted
// in it and the look-alikes: strings in it that must survive redaction.
// The same seed always gives the same corpus.
//
// Files that are credentials by nature (CredentialFiles) carry plants
// too; a pipeline must skip them rather than redact them. Look-alikes are
// only in ordinary files.
func Corpus(seed int64) (files map[string]string, plants []Plant, lookalikes []string) {
	b := &builder{g: newGen(seed), files: map[string]*doc{}, seq: map[string]int{}}
	b.plantTokens()
	b.plantKeys()
	b.plantCredentialFiles()
	b.addLookalikes()
	files = map[string]string{}
	for p, d := range b.files {
		files[p] = d.String()
	}
	return files, b.plants, b.looks
}

// CredentialFiles lists the corpus paths that are credentials by nature
// and must be skipped whole.
func CredentialFiles() []string {
	return []string{".env", ".env.production", "deploy/id_rsa", "certs/server.key", ".npmrc", "deploy/kubeconfig",
		"config/credentials.json", ".git-credentials", "infra/terraform.tfstate", ".pypirc"}
}

// NotCredentialFiles lists corpus paths that look like credential files
// but are not (templates, documentation), so must be read and redacted.
func NotCredentialFiles() []string {
	return []string{".env.example", "docs/private-key-rotation.md", "config/settings.json", "deploy/kubeconfig.example.yaml"}
}

// Placeholders are the look-alikes that stand in for a secret in
// documentation and templates; a redactor must never touch them.
func Placeholders() []string {
	return []string{
		"AKIAIOSFODNN7EXAMPLE",
		"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"xxxxxxxxxxxxxxxx",
		"YOUR_API_KEY",
		"your-key",
		"changeme",
		"${DB_PASSWORD}",
		"{{ .Values.password }}",
		"${{ secrets.NPM_TOKEN }}",
		"sk_live_XXXXXXXXXXXXXXXXXXXXXXXX",
		"ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		"example-api-key-123456",
		"dummy-token-for-unit-tests-01",
		"test-secret-value-0123456789",
		"fake_api_key_for_testing_42",
		"aaaaaaaaaaaaaaaaaaaaaaaa",
		"0000000000000000000000000000",
		"REPLACE_ME_WITH_REAL_TOKEN",
		"postgres:postgres@localhost",
		"user:password@localhost",
		"guest:guest@rabbitmq",
		"%s:%s@tcp",
		"{user}:{password}@{host}",
	}
}

// doc is a file under construction.
type doc struct {
	kind  string // sink kind: go, py, js, yaml, json, toml, docker, sh, md, bat, props
	parts []string
	crlf  bool
	noEOL bool // no line break at the end (the last part is the last line)
	n     int  // snippets placed
}

func (d *doc) String() string {
	var s string
	if d.kind == "json" {
		s = "{\n" + strings.Join(d.parts, ",\n") + "\n}\n"
	} else {
		s = strings.Join(d.parts, "\n\n")
		if !d.noEOL {
			s += "\n"
		}
	}
	if d.crlf {
		s = strings.ReplaceAll(s, "\n", "\r\n")
	}
	return s
}

type builder struct {
	g      *gen
	files  map[string]*doc
	seq    map[string]int // sink kind → files opened
	plants []Plant
	looks  []string
}

// sinkPaths name the files of each kind, in the order they are opened.
func sinkPaths(kind string) []string {
	switch kind {
	case "go":
		return []string{"internal/clients/clients.go", "cmd/api/main.go", "internal/store/postgres.go", "pkg/notify/slack.go",
			"internal/billing/stripe.go", "internal/auth/oauth.go", "cmd/worker/config.go", "pkg/storage/blob.go"}
	case "py":
		return []string{"app/settings.py", "app/integrations.py", "scripts/migrate.py", "app/tasks/notify.py",
			"ml/train.py", "app/billing.py", "tools/report.py", "app/storage.py"}
	case "js":
		return []string{"web/src/api.js", "web/src/config.ts", "web/server/index.js", "web/src/payments.js",
			"web/src/chat.ts", "web/server/webhooks.js", "web/src/upload.js"}
	case "yaml":
		return []string{"deploy/values.yaml", "deploy/app-config.yml", ".gitlab-ci.yml", "deploy/compose.yaml",
			"ops/ansible/group_vars/prod.yml", "deploy/helm/overrides.yaml"}
	case "json":
		return []string{"config/integrations.json", "web/appsettings.json", "ops/dashboards/datasource.json", "config/features.json"}
	case "toml":
		return []string{"config/app.toml", "config/worker.toml", "netlify.toml", "config/release.toml"}
	case "docker":
		return []string{"Dockerfile", "build/Dockerfile.worker", "build/Dockerfile.web", "build/Dockerfile.ci"}
	case "sh":
		return []string{"scripts/bootstrap.sh", "scripts/deploy.sh", "scripts/release.sh", "ops/backup.sh", "scripts/seed.sh"}
	case "md":
		return []string{"README.md", "docs/setup.md", "docs/integrations.md", "docs/operations.md", "docs/troubleshooting.md"}
	case "bat":
		return []string{"scripts/setup.bat", "scripts/run-local.cmd", "scripts/publish.bat"}
	case "props":
		return []string{"config/application.properties", "config/gradle-release.properties", "config/local.ini"}
	}
	return nil
}

// sink returns the file the next snippet of a kind goes to, opening a new
// one every few snippets so files stay a realistic size.
func (b *builder) sink(kind string) (string, *doc) {
	paths := sinkPaths(kind)
	i := b.seq[kind]
	if i > 0 {
		p := b.pathFor(kind, paths, i-1)
		if d := b.files[p]; d.n < 6 {
			d.n++
			return p, d
		}
	}
	p := b.pathFor(kind, paths, i)
	b.seq[kind] = i + 1
	d := &doc{kind: kind, crlf: kind == "bat"}
	d.parts = append(d.parts, header(kind, p))
	b.files[p] = d
	d.n++
	return p, d
}

func (b *builder) pathFor(kind string, paths []string, i int) string {
	p := paths[i%len(paths)]
	if round := i / len(paths); round > 0 {
		dot := strings.LastIndexByte(p, '.')
		slash := strings.LastIndexByte(p, '/')
		if dot <= slash || kind == "docker" {
			return fmt.Sprintf("%s_%d", p, round+1)
		}
		return fmt.Sprintf("%s_%d%s", p[:dot], round+1, p[dot:])
	}
	return p
}

// put appends snippet to the next file of kind, with filler around it,
// and returns the file's path.
func (b *builder) put(kind, snippet string) string {
	p, d := b.sink(kind)
	d.parts = append(d.parts, filler(b.g, kind), snippet)
	return p
}

func (b *builder) plant(kind, value, file string, fixed bool) {
	b.plants = append(b.plants, Plant{Kind: kind, Value: value, File: file, FixedFormat: fixed})
}

// names are the spellings of a variable name for each language.
type names struct{ env, snake, camel, pascal string }

func nameOf(n string) names {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = nil
		}
	}
	for i, r := range n {
		switch {
		case r == '_' || r == '-':
			flush()
		case unicode.IsUpper(r) && i > 0 && !unicode.IsUpper(rune(n[i-1])):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	var nm names
	nm.env = strings.ToUpper(strings.Join(words, "_"))
	nm.snake = strings.Join(words, "_")
	for i, w := range words {
		t := strings.ToUpper(w[:1]) + w[1:]
		nm.pascal += t
		if i == 0 {
			nm.camel += w
		} else {
			nm.camel += t
		}
	}
	return nm
}

// placement renders one way of writing a secret into a file.
type placement struct {
	name  string
	kind  string
	bare  bool // no variable name next to the value
	quote bool // the value is in quotes
	eof   bool // the file ends with this line, without a line break
	f     func(n names, v string) string
}

func placements() []placement {
	return []placement{
		{name: "go-const", kind: "go", quote: true, f: func(n names, v string) string {
			return fmt.Sprintf("const %s = %q", n.camel, v)
		}},
		{name: "go-struct", kind: "go", quote: true, f: func(n names, v string) string {
			return fmt.Sprintf("var %sConfig = Config{\n\tEndpoint: \"https://api.internal.acme.io\",\n\t%s: %q,\n\tTimeout:  30 * time.Second,\n}", n.camel, n.pascal, v)
		}},
		{name: "go-comment", kind: "go", bare: true, f: func(n names, v string) string {
			return fmt.Sprintf("// The staging account used %s until the March rotation.", v)
		}},
		{name: "go-setenv", kind: "go", quote: true, f: func(n names, v string) string {
			return fmt.Sprintf("func setupEnv() {\n\t_ = os.Setenv(%q, %q)\n}", n.env, v)
		}},
		{name: "py-assign", kind: "py", quote: true, f: func(n names, v string) string {
			return fmt.Sprintf("%s = %q", n.env, v)
		}},
		{name: "py-kwarg", kind: "py", quote: true, f: func(n names, v string) string {
			return fmt.Sprintf("client = ApiClient(base_url=\"https://api.acme.io\", %s=%q, timeout=30)", n.snake, v)
		}},
		{name: "py-comment", kind: "py", bare: true, f: func(n names, v string) string {
			return fmt.Sprintf("# old credential, revoked: %s", v)
		}},
		{name: "js-const", kind: "js", quote: true, f: func(n names, v string) string {
			return fmt.Sprintf("const %s = '%s';", n.camel, v)
		}},
		{name: "js-bearer", kind: "js", bare: true, f: func(n names, v string) string {
			return fmt.Sprintf("const http = axios.create({\n  baseURL: 'https://api.acme.io',\n  headers: { Authorization: `Bearer %s` },\n});", v)
		}},
		{name: "yaml-plain", kind: "yaml", f: func(n names, v string) string {
			return fmt.Sprintf("credentials:\n  %s: %s", n.snake, v)
		}},
		{name: "yaml-quoted", kind: "yaml", quote: true, f: func(n names, v string) string {
			return fmt.Sprintf("env:\n  - name: %s\n    value: \"%s\"", n.env, v)
		}},
		{name: "json", kind: "json", quote: true, f: func(n names, v string) string {
			return fmt.Sprintf("  %q: %q", n.camel, v)
		}},
		{name: "toml", kind: "toml", quote: true, f: func(n names, v string) string {
			return fmt.Sprintf("%s = %q", n.snake, v)
		}},
		{name: "dockerfile-env", kind: "docker", f: func(n names, v string) string {
			return fmt.Sprintf("ENV %s=%s", n.env, v)
		}},
		{name: "shell-export", kind: "sh", quote: true, f: func(n names, v string) string {
			return fmt.Sprintf("export %s=\"%s\"", n.env, v)
		}},
		{name: "markdown-fence", kind: "md", f: func(n names, v string) string {
			return fmt.Sprintf("Set the variable before starting the service:\n\n```bash\nexport %s=%s\n```\n", n.env, v)
		}},
		{name: "markdown-fence-bare", kind: "md", bare: true, f: func(n names, v string) string {
			return fmt.Sprintf("The request below returned 401 until the credential was rotated:\n\n```\ncurl -s https://api.acme.io/v2/me -H 'X-Debug: 1' # %s\n```\n", v)
		}},
		{name: "crlf", kind: "bat", f: func(n names, v string) string {
			return fmt.Sprintf("set %s=%s", n.env, v)
		}},
		{name: "crlf-quoted", kind: "bat", quote: true, f: func(n names, v string) string {
			return fmt.Sprintf("set %s=\"%s\"", n.env, v)
		}},
		{name: "multibyte", kind: "md", f: func(n names, v string) string {
			return fmt.Sprintf("本番環境の設定（не публиковать）:\n\n```\n%s: %s\n```\n\n注意：このキーは共有しないでください。", n.snake, v)
		}},
		{name: "multibyte-bare", kind: "py", bare: true, f: func(n names, v string) string {
			return fmt.Sprintf("# 密钥（旧）→ %s ← ключ отозван", v)
		}},
		{name: "end-of-file", kind: "props", eof: true, f: func(n names, v string) string {
			return fmt.Sprintf("%s=%s", n.snake, v)
		}},
		{name: "end-of-file-quoted", kind: "props", eof: true, quote: true, f: func(n names, v string) string {
			return fmt.Sprintf("%s=\"%s\"", n.snake, v)
		}},
	}
}

// plantTokens places every single-line kind in several placements. The
// placement sequence is offset per kind so that across kinds every
// placement is used.
func (b *builder) plantTokens() {
	ps := placements()
	for ki, k := range tokenKinds() {
		var fit []placement
		for _, p := range ps {
			if (k.named && p.bare) || (k.quoted && !p.quote) || (p.name == "js-bearer" && k.wrap != nil) || (p.name == "js-bearer" && k.name == "slack-webhook") {
				continue
			}
			fit = append(fit, p)
		}
		count := 7
		if !k.fixed {
			count = 9
		}
		for j := range count {
			p := fit[(ki*5+j*3)%len(fit)]
			v := b.g.unique(func() string { return k.value(b.g) })
			lit := v
			if k.wrap != nil {
				lit = k.wrap(v)
			}
			n := nameOf(k.names[j%len(k.names)])
			var file string
			if p.eof {
				file = b.eofFile(p.f(n, lit))
			} else {
				file = b.put(p.kind, p.f(n, lit))
			}
			b.plant(k.name, v, file, k.fixed)
		}
	}
}

// eofFile writes a properties file whose last line is last, without a
// final line break.
func (b *builder) eofFile(last string) string {
	i := b.seq["eof"]
	b.seq["eof"] = i + 1
	p := fmt.Sprintf("config/env/%s.properties", []string{"staging", "production", "qa", "demo", "perf", "canary", "dr", "sandbox"}[i%8])
	if i >= 8 {
		p = fmt.Sprintf("config/env/region%d.properties", i)
	}
	b.files[p] = &doc{kind: "props", parts: []string{header("props", p), filler(b.g, "props"), last}, noEOL: true}
	return p
}

// plantKeys places PEM private keys in source files (multi-line string
// literals, YAML block scalars, Markdown) and a Google service-account key
// inside a bigger JSON settings file.
func (b *builder) plantKeys() {
	indent := func(s, pre string) string { return pre + strings.ReplaceAll(s, "\n", "\n"+pre) }
	forms := []struct {
		kind string
		f    func(block string) string
	}{
		{"go", func(k string) string { return "// testKey signs fixtures.\nconst testKey = `" + k + "\n`" }},
		{"py", func(k string) string { return "SIGNING_KEY = \"\"\"" + k + "\n\"\"\"" }},
		{"yaml", func(k string) string { return "tls:\n  key: |\n" + indent(k, "    ") }},
		{"md", func(k string) string { return "The deploy key currently installed:\n\n```\n" + k + "\n```\n" }},
		{"js", func(k string) string { return "export const privateKey = `" + k + "`;" }},
	}
	for ki, k := range pemKinds() {
		for j := range 4 {
			block, v := b.g.pem(k)
			form := forms[(ki+j)%len(forms)]
			b.plant(k.name, v, b.put(form.kind, form.f(block)), true)
		}
	}
	// A service-account key nested in ordinary settings, config/settings.json
	// (not a credential file): redaction, not file skipping, must remove it.
	for _, kind := range []string{"json", "py"} {
		block, v := b.g.pem(pemKinds()[3])
		esc := strings.ReplaceAll(block, "\n", `\n`) + `\n`
		sa := fmt.Sprintf("{\n      \"type\": \"service_account\",\n      \"project_id\": \"acme-prod-4711\",\n      \"private_key_id\": \"%s\",\n      \"private_key\": \"%s\",\n      \"client_email\": \"exporter@acme-prod-4711.iam.gserviceaccount.com\",\n      \"client_id\": \"%s\",\n      \"token_uri\": \"https://oauth2.googleapis.com/token\"\n    }",
			b.g.s(hexChars, 40), esc, b.g.s(digitChars, 21))
		var file string
		if kind == "json" {
			file = "config/settings.json"
			b.files[file] = &doc{kind: "json", parts: []string{header("json", file), filler(b.g, "json"),
				"  \"bigquery\": {\n    \"dataset\": \"events\",\n    \"location\": \"EU\",\n    \"credentials\": " + sa + "\n  }",
				filler(b.g, "json")}}
		} else {
			file = b.put("py", "BIGQUERY_SERVICE_ACCOUNT = "+sa)
		}
		b.plant("gcp-service-account-key", v, file, true)
	}
}

// plantCredentialFiles writes files that are credentials by nature, and
// their harmless look-alike names.
func (b *builder) plantCredentialFiles() {
	g := b.g
	set := func(p, content string) {
		b.files[p] = &doc{kind: "raw", parts: []string{strings.TrimSuffix(content, "\n")}}
	}
	tok := func() string { return g.unique(func() string { return "ghp_" + g.s(alnumChars, 36) }) }

	pw, sk, gh := g.unique(func() string { return g.mixed(24) }), g.unique(func() string { return "sk_live_" + g.s(alnumChars, 24) }), tok()
	set(".env", "# local settings\nAPP_ENV=development\nDB_PASSWORD="+pw+"\nSTRIPE_SECRET_KEY="+sk+"\nGITHUB_TOKEN="+gh+"\nLOG_LEVEL=debug\n")
	b.plant("env-file", pw, ".env", false)
	b.plant("env-file", sk, ".env", true)
	b.plant("env-file", gh, ".env", true)
	pw2 := g.unique(func() string { return g.s(hexChars, 128) }) // a Rails secret_key_base
	set(".env.production", "SECRET_KEY_BASE="+pw2+"\n")
	b.plant("env-file", pw2, ".env.production", false)

	block, v := g.pem(pemKinds()[2])
	set("deploy/id_rsa", block+"\n")
	b.plant("ssh-private-key-file", v, "deploy/id_rsa", true)
	block, v = g.pem(pemKinds()[0])
	set("certs/server.key", block+"\n")
	b.plant("tls-private-key-file", v, "certs/server.key", true)

	npm := g.unique(func() string { return "npm_" + g.s(alnumChars, 36) })
	set(".npmrc", "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken="+npm+"\nalways-auth=true\n")
	b.plant("npmrc-file", npm, ".npmrc", true)

	kt := g.unique(func() string { return jwt(g) })
	set("deploy/kubeconfig", "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://10.0.0.1:6443\n  name: prod\ncontexts:\n- context:\n    cluster: prod\n    user: deployer\n  name: prod\ncurrent-context: prod\nusers:\n- name: deployer\n  user:\n    token: "+kt+"\n")
	b.plant("kubeconfig-file", kt, "deploy/kubeconfig", true)

	block, v = g.pem(pemKinds()[3])
	set("config/credentials.json", fmt.Sprintf("{\n  \"type\": \"service_account\",\n  \"project_id\": \"acme-analytics\",\n  \"private_key_id\": \"%s\",\n  \"private_key\": \"%s\\n\",\n  \"client_email\": \"loader@acme-analytics.iam.gserviceaccount.com\"\n}\n",
		g.s(hexChars, 40), strings.ReplaceAll(block, "\n", `\n`)))
	b.plant("gcp-service-account-file", v, "config/credentials.json", true)

	gc := tok()
	set(".git-credentials", "https://ci-bot:"+gc+"@github.com\n")
	b.plant("git-credentials-file", gc, ".git-credentials", true)

	tf := g.unique(func() string { return g.mixed(20) })
	set("infra/terraform.tfstate", `{"version": 4, "resources": [{"type": "aws_db_instance", "instances": [{"attributes": {"username": "admin", "password": "`+tf+`"}}]}]}`+"\n")
	b.plant("terraform-state-file", tf, "infra/terraform.tfstate", false)

	pypi := g.unique(func() string { return "pypi-AgEIcHlwaS5vcmc" + g.s(b64urlChars, 80) })
	set(".pypirc", "[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = __token__\npassword = "+pypi+"\n")
	b.plant("pypirc-file", pypi, ".pypirc", true)

	// Not credentials: a template, documentation, a kubeconfig template.
	set(".env.example", "APP_ENV=development\nDB_PASSWORD=changeme\nSTRIPE_SECRET_KEY=sk_test_your_key_here\nGITHUB_TOKEN=\nAPI_KEY=YOUR_API_KEY\n")
	set("docs/private-key-rotation.md", "# Private key rotation\n\nRotate the TLS private key every 90 days:\n\n1. Generate a new key with `openssl genpkey -algorithm RSA -out server.key`.\n2. Upload it to the secret store; never commit `*.key` files.\n3. Restart the ingress.\n")
	set("deploy/kubeconfig.example.yaml", "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://127.0.0.1:6443\n  name: local\nusers:\n- name: dev\n  user:\n    token: ${KUBE_TOKEN}\n")
}

// header starts a file of a kind.
func header(kind, p string) string {
	pkg := p
	if i := strings.LastIndexByte(pkg, '/'); i >= 0 {
		pkg = pkg[:i]
	}
	if i := strings.LastIndexByte(pkg, '/'); i >= 0 {
		pkg = pkg[i+1:]
	}
	switch kind {
	case "go":
		return "package " + strings.ReplaceAll(pkg, "-", "") + "\n\nimport (\n\t\"context\"\n\t\"fmt\"\n\t\"os\"\n\t\"time\"\n)\n"
	case "py":
		return "\"\"\"Service integrations.\"\"\"\n\nimport logging\nimport os\n\nlog = logging.getLogger(__name__)\n"
	case "js":
		return "'use strict';\n\nconst axios = require('axios');\n"
	case "yaml":
		return "# Deployment settings for the orders service.\nservice:\n  name: orders\n  replicas: 3"
	case "toml":
		return "# Application configuration\ntitle = \"orders\"\nlog_level = \"info\""
	case "docker":
		return "FROM golang:1.22-alpine AS build\nWORKDIR /src\nCOPY go.mod ./\nRUN go mod download"
	case "sh":
		return "#!/usr/bin/env bash\nset -euo pipefail\n"
	case "md":
		return "# Operations notes\n\nThis page collects the commands the on-call engineer needs.\n"
	case "bat":
		return "@echo off\nsetlocal"
	case "props":
		return "# Generated by the release tool; edit with care.\napp.name=orders\nserver.port=8080"
	case "json":
		return "  \"name\": \"orders\",\n  \"version\": \"2.4.1\""
	}
	return ""
}

// Files returns the corpus paths in a stable order (for tests that print).
func Files(files map[string]string) []string {
	ps := make([]string, 0, len(files))
	for p := range files {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}
