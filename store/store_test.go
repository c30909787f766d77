package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "cicdllm.db")
	s, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// rawExec runs SQL on a pooled connection, for tests that must look under
// the API or change things it does not allow.
func rawExec(t testing.TB, s *Store, query string, fn func(*sqlite.Stmt) error, args ...any) {
	t.Helper()
	conn, err := s.pool.Take(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer s.pool.Put(conn)
	if err := sqlitex.Execute(conn, query, &sqlitex.ExecOptions{Args: args, ResultFunc: fn}); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func rawInt(t testing.TB, s *Store, query string, args ...any) int64 {
	t.Helper()
	var n int64
	rawExec(t, s, query, func(stmt *sqlite.Stmt) error {
		n = stmt.ColumnInt64(0)
		return nil
	}, args...)
	return n
}

func schemaSQL(t testing.TB, s *Store) string {
	t.Helper()
	var b strings.Builder
	rawExec(t, s, "SELECT type, name, COALESCE(sql, '') FROM sqlite_master ORDER BY type, name;",
		func(stmt *sqlite.Stmt) error {
			b.WriteString(stmt.ColumnText(0) + " " + stmt.ColumnText(1) + " " + stmt.ColumnText(2) + "\n")
			return nil
		})
	return b.String()
}

func TestOpenPragmasOnEveryPooledConn(t *testing.T) {
	const size = 3
	s := openTest(t, Options{PoolSize: size})
	ctx := t.Context()

	// Hold every connection at once so each one's PrepareConn is checked.
	var conns []*sqlite.Conn
	for range size {
		conn, err := s.pool.Take(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	defer func() {
		for _, c := range conns {
			s.pool.Put(c)
		}
	}()
	for i, conn := range conns {
		get := func(pragma string) string {
			var v string
			err := sqlitex.ExecuteTransient(conn, "PRAGMA "+pragma+";", &sqlitex.ExecOptions{
				ResultFunc: func(stmt *sqlite.Stmt) error { v = stmt.ColumnText(0); return nil },
			})
			if err != nil {
				t.Fatalf("conn %d: PRAGMA %s: %v", i, pragma, err)
			}
			return v
		}
		want := map[string]string{
			"application_id": "1667851108", // 0x63696364, "cicd"
			"journal_mode":   "wal",
			"foreign_keys":   "1",
			"synchronous":    "1", // NORMAL
			"user_version":   "4",
		}
		for pragma, w := range want {
			if got := get(pragma); got != w {
				t.Errorf("conn %d: PRAGMA %s = %q, want %q", i, pragma, got, w)
			}
		}
	}
	if n := len(schema().Migrations); n != 4 {
		t.Errorf("user_version expectation is stale: %d migrations", n)
	}
}

func TestMigrationsTwiceAreNoOp(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cicdllm.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertRepo(ctx, Repo{URL: "https://example.com/a/b", Name: "example.com/a/b"}); err != nil {
		t.Fatal(err)
	}
	before := schemaSQL(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if after := schemaSQL(t, s); after != before {
		t.Errorf("schema changed on reopen:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if v := rawInt(t, s, "PRAGMA user_version;"); v != int64(len(schema().Migrations)) {
		t.Errorf("user_version = %d, want %d", v, len(schema().Migrations))
	}
	repos, err := s.Repos(ctx)
	if err != nil || len(repos) != 1 {
		t.Fatalf("repos after reopen = %v, %v; want the one inserted", repos, err)
	}

	// Running a shipped migration again by hand must also change nothing.
	conn, err := s.pool.Take(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = sqlitex.ExecScript(conn, migration1)
	s.pool.Put(conn)
	if err != nil {
		t.Fatalf("re-running migration 1: %v", err)
	}
	if after := schemaSQL(t, s); after != before {
		t.Errorf("schema changed when re-running migration 1")
	}
	if n := rawInt(t, s, "SELECT count(*) FROM Repos;"); n != 1 {
		t.Errorf("repos after re-running migration = %d, want 1", n)
	}
}

func TestOpenRefusesForeignDatabases(t *testing.T) {
	ctx := t.Context()
	for name, setup := range map[string]string{
		"other app": "PRAGMA application_id = 42; CREATE TABLE x (y);",
		"prototype": "CREATE TABLE TrainingSamples (sample_id INTEGER PRIMARY KEY);",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "other.db")
			conn, err := sqlite.OpenConn(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := sqlitex.ExecScript(conn, setup); err != nil {
				t.Fatal(err)
			}
			conn.Close()
			s, err := Open(ctx, path, Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded on a database that is not ours")
			}
			if !strings.Contains(err.Error(), "cicdllm") && !strings.Contains(err.Error(), "another application") {
				t.Errorf("error does not explain the problem: %v", err)
			}
			var foreign *ForeignError
			if !errors.As(err, &foreign) {
				t.Errorf("error is not a *ForeignError: %v", err)
			}
		})
	}
}

// TestOpenNamesWhyAFileIsUnusable: random bytes, a damaged database and a
// directory each give the error a caller can tell apart, and the file is
// left byte for byte as it was.
func TestOpenNamesWhyAFileIsUnusable(t *testing.T) {
	ctx := t.Context()
	good := filepath.Join(t.TempDir(), "good.db")
	s, err := Open(ctx, good, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	damaged := append([]byte(nil), db...)
	for i := 100; i < len(damaged); i++ { // keep the header, ruin every page
		damaged[i] = 0xA5
	}
	for name, c := range map[string]struct {
		content []byte
		want    error
	}{
		"random bytes": {bytes.Repeat([]byte("not sqlite "), 400), ErrNotDatabase},
		"damaged":      {damaged, ErrDamaged},
		"directory":    {nil, ErrIsDirectory},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pipeline.db")
			if c.content == nil {
				if err := os.Mkdir(path, 0o755); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(path, c.content, 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := Open(ctx, path, Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, c.want) {
				t.Errorf("Open: %v; want it to wrap %q", err, c.want)
			}
			if c.content != nil {
				if after, _ := os.ReadFile(path); !bytes.Equal(after, c.content) {
					t.Error("Open changed the file")
				}
			}
		})
	}
}

// openFailsPromptly runs Open in the background and fails the test if it
// has not returned within a generous bound, so a hang is a failure rather
// than a stuck test run.
func openFailsPromptly(t *testing.T, ctx context.Context, path string) error {
	t.Helper()
	type result struct {
		s   *Store
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := Open(ctx, path, Options{Lock: true})
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		if r.err == nil {
			r.s.Close()
			t.Fatalf("Open(%s) succeeded, want an error", path)
		}
		return r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("Open(%s) still blocked after 10s", path)
		return nil
	}
}

func TestOpenBadPathsFailPromptly(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "regular-file")
	if err := os.WriteFile(file, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage", "cicdllm.db")
	if err := os.MkdirAll(filepath.Dir(garbage), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(garbage, []byte(strings.Repeat("this is not sqlite ", 500)), 0o644); err != nil {
		t.Fatal(err)
	}
	isDir := filepath.Join(dir, "isdir", "cicdllm.db")
	if err := os.MkdirAll(isDir, 0o755); err != nil {
		t.Fatal(err)
	}

	for name, path := range map[string]string{
		"under a regular file": filepath.Join(file, "sub", "cicdllm.db"),
		"not a database":       garbage,
		"a directory":          isDir,
		"empty":                "",
	} {
		t.Run(name, func(t *testing.T) {
			err := openFailsPromptly(t, t.Context(), path)
			t.Logf("error: %v", err)
		})
	}

	t.Run("canceled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := openFailsPromptly(t, ctx, filepath.Join(dir, "canceled", "cicdllm.db"))
		if !errors.Is(err, context.Canceled) && sqlite.ErrCode(err) != sqlite.ResultInterrupt {
			t.Errorf("error = %v, want a cancellation", err)
		}
		// The lock must have been released on the failure path.
		release, err := LockWorkspace(filepath.Join(dir, "canceled"))
		if err != nil {
			t.Fatalf("lock still held after a failed Open: %v", err)
		}
		release()
	})
}

func TestCloseTwiceAndCheckpoint(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cicdllm.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	if _, err := s.UpsertRepo(ctx, Repo{URL: "u", Name: "n"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() != 0 {
		t.Errorf("WAL is %d bytes after a TRUNCATE checkpoint", fi.Size())
	}
	size, err := s.DBSize()
	if err != nil || size <= 0 {
		t.Errorf("DBSize = %d, %v", size, err)
	}
	if got, err := s.IntegrityCheck(ctx); err != nil || got != "ok" {
		t.Errorf("IntegrityCheck = %q, %v", got, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
