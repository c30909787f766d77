package pipeline

import (
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
)

// maxSourceBytes bounds what the sample view reads of a blob; samples come
// from files prepare accepted, which are far smaller.
const maxSourceBytes = 16 << 20

// ReadSource returns the text of the blob a sample was generated from, read
// from the repository's object store (a bare clone or a local repository;
// never its working tree), so the lines shown are exactly those the model
// saw even after the repository moved on.
func ReadSource(repoDir, blobOID string) (string, error) {
	repo, err := selOpenRepo(repoDir)
	if err != nil {
		return "", err
	}
	h := plumbing.NewHash(blobOID)
	if h.IsZero() {
		return "", fmt.Errorf("no blob recorded for this sample")
	}
	blob, err := repo.BlobObject(h)
	if err != nil {
		return "", fmt.Errorf("read blob %s from %s: %w (was the repository reset or re-cloned?)", shortOID(blobOID), repoDir, err)
	}
	rd, err := blob.Reader()
	if err != nil {
		return "", fmt.Errorf("read blob %s: %w", shortOID(blobOID), err)
	}
	defer rd.Close()
	b, err := io.ReadAll(io.LimitReader(rd, maxSourceBytes))
	if err != nil {
		return "", fmt.Errorf("read blob %s: %w", shortOID(blobOID), err)
	}
	return string(b), nil
}

func shortOID(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
