// Package store is the only place that talks to cicdllm's SQLite database,
// the single source of truth for repositories, generated question/answer
// samples, curation history and per-file progress.
//
// The durability rules every method follows:
//
//   - Each write is one short IMMEDIATE transaction. IMMEDIATE takes the
//     write lock up front, so a transaction that reads and then writes can
//     never fail half way with SQLITE_BUSY_SNAPSHOT; batch variants commit
//     many rows in one transaction to amortise the fsync.
//   - No transaction is ever held open across slow work: the LLM is called
//     between store calls, never inside one. A crash therefore loses at most
//     the answer being generated, and rerunning picks up the pending
//     questions where it stopped.
//   - Curated work is never overwritten. Re-inserting a question is a no-op,
//     answering a sample twice is a no-op, and marking samples stale skips
//     anything a human has edited or rated. Deletion is soft and can be
//     undone; edits keep their history.
//
// The database runs in WAL mode with synchronous=NORMAL: a power cut can lose
// the last few commits but never corrupts the file.
package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitemigration"
	"zombiezen.com/go/sqlite/sqlitex"
)

// ErrNotFound is wrapped by errors about a sample, turn or repository that
// does not exist.
var ErrNotFound = errors.New("not found")

// ErrPendingRemain is wrapped by MarkFileDone when the file still has
// questions waiting for an answer; marking it done would make the next run
// skip them.
var ErrPendingRemain = errors.New("questions are still waiting for answers")

// Why Open could not use a file as the cicdllm database; its error wraps
// one of these (or a *ForeignError). Open never changes such a file.
var (
	ErrNotDatabase = errors.New("not an SQLite database")
	ErrDamaged     = errors.New("the database file is damaged (database disk image is malformed)")
	ErrIsDirectory = errors.New("a directory, not a database file")
)

// ForeignError: the file is an SQLite database, but not cicdllm's.
type ForeignError struct {
	Why string // e.g. "the file belongs to another application (application_id 0x1)"
}

func (e *ForeignError) Error() string { return "not a cicdllm database: " + e.Why }

// unusable marks SQLite's verdicts on a file that is not a usable
// database with the matching error above. The text is checked as well:
// some paths report only the message, not the code.
func unusable(err error) error {
	msg := err.Error()
	switch code := sqlite.ErrCode(err).ToPrimary(); {
	case code == sqlite.ResultNotADB || strings.Contains(msg, "file is not a database"):
		return fmt.Errorf("%w: %w", ErrNotDatabase, err)
	case code == sqlite.ResultCorrupt || strings.Contains(msg, "database disk image is malformed"):
		return fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	return err
}

// Options controls Open.
type Options struct {
	// Lock takes the workspace lock (see LockWorkspace) before touching the
	// database, so two cicdllm processes never generate into one file.
	Lock bool
	// PoolSize is the number of SQLite connections; 0 means 4.
	PoolSize int
	// MaxPageCount caps the database file at this many pages (PRAGMA
	// max_page_count) on every connection; 0 leaves SQLite's default. The
	// crash suite uses it to fill the "disk" at a chosen moment.
	MaxPageCount int
}

// Store is an open cicdllm database. It is safe for concurrent use.
type Store struct {
	path   string
	pool   *sqlitex.Pool
	unlock func() error

	closeOnce sync.Once
	closeErr  error
}

// busyTimeout bounds how long a statement waits for another connection's
// write lock before failing with SQLITE_BUSY, instead of the library default
// of waiting until the context ends.
const busyTimeout = 5 * time.Second

// Open opens (creating if needed) the database at path and brings its
// schema up to date. ctx bounds the migration; it does not bound the
// lifetime of the Store.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("open database: no path given")
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open database: create directory %s: %w", dir, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("open database: %s is %w", path, ErrIsDirectory)
	}

	s := &Store{path: path}
	if opts.Lock {
		release, err := LockWorkspace(dir)
		if err != nil {
			return nil, err
		}
		s.unlock = release
	}

	size := opts.PoolSize
	if size <= 0 {
		size = 4
	}
	pool, err := sqlitex.NewPool(path, sqlitex.PoolOptions{
		PoolSize: size,
		PrepareConn: func(conn *sqlite.Conn) error {
			if err := prepareConn(conn); err != nil {
				return err
			}
			if opts.MaxPageCount <= 0 {
				return nil
			}
			return sqlitex.ExecuteTransient(conn, fmt.Sprintf("PRAGMA max_page_count = %d;", opts.MaxPageCount), nil)
		},
	})
	if err != nil {
		s.releaseLock()
		return nil, fmt.Errorf("open database %s: %w", path, unusable(err))
	}
	s.pool = pool

	if err := s.migrate(ctx); err != nil {
		_ = pool.Close() // the migration error is the one worth reporting
		s.releaseLock()
		return nil, fmt.Errorf("open database %s: %w", path, unusable(err))
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Take(ctx)
	if err != nil {
		return err
	}
	defer s.pool.Put(conn)
	if err := checkAppID(conn); err != nil {
		return err
	}
	return sqlitemigration.Migrate(ctx, conn, schema())
}

// checkAppID repeats the check sqlitemigration makes, to explain the
// failure in words a user can act on.
func checkAppID(conn *sqlite.Conn) error {
	var id int32
	var tables int
	err := sqlitex.ExecuteTransient(conn,
		"SELECT (SELECT application_id FROM pragma_application_id), (SELECT count(*) FROM sqlite_master);",
		&sqlitex.ExecOptions{ResultFunc: func(stmt *sqlite.Stmt) error {
			id, tables = stmt.ColumnInt32(0), stmt.ColumnInt(1)
			return nil
		}})
	switch {
	case err != nil:
		return err
	case id == appID || (id == 0 && tables == 0):
		return nil
	case id == 0:
		return &ForeignError{Why: "the file holds tables but was not created by cicdllm (a database from the Python prototype must be imported, not opened)"}
	default:
		return &ForeignError{Why: fmt.Sprintf("the file belongs to another application (application_id %#x)", id)}
	}
}

// prepareConn runs once per pooled connection. The pragmas run one at a
// time on purpose: a multi-statement script is wrapped in a SAVEPOINT, and
// SQLite silently ignores PRAGMA foreign_keys inside a transaction.
func prepareConn(conn *sqlite.Conn) error {
	conn.SetBusyTimeout(busyTimeout)
	for _, pragma := range []string{
		"PRAGMA foreign_keys = ON;",
		// NORMAL is durable across application crashes in WAL mode and
		// only risks the last commits on power loss, at a fraction of the
		// fsync cost of FULL.
		"PRAGMA synchronous = NORMAL;",
	} {
		if err := sqlitex.ExecuteTransient(conn, pragma, nil); err != nil {
			return fmt.Errorf("configure connection (%s): %w", pragma, err)
		}
	}
	return nil
}

// Path returns the database file path given to Open.
func (s *Store) Path() string { return s.path }

// Close checkpoints the WAL into the main file (best effort), closes every
// connection and releases the workspace lock. Calling it again is a no-op.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), busyTimeout)
		defer cancel()
		if conn, err := s.pool.Take(ctx); err == nil {
			// Best effort: leaves a small database without a large -wal
			// beside it; failure only costs disk space until next time.
			_ = sqlitex.ExecuteTransient(conn, "PRAGMA wal_checkpoint(TRUNCATE);", nil)
			s.pool.Put(conn)
		}
		if err := s.pool.Close(); err != nil {
			s.closeErr = fmt.Errorf("close database %s: %w", s.path, err)
		}
		if err := s.releaseLock(); err != nil && s.closeErr == nil {
			s.closeErr = err
		}
	})
	return s.closeErr
}

func (s *Store) releaseLock() error {
	if s.unlock == nil {
		return nil
	}
	err := s.unlock()
	s.unlock = nil
	return err
}

// Checkpoint copies the WAL back into the database file and truncates it.
func (s *Store) Checkpoint(ctx context.Context) error {
	err := s.withConn(ctx, func(conn *sqlite.Conn) error {
		var busy bool
		err := sqlitex.ExecuteTransient(conn, "PRAGMA wal_checkpoint(TRUNCATE);", &sqlitex.ExecOptions{
			ResultFunc: func(stmt *sqlite.Stmt) error {
				busy = stmt.ColumnInt(0) != 0
				return nil
			},
		})
		if err != nil {
			return err
		}
		if busy {
			return errors.New("the database is in use by another reader or writer; try again later")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("checkpoint database: %w", err)
	}
	return nil
}

// DBSize returns the bytes used on disk by the database file and its WAL.
func (s *Store) DBSize() (int64, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0, fmt.Errorf("database size: %w", err)
	}
	size := fi.Size()
	if wal, err := os.Stat(s.path + "-wal"); err == nil {
		size += wal.Size()
	} else if !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("database size: %w", err)
	}
	return size, nil
}

// IntegrityCheck runs SQLite's integrity check, a foreign key check and the
// FTS5 index check against its content table. It returns "ok" when all
// pass, otherwise a description of every problem found.
func (s *Store) IntegrityCheck(ctx context.Context) (string, error) {
	var problems []string
	err := s.withConn(ctx, func(conn *sqlite.Conn) error {
		err := sqlitex.ExecuteTransient(conn, "PRAGMA integrity_check;", &sqlitex.ExecOptions{
			ResultFunc: func(stmt *sqlite.Stmt) error {
				if msg := stmt.ColumnText(0); msg != "ok" {
					problems = append(problems, msg)
				}
				return nil
			},
		})
		if err != nil {
			return err
		}
		err = sqlitex.ExecuteTransient(conn, "PRAGMA foreign_key_check;", &sqlitex.ExecOptions{
			ResultFunc: func(stmt *sqlite.Stmt) error {
				problems = append(problems, fmt.Sprintf("row %d of %s references missing %s",
					stmt.ColumnInt64(1), stmt.ColumnText(0), stmt.ColumnText(2)))
				return nil
			},
		})
		if err != nil {
			return err
		}
		// The FTS check is spelled as an INSERT, so it needs a write
		// transaction even though it changes nothing.
		ftsErr := func() (err error) {
			end, err := sqlitex.ImmediateTransaction(conn)
			if err != nil {
				return err
			}
			defer end(&err)
			return sqlitex.ExecuteTransient(conn,
				"INSERT INTO TurnsFTS (TurnsFTS, rank) VALUES ('integrity-check', 1);", nil)
		}()
		switch code := sqlite.ErrCode(ftsErr); {
		case ftsErr == nil:
		case code == sqlite.ResultCorrupt || code == sqlite.ResultCorruptVTab:
			problems = append(problems, "full-text index: "+ftsErr.Error())
		default:
			return ftsErr
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("check database integrity: %w", err)
	}
	if len(problems) == 0 {
		return "ok", nil
	}
	return strings.Join(problems, "\n"), nil
}

func (s *Store) withConn(ctx context.Context, fn func(*sqlite.Conn) error) error {
	conn, err := s.pool.Take(ctx)
	if err != nil {
		return err
	}
	defer s.pool.Put(conn)
	return fn(conn)
}

// read runs fn in a deferred (read) transaction so that several statements
// see one consistent snapshot. Keep fn short: an open reader stops
// checkpoints from truncating the WAL.
func (s *Store) read(ctx context.Context, fn func(*sqlite.Conn) error) error {
	return s.withConn(ctx, func(conn *sqlite.Conn) error {
		if err := sqlitex.Execute(conn, "BEGIN DEFERRED;", nil); err != nil {
			return err
		}
		defer func() {
			if conn.AutocommitEnabled() {
				return
			}
			// Must end the transaction even when ctx is already done,
			// or the connection goes back to the pool mid-transaction.
			done := conn.SetInterrupt(nil)
			defer conn.SetInterrupt(done)
			_ = sqlitex.Execute(conn, "ROLLBACK;", nil)
		}()
		return fn(conn)
	})
}

// write runs fn in one IMMEDIATE transaction, committed when fn returns nil
// and rolled back otherwise.
func (s *Store) write(ctx context.Context, fn func(*sqlite.Conn) error) error {
	return s.withConn(ctx, func(conn *sqlite.Conn) (err error) {
		end, err := sqlitex.ImmediateTransaction(conn)
		if err != nil {
			if sqlite.ErrCode(err) == sqlite.ResultBusy {
				return fmt.Errorf("the database is busy with another writer: %w", err)
			}
			return err
		}
		defer end(&err)
		return fn(conn)
	})
}

// execSQL runs one cached statement with named arguments (keys carry their
// ':' prefix) and calls fn for each result row.
func execSQL(conn *sqlite.Conn, query string, args map[string]any, fn func(*sqlite.Stmt) error) error {
	return sqlitex.Execute(conn, query, &sqlitex.ExecOptions{Named: args, ResultFunc: fn})
}

// timeLayout is SQLite's CURRENT_TIMESTAMP format, which the prototype also
// wrote, so both tools can read each other's rows.
const timeLayout = "2006-01-02 15:04:05"

// sqlTime turns a Go time into a bindable value: zero becomes NULL.
func sqlTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeLayout)
}

// parseTime reads a timestamp column; NULL, empty or unparsable text gives
// the zero time rather than an error, since a bad timestamp written by hand
// should not make the whole row unreadable.
func parseTime(stmt *sqlite.Stmt, col int) time.Time {
	if stmt.ColumnType(col) == sqlite.TypeNull {
		return time.Time{}
	}
	s := stmt.ColumnText(col)
	for _, layout := range []string{timeLayout, "2006-01-02 15:04:05.999999999", time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func isConstraint(err error, code sqlite.ResultCode) bool {
	return sqlite.ErrCode(err) == code
}

// IsFull reports whether err is SQLite's "database or disk is full": the
// disk has no room, or the database reached its size limit. The statement
// was rolled back, so the database is intact, but every later write will
// fail the same way until space is freed.
func IsFull(err error) bool {
	return err != nil && sqlite.ErrCode(err).ToPrimary() == sqlite.ResultFull
}
