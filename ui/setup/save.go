package setup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"cicdllm/pipeline"
	"cicdllm/ui/common"
)

// saveRequest is everything the save command needs, copied out of the
// model so the command shares nothing with it.
type saveRequest struct {
	ws                      pipeline.Workspace
	configPath              string
	repos                   string
	backend, baseURL, model string
	mlxModel                string
	allowHTTP               bool
}

// saveResult is what a save did.
type saveResult struct {
	path    string
	config  pipeline.Config
	repos   int    // entries in the saved repos.txt
	skipped string // the first rejected line of repos.txt, for a warning
	err     error
}

// save writes the configuration, checks that it loads, then writes
// repos.txt. A configuration that does not load is put back as it was, so
// a typo in the form can never leave the workspace unable to start.
func save(r saveRequest) saveResult {
	path := r.configPath
	if path == "" {
		path = filepath.Join(r.ws.Dir, pipeline.ConfigFileName)
	}
	res := saveResult{path: path}
	old, err := os.ReadFile(path)
	existed := err == nil
	perm := fs.FileMode(0o644)
	switch {
	case existed:
		if fi, err := os.Stat(path); err == nil {
			perm = fi.Mode().Perm()
		}
	case errors.Is(err, fs.ErrNotExist):
		// A new file starts from the commented example, like `config init`,
		// so every other setting is documented in place.
		old = pipeline.ExampleTOML()
	default:
		res.err = fmt.Errorf("cannot read %s: %w", path, err)
		return res
	}
	data := setLLMKeys(old, r.backend, r.baseURL, r.model)
	if r.backend == "mlx" {
		data = setTableKeys(data, "mlx", []keyValue{{"model", r.mlxModel}})
	}
	if err := pipeline.WriteFileAtomic(path, data, perm); err != nil {
		res.err = fmt.Errorf("cannot write %s: %w", path, err)
		return res
	}
	loaded, err := pipeline.LoadConfig(pipeline.LoadOptions{Workdir: r.ws.Dir, Path: path})
	if err != nil {
		if existed {
			err2 := pipeline.WriteFileAtomic(path, old, perm)
			if err2 != nil {
				res.err = fmt.Errorf("the new settings are invalid (%s), and restoring %s failed: %v", oneLine(err), path, err2)
				return res
			}
		} else {
			_ = os.Remove(path)
		}
		res.err = fmt.Errorf("not saved, the settings are invalid: %s", oneLine(err))
		return res
	}
	res.config = loaded.Config

	text := r.repos
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	if err := pipeline.WriteFileAtomic(r.ws.ReposFile, []byte(text), 0o644); err != nil {
		res.err = fmt.Errorf("the configuration was saved, but %s was not: %w", filepath.Base(r.ws.ReposFile), err)
		return res
	}
	home, _ := os.UserHomeDir()
	entries, rejected, err := pipeline.ParseRepoList(strings.NewReader(text),
		pipeline.RepoListOptions{Workdir: r.ws.Dir, Home: home, AllowHTTP: r.allowHTTP})
	if err == nil {
		res.repos = len(entries)
		if len(rejected) > 0 {
			res.skipped = fmt.Sprintf("line %d is skipped: %s", rejected[0].Line, rejected[0].Reason)
			if len(rejected) > 1 {
				res.skipped += fmt.Sprintf(" (and %d more)", len(rejected)-1)
			}
		}
	}
	return res
}

// oneLine joins a multi-problem configuration error into one line.
func oneLine(err error) string {
	return common.OneLine(strings.ReplaceAll(err.Error(), "\n", "; "))
}

// readRepos reads repos.txt; a missing file is an empty list.
func readRepos(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %w", path, err)
	}
	return string(b), nil
}
