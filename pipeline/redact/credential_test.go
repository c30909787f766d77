package redact

import (
	"slices"
	"strings"
	"testing"

	"cicdllm/pipeline/redact/redacttest"
)

func TestCredentialFile(t *testing.T) {
	s := newScanner(t, Options{})
	key, _, _ := redacttest.PEM("rsa-private-key", 1)
	sshKey, _, _ := redacttest.PEM("openssh-private-key", 2)
	_, npm, _ := fake(t, "npm-token", 3)
	_, jwt, _ := fake(t, "jwt", 4)
	_, pypi, _ := fake(t, "pypi-token", 5)
	const cert = "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n-----END CERTIFICATE-----\n"
	saJSON := `{"type": "service_account", "project_id": "p", "private_key": "` + strings.ReplaceAll(key, "\n", `\n`) + `", "client_email": "x@p.iam.gserviceaccount.com"}`
	kubeconfig := "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://10.0.0.1:6443\n  name: prod\nusers:\n- name: ci\n  user:\n    token: " + jwt + "\n"

	for _, tc := range []struct {
		path, content, want string
	}{
		// Credentials by nature.
		{".env", "A=1\n", ".env file"},
		{"app/.env.production", "A=1\n", ".env file"},
		{".env.local", "A=1\n", ".env file"},
		{".envrc", "export A=1\n", ".env file"},
		{"deploy/prod.env", "A=1\n", ".env file"},
		{"deploy/id_rsa", sshKey, "SSH private key"},
		{"home/.ssh/id_ed25519", sshKey, "SSH private key"},
		{"keys/id_rsa.pub", "ssh-rsa AAAAB3NzaC1yc2E dev@laptop\n", "SSH public key"},
		{"certs/server.key", key, "private key"},
		{"certs/server.pem", cert + key, "private key"},
		{"deploy/deploy_key", key, "private key"},
		{"fixtures/signing-key.txt", key, "private key"},
		{"config/key.conf", key + "\n", "private key"},
		{".npmrc", "//registry.npmjs.org/:_authToken=" + npm + "\n", "npm credentials (.npmrc with an auth token)"},
		{".pypirc", "[pypi]\nusername = __token__\npassword = " + pypi + "\n", "PyPI credentials (.pypirc with a password)"},
		{".yarnrc.yml", "npmAuthToken: " + npm + "\n", "yarn credentials (.yarnrc.yml with an auth token)"},
		{"deploy/kubeconfig", kubeconfig, "kubeconfig with a token"},
		{"home/.kube/config", kubeconfig, "kubeconfig with a token"},
		{"clusters/prod.yaml", kubeconfig, "kubeconfig with a token"},
		{"config/credentials.json", saJSON, "credentials file"},
		{".aws/credentials", "[default]\naws_access_key_id = x\n", "credentials file"},
		{"gcp/exporter-sa.json", saJSON, "GCP service-account key"},
		{"client_secret_1234.apps.googleusercontent.com.json", `{"installed": {}}`, "OAuth client secret file"},
		{"config/secrets.yml", "production:\n  key: x\n", "secrets file"},
		{"secrets.json", "{}", "secrets file"},
		{".netrc", "machine github.com login x password y\n", ".netrc file (machine passwords)"},
		{".git-credentials", "https://u:p@github.com\n", "git credential store"},
		{"infra/terraform.tfstate", "{}", "Terraform state (holds resource secrets in clear)"},
		{"infra/terraform.tfstate.backup", "{}", "Terraform state or variables file"},
		{"infra/prod.tfvars", "db_password = \"x\"\n", "Terraform variables file"},
		{"certs/client.p12", "\x30\x82", "PKCS#12 key store"},
		{"android/release.jks", "\xfe\xed", "Java key store"},
		{"team.kdbx", "\x03\xd9", "KeePass database"},
		{"putty/key.ppk", "PuTTY-User-Key-File-3: ssh-ed25519\n", "PuTTY private key"},

		// Not credentials: templates, documentation, code, certificates.
		{".env.example", "DB_PASSWORD=changeme\nAPI_KEY=YOUR_API_KEY\n", ""},
		{".env.sample", "DB_PASSWORD=\n", ""},
		{".env.template", "DB_PASSWORD=\n", ""},
		{"docs/private-key-rotation.md", "Rotate the private key every 90 days; never commit *.key files.\n", ""},
		{"docs/ssh.md", "Copy ~/.ssh/id_rsa.pub to the server.\n", ""},
		{"src/credentials.go", "package auth\n\nfunc credentials() {}\n", ""},
		{"config/secrets.go", "package config\n", ""},
		{"config/secrets.example.yaml", "key: changeme\n", ""},
		{"web/src/environment.ts", "export const environment = {};\n", ""},
		{"pkg/env/env.go", "package env\n", ""},
		{"deploy/kubeconfig.example.yaml", "apiVersion: v1\nkind: Config\nclusters: []\nusers:\n- name: dev\n  user:\n    token: ${KUBE_TOKEN}\n", ""},
		{"deploy/kubeconfig", "apiVersion: v1\nkind: Config\nclusters: []\nusers:\n- name: dev\n  user:\n    exec:\n      command: aws\n", ""},
		{"certs/ca.pem", cert, ""},
		{"certs/ca.crt", cert, ""},
		{"internal/tls/testkey.go", "package tls\n\nconst testKey = `" + key + "`\n", ""},
		{"config/settings.json", `{"name": "orders", "bigquery": ` + saJSON + `}`, ""},
		{".npmrc", "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n", ""},
		{".pypirc", "[pypi]\nusername = __token__\n", ""},
		{"README.md", "Put your token in `.env` and your key in `deploy/id_rsa`.\n", ""},
	} {
		if got := s.CredentialFile(tc.path, []byte(tc.content)); got != tc.want {
			t.Errorf("CredentialFile(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

// TestCorpusCredentialFiles: the corpus's credential files are exactly
// the ones recognised, and its decoys are read.
func TestCorpusCredentialFiles(t *testing.T) {
	s := newScanner(t, Options{})
	files, plants, _ := redacttest.Corpus(1)
	if !slices.ContainsFunc(plants, func(p redacttest.Plant) bool {
		return p.Kind == "gcp-service-account-key" && p.File == "config/settings.json"
	}) {
		t.Error("no service-account key nested in config/settings.json")
	}
	want := map[string]bool{}
	for _, p := range redacttest.CredentialFiles() {
		want[p] = true
	}
	for _, p := range redacttest.NotCredentialFiles() {
		if _, ok := files[p]; !ok {
			t.Errorf("corpus lacks decoy %s", p)
		}
	}
	for _, p := range redacttest.Files(files) {
		why := s.CredentialFile(p, []byte(files[p]))
		if (why != "") != want[p] {
			t.Errorf("%s: CredentialFile = %q, want credential = %v", p, why, want[p])
		}
	}
}
