package redact

import (
	"bytes"
	"encoding/json"
	"path"
	"regexp"
	"strings"
)

// CredentialFile says why a file is a credential by nature and must not be
// read into a prompt at all, or returns "" when it may be read (and then
// redacted). p is the repository-relative path, with '/' separators.
//
// Redacting such files would leave nothing worth training on (a .env file
// is its secrets) and would stake everything on the rules knowing every
// format; skipping them is both safer and free. Templates (.env.example)
// and files that merely talk about keys (docs/private-key-rotation.md)
// are not credentials.
func (s *Scanner) CredentialFile(p string, content []byte) string {
	p = strings.TrimPrefix(p, "./")
	base := path.Base(p)
	lower := strings.ToLower(base)
	ext := path.Ext(lower)

	switch strings.TrimSuffix(lower, ".pub") {
	case "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk":
		if strings.HasSuffix(lower, ".pub") {
			return "SSH public key"
		}
		return "SSH private key"
	}
	switch ext {
	case ".p12", ".pfx":
		return "PKCS#12 key store"
	case ".jks", ".keystore", ".bks":
		return "Java key store"
	case ".kdbx", ".kdb":
		return "KeePass database"
	case ".ppk":
		return "PuTTY private key"
	case ".tfstate":
		return "Terraform state (holds resource secrets in clear)"
	case ".tfvars":
		return "Terraform variables file"
	}
	if strings.HasSuffix(lower, ".tfstate.backup") || strings.HasSuffix(lower, ".tfvars.json") {
		return "Terraform state or variables file"
	}
	if isEnvFile(lower) {
		return ".env file"
	}
	switch lower {
	case ".netrc", "_netrc":
		return ".netrc file (machine passwords)"
	case ".git-credentials":
		return "git credential store"
	case "credentials", "credentials.json", ".credentials", ".credentials.json":
		return "credentials file"
	case "secrets.yml", "secrets.yaml", "secrets.json", "secrets.toml", "secret.yml", "secret.yaml", "secret.json", ".secrets":
		return "secrets file"
	case ".npmrc":
		if hasLiteralSetting(content, s.settings.npmrc) {
			return "npm credentials (.npmrc with an auth token)"
		}
	case ".yarnrc.yml":
		if hasLiteralSetting(content, s.settings.yarnrc) {
			return "yarn credentials (.yarnrc.yml with an auth token)"
		}
	case ".pypirc":
		if hasLiteralSetting(content, s.settings.pypirc) {
			return "PyPI credentials (.pypirc with a password)"
		}
	}
	if strings.HasPrefix(lower, "client_secret") && ext == ".json" {
		return "OAuth client secret file"
	}
	if isKubeconfig(p, lower, content) && hasLiteralSetting(content, s.settings.kubeconfig) {
		return "kubeconfig with a token"
	}
	if ext == ".json" && isServiceAccountKey(content) {
		return "GCP service-account key"
	}
	if s.isPrivateKeyFile(ext, content) {
		return "private key"
	}
	return ""
}

// isEnvFile: .env, .env.production, .envrc, prod.env... but not the
// templates projects commit on purpose (.env.example, .env.sample...).
func isEnvFile(lower string) bool {
	switch {
	case lower == ".env", lower == ".envrc":
		return true
	case strings.HasPrefix(lower, ".env."):
		switch path.Ext(lower) {
		case ".example", ".sample", ".template", ".tmpl", ".tpl", ".dist", ".default", ".defaults", ".schema", ".md":
			return false
		}
		return true
	case strings.HasSuffix(lower, ".env") && len(lower) > len(".env"):
		return true
	}
	return false
}

// Settings that hold a credential in the per-format config files. The
// value group must be a literal: "${NPM_TOKEN}" is how CI templates
// reference a secret without containing it.
const (
	npmrcSetting      = `(?m)(?:^|:)_(?:authToken|auth|password)\s*=\s*(\S+)`
	yarnrcSetting     = `(?m)^\s*npmAuth(?:Token|Ident)\s*:\s*["']?([^"'\s]+)`
	pypircSetting     = `(?mi)^\s*password\s*[:=]\s*(\S+)`
	kubeconfigSetting = `(?m)^\s*(?:token|id-token|refresh-token|access-token|client-key-data|password)\s*:\s*["']?([^"'\s]+)`
)

// settingRegexps are the compiled *Setting expressions.
type settingRegexps struct {
	npmrc, yarnrc, pypirc, kubeconfig *regexp.Regexp
}

func compileSettings() settingRegexps {
	// Constants known to compile; MustCompile cannot fail here.
	return settingRegexps{
		npmrc:      regexp.MustCompile(npmrcSetting),
		yarnrc:     regexp.MustCompile(yarnrcSetting),
		pypirc:     regexp.MustCompile(pypircSetting),
		kubeconfig: regexp.MustCompile(kubeconfigSetting),
	}
}

// hasLiteralSetting reports whether re's first group captures a value
// that is not a placeholder or template.
func hasLiteralSetting(content []byte, re *regexp.Regexp) bool {
	for _, m := range re.FindAllSubmatch(content, -1) {
		v := string(m[1])
		if v != "" && !isTemplate(v) && !strings.HasPrefix(v, "$") && !isPlaceholder(classToken, v, "") &&
			!strings.EqualFold(v, "null") && v != `""` && v != "''" {
			return true
		}
	}
	return false
}

// isKubeconfig: named like one, or a YAML "kind: Config" with clusters
// and users.
func isKubeconfig(p, lower string, content []byte) bool {
	if lower == "kubeconfig" || strings.HasSuffix(lower, ".kubeconfig") || strings.HasPrefix(lower, "kubeconfig.") ||
		strings.HasSuffix(p, ".kube/config") {
		return true
	}
	return bytes.Contains(content, []byte("kind: Config")) && bytes.Contains(content, []byte("clusters:")) &&
		bytes.Contains(content, []byte("users:"))
}

// isServiceAccountKey: a JSON document whose top level is a Google
// service-account key. The same object nested in a bigger settings file is
// left to redaction, which removes its private key.
func isServiceAccountKey(content []byte) bool {
	if !bytes.Contains(content, []byte("service_account")) || !bytes.Contains(content, []byte("private_key")) {
		return false
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(content, &top) != nil {
		return false
	}
	var typ string
	_ = json.Unmarshal(top["type"], &typ)
	_, hasKey := top["private_key"]
	return typ == "service_account" && hasKey
}

// isPrivateKeyFile: a private key in PEM form in a file that is a key: a
// key-ish extension or none (deploy_key), or content that starts with the
// key (key.txt). A key embedded in source code or documentation is left
// to redaction, which removes the whole block.
func (s *Scanner) isPrivateKeyFile(ext string, content []byte) bool {
	if s.privateKey == nil || !bytes.Contains(content, []byte("PRIVATE KEY")) {
		return false
	}
	switch ext {
	case "", ".pem", ".key", ".crt", ".cer", ".der", ".asc", ".gpg", ".pk8", ".p8", ".priv", ".private", ".rsa", ".ec", ".txt":
	default:
		if !bytes.HasPrefix(bytes.TrimSpace(content), []byte("-----BEGIN")) {
			return false
		}
	}
	return s.privateKey.Match(content)
}
