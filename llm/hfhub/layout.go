package hfhub

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// place puts a blob into the snapshot: a relative symlink
// (../../blobs/<etag>, one more ../ per folder level), or, when symlinks
// are disabled or the file system refuses them, the file itself: a new
// blob is moved (so blobs/ stays empty, as with huggingface_hub), an
// existing one copied.
func (d *download) place(blob, snapshotPath string, newBlob bool) error {
	if err := os.MkdirAll(filepath.Dir(snapshotPath), 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w (check that the cache is writable)", filepath.Dir(snapshotPath), err)
	}
	if info, err := os.Lstat(snapshotPath); err == nil {
		if info.IsDir() {
			return fmt.Errorf("%s is a folder where the file should go; remove it and run the download again", snapshotPath)
		}
		if err := os.Remove(snapshotPath); err != nil {
			return fmt.Errorf("cannot replace %s: %w", snapshotPath, err)
		}
	}
	if !d.client.DisableSymlinks && !d.noSymlinks.Load() {
		target, err := filepath.Rel(filepath.Dir(snapshotPath), blob)
		if err == nil {
			symlink := d.client.symlink
			if symlink == nil {
				symlink = os.Symlink
			}
			if err = symlink(target, snapshotPath); err == nil {
				return nil
			}
		}
		d.noSymlinks.Store(true)
		d.client.logger().Warn("cannot create symlinks in the cache; copying files into the snapshot instead", "path", snapshotPath, "error", err)
	}
	if newBlob {
		if err := os.Rename(blob, snapshotPath); err != nil {
			return fmt.Errorf("cannot move %s to %s: %w", blob, snapshotPath, err)
		}
		return nil
	}
	return copyBlob(blob, snapshotPath)
}

// copyBlob copies through a temporary file named like huggingface_hub's
// partial downloads, so an interrupted copy is recognisable as incomplete
// and the snapshot only ever holds whole files.
func copyBlob(blob, snapshotPath string) (err error) {
	src, err := os.Open(blob)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", blob, err)
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(blob), filepath.Base(blob)+".*.incomplete")
	if err != nil {
		return fmt.Errorf("cannot copy %s: %w (check that the cache is writable)", blob, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, src); err != nil {
		return fmt.Errorf("cannot copy %s to %s: %w (is the disk full?)", blob, snapshotPath, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("cannot copy %s: %w", blob, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("cannot copy %s to %s: %w (is the disk full?)", blob, snapshotPath, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot copy %s to %s: %w (is the disk full?)", blob, snapshotPath, err)
	}
	if err := os.Rename(tmp.Name(), snapshotPath); err != nil {
		return fmt.Errorf("cannot move the copy of %s to %s: %w", blob, snapshotPath, err)
	}
	return nil
}

// writeRef writes refs/<revision> = commit, without a newline (huggingface_hub
// compares the raw text with folder names). The temporary file lives in
// the model folder, not in refs/, so a crash can never leave a half-written
// file where refs are read.
func writeRef(modelDir, revision, commit string) (err error) {
	path := filepath.Join(modelDir, "refs", filepath.FromSlash(revision))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w (check that the cache is writable)", filepath.Dir(path), err)
	}
	tmp, err := os.CreateTemp(modelDir, ".ref-*.tmp")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w (check that the cache is writable)", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.WriteString(commit); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}

// removeEmptyFolders undoes the folders a failed first download created,
// so no empty model folder is left to confuse cache scanners. os.Remove
// only removes empty folders; anything with content (a partial file to
// resume) stays.
func (d *download) removeEmptyFolders() {
	for _, dir := range []string{d.snapshotDir, filepath.Dir(d.snapshotDir), d.blobDir, d.modelDir} {
		_ = os.Remove(dir)
	}
}
