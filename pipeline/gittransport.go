package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// ErrRepoTooLarge reports a clone stopped at scrape.max_repo_size.
var ErrRepoTooLarge = errors.New("the repository is larger than scrape.max_repo_size")

// InstallGitTransport sets up go-git's transports for cicdllm. go-git keeps
// them in a process-wide table, so main calls this once before any clone.
//
//   - http and https go through a client that counts the bytes each clone
//     downloads and stops it at its cap (see withByteBudget), with connect
//     and header timeouts but no overall timeout (the clone's context bounds
//     it).
//   - file and git are removed: go-git's file transport runs the
//     git-upload-pack binary (CVE-2025-21613 was an argument injection
//     through it), and git:// is unauthenticated plain text. Local
//     repositories are opened in place instead, and repos.txt never hands
//     such URLs to a clone.
func InstallGitTransport() {
	base := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
	}
	t := githttp.NewClient(&http.Client{Transport: budgetTransport{base: base}})
	client.InstallProtocol("https", t)
	client.InstallProtocol("http", t)
	client.InstallProtocol("file", nil)
	client.InstallProtocol("git", nil)
}

// byteBudget is the download allowance of one clone, carried in its
// context to the shared transport.
type byteBudget struct {
	max  int64
	used atomic.Int64
}

type budgetKey struct{}

func withByteBudget(ctx context.Context, max int64) (context.Context, *byteBudget) {
	b := &byteBudget{max: max}
	return context.WithValue(ctx, budgetKey{}, b), b
}

type budgetTransport struct{ base http.RoundTripper }

func (t budgetTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if b, ok := req.Context().Value(budgetKey{}).(*byteBudget); ok && b.max > 0 {
		resp.Body = &budgetBody{ReadCloser: resp.Body, budget: b}
	}
	return resp, nil
}

type budgetBody struct {
	io.ReadCloser
	budget *byteBudget
}

func (b *budgetBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if used := b.budget.used.Add(int64(n)); used > b.budget.max {
		return n, fmt.Errorf("%w (%s); raise it or remove the repository from repos.txt", ErrRepoTooLarge, Size(b.budget.max))
	}
	return n, err
}
