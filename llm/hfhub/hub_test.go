package hfhub

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// hubFile is one file of the fake Hub's repo.
type hubFile struct {
	name    string
	content []byte
	lfs     bool // served through the CDN redirect, ETag = SHA-256
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func gitBlobSHA1(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// etag is what the real Hub announces: SHA-256 for LFS files, the git blob
// id otherwise.
func (f hubFile) etag() string {
	if f.lfs {
		return sha256Hex(f.content)
	}
	return gitBlobSHA1(f.content)
}

// hubRequest is one request either server saw.
type hubRequest struct {
	server, method, path, auth, rangeHeader string
}

// fakeHub is an httptest Hub (model info, resolve with HEAD/GET) plus a
// second server acting as the CDN that LFS files redirect to.
type fakeHub struct {
	t        *testing.T
	id       string // "org/tiny"
	renamed  string // an old id that redirects (relatively) to id; "" for none
	commit   string
	tags     []string // revisions besides main that resolve to commit
	files    []hubFile
	hub, cdn *httptest.Server

	// Knobs, set before a download.
	cutFile   string // cut the connection once after cutAfter bytes of this file
	cutAfter  int64
	wrongETag string // the HEAD of this file announces another file's ETag
	// intercept, when set, may answer a request itself (return true).
	intercept func(server string, w http.ResponseWriter, r *http.Request) bool

	mu       sync.Mutex
	served   int64 // file bytes written by GETs on both servers
	cutDone  bool
	requests []hubRequest
}

func newFakeHub(t *testing.T, id string, files []hubFile) *fakeHub {
	h := &fakeHub{t: t, id: id, commit: "0123456789abcdef0123456789abcdef01234567", files: files}
	h.hub = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serve("hub", w, r) }))
	h.cdn = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serve("cdn", w, r) }))
	t.Cleanup(h.hub.Close)
	t.Cleanup(h.cdn.Close)
	return h
}

func (h *fakeHub) servedBytes() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.served
}

func (h *fakeHub) seen() []hubRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hubRequest(nil), h.requests...)
}

func (h *fakeHub) file(name string) (hubFile, bool) {
	for _, f := range h.files {
		if f.name == name {
			return f, true
		}
	}
	return hubFile{}, false
}

func (h *fakeHub) serve(server string, w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.requests = append(h.requests, hubRequest{server, r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Range")})
	h.mu.Unlock()
	if h.intercept != nil && h.intercept(server, w, r) {
		return
	}
	if server == "cdn" {
		h.serveCDN(w, r)
		return
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/api/models/"); ok {
		h.serveInfo(w, r, rest)
		return
	}
	h.serveResolve(w, r)
}

// serveInfo answers /api/models/{id}[/revision/{rev}]?blobs=true.
func (h *fakeHub) serveInfo(w http.ResponseWriter, r *http.Request, rest string) {
	parts := strings.SplitN(rest, "/", 4)
	if len(parts) < 2 {
		http.NotFound(w, r)
		return
	}
	id, revision := parts[0]+"/"+parts[1], "main"
	if len(parts) == 4 && parts[2] == "revision" {
		revision = parts[3]
	} else if len(parts) != 2 {
		http.NotFound(w, r)
		return
	}
	if h.renamed != "" && id == h.renamed {
		target := "/api/models/" + h.id + strings.TrimPrefix(rest, h.renamed) + "?" + r.URL.RawQuery
		w.Header().Set("Location", target)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	if id != h.id {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		w.Header().Set("X-Error-Message", "Repository not found")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if !h.knownRevision(revision) {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		w.Header().Set("X-Error-Message", "Invalid rev id: "+revision)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if r.URL.Query().Get("blobs") != "true" {
		h.t.Errorf("model info requested without blobs=true: %s", r.URL)
	}
	type lfs struct {
		SHA256      string `json:"sha256"`
		Size        int    `json:"size"`
		PointerSize int    `json:"pointerSize"`
	}
	type sibling struct {
		Name   string `json:"rfilename"`
		Size   int    `json:"size"`
		BlobID string `json:"blobId"`
		LFS    *lfs   `json:"lfs,omitempty"`
	}
	var siblings []sibling
	for _, f := range h.files {
		s := sibling{Name: f.name, Size: len(f.content), BlobID: gitBlobSHA1(f.content)}
		if f.lfs {
			pointer := lfsPointer(f)
			s.BlobID = gitBlobSHA1(pointer)
			s.LFS = &lfs{SHA256: f.etag(), Size: len(f.content), PointerSize: len(pointer)}
		}
		siblings = append(siblings, s)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"id": h.id, "sha": h.commit, "private": false, "siblings": siblings})
}

func lfsPointer(f hubFile) []byte {
	return fmt.Appendf(nil, "version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", f.etag(), len(f.content))
}

func (h *fakeHub) knownRevision(revision string) bool {
	if revision == "main" || revision == h.commit {
		return true
	}
	for _, tag := range h.tags {
		if revision == tag {
			return true
		}
	}
	return false
}

// serveResolve answers HEAD and GET of /{id}/resolve/{rev}/{file}.
func (h *fakeHub) serveResolve(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 5)
	if len(parts) < 5 || parts[2] != "resolve" {
		http.NotFound(w, r)
		return
	}
	id, revision, name := parts[0]+"/"+parts[1], parts[3], parts[4]
	if h.renamed != "" && id == h.renamed {
		w.Header().Set("Location", "/"+h.id+"/resolve/"+revision+"/"+name)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	if id != h.id {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if !h.knownRevision(revision) {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	f, ok := h.file(name)
	if !ok {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		w.Header().Set("X-Repo-Commit", h.commit)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	etag := f.etag()
	if name == h.wrongETag {
		other := append([]byte("not "), f.content...)
		if f.lfs {
			etag = sha256Hex(other)
		} else {
			etag = gitBlobSHA1(other)
		}
	}
	w.Header().Set("X-Repo-Commit", h.commit)
	if f.lfs {
		w.Header().Set("ETag", `"`+gitBlobSHA1(lfsPointer(f))+`"`)
		w.Header().Set("X-Linked-Etag", `"`+etag+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(f.content)))
		w.Header().Set("Location", h.cdn.URL+"/lfs/"+f.etag()+"?X-Amz-Signature=abc")
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `W/"`+etag+`"`)
	h.serveContent(w, r, f)
}

func (h *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	sha, ok := strings.CutPrefix(r.URL.Path, "/lfs/")
	if !ok || r.URL.Query().Get("X-Amz-Signature") == "" {
		http.Error(w, "bad signature", http.StatusForbidden)
		return
	}
	for _, f := range h.files {
		if f.lfs && f.etag() == sha {
			h.serveContent(w, r, f)
			return
		}
	}
	http.NotFound(w, r)
}

// serveContent serves f with "bytes=N-" Range support, and cuts the
// connection once after cutAfter bytes of cutFile.
func (h *fakeHub) serveContent(w http.ResponseWriter, r *http.Request, f hubFile) {
	size := int64(len(f.content))
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
		return
	}
	start, status := int64(0), http.StatusOK
	if rangeHeader := r.Header.Get("Range"); rangeHeader != "" {
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(rangeHeader, "bytes="), "-"), 10, 64)
		if err != nil || n >= size {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start, status = n, http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, size-1, size))
	}
	body := f.content[start:]
	h.mu.Lock()
	cut := f.name == h.cutFile && !h.cutDone && start < h.cutAfter
	if cut {
		h.cutDone = true
	}
	h.mu.Unlock()

	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if cut {
		body = body[:h.cutAfter-start]
	}
	n, _ := w.Write(body)
	h.mu.Lock()
	h.served += int64(n)
	h.mu.Unlock()
	if cut {
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection mid-body
	}
}
