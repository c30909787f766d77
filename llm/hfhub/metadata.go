package hfhub

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// fileMeta is what the HEAD of a resolve URL says about a file.
type fileMeta struct {
	commit   string // X-Repo-Commit
	etag     string // normalised X-Linked-Etag or ETag: the blob name
	size     int64  // X-Linked-Size or Content-Length
	location string // where to GET the bytes (the CDN for LFS files)
}

// fileMetadata is huggingface_hub's get_hf_file_metadata: HEAD the resolve
// URL with Accept-Encoding: identity (so Content-Length is the real size),
// following only relative redirects (a renamed repo), and read the
// metadata from the answer, which for LFS files is the redirect to the CDN.
func (c *Client) fileMetadata(ctx context.Context, id, commit, name string) (fileMeta, error) {
	target := c.endpoint() + "/" + id + "/resolve/" + url.PathEscape(commit) + "/" + escapePath(name)
	r := request{id: id, revision: commit, file: name, url: target}
	var meta fileMeta
	err := c.retry(ctx, func() (bool, error) {
		ctx, cancel := context.WithTimeout(ctx, metadataTimeout)
		defer cancel()
		header := http.Header{}
		header.Set("Accept-Encoding", "identity")
		resp, err := c.send(ctx, http.MethodHead, target, header, false)
		if err != nil {
			return false, err
		}
		if resp.StatusCode >= 400 {
			return false, c.statusError(resp, r)
		}
		drain(resp)
		meta = fileMeta{commit: resp.Header.Get("X-Repo-Commit"), location: resp.Request.URL.String()}
		etag := resp.Header.Get("X-Linked-Etag")
		if etag == "" {
			etag = resp.Header.Get("ETag")
		}
		meta.etag = normalizeETag(etag)
		meta.size = -1
		if size := resp.Header.Get("X-Linked-Size"); size != "" {
			if n, err := strconv.ParseInt(size, 10, 64); err == nil {
				meta.size = n
			}
		} else if !isRedirect(resp.StatusCode) {
			meta.size = resp.ContentLength
		}
		if location := resp.Header.Get("Location"); location != "" {
			if u, err := resp.Request.URL.Parse(location); err == nil {
				meta.location = u.String()
			}
		}
		return false, nil
	})
	if err != nil {
		return fileMeta{}, err
	}
	switch {
	case meta.commit == "":
		return fileMeta{}, fmt.Errorf("%s does not look like the Hugging Face Hub: the answer for %s has no X-Repo-Commit header; check HF_ENDPOINT", c.endpoint(), target)
	case meta.etag == "":
		return fileMeta{}, fmt.Errorf("the Hub's answer for %s has no ETag, so the file cannot be stored or checked; check HF_ENDPOINT or any proxy in between", target)
	case !isSafeBlobName(meta.etag):
		return fileMeta{}, fmt.Errorf("the Hub's answer for %s has an ETag %q that cannot be a cache file name; check HF_ENDPOINT or any proxy in between", target, meta.etag)
	case meta.size < 0:
		return fileMeta{}, fmt.Errorf("the Hub's answer for %s does not give the file size (no X-Linked-Size or Content-Length); check HF_ENDPOINT or any proxy in between", target)
	}
	if !isDigest(meta.etag) {
		c.logger().Warn("the Hub's ETag is not a SHA-1 or SHA-256; the file is checked by size only", "file", name, "etag", meta.etag)
	}
	return meta, nil
}

// normalizeETag is huggingface_hub's etag.lstrip("W/").strip('"').
func normalizeETag(etag string) string {
	return strings.Trim(strings.TrimLeft(etag, "W/"), `"`)
}

// escapePath is Python's quote(filename): each segment escaped, '/' kept.
func escapePath(name string) string {
	segments := strings.Split(name, "/")
	for i, segment := range segments {
		segments[i] = url.PathEscape(segment)
	}
	return strings.Join(segments, "/")
}

// isSafeBlobName keeps an ETag from naming anything but a file in blobs/.
func isSafeBlobName(etag string) bool {
	if etag == "" || len(etag) > 128 || etag[0] == '.' {
		return false
	}
	for i := 0; i < len(etag); i++ {
		if c := etag[i]; !isWordByte(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// isDigest reports an ETag this package can verify: a git SHA-1 or a SHA-256.
func isDigest(etag string) bool {
	return (len(etag) == 40 || len(etag) == 64) && isLowerHex(etag)
}
