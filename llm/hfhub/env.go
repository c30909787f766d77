package hfhub

import (
	"os"
	"path/filepath"
	"strings"
)

// DefaultEndpoint is the Hub used when HF_ENDPOINT is not set.
const DefaultEndpoint = "https://huggingface.co"

// Env is the part of huggingface_hub's configuration this package honours.
type Env struct {
	CacheDir        string // HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub or ~/.cache/huggingface/hub
	Endpoint        string // HF_ENDPOINT without trailing slashes, default DefaultEndpoint
	Token           string // HF_TOKEN, HUGGING_FACE_HUB_TOKEN or the token file; "" sends none
	Offline         bool   // HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is 1/ON/YES/TRUE
	DisableSymlinks bool   // HF_HUB_DISABLE_SYMLINKS is 1/ON/YES/TRUE: copy files into snapshots
}

// LoadEnv resolves Env the way huggingface_hub's constants.py does.
// lookupEnv is normally os.LookupEnv and home the user's home directory;
// both are parameters so tests control them. The only thing read from disk
// is the token file ($HF_TOKEN_PATH, default $HF_HOME/token).
//
// Two deliberate differences from Python: a variable set to "" counts as
// unset (Python would use "" and end up with a cache relative to the
// working directory, where a remove could do damage), and "~user" is left
// as it is (only "~" is expanded, with home).
func LoadEnv(lookupEnv func(string) (string, bool), home string) Env {
	get := func(name string) string {
		v, _ := lookupEnv(name)
		return v
	}
	expand := func(path string) string {
		return expandUser(expandVars(path, lookupEnv), home)
	}

	// HF_HOME = expanduser(expandvars(getenv("HF_HOME", join(getenv("XDG_CACHE_HOME", "~/.cache"), "huggingface"))))
	hfHome := get("HF_HOME")
	if hfHome == "" {
		xdg := get("XDG_CACHE_HOME")
		if xdg == "" {
			xdg = "~/.cache"
		}
		hfHome = filepath.Join(xdg, "huggingface")
	}
	hfHome = expand(hfHome)

	cache := get("HF_HUB_CACHE")
	if cache == "" {
		cache = get("HUGGINGFACE_HUB_CACHE")
	}
	if cache == "" {
		cache = filepath.Join(hfHome, "hub")
	}

	endpoint := strings.TrimRight(get("HF_ENDPOINT"), "/")
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}

	env := Env{
		CacheDir:        expand(cache),
		Endpoint:        endpoint,
		Offline:         isTrue(get("HF_HUB_OFFLINE")) || isTrue(get("TRANSFORMERS_OFFLINE")),
		DisableSymlinks: isTrue(get("HF_HUB_DISABLE_SYMLINKS")),
	}
	// HF_HUB_DISABLE_IMPLICIT_TOKEN means "never send a token nobody passed
	// explicitly"; a CLI run only ever has the implicit one.
	if !isTrue(get("HF_HUB_DISABLE_IMPLICIT_TOKEN")) {
		env.Token = loadToken(get, expand, hfHome)
	}
	return env
}

// loadToken follows get_token(): HF_TOKEN, then HUGGING_FACE_HUB_TOKEN, then
// the token file written by `hf auth login`. The OIDC and Colab sources do
// not apply to a local CLI.
func loadToken(get func(string) string, expand func(string) string, hfHome string) string {
	for _, name := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if token := cleanToken(get(name)); token != "" {
			return token
		}
	}
	path := get("HF_TOKEN_PATH")
	if path == "" {
		path = filepath.Join(hfHome, "token")
	}
	data, err := os.ReadFile(expand(path))
	if err != nil {
		return "" // no login is the normal case, and a token is optional
	}
	return cleanToken(string(data))
}

// cleanToken is _clean_token: drop CR/LF anywhere, trim spaces.
func cleanToken(token string) string {
	token = strings.NewReplacer("\r", "", "\n", "").Replace(token)
	return strings.TrimSpace(token)
}

// isTrue is huggingface_hub's _is_true: value.upper() in {"1","ON","YES","TRUE"}.
func isTrue(value string) bool {
	switch strings.ToUpper(value) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

// expandVars is Python's posixpath.expandvars: $name and ${name}, where a
// name is letters, digits and underscores; unknown variables stay as they
// are.
func expandVars(path string, lookupEnv func(string) (string, bool)) string {
	if !strings.Contains(path, "$") {
		return path
	}
	var out strings.Builder
	for i := 0; i < len(path); {
		if path[i] != '$' {
			out.WriteByte(path[i])
			i++
			continue
		}
		name, end := "", i+1
		if end < len(path) && path[end] == '{' {
			closing := strings.IndexByte(path[end:], '}')
			if closing < 0 {
				out.WriteByte('$')
				i++
				continue
			}
			name, end = path[end+1:end+closing], end+closing+1
		} else {
			for end < len(path) && isNameByte(path[end]) {
				end++
			}
			name = path[i+1 : end]
		}
		if value, ok := lookupEnv(name); ok && name != "" {
			out.WriteString(value)
		} else {
			out.WriteString(path[i:end])
		}
		i = end
	}
	return out.String()
}

func isNameByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// expandUser is posixpath.expanduser for "~" and "~/…" only.
func expandUser(path, home string) string {
	if home == "" || path != "~" && !strings.HasPrefix(path, "~/") {
		return path
	}
	home = strings.TrimRight(home, "/")
	if home == "" {
		home = "/"
	}
	return filepath.Join(home, path[1:])
}
