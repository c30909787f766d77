// Package demo builds the offline demo workspace: a small sample
// repository embedded in the binary, committed with go-git at run time,
// listed in repos.txt, with a configuration pointing at the simulator.
package demo

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"cicdllm/llm/sim"
)

// The sample lives in a directory the go tool ignores ("_"), so its Go
// files are data, not a package of this module; go.mod is stored under
// another name because embed refuses a nested module.
//
//go:embed all:_sample
var sampleFS embed.FS

const sampleRoot = "_sample"

// RepoName is the sample repository's folder in the workspace.
const RepoName = "shop"

// SimConfig is the simulator the demo runs: four slots, like a typical
// llama-server, at a speed a person can watch (about 25 tokens/s per
// slot) unless fast is set, for the headless run.
func SimConfig(fast bool) sim.Config {
	c := sim.Config{Slots: 4, ContextSize: 4096, TokensPerSecond: 25, PromptTokensPerSecond: 800,
		AnswerTokens: 120, Model: "cicdllm-sim", Seed: 7}
	if fast {
		c.TokensPerSecond, c.PromptTokensPerSecond = 0, 0
	}
	return c
}

// Create fills dir (which must be empty or missing) with a demo
// workspace: the sample repository under sample/, repos.txt listing it and
// cicdllm.toml using the server at baseURL.
func Create(dir, baseURL string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create the demo workspace: %w", err)
	}
	if entries, err := os.ReadDir(dir); err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	} else if len(entries) > 0 {
		return fmt.Errorf("%s is not empty; the demo needs a new folder", dir)
	}
	repoDir := filepath.Join(dir, "sample", RepoName)
	if err := writeSample(repoDir); err != nil {
		return err
	}
	if err := commitAll(repoDir); err != nil {
		return err
	}
	repos := "# The demo's sample repository (a local path is read in place).\n" + filepath.ToSlash(filepath.Join("sample", RepoName)) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "repos.txt"), []byte(repos), 0o644); err != nil {
		return fmt.Errorf("write repos.txt: %w", err)
	}
	cfg := fmt.Sprintf(`# cicdllm demo workspace: the LLM is the built-in simulator, not a model.
[llm]
base_url = %q

[generation]
questions_per_chunk = 3

[battery]
enabled = false
`, baseURL)
	if err := os.WriteFile(filepath.Join(dir, "cicdllm.toml"), []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("write cicdllm.toml: %w", err)
	}
	return nil
}

func writeSample(repoDir string) error {
	return fs.WalkDir(sampleFS, sampleRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := sampleFS.ReadFile(p)
		if err != nil {
			return err
		}
		rel := strings.TrimSuffix(strings.TrimPrefix(p, sampleRoot+"/"), ".sample")
		dst := filepath.Join(repoDir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(dst), err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", dst, err)
		}
		return nil
	})
}

// commitAll makes the sample a git repository with one commit. The
// author and date are fixed, so every demo has the same commit id.
func commitAll(dir string) error {
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		return fmt.Errorf("create the sample repository: %w", err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return fmt.Errorf("sample repository: %w", err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		return fmt.Errorf("sample repository: add files: %w", err)
	}
	when := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	sig := &object.Signature{Name: "cicdllm demo", Email: "demo@cicdllm.local", When: when}
	if _, err := wt.Commit("shop: a tiny shopping-cart API", &git.CommitOptions{Author: sig, Committer: sig}); err != nil {
		return fmt.Errorf("sample repository: commit: %w", err)
	}
	return nil
}
