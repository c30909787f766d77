package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"cicdllm/store"
)

// ResetTargets are the things `cicdllm reset` can delete.
func ResetTargets() []string { return []string{"db", "logs", "repos", "all"} }

// ResetItem is one file or directory a reset deletes.
type ResetItem struct {
	Path  string
	Bytes int64
	Dir   bool
}

// ResetPlan lists what a reset will delete, so the user can confirm it.
type ResetPlan struct {
	ws       Workspace
	Items    []ResetItem
	lockData bool // the database is among the items: hold the workspace lock
}

// Bytes is the total size of the plan.
func (p ResetPlan) Bytes() int64 {
	var n int64
	for _, it := range p.Items {
		n += it.Bytes
	}
	return n
}

// PlanReset works out what `reset target` deletes. It refuses anything
// outside the workspace, e.g. a --data-dir elsewhere or a repos/ symlink
// that points out of it. keepLog is the current run's log file, which
// `reset logs` leaves alone.
func PlanReset(ws Workspace, target, keepLog string) (ResetPlan, error) {
	p := ResetPlan{ws: ws}
	want := map[string]bool{}
	switch target {
	case "db", "logs", "repos":
		want[target] = true
	case "all":
		want["db"], want["logs"], want["repos"] = true, true, true
	default:
		return p, fmt.Errorf("unknown reset target %q; use one of db, logs, repos, all", target)
	}
	var paths []string
	if want["db"] {
		paths = append(paths, ws.DBPath, ws.DBPath+"-wal", ws.DBPath+"-shm")
		p.lockData = true
	}
	if want["logs"] {
		logs, err := LogFiles(ws.LogsDir)
		if err != nil {
			return p, err
		}
		for _, l := range logs {
			if l != keepLog {
				paths = append(paths, l)
			}
		}
	}
	if want["repos"] {
		paths = append(paths, ws.ReposDir)
	}
	for _, path := range paths {
		st, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return p, fmt.Errorf("inspect %s: %w", path, err)
		}
		if !ws.Contains(path) {
			return p, fmt.Errorf("refusing to delete %s: it is outside the workspace %s", path, ws.Dir)
		}
		item := ResetItem{Path: path, Dir: st.IsDir()}
		if st.IsDir() {
			item.Bytes = dirSize(path)
		} else {
			item.Bytes = st.Size()
		}
		p.Items = append(p.Items, item)
	}
	return p, nil
}

// Execute deletes the planned items. Deleting the database holds the
// workspace lock, so it fails cleanly instead of pulling the file from
// under a running prepare.
func (p ResetPlan) Execute() error {
	if len(p.Items) == 0 {
		return nil
	}
	if p.lockData {
		if _, err := os.Stat(p.ws.DataDir); err == nil {
			release, err := store.LockWorkspace(p.ws.DataDir)
			if err != nil {
				return err
			}
			defer release()
		}
	}
	for _, it := range p.Items {
		// RemoveAll does not follow symbolic links inside the tree, and
		// PlanReset checked the top of each item stays in the workspace.
		if err := os.RemoveAll(it.Path); err != nil {
			return fmt.Errorf("delete %s: %w", p.ws.Rel(it.Path), err)
		}
	}
	return nil
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
