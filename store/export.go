package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
)

// ExportQuery selects the samples an export writes. The zero value selects
// every active sample whose answer was not cut off.
type ExportQuery struct {
	Statuses         []string // default: active only
	IncludeTruncated bool
	RepoIDs          []int64   // empty: every repository
	MinScore         *float64  // a human rating counts before the judge's score
	Since            time.Time // created at or after; zero: any time
	// Licenses keeps samples whose repository's licence (Repos.license) is
	// made only of these SPDX ids, compared case-insensitively: a
	// repository under "MIT AND Apache-2.0" (or an expression such as
	// "(MIT OR Apache-2.0)") needs every id in the list; an undetected
	// licence ("" or NOASSERTION) matches only when NOASSERTION is listed.
	// Entries may themselves be expressions; their ids are taken. Empty:
	// every licence.
	Licenses []string
}

// ExportSample is a sample with its turns and its repository's provenance.
type ExportSample struct {
	Sample
	RepoURL string
	License string
}

// ExportBatch returns up to limit samples with sample_id > after, in id
// order, turns included. Each call is one short read transaction, so a
// long export never pins the WAL.
func (s *Store) ExportBatch(ctx context.Context, q ExportQuery, after int64, limit int) ([]ExportSample, error) {
	args, err := exportArgs(q)
	if err != nil {
		return nil, err
	}
	args[":after"], args[":limit"] = after, max(1, min(limit, 10_000))
	var out []ExportSample
	err = s.read(ctx, func(conn *sqlite.Conn) error {
		err := execSQL(conn, exportBatchSQL, args, func(stmt *sqlite.Stmt) error {
			out = append(out, ExportSample{Sample: scanSample(stmt),
				RepoURL: stmt.ColumnText(sampleColumnCount), License: stmt.ColumnText(sampleColumnCount + 1)})
			return nil
		})
		if err != nil || len(out) == 0 {
			return err
		}
		// One range scan for the batch's turns instead of a query per sample.
		index := make(map[int64]int, len(out))
		for i, sm := range out {
			index[sm.ID] = i
		}
		return execSQL(conn, `
			SELECT sample_id, turn_id, turn_index, role, content, COALESCE(metadata_json, ''), is_label
			FROM ConversationTurns WHERE sample_id BETWEEN :first AND :last
			ORDER BY sample_id, turn_index;`,
			map[string]any{":first": out[0].ID, ":last": out[len(out)-1].ID}, func(stmt *sqlite.Stmt) error {
				if i, ok := index[stmt.ColumnInt64(0)]; ok {
					out[i].Turns = append(out[i].Turns, Turn{ID: stmt.ColumnInt64(1), Index: stmt.ColumnInt(2),
						Role: stmt.ColumnText(3), Content: stmt.ColumnText(4), MetadataJSON: stmt.ColumnText(5), IsLabel: stmt.ColumnBool(6)})
				}
				return nil
			})
	})
	if err != nil {
		return nil, fmt.Errorf("read samples for export: %w", err)
	}
	return out, nil
}

// ExportGroups counts the selected samples per source file, keyed
// "<repo_id>/<file_path>", so splits can keep each file's samples together.
func (s *Store) ExportGroups(ctx context.Context, q ExportQuery) (map[string]int, error) {
	args, err := exportArgs(q)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	err = s.read(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, `SELECT s.repo_id, s.file_path, count(*)
			FROM TrainingSamples s WHERE `+exportWhere+`
			GROUP BY s.repo_id, s.file_path;`, args, func(stmt *sqlite.Stmt) error {
			out[GroupKey(stmt.ColumnInt64(0), stmt.ColumnText(1))] = stmt.ColumnInt(2)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("count samples per file: %w", err)
	}
	return out, nil
}

// GroupKey names a source file for ExportGroups.
func GroupKey(repoID int64, path string) string { return strconv.FormatInt(repoID, 10) + "/" + path }

// exportBatchSQL walks the rowid range. NOT INDEXED matters: left to
// itself SQLite answers the status filter from the (status, sample_id)
// index and then sorts every remaining row of the table for each batch,
// which made a million-sample export quadratic (357 s instead of seconds).
const exportBatchSQL = `SELECT ` + sampleColumns + `, r.url, r.license
	FROM TrainingSamples s NOT INDEXED JOIN Repos r ON r.repo_id = s.repo_id
	WHERE s.sample_id > :after AND ` + exportWhere + `
	ORDER BY s.sample_id LIMIT :limit;`

// exportWhere filters on the named arguments exportArgs binds. The text is
// constant, so the statement is prepared once per connection; lists travel
// as JSON arrays.
const exportWhere = `s.status IN (SELECT value FROM json_each(:statuses))
	AND (:truncated OR s.truncated = 0)
	AND (:repos IS NULL OR s.repo_id IN (SELECT value FROM json_each(:repos)))
	AND (:min_score IS NULL OR COALESCE(NULLIF(s.human_rating, 0), s.sample_quality_score) >= :min_score)
	AND (:since IS NULL OR s.creation_date >= :since)
	AND (:licenses IS NULL OR s.repo_id IN (SELECT lr.repo_id FROM Repos lr WHERE lr.repo_id NOT IN (` + licenseMisfitSQL + `)))`

// licenseMisfitSQL lists the repositories whose licence has an id outside
// :licenses. A licence is split into its ids as LicenseIDs does: upper
// case, parentheses dropped, OR read as AND, then cut at every " AND " (an
// id WITH its exception stays one id). An empty licence is one empty id,
// which no list holds, and NOASSERTION is an id like any other.
const licenseMisfitSQL = `WITH RECURSIVE lic(repo_id, rest, part) AS (
		SELECT repo_id, replace(replace(replace(upper(trim(CASE WHEN trim(license) = '' THEN 'NOASSERTION' ELSE license END)),
			'(', ''), ')', ''), ' OR ', ' AND ') || ' AND ', NULL FROM Repos
		UNION ALL
		SELECT repo_id, substr(rest, instr(rest, ' AND ') + 5), trim(substr(rest, 1, instr(rest, ' AND ') - 1))
		FROM lic WHERE rest <> ''
	)
	SELECT repo_id FROM lic WHERE part IS NOT NULL AND part NOT IN (SELECT value FROM json_each(:licenses))`

func exportArgs(q ExportQuery) (map[string]any, error) {
	statuses := q.Statuses
	if len(statuses) == 0 {
		statuses = []string{StatusActive}
	}
	for _, st := range statuses {
		switch st {
		case StatusPending, StatusActive, StatusStale, StatusDeleted:
		default:
			return nil, fmt.Errorf("unknown sample status %q; use pending, active, stale or deleted", st)
		}
	}
	sj, _ := json.Marshal(statuses)
	args := map[string]any{":statuses": string(sj), ":truncated": q.IncludeTruncated,
		":repos": nil, ":min_score": nil, ":since": sqlTime(q.Since), ":licenses": nil}
	if len(q.Licenses) > 0 {
		var ids []string
		seen := map[string]bool{}
		for _, l := range q.Licenses {
			for _, id := range LicenseIDs(l) {
				if u := strings.ToUpper(id); !seen[u] {
					seen[u] = true
					ids = append(ids, u)
				}
			}
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("the licence filter %q names no licence", strings.Join(q.Licenses, ","))
		}
		sort.Strings(ids)
		lj, _ := json.Marshal(ids)
		args[":licenses"] = string(lj)
	}
	if len(q.RepoIDs) > 0 {
		rj, _ := json.Marshal(q.RepoIDs)
		args[":repos"] = string(rj)
	}
	if q.MinScore != nil {
		args[":min_score"] = *q.MinScore
	}
	return args, nil
}

// ExportIDs lists the ids of the selected samples, for exports that need a
// different order than ids (shuffle): 8 bytes a sample, not its text.
func (s *Store) ExportIDs(ctx context.Context, q ExportQuery) ([]int64, error) {
	args, err := exportArgs(q)
	if err != nil {
		return nil, err
	}
	var out []int64
	err = s.read(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, `SELECT s.sample_id FROM TrainingSamples s WHERE `+exportWhere+` ORDER BY s.sample_id;`,
			args, func(stmt *sqlite.Stmt) error {
				out = append(out, stmt.ColumnInt64(0))
				return nil
			})
	})
	if err != nil {
		return nil, fmt.Errorf("list samples for export: %w", err)
	}
	return out, nil
}

// ExportByIDs loads the given samples with their turns and provenance, in
// the order given; ids that no longer exist are left out.
func (s *Store) ExportByIDs(ctx context.Context, ids []int64) ([]ExportSample, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	idj, _ := json.Marshal(ids)
	byID := make(map[int64]*ExportSample, len(ids))
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		err := execSQL(conn, `SELECT `+sampleColumns+`, r.url, r.license
			FROM TrainingSamples s JOIN Repos r ON r.repo_id = s.repo_id
			WHERE s.sample_id IN (SELECT value FROM json_each(:ids));`, map[string]any{":ids": string(idj)},
			func(stmt *sqlite.Stmt) error {
				byID[stmt.ColumnInt64(0)] = &ExportSample{Sample: scanSample(stmt),
					RepoURL: stmt.ColumnText(sampleColumnCount), License: stmt.ColumnText(sampleColumnCount + 1)}
				return nil
			})
		if err != nil {
			return err
		}
		return execSQL(conn, `
			SELECT sample_id, turn_id, turn_index, role, content, COALESCE(metadata_json, ''), is_label
			FROM ConversationTurns WHERE sample_id IN (SELECT value FROM json_each(:ids))
			ORDER BY sample_id, turn_index;`, map[string]any{":ids": string(idj)}, func(stmt *sqlite.Stmt) error {
			if sm := byID[stmt.ColumnInt64(0)]; sm != nil {
				sm.Turns = append(sm.Turns, Turn{ID: stmt.ColumnInt64(1), Index: stmt.ColumnInt(2),
					Role: stmt.ColumnText(3), Content: stmt.ColumnText(4), MetadataJSON: stmt.ColumnText(5), IsLabel: stmt.ColumnBool(6)})
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read samples for export: %w", err)
	}
	out := make([]ExportSample, 0, len(ids))
	for _, id := range ids {
		if sm := byID[id]; sm != nil {
			out = append(out, *sm)
		}
	}
	return out, nil
}
