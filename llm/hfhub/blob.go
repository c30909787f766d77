package hfhub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// downloadBlob fetches meta into blobs/<etag>. The bytes go to
// blobs/<etag>.incomplete first, which survives an interruption (also
// across runs) and is resumed with a Range request; only verified content
// is renamed to blobs/<etag>.
func (d *download) downloadBlob(ctx context.Context, name string, meta fileMeta) error {
	if err := os.MkdirAll(d.blobDir, 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w (check that the cache is writable)", d.blobDir, err)
	}
	partialPath := filepath.Join(d.blobDir, meta.etag+".incomplete")
	partial, err := os.OpenFile(partialPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("cannot open %s: %w (check that the cache is writable)", partialPath, err)
	}
	closed := false
	defer func() {
		if !closed {
			partial.Close()
		}
	}()

	fetch := &rangeFetch{
		d:       d,
		name:    name,
		meta:    meta,
		partial: partial,
		path:    partialPath,
		check:   newChecksum(meta.etag, meta.size),
	}
	if err := fetch.resume(); err != nil {
		return err
	}
	r := request{id: d.id, revision: d.commit, file: name, url: meta.location}
	err = d.client.retry(ctx, func() (bool, error) {
		if fetch.offset == meta.size {
			return false, nil
		}
		received, err := fetch.once(ctx, r)
		return received > 0, err
	})
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("downloading %s of %s: %w (the %d bytes received are kept in %s; run the download again to resume)", name, d.id, err, fetch.offset, partialPath)
	}

	if ok, got := fetch.check.verify(); !ok {
		partial.Close()
		closed = true
		removeErr := os.Remove(partialPath)
		message := fmt.Sprintf("%s of %s does not match its checksum: expected %s %s, got %s; the partial file was deleted, so run the download again (if it fails the same way, something between you and %s alters the file)",
			name, d.id, fetch.check.kind, meta.etag, got, hostOf(meta.location))
		if removeErr != nil {
			message += fmt.Sprintf("; delete %s by hand (%v)", partialPath, removeErr)
		}
		return errors.New(message)
	}
	// Flush before the rename: a blob must never look complete unless it is.
	if err := partial.Sync(); err != nil {
		return fmt.Errorf("cannot write %s: %w (is the disk full?)", partialPath, err)
	}
	closed = true
	if err := partial.Close(); err != nil {
		return fmt.Errorf("cannot write %s: %w (is the disk full?)", partialPath, err)
	}
	blob := filepath.Join(d.blobDir, meta.etag)
	if err := os.Rename(partialPath, blob); err != nil {
		return fmt.Errorf("cannot move %s to %s: %w", partialPath, blob, err)
	}
	return nil
}

// rangeFetch appends one blob's bytes to its partial file, hashing as it
// goes, across retries.
type rangeFetch struct {
	d       *download
	name    string
	meta    fileMeta
	partial *os.File
	path    string
	check   *checksum
	offset  int64 // bytes in the partial file, all hashed
}

// resume hashes what an earlier attempt left so the check covers the whole
// file without downloading that part again.
func (f *rangeFetch) resume() error {
	size, err := f.partial.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", f.path, err)
	}
	if size > f.meta.size {
		return f.restart()
	}
	if size > 0 {
		if _, err := io.Copy(f.check, io.NewSectionReader(f.partial, 0, size)); err != nil {
			return fmt.Errorf("cannot read %s: %w", f.path, err)
		}
		f.d.client.logger().Info("resuming download", "file", f.name, "from", size, "size", f.meta.size)
	}
	f.offset = size
	f.d.progress.set(f.name, size, 0, false)
	return nil
}

// restart empties the partial file: its content cannot be continued.
func (f *rangeFetch) restart() error {
	if err := f.partial.Truncate(0); err != nil {
		return fmt.Errorf("cannot reset %s: %w", f.path, err)
	}
	if _, err := f.partial.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("cannot reset %s: %w", f.path, err)
	}
	f.check.reset()
	f.offset = 0
	f.d.progress.set(f.name, 0, 0, false)
	return nil
}

// once makes one GET of the rest of the file and appends what arrives. A
// stall (no byte for stallTimeout) or a cut connection is temporary; the
// bytes received so far stay.
func (f *rangeFetch) once(ctx context.Context, r request) (received int64, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stalled := fmt.Errorf("no data from %s for %s", hostOf(r.url), stallTimeout)
	watchdog := time.AfterFunc(stallTimeout, func() { cancel(stalled) })
	defer watchdog.Stop()

	header := http.Header{}
	header.Set("Accept-Encoding", "identity")
	if f.offset > 0 {
		header.Set("Range", fmt.Sprintf("bytes=%d-", f.offset))
	}
	resp, err := f.d.client.send(ctx, http.MethodGet, r.url, header, true)
	if err != nil {
		if context.Cause(ctx) == stalled {
			return 0, &temporaryError{err: stalled}
		}
		return 0, err
	}
	defer resp.Body.Close()

	switch resp.StatusCode {
	case http.StatusOK:
		if f.offset > 0 {
			// The server ignored Range: continuing would corrupt the file.
			f.d.client.logger().Info("server ignored the resume request, starting over", "file", f.name)
			if err := f.restart(); err != nil {
				return 0, err
			}
		}
	case http.StatusPartialContent:
		if start, ok := contentRangeStart(resp.Header.Get("Content-Range")); !ok || start != f.offset {
			if err := f.restart(); err != nil {
				return 0, err
			}
			return 0, &temporaryError{err: fmt.Errorf("%s sent a different part of %s than asked for (%q); starting the file over", hostOf(r.url), f.name, resp.Header.Get("Content-Range"))}
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if err := f.restart(); err != nil {
			return 0, err
		}
		return 0, &temporaryError{err: fmt.Errorf("%s cannot resume %s from byte %d; starting the file over", hostOf(r.url), f.name, f.offset)}
	default:
		return 0, f.d.client.statusError(resp, r)
	}

	buf := make([]byte, 256<<10)
	for {
		n, readErr := resp.Body.Read(buf)
		if n > 0 {
			watchdog.Reset(stallTimeout)
			if int64(n) > f.meta.size-f.offset {
				return received, fmt.Errorf("%s sent more than the %d bytes announced for %s; check HF_ENDPOINT or any proxy in between", hostOf(r.url), f.meta.size, f.name)
			}
			if _, err := f.partial.Write(buf[:n]); err != nil {
				return received, fmt.Errorf("cannot write %s: %w (is the disk full?)", f.path, err)
			}
			f.check.Write(buf[:n])
			f.offset += int64(n)
			received += int64(n)
			f.d.progress.set(f.name, f.offset, int64(n), false)
		}
		if readErr == io.EOF {
			break
		}
		if readErr != nil {
			switch cause := context.Cause(ctx); {
			case cause == stalled:
				return received, &temporaryError{err: stalled}
			case cause != nil:
				return received, cause
			}
			return received, &temporaryError{err: fmt.Errorf("the connection to %s broke after %d of %d bytes of %s: %w", hostOf(r.url), f.offset, f.meta.size, f.name, readErr)}
		}
	}
	if f.offset < f.meta.size {
		return received, &temporaryError{err: fmt.Errorf("%s closed the connection after %d of %d bytes of %s", hostOf(r.url), f.offset, f.meta.size, f.name)}
	}
	return received, nil
}

// contentRangeStart reads N from "bytes N-M/T".
func contentRangeStart(value string) (int64, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(value), "bytes ")
	if !ok {
		return 0, false
	}
	start, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(start, 10, 64)
	return n, err == nil
}

// checksum verifies a blob against its ETag: a 64-hex ETag is the SHA-256
// of the content (LFS), a 40-hex one the git blob id, SHA-1 of
// "blob <size>\x00" + content. Other ETags can only be checked by size.
type checksum struct {
	etag string
	size int64
	kind string // "sha256", "git sha1" or "size"
	hash hash.Hash
	n    int64
}

func newChecksum(etag string, size int64) *checksum {
	c := &checksum{etag: etag, size: size}
	c.reset()
	return c
}

func (c *checksum) reset() {
	c.n = 0
	switch {
	case len(c.etag) == 64 && isLowerHex(c.etag):
		c.kind, c.hash = "sha256", sha256.New()
	case len(c.etag) == 40 && isLowerHex(c.etag):
		c.kind, c.hash = "git sha1", sha1.New()
		fmt.Fprintf(c.hash, "blob %d\x00", c.size)
	default:
		c.kind, c.hash = "size", nil
	}
}

func (c *checksum) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	if c.hash != nil {
		c.hash.Write(p)
	}
	return len(p), nil
}

// verify reports whether the content matches, and what it hashed to.
func (c *checksum) verify() (bool, string) {
	if c.n != c.size {
		return false, fmt.Sprintf("%d bytes instead of %d", c.n, c.size)
	}
	if c.hash == nil {
		return true, c.etag
	}
	got := hex.EncodeToString(c.hash.Sum(nil))
	return got == c.etag, got
}
