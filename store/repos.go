package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
)

// Repo is one Git repository cicdllm generates samples from.
type Repo struct {
	ID            int64
	URL           string
	Name          string // host/owner/name, unique
	LocalPath     string
	HeadCommit    string // empty until cloned
	DefaultBranch string
	License       string
	LastScraped   time.Time // zero = never
	LastError     string
	CreatedAt     time.Time
}

const repoColumns = `repo_id, url, name, local_path, head_commit, default_branch, license,
	last_scraped, last_error, created_at`

func scanRepo(stmt *sqlite.Stmt) Repo {
	return Repo{
		ID:            stmt.ColumnInt64(0),
		URL:           stmt.ColumnText(1),
		Name:          stmt.ColumnText(2),
		LocalPath:     stmt.ColumnText(3),
		HeadCommit:    stmt.ColumnText(4),
		DefaultBranch: stmt.ColumnText(5),
		License:       stmt.ColumnText(6),
		LastScraped:   parseTime(stmt, 7),
		LastError:     stmt.ColumnText(8),
		CreatedAt:     parseTime(stmt, 9),
	}
}

// UpsertRepo inserts r, or, if a repository with r.URL exists, replaces
// every field but ID and CreatedAt with r's. It returns the repo_id.
func (s *Store) UpsertRepo(ctx context.Context, r Repo) (int64, error) {
	if strings.TrimSpace(r.URL) == "" || strings.TrimSpace(r.Name) == "" {
		return 0, errors.New("save repository: URL and name are required")
	}
	var id int64
	err := s.write(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, `
			INSERT INTO Repos (url, name, local_path, head_commit, default_branch, license, last_scraped, last_error)
			VALUES (:url, :name, :local_path, :head_commit, :default_branch, :license, :last_scraped, :last_error)
			ON CONFLICT (url) DO UPDATE SET
				name = excluded.name,
				local_path = excluded.local_path,
				head_commit = excluded.head_commit,
				default_branch = excluded.default_branch,
				license = excluded.license,
				last_scraped = excluded.last_scraped,
				last_error = excluded.last_error
			RETURNING repo_id;`,
			map[string]any{
				":url":            r.URL,
				":name":           r.Name,
				":local_path":     r.LocalPath,
				":head_commit":    r.HeadCommit,
				":default_branch": r.DefaultBranch,
				":license":        r.License,
				":last_scraped":   sqlTime(r.LastScraped),
				":last_error":     r.LastError,
			},
			func(stmt *sqlite.Stmt) error {
				id = stmt.ColumnInt64(0)
				return nil
			})
	})
	if isConstraint(err, sqlite.ResultConstraintUnique) {
		return 0, fmt.Errorf("save repository %s: another repository is already named %q", r.URL, r.Name)
	}
	if err != nil {
		return 0, fmt.Errorf("save repository %s: %w", r.URL, err)
	}
	return id, nil
}

// Repos returns every repository ordered by name.
func (s *Store) Repos(ctx context.Context) ([]Repo, error) {
	var repos []Repo
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, `SELECT `+repoColumns+` FROM Repos ORDER BY name;`, nil,
			func(stmt *sqlite.Stmt) error {
				repos = append(repos, scanRepo(stmt))
				return nil
			})
	})
	if err != nil {
		return nil, fmt.Errorf("list repositories: %w", err)
	}
	return repos, nil
}

// RepoByName returns the repository named name (host/owner/name), or an
// error wrapping ErrNotFound.
func (s *Store) RepoByName(ctx context.Context, name string) (Repo, error) {
	var repo Repo
	found := false
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, `SELECT `+repoColumns+` FROM Repos WHERE name = :name;`,
			map[string]any{":name": name},
			func(stmt *sqlite.Stmt) error {
				repo, found = scanRepo(stmt), true
				return nil
			})
	})
	if err != nil {
		return Repo{}, fmt.Errorf("look up repository %s: %w", name, err)
	}
	if !found {
		return Repo{}, fmt.Errorf("repository %s: %w", name, ErrNotFound)
	}
	return repo, nil
}

// SetRepoError records the last error seen for a repository; an empty msg
// clears it.
func (s *Store) SetRepoError(ctx context.Context, repoID int64, msg string) error {
	err := s.write(ctx, func(conn *sqlite.Conn) error {
		err := execSQL(conn, `UPDATE Repos SET last_error = :msg WHERE repo_id = :repo;`,
			map[string]any{":msg": msg, ":repo": repoID}, nil)
		if err != nil {
			return err
		}
		if conn.Changes() == 0 {
			return fmt.Errorf("repository %d: %w", repoID, ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record repository error: %w", err)
	}
	return nil
}

// NoAssertion is the licence of a repository whose licence could not be
// determined (the SPDX "NOASSERTION").
const NoAssertion = "NOASSERTION"

// LicenseIDs splits an SPDX licence expression into its licence ids, in
// order and without repeats (compared case-insensitively): "(MIT OR
// Apache-2.0) AND BSD-3-Clause" gives MIT, Apache-2.0, BSD-3-Clause. OR is
// read like AND, so a filter or an allow-list accepts an expression only
// when it accepts every id in it. An id WITH its exception stays one id
// ("GPL-2.0 WITH Classpath-exception-2.0"); words not joined by an
// operator stay one id too. An empty expression has no ids. The export
// filter (ExportQuery.Licenses) splits licences the same way in SQL.
func LicenseIDs(expr string) []string {
	var out []string
	seen := map[string]bool{}
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			id := strings.Join(cur, " ")
			if u := strings.ToUpper(id); !seen[u] {
				seen[u] = true
				out = append(out, id)
			}
		}
		cur = cur[:0]
	}
	for _, tok := range strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(expr)) {
		switch strings.ToUpper(tok) {
		case "AND", "OR":
			flush()
		case "WITH":
			cur = append(cur, "WITH")
		default:
			cur = append(cur, tok)
		}
	}
	flush()
	return out
}
