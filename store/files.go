package store

import (
	"context"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"
)

// File statuses in FileHashes.
const (
	FileStatusDone    = "done"
	FileStatusSkipped = "skipped"
	FileStatusGone    = "gone"
)

// FileDone identifies the file version whose questions are all answered.
type FileDone struct {
	RepoID      int64
	FilePath    string
	ContentHash string // sha256 hex of the content
	BlobOID     string
}

// FileHash is the processing state of one file.
type FileHash struct {
	ID            int64
	RepoID        int64
	FilePath      string
	ContentHash   string
	BlobOID       string
	Status        string // done, skipped or gone
	SkipReason    string
	LastProcessed time.Time
}

// Failure is a file whose processing failed and will be retried.
type Failure struct {
	ID       int64
	RepoID   int64
	RepoName string
	FilePath string
	Reason   string
	Attempts int
	FailedAt time.Time
}

// MarkFileDone records that a file version is fully processed and clears
// its failure, in one transaction. If the file still has pending questions
// it changes nothing and returns an error wrapping ErrPendingRemain: marking
// it done would make the next run skip those questions.
func (s *Store) MarkFileDone(ctx context.Context, f FileDone) error {
	err := s.write(ctx, func(conn *sqlite.Conn) error {
		args := map[string]any{":repo": f.RepoID, ":path": f.FilePath}
		var pending int64
		err := execSQL(conn, `
			SELECT count(*) FROM TrainingSamples
			WHERE repo_id = :repo AND file_path = :path AND status = 'pending';`, args,
			func(stmt *sqlite.Stmt) error {
				pending = stmt.ColumnInt64(0)
				return nil
			})
		if err != nil {
			return err
		}
		if pending > 0 {
			return fmt.Errorf("%d %w", pending, ErrPendingRemain)
		}
		err = upsertFile(conn, f.RepoID, f.FilePath, f.ContentHash, f.BlobOID, FileStatusDone, "")
		if err != nil {
			return err
		}
		return execSQL(conn, `DELETE FROM FailedFiles WHERE repo_id = :repo AND file_path = :path;`, args, nil)
	})
	if err != nil {
		return fmt.Errorf("mark %s done: %w", f.FilePath, err)
	}
	return nil
}

// MarkFileSkipped records that a file version was deliberately not
// processed (binary, too large, vendored...) and clears its failure.
func (s *Store) MarkFileSkipped(ctx context.Context, repoID int64, path, blobOID, reason string) error {
	err := s.write(ctx, func(conn *sqlite.Conn) error {
		if err := upsertFile(conn, repoID, path, "", blobOID, FileStatusSkipped, reason); err != nil {
			return err
		}
		return execSQL(conn, `DELETE FROM FailedFiles WHERE repo_id = :repo AND file_path = :path;`,
			map[string]any{":repo": repoID, ":path": path}, nil)
	})
	if err != nil {
		return fmt.Errorf("mark %s skipped: %w", path, err)
	}
	return nil
}

// MarkFileGone records that a file no longer exists in the repository and
// clears its failure. Its samples are not touched; use MarkStale with an
// empty blob for that.
func (s *Store) MarkFileGone(ctx context.Context, repoID int64, path string) error {
	err := s.write(ctx, func(conn *sqlite.Conn) error {
		if err := upsertFile(conn, repoID, path, "", "", FileStatusGone, ""); err != nil {
			return err
		}
		return execSQL(conn, `DELETE FROM FailedFiles WHERE repo_id = :repo AND file_path = :path;`,
			map[string]any{":repo": repoID, ":path": path}, nil)
	})
	if err != nil {
		return fmt.Errorf("mark %s gone: %w", path, err)
	}
	return nil
}

func upsertFile(conn *sqlite.Conn, repoID int64, path, contentHash, blobOID, status, reason string) error {
	err := execSQL(conn, `
		INSERT INTO FileHashes (repo_id, file_path, content_hash, blob_oid, status, skip_reason, last_processed)
		VALUES (:repo, :path, :hash, :blob, :status, :reason, CURRENT_TIMESTAMP)
		ON CONFLICT (repo_id, file_path) DO UPDATE SET
			content_hash = excluded.content_hash,
			blob_oid = excluded.blob_oid,
			status = excluded.status,
			skip_reason = excluded.skip_reason,
			last_processed = excluded.last_processed;`,
		map[string]any{
			":repo": repoID, ":path": path, ":hash": contentHash, ":blob": blobOID,
			":status": status, ":reason": reason,
		}, nil)
	return notFoundRepo(err, repoID)
}

// notFoundRepo turns a foreign key failure on repo_id into ErrNotFound.
func notFoundRepo(err error, repoID int64) error {
	if isConstraint(err, sqlite.ResultConstraintForeignKey) {
		return fmt.Errorf("repository %d: %w", repoID, ErrNotFound)
	}
	return err
}

const fileColumns = `file_id, repo_id, file_path, content_hash, blob_oid, status, skip_reason, last_processed`

func scanFile(stmt *sqlite.Stmt) FileHash {
	return FileHash{
		ID:            stmt.ColumnInt64(0),
		RepoID:        stmt.ColumnInt64(1),
		FilePath:      stmt.ColumnText(2),
		ContentHash:   stmt.ColumnText(3),
		BlobOID:       stmt.ColumnText(4),
		Status:        stmt.ColumnText(5),
		SkipReason:    stmt.ColumnText(6),
		LastProcessed: parseTime(stmt, 7),
	}
}

// FileState returns the recorded state of one file; ok is false when the
// file has never been recorded.
func (s *Store) FileState(ctx context.Context, repoID int64, path string) (fh FileHash, ok bool, err error) {
	err = s.read(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, `SELECT `+fileColumns+` FROM FileHashes WHERE repo_id = :repo AND file_path = :path;`,
			map[string]any{":repo": repoID, ":path": path},
			func(stmt *sqlite.Stmt) error {
				fh, ok = scanFile(stmt), true
				return nil
			})
	})
	if err != nil {
		return FileHash{}, false, fmt.Errorf("look up state of %s: %w", path, err)
	}
	return fh, ok, nil
}

// FileHashes returns the state of every recorded file of a repository,
// ordered by path.
func (s *Store) FileHashes(ctx context.Context, repoID int64) ([]FileHash, error) {
	var out []FileHash
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, `SELECT `+fileColumns+` FROM FileHashes WHERE repo_id = :repo ORDER BY file_path;`,
			map[string]any{":repo": repoID},
			func(stmt *sqlite.Stmt) error {
				out = append(out, scanFile(stmt))
				return nil
			})
	})
	if err != nil {
		return nil, fmt.Errorf("list file states: %w", err)
	}
	return out, nil
}

// RecordFailure records that processing a file failed, counting attempts.
func (s *Store) RecordFailure(ctx context.Context, repoID int64, path, reason string) error {
	err := s.write(ctx, func(conn *sqlite.Conn) error {
		err := execSQL(conn, `
			INSERT INTO FailedFiles (repo_id, file_path, reason, failed_at)
			VALUES (:repo, :path, :reason, CURRENT_TIMESTAMP)
			ON CONFLICT (repo_id, file_path) DO UPDATE SET
				attempts = attempts + 1,
				reason = excluded.reason,
				failed_at = excluded.failed_at;`,
			map[string]any{":repo": repoID, ":path": path, ":reason": reason}, nil)
		return notFoundRepo(err, repoID)
	})
	if err != nil {
		return fmt.Errorf("record failure of %s: %w", path, err)
	}
	return nil
}

// ClearFailure forgets a file's failure, for example before a manual retry.
func (s *Store) ClearFailure(ctx context.Context, repoID int64, path string) error {
	err := s.write(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, `DELETE FROM FailedFiles WHERE repo_id = :repo AND file_path = :path;`,
			map[string]any{":repo": repoID, ":path": path}, nil)
	})
	if err != nil {
		return fmt.Errorf("clear failure of %s: %w", path, err)
	}
	return nil
}

// Failures returns recorded failures, newest first; limit <= 0 returns all.
func (s *Store) Failures(ctx context.Context, limit int) ([]Failure, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	var out []Failure
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, `
			SELECT f.failed_id, f.repo_id, r.name, f.file_path, COALESCE(f.reason, ''), f.attempts, f.failed_at
			FROM FailedFiles f JOIN Repos r ON r.repo_id = f.repo_id
			ORDER BY f.failed_at DESC, f.failed_id DESC
			LIMIT :limit;`,
			map[string]any{":limit": limit},
			func(stmt *sqlite.Stmt) error {
				out = append(out, Failure{
					ID:       stmt.ColumnInt64(0),
					RepoID:   stmt.ColumnInt64(1),
					RepoName: stmt.ColumnText(2),
					FilePath: stmt.ColumnText(3),
					Reason:   stmt.ColumnText(4),
					Attempts: stmt.ColumnInt(5),
					FailedAt: parseTime(stmt, 6),
				})
				return nil
			})
	})
	if err != nil {
		return nil, fmt.Errorf("list failures: %w", err)
	}
	return out, nil
}

// BlobOwner is the file a piece of content (a git blob) was first done as.
type BlobOwner struct {
	RepoID   int64
	RepoName string
	FilePath string
}

// DoneBlobs maps the blob id of every file done so far to the file it was
// done as (the first by repository and path when several share it), so a
// run can skip content it has already turned into samples elsewhere.
func (s *Store) DoneBlobs(ctx context.Context) (map[string]BlobOwner, error) {
	out := map[string]BlobOwner{}
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, `
			SELECT f.blob_oid, f.repo_id, r.name, f.file_path FROM FileHashes f JOIN Repos r USING (repo_id)
			WHERE f.status = 'done' AND f.blob_oid <> '' ORDER BY f.repo_id DESC, f.file_path DESC;`, nil,
			func(stmt *sqlite.Stmt) error {
				// Descending, so the first file by repository and path is
				// written last and wins.
				out[stmt.ColumnText(0)] = BlobOwner{RepoID: stmt.ColumnInt64(1), RepoName: stmt.ColumnText(2), FilePath: stmt.ColumnText(3)}
				return nil
			})
	})
	if err != nil {
		return nil, fmt.Errorf("list done content: %w", err)
	}
	return out, nil
}
