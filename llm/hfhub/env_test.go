package hfhub

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadEnv(t *testing.T) {
	const home = "/home/ada"
	tokenHome := t.TempDir()
	os.WriteFile(filepath.Join(tokenHome, "token"), []byte("  hf_fromfile\n"), 0o600)
	otherToken := filepath.Join(t.TempDir(), "other-token")
	os.WriteFile(otherToken, []byte("hf_frompath"), 0o600)

	defaults := Env{CacheDir: "/home/ada/.cache/huggingface/hub", Endpoint: DefaultEndpoint}
	with := func(change func(*Env)) Env {
		e := defaults
		change(&e)
		return e
	}
	tests := []struct {
		name string
		vars map[string]string
		want Env
	}{
		{"defaults", nil, defaults},
		{"XDG_CACHE_HOME", map[string]string{"XDG_CACHE_HOME": "/xdg"}, with(func(e *Env) { e.CacheDir = "/xdg/huggingface/hub" })},
		{"XDG_CACHE_HOME with ~", map[string]string{"XDG_CACHE_HOME": "~/xc"}, with(func(e *Env) { e.CacheDir = "/home/ada/xc/huggingface/hub" })},
		{"HF_HOME beats XDG", map[string]string{"HF_HOME": "/hf", "XDG_CACHE_HOME": "/xdg"}, with(func(e *Env) { e.CacheDir = "/hf/hub" })},
		{"HF_HOME with ~", map[string]string{"HF_HOME": "~/hf"}, with(func(e *Env) { e.CacheDir = "/home/ada/hf/hub" })},
		{"HF_HOME ~ alone", map[string]string{"HF_HOME": "~"}, with(func(e *Env) { e.CacheDir = "/home/ada/hub" })},
		{"HF_HOME with $VAR", map[string]string{"HF_HOME": "$BASE/hf", "BASE": "/data"}, with(func(e *Env) { e.CacheDir = "/data/hf/hub" })},
		{"HF_HOME with ${VAR}", map[string]string{"HF_HOME": "${BASE}x/hf", "BASE": "/data"}, with(func(e *Env) { e.CacheDir = "/datax/hf/hub" })},
		{"$VAR holding ~", map[string]string{"HF_HOME": "$BASE/hf", "BASE": "~/d"}, with(func(e *Env) { e.CacheDir = "/home/ada/d/hf/hub" })},
		{"unknown $VAR kept", map[string]string{"HF_HOME": "/x/$NOPE/hf"}, with(func(e *Env) { e.CacheDir = "/x/$NOPE/hf/hub" })},
		{"~user kept", map[string]string{"HF_HOME": "~bob/hf"}, with(func(e *Env) { e.CacheDir = "~bob/hf/hub" })},
		{"HUGGINGFACE_HUB_CACHE beats HF_HOME", map[string]string{"HUGGINGFACE_HUB_CACHE": "/legacy", "HF_HOME": "/hf"}, with(func(e *Env) { e.CacheDir = "/legacy" })},
		{"HF_HUB_CACHE beats all", map[string]string{"HF_HUB_CACHE": "/new", "HUGGINGFACE_HUB_CACHE": "/legacy", "HF_HOME": "/hf"}, with(func(e *Env) { e.CacheDir = "/new" })},
		{"HF_HUB_CACHE with ~ and $VAR", map[string]string{"HF_HUB_CACHE": "~/$SUB", "SUB": "models"}, with(func(e *Env) { e.CacheDir = "/home/ada/models" })},
		{"empty HF_HUB_CACHE counts as unset", map[string]string{"HF_HUB_CACHE": "", "HF_HOME": "/hf"}, with(func(e *Env) { e.CacheDir = "/hf/hub" })},
		{"HF_ENDPOINT trailing slashes", map[string]string{"HF_ENDPOINT": "https://mirror.example//"}, with(func(e *Env) { e.Endpoint = "https://mirror.example" })},
		{"HF_ENDPOINT as is", map[string]string{"HF_ENDPOINT": "http://localhost:8080/hub"}, with(func(e *Env) { e.Endpoint = "http://localhost:8080/hub" })},
		{"offline 1", map[string]string{"HF_HUB_OFFLINE": "1"}, with(func(e *Env) { e.Offline = true })},
		{"offline on", map[string]string{"HF_HUB_OFFLINE": "on"}, with(func(e *Env) { e.Offline = true })},
		{"offline Yes", map[string]string{"HF_HUB_OFFLINE": "Yes"}, with(func(e *Env) { e.Offline = true })},
		{"offline TRUE", map[string]string{"HF_HUB_OFFLINE": "TRUE"}, with(func(e *Env) { e.Offline = true })},
		{"offline 0", map[string]string{"HF_HUB_OFFLINE": "0"}, defaults},
		{"offline false", map[string]string{"HF_HUB_OFFLINE": "false"}, defaults},
		{"offline 2 is not true", map[string]string{"HF_HUB_OFFLINE": "2"}, defaults},
		{"TRANSFORMERS_OFFLINE", map[string]string{"TRANSFORMERS_OFFLINE": "1"}, with(func(e *Env) { e.Offline = true })},
		{"either offline variable", map[string]string{"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "yes"}, with(func(e *Env) { e.Offline = true })},
		{"disable symlinks", map[string]string{"HF_HUB_DISABLE_SYMLINKS": "1"}, with(func(e *Env) { e.DisableSymlinks = true })},
		{"HF_TOKEN", map[string]string{"HF_TOKEN": " hf_env\n", "HUGGING_FACE_HUB_TOKEN": "hf_legacy"}, with(func(e *Env) { e.Token = "hf_env" })},
		{"HUGGING_FACE_HUB_TOKEN", map[string]string{"HUGGING_FACE_HUB_TOKEN": "hf_legacy"}, with(func(e *Env) { e.Token = "hf_legacy" })},
		{"empty HF_TOKEN falls through", map[string]string{"HF_TOKEN": "  ", "HUGGING_FACE_HUB_TOKEN": "hf_legacy"}, with(func(e *Env) { e.Token = "hf_legacy" })},
		{"token file in HF_HOME", map[string]string{"HF_HOME": tokenHome}, Env{CacheDir: filepath.Join(tokenHome, "hub"), Endpoint: DefaultEndpoint, Token: "hf_fromfile"}},
		{"env token beats the file", map[string]string{"HF_HOME": tokenHome, "HF_TOKEN": "hf_env"}, Env{CacheDir: filepath.Join(tokenHome, "hub"), Endpoint: DefaultEndpoint, Token: "hf_env"}},
		{"HF_TOKEN_PATH", map[string]string{"HF_HOME": tokenHome, "HF_TOKEN_PATH": otherToken}, Env{CacheDir: filepath.Join(tokenHome, "hub"), Endpoint: DefaultEndpoint, Token: "hf_frompath"}},
		{"implicit token disabled", map[string]string{"HF_TOKEN": "hf_env", "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1"}, defaults},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(name string) (string, bool) {
				v, ok := tt.vars[name]
				return v, ok
			}
			if got := LoadEnv(lookup, home); got != tt.want {
				t.Errorf("LoadEnv =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestLoadEnvWithoutHome(t *testing.T) {
	got := LoadEnv(func(string) (string, bool) { return "", false }, "")
	if got.CacheDir != "~/.cache/huggingface/hub" {
		t.Errorf("CacheDir = %q; without a home, ~ stays", got.CacheDir)
	}
}
