package demo

import (
	"os"
	"path/filepath"
	"testing"

	"cicdllm/pipeline"
)

func TestCreateMakesAUsableWorkspace(t *testing.T) {
	dir := t.TempDir()
	if err := Create(dir, "http://127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	tree, err := pipeline.OpenTree(filepath.Join(dir, "sample", RepoName))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range tree.Files {
		paths = append(paths, f.Path)
	}
	want := map[string]bool{"go.mod": true, "cmd/shop/main.go": true, "internal/cart/cart.go": true, "Dockerfile": true, ".github/workflows/ci.yml": true}
	for _, p := range paths {
		delete(want, p)
	}
	if len(want) > 0 {
		t.Fatalf("sample repository lacks %v; has %v", want, paths)
	}
	// Fixed author and date: the same commit every time.
	dir2 := t.TempDir()
	if err := Create(dir2, "http://127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	tree2, err := pipeline.OpenTree(filepath.Join(dir2, "sample", RepoName))
	if err != nil {
		t.Fatal(err)
	}
	if tree.Commit != tree2.Commit {
		t.Errorf("commits differ: %s vs %s", tree.Commit, tree2.Commit)
	}
	loaded, err := pipeline.LoadConfig(pipeline.LoadOptions{Workdir: dir, LookupEnv: func(string) (string, bool) { return "", false }, Environ: func() []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Config.LLM.BaseURL != "http://127.0.0.1:1" {
		t.Errorf("base_url = %q", loaded.Config.LLM.BaseURL)
	}
	if err := Create(dir, "x"); err == nil {
		t.Error("Create into a non-empty folder succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "repos.txt")); err != nil {
		t.Error(err)
	}
}
