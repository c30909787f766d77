package hfhub

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Progress is one report of Download. Done and Total count the bytes of all
// selected files, including those already cached or resumed from a partial
// file; Fetched counts only the bytes received in this run, so a rate and
// ETA should be computed from it. Done can go down when a server ignores a
// resume request and a file starts over.
type Progress struct {
	File                  string // the file this report is about (slash path in the repo)
	FileDone, FileTotal   int64
	Done, Total           int64
	FilesDone, FilesTotal int
	Fetched               int64
}

// DownloadResult describes a finished download.
type DownloadResult struct {
	ID, Commit string
	Path       string // the snapshot folder, what mlx-lm loads
	Files      int
	Bytes      int64 // size of the files in the snapshot
	Fetched    int64 // bytes actually transferred this run
}

// Download fetches what mlx-lm needs of model id at revision ("" means
// main) into cache, in huggingface_hub's layout: blobs/<etag>, relative
// symlinks (or copies) in snapshots/<commit>, and refs/<revision> when the
// revision is a branch or tag. Files already cached are not fetched again;
// an interrupted file resumes from blobs/<etag>.incomplete, here or in a
// later run. Every blob is checked against its ETag (SHA-256 for LFS files,
// the git blob SHA-1 otherwise) before it is used.
//
// onProgress may be nil. It is called from the download goroutines, one
// call at a time (never concurrently), so it must return quickly and must
// not call back into the Client.
func (c *Client) Download(ctx context.Context, cache Cache, id, revision string, onProgress func(Progress)) (DownloadResult, error) {
	if err := ValidateModelID(id); err != nil {
		return DownloadResult{}, err
	}
	explicitRevision := revision != ""
	if !explicitRevision {
		revision = "main"
	}
	if err := validateRevision(revision); err != nil {
		return DownloadResult{}, err
	}
	if cache.Dir == "" {
		return DownloadResult{}, errors.New("no Hugging Face cache directory is set (HF_HUB_CACHE or HF_HOME)")
	}
	if c.Offline {
		return DownloadResult{}, offlineError(cache, id)
	}

	info, err := c.modelInfo(ctx, id, revision, explicitRevision)
	if err != nil {
		return DownloadResult{}, err
	}
	files, err := selectFiles(id, revision, info)
	if err != nil {
		return DownloadResult{}, err
	}

	modelDir := filepath.Join(cache.Dir, RepoFolderName(id))
	_, statErr := os.Lstat(modelDir)
	newFolder := errors.Is(statErr, fs.ErrNotExist)
	d := &download{
		client:      c,
		id:          id,
		commit:      info.SHA,
		modelDir:    modelDir,
		blobDir:     filepath.Join(modelDir, "blobs"),
		snapshotDir: filepath.Join(modelDir, "snapshots", info.SHA),
		progress:    newTracker(files, onProgress),
	}
	c.logger().Info("downloading model", "id", id, "revision", revision, "commit", info.SHA, "files", len(files), "bytes", d.progress.snapshot().Total)

	if err := d.fetchAll(ctx, files); err != nil {
		if newFolder {
			d.removeEmptyFolders()
		}
		return DownloadResult{}, err
	}
	// The ref goes last, so refs/main never names a snapshot that is still
	// missing files (mlx_lm.server lists repos by refs/main).
	if !isCommitHash(revision) {
		if err := writeRef(modelDir, revision, info.SHA); err != nil {
			return DownloadResult{}, err
		}
	}
	done := d.progress.snapshot()
	return DownloadResult{
		ID:      id,
		Commit:  info.SHA,
		Path:    d.snapshotDir,
		Files:   len(files),
		Bytes:   done.Total,
		Fetched: done.Fetched,
	}, nil
}

func offlineError(cache Cache, id string) error {
	message := fmt.Sprintf("cannot download %s: HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set, so the Hub is not contacted; unset it to download", id)
	if model, ok, _ := cache.Lookup(id); ok && model.Revision != "" {
		message += fmt.Sprintf(" (a copy is already cached at %s)", filepath.Join(model.Dir, "snapshots", model.Revision))
	}
	return errors.New(message)
}

// hubModelInfo is the part of GET /api/models/{id}?blobs=true we use.
type hubModelInfo struct {
	SHA      string `json:"sha"`
	Siblings []struct {
		Name   string `json:"rfilename"`
		Size   int64  `json:"size"`
		BlobID string `json:"blobId"`
		LFS    *struct {
			SHA256 string `json:"sha256"`
			Size   int64  `json:"size"`
		} `json:"lfs"`
	} `json:"siblings"`
}

// modelInfo asks the Hub for the commit of revision and its file list with
// sizes and blob ids. Like huggingface_hub, the plain /api/models/{id} is
// used when no revision was given.
func (c *Client) modelInfo(ctx context.Context, id, revision string, explicitRevision bool) (hubModelInfo, error) {
	target := c.endpoint() + "/api/models/" + id
	if explicitRevision {
		target += "/revision/" + url.PathEscape(revision)
	}
	target += "?blobs=true"
	r := request{id: id, revision: revision, url: target}

	var info hubModelInfo
	err := c.retry(ctx, func() (bool, error) {
		ctx, cancel := context.WithTimeout(ctx, metadataTimeout)
		defer cancel()
		header := http.Header{}
		header.Set("Accept", "application/json")
		resp, err := c.send(ctx, http.MethodGet, target, header, false)
		if err != nil {
			return false, err
		}
		if resp.StatusCode != http.StatusOK {
			return false, c.statusError(resp, r)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxInfoBytes+1))
		if err != nil {
			return false, &temporaryError{err: fmt.Errorf("the connection broke while reading %s: %w", target, err)}
		}
		if len(body) > maxInfoBytes {
			return false, fmt.Errorf("the model info at %s is larger than %d MB; is HF_ENDPOINT a Hugging Face Hub?", target, maxInfoBytes>>20)
		}
		info = hubModelInfo{}
		if err := json.Unmarshal(body, &info); err != nil {
			return false, fmt.Errorf("the answer from %s is not model info JSON (%v); check HF_ENDPOINT", target, err)
		}
		return false, nil
	})
	if err != nil {
		return hubModelInfo{}, err
	}
	if !isCommitHash(info.SHA) {
		return hubModelInfo{}, fmt.Errorf("the model info at %s has no commit hash (\"sha\": %q); check HF_ENDPOINT", target, info.SHA)
	}
	return info, nil
}

// remoteFile is one file to fetch, as the model info describes it.
type remoteFile struct {
	name string // slash path in the repo
	size int64  // 0 when the Hub did not say
	etag string // expected blob name: the LFS sha256, else the git blob id
}

// selectFiles keeps the files mlx-lm would download, biggest first so the
// long transfers start early.
func selectFiles(id, revision string, info hubModelInfo) ([]remoteFile, error) {
	if len(info.Siblings) == 0 {
		return nil, fmt.Errorf("the Hub lists no files for %s at revision %q", id, revision)
	}
	var files []remoteFile
	var others []string
	hasWeights := false
	for _, sibling := range info.Siblings {
		if !wanted(sibling.Name) {
			others = append(others, sibling.Name)
			continue
		}
		if !isCleanRelativePath(sibling.Name) {
			return nil, fmt.Errorf("the Hub lists a file with an unsafe name %q in %s; refusing to download it", sibling.Name, id)
		}
		f := remoteFile{name: sibling.Name, size: sibling.Size, etag: sibling.BlobID}
		if sibling.LFS != nil {
			f.etag = sibling.LFS.SHA256
			if sibling.LFS.Size > 0 {
				f.size = sibling.LFS.Size
			}
		}
		hasWeights = hasWeights || strings.HasSuffix(f.name, ".safetensors")
		files = append(files, f)
	}
	if !hasWeights {
		if len(others) > 8 {
			others = append(others[:8], "…")
		}
		return nil, fmt.Errorf("%s has no .safetensors weights at revision %q, so mlx-lm cannot load it (other files: %s); choose an MLX conversion, for example from https://huggingface.co/mlx-community", id, revision, strings.Join(others, ", "))
	}
	slices.SortStableFunc(files, func(a, b remoteFile) int {
		if c := cmp.Compare(b.size, a.size); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	return files, nil
}

// download is one Download call's state.
type download struct {
	client      *Client
	id, commit  string
	modelDir    string
	blobDir     string
	snapshotDir string
	progress    *tracker
	blobLocks   keyedMutex  // two files with the same content share one blob
	noSymlinks  atomic.Bool // creating a symlink failed once: copy from then on
}

// fetchAll runs the files through Parallel workers. After the first
// failure no new file starts, but files in flight finish, so as much as
// possible is saved for the next run.
func (d *download) fetchAll(ctx context.Context, files []remoteFile) error {
	workers := d.client.Parallel
	if workers <= 0 {
		workers = defaultParallel
	}
	workers = min(workers, len(files))

	var (
		mu     sync.Mutex
		errs   []error
		failed atomic.Bool
		wg     sync.WaitGroup
	)
	jobs := make(chan remoteFile)
	for range workers {
		wg.Go(func() {
			for f := range jobs {
				if failed.Load() || ctx.Err() != nil {
					continue
				}
				if err := d.fetchFile(ctx, f); err != nil {
					failed.Store(true)
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
feed:
	for _, f := range files {
		if failed.Load() {
			break
		}
		select {
		case jobs <- f:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()

	if ctx.Err() != nil {
		return fmt.Errorf("the download of %s stopped (%w); run it again to resume where it stopped", d.id, context.Cause(ctx))
	}
	return errors.Join(errs...)
}

// fetchFile makes one file present in the snapshot.
func (d *download) fetchFile(ctx context.Context, f remoteFile) error {
	snapshotPath := filepath.Join(d.snapshotDir, filepath.FromSlash(f.name))
	// Already in this snapshot (an earlier run); Stat follows the link, so
	// a broken one is fetched again.
	if info, err := os.Stat(snapshotPath); err == nil && info.Mode().IsRegular() && (f.size <= 0 || info.Size() == f.size) {
		d.progress.setTotal(f.name, info.Size())
		d.progress.set(f.name, info.Size(), 0, true)
		return nil
	}
	// The blob may be cached for another revision; the model info already
	// names it, so no request is needed.
	if isDigest(f.etag) && f.size > 0 {
		placed, err := d.placeIfPresent(f.etag, f.size, snapshotPath)
		if err != nil {
			return err
		}
		if placed {
			d.progress.set(f.name, f.size, 0, true)
			return nil
		}
	}

	meta, err := d.client.fileMetadata(ctx, d.id, d.commit, f.name)
	if err != nil {
		return err
	}
	if meta.commit != d.commit {
		d.client.logger().Warn("the Hub resolved a file to another commit", "file", f.name, "expected", d.commit, "got", meta.commit)
	}
	d.progress.setTotal(f.name, meta.size)

	unlock := d.blobLocks.lock(meta.etag)
	defer unlock()
	blob := filepath.Join(d.blobDir, meta.etag)
	newBlob := false
	if info, err := os.Stat(blob); err != nil || info.Size() != meta.size {
		if err := d.downloadBlob(ctx, f.name, meta); err != nil {
			return err
		}
		newBlob = true
	}
	if err := d.place(blob, snapshotPath, newBlob); err != nil {
		return err
	}
	d.progress.set(f.name, meta.size, 0, true)
	return nil
}

// placeIfPresent links snapshotPath to blobs/<etag> when that blob exists
// with the expected size.
func (d *download) placeIfPresent(etag string, size int64, snapshotPath string) (bool, error) {
	unlock := d.blobLocks.lock(etag)
	defer unlock()
	blob := filepath.Join(d.blobDir, etag)
	if info, err := os.Stat(blob); err != nil || !info.Mode().IsRegular() || info.Size() != size {
		return false, nil
	}
	return true, d.place(blob, snapshotPath, false)
}
