package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
)

// Workspace holds the absolute paths of one cicdllm workspace:
//
//	repos.txt          repositories to scrape
//	cicdllm.toml       optional configuration
//	data/pipeline.db   SQLite: the single source of truth
//	repos/             bare clones
//	logs/              log files
//	prompts/<theme>/   optional prompt overrides
type Workspace struct {
	Dir        string
	DataDir    string
	DBPath     string
	ReposDir   string
	LogsDir    string
	PromptsDir string
	ReposFile  string
}

// NewWorkspace resolves the workspace at workdir; dataDir is relative to it
// unless absolute. Nothing is created on disk.
func NewWorkspace(workdir, dataDir string) (Workspace, error) {
	if workdir == "" {
		workdir = "."
	}
	dir, err := filepath.Abs(workdir)
	if err != nil {
		return Workspace{}, fmt.Errorf("workspace %s: %w", workdir, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return Workspace{}, fmt.Errorf("workspace %s does not exist; create it or pass another --workdir", dir)
	}
	if !st.IsDir() {
		return Workspace{}, fmt.Errorf("workspace %s is not a directory; pass a directory with --workdir", dir)
	}
	if dataDir == "" {
		dataDir = "data"
	}
	if !filepath.IsAbs(dataDir) {
		dataDir = filepath.Join(dir, dataDir)
	}
	dataDir = filepath.Clean(dataDir)
	return Workspace{
		Dir:        dir,
		DataDir:    dataDir,
		DBPath:     filepath.Join(dataDir, "pipeline.db"),
		ReposDir:   filepath.Join(dir, "repos"),
		LogsDir:    filepath.Join(dir, "logs"),
		PromptsDir: filepath.Join(dir, "prompts"),
		ReposFile:  filepath.Join(dir, "repos.txt"),
	}, nil
}

// Contains reports whether path lies inside the workspace directory (and is
// not the directory itself), after resolving symbolic links in the existing
// part of the path, so a link cannot smuggle a deletion outside it.
func (w Workspace) Contains(path string) bool {
	root, err := filepath.EvalSymlinks(w.Dir)
	if err != nil {
		return false
	}
	p, err := resolveExisting(path)
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != "." && filepath.IsLocal(rel)
}

// resolveExisting resolves symlinks in the longest existing prefix of path
// and appends the rest unchanged.
func resolveExisting(path string) (string, error) {
	path = filepath.Clean(path)
	var rest []string
	for {
		if r, err := filepath.EvalSymlinks(path); err == nil {
			return filepath.Join(append([]string{r}, rest...)...), nil
		}
		parent := filepath.Dir(path)
		if parent == path {
			return "", fmt.Errorf("cannot resolve %s", path)
		}
		rest = append([]string{filepath.Base(path)}, rest...)
		path = parent
	}
}

// Rel shows path relative to the workspace when it lies inside it.
func (w Workspace) Rel(path string) string {
	if rel, err := filepath.Rel(w.Dir, path); err == nil && filepath.IsLocal(rel) {
		return rel
	}
	return path
}
