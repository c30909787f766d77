package store

import (
	"context"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"
)

// Stats summarises the whole database.
type Stats struct {
	Repos           int64
	ReposCloned     int64 // repositories with a known head commit
	FilesDone       int64
	FilesSkipped    int64
	FilesFailed     int64
	SamplesByStatus map[string]int64 // every status is present, possibly 0
	Turns           int64
	LastActivity    time.Time // latest sample change, processed file or failure
}

// RepoStat summarises one repository. Samples excludes deleted samples.
type RepoStat struct {
	RepoID    int64
	Name      string
	Samples   int64
	Active    int64
	Turns     int64
	FilesDone int64
	Failed    int64
}

// ScoreBucket counts samples whose judge score rounds (to one decimal, as
// the prototype did) to Score.
type ScoreBucket struct {
	Score float64
	Count int64
}

// Stats returns database-wide counters from one consistent snapshot.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	st := Stats{SamplesByStatus: map[string]int64{}}
	for _, status := range sampleStatuses() {
		st.SamplesByStatus[status] = 0
	}
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		err := execSQL(conn, `
			SELECT
				(SELECT count(*) FROM Repos),
				(SELECT count(*) FROM Repos WHERE head_commit <> ''),
				(SELECT count(*) FROM FileHashes WHERE status = 'done'),
				(SELECT count(*) FROM FileHashes WHERE status = 'skipped'),
				(SELECT count(*) FROM FailedFiles),
				(SELECT count(*) FROM ConversationTurns),
				(SELECT MAX(t) FROM (
					SELECT MAX(updated_at) AS t FROM TrainingSamples
					UNION ALL SELECT MAX(last_processed) FROM FileHashes
					UNION ALL SELECT MAX(failed_at) FROM FailedFiles));`, nil,
			func(stmt *sqlite.Stmt) error {
				st.Repos = stmt.ColumnInt64(0)
				st.ReposCloned = stmt.ColumnInt64(1)
				st.FilesDone = stmt.ColumnInt64(2)
				st.FilesSkipped = stmt.ColumnInt64(3)
				st.FilesFailed = stmt.ColumnInt64(4)
				st.Turns = stmt.ColumnInt64(5)
				st.LastActivity = parseTime(stmt, 6)
				return nil
			})
		if err != nil {
			return err
		}
		return execSQL(conn, `SELECT status, count(*) FROM TrainingSamples GROUP BY status;`, nil,
			func(stmt *sqlite.Stmt) error {
				st.SamplesByStatus[stmt.ColumnText(0)] = stmt.ColumnInt64(1)
				return nil
			})
	})
	if err != nil {
		return Stats{}, fmt.Errorf("read statistics: %w", err)
	}
	return st, nil
}

// RepoStats returns per-repository counters, most samples first, then by
// name.
func (s *Store) RepoStats(ctx context.Context) ([]RepoStat, error) {
	var out []RepoStat
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, `
			SELECT r.repo_id, r.name,
				(SELECT count(*) FROM TrainingSamples s
					WHERE s.repo_id = r.repo_id AND s.status <> 'deleted') AS samples,
				(SELECT count(*) FROM TrainingSamples s
					WHERE s.repo_id = r.repo_id AND s.status = 'active'),
				(SELECT count(*) FROM ConversationTurns t JOIN TrainingSamples s ON s.sample_id = t.sample_id
					WHERE s.repo_id = r.repo_id AND s.status <> 'deleted'),
				(SELECT count(*) FROM FileHashes f WHERE f.repo_id = r.repo_id AND f.status = 'done'),
				(SELECT count(*) FROM FailedFiles f WHERE f.repo_id = r.repo_id)
			FROM Repos r
			ORDER BY samples DESC, r.name;`, nil,
			func(stmt *sqlite.Stmt) error {
				out = append(out, RepoStat{
					RepoID:    stmt.ColumnInt64(0),
					Name:      stmt.ColumnText(1),
					Samples:   stmt.ColumnInt64(2),
					Active:    stmt.ColumnInt64(3),
					Turns:     stmt.ColumnInt64(4),
					FilesDone: stmt.ColumnInt64(5),
					Failed:    stmt.ColumnInt64(6),
				})
				return nil
			})
	})
	if err != nil {
		return nil, fmt.Errorf("read repository statistics: %w", err)
	}
	return out, nil
}

// ScoreHistogram counts scored, non-deleted samples by score rounded to one
// decimal, lowest score first.
func (s *Store) ScoreHistogram(ctx context.Context) ([]ScoreBucket, error) {
	var out []ScoreBucket
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, `
			SELECT ROUND(sample_quality_score, 1) AS bucket, count(*)
			FROM TrainingSamples
			WHERE sample_quality_score IS NOT NULL AND status <> 'deleted'
			GROUP BY bucket ORDER BY bucket;`, nil,
			func(stmt *sqlite.Stmt) error {
				out = append(out, ScoreBucket{Score: stmt.ColumnFloat(0), Count: stmt.ColumnInt64(1)})
				return nil
			})
	})
	if err != nil {
		return nil, fmt.Errorf("read score histogram: %w", err)
	}
	return out, nil
}
