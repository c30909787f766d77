package hfhub

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// RemovePlan is what Remove will delete, for the caller to show before
// asking for confirmation.
type RemovePlan struct {
	ID    string
	Path  string // the models--org--name folder
	Size  int64  // bytes it holds on disk (files only; symlinks are not followed)
	Locks string // .locks/models--org--name, "" when there is none
}

// PlanRemove finds what removing id would delete. It refuses anything that
// is not a real folder directly inside the cache dir, so a symlinked model
// folder (or a crafted id) cannot send the removal elsewhere.
func (c Cache) PlanRemove(id string) (RemovePlan, error) {
	if err := ValidateModelID(id); err != nil {
		return RemovePlan{}, err
	}
	if c.Dir == "" {
		return RemovePlan{}, errors.New("no Hugging Face cache directory is set (HF_HUB_CACHE or HF_HOME)")
	}
	folder := RepoFolderName(id)
	plan := RemovePlan{ID: id, Path: filepath.Join(c.Dir, folder)}
	if err := c.checkRemovable(plan.ID, plan.Path); err != nil {
		return RemovePlan{}, err
	}
	size, _, err := folderSize(plan.Path)
	if err != nil {
		return RemovePlan{}, fmt.Errorf("cannot read all of %s to size it: %w (check its permissions)", plan.Path, err)
	}
	plan.Size = size
	locks := filepath.Join(c.Dir, ".locks", folder)
	if info, err := os.Lstat(locks); err == nil && info.IsDir() {
		plan.Locks = locks
		if lockSize, _, err := folderSize(locks); err == nil {
			plan.Size += lockSize
		}
	}
	return plan, nil
}

// Remove deletes what PlanRemove found, after checking again that the plan
// still names a real folder of this cache (the disk may have changed while
// the user read the confirmation prompt). os.RemoveAll deletes symlinks
// inside the folder without following them, so files outside the cache
// that a link points at survive.
func (c Cache) Remove(plan RemovePlan) error {
	if err := ValidateModelID(plan.ID); err != nil {
		return err
	}
	folder := RepoFolderName(plan.ID)
	if c.Dir == "" || plan.Path != filepath.Join(c.Dir, folder) {
		return fmt.Errorf("refusing to remove %s: it is not the cache folder of %s in %s (make the plan with PlanRemove)", plan.Path, plan.ID, c.Dir)
	}
	if err := c.checkRemovable(plan.ID, plan.Path); err != nil {
		return err
	}
	if err := os.RemoveAll(plan.Path); err != nil {
		return fmt.Errorf("removing %s stopped part way: %w (check its permissions and run the remove again)", plan.Path, err)
	}
	if plan.Locks == "" {
		return nil
	}
	if plan.Locks != filepath.Join(c.Dir, ".locks", folder) {
		return fmt.Errorf("refusing to remove %s: it is not the lock folder of %s in %s", plan.Locks, plan.ID, c.Dir)
	}
	info, err := os.Lstat(plan.Locks)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil || !info.IsDir() {
		return nil // not ours to judge: leave anything odd in .locks alone
	}
	if err := os.RemoveAll(plan.Locks); err != nil {
		return fmt.Errorf("removed %s, but not its lock folder %s: %w", plan.Path, plan.Locks, err)
	}
	return nil
}

// checkRemovable requires path to be a real directory (not a symlink)
// whose parent is the cache dir.
func (c Cache) checkRemovable(id, path string) error {
	if filepath.Dir(path) != filepath.Clean(c.Dir) {
		return fmt.Errorf("refusing to remove %s: it is not directly inside the cache %s", path, c.Dir)
	}
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s is not in the cache (%s)", id, c.Dir)
	}
	if err != nil {
		return fmt.Errorf("cannot check the cache folder of %s at %s: %w", id, path, err)
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("refusing to remove %s: it is a symlink, not a real folder of the cache; delete the link (and, if you want, what it points at) yourself", path)
	}
	if !info.IsDir() {
		return fmt.Errorf("refusing to remove %s: it is a file, not a model folder; delete it yourself if it is not needed", path)
	}
	return nil
}
