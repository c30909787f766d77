package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"zombiezen.com/go/sqlite"
)

// Page size bounds for ListSamples.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// SampleQuery selects samples for ListSamples and CountSamples. Zero values
// mean "no filter".
type SampleQuery struct {
	RepoID   int64
	FilePath string
	// Statuses to include; empty means every status but deleted.
	Statuses []string
	MinScore *float64
	MaxScore *float64
	// Search is free text matched against every turn; a sample matches
	// when any of its turns contains all the words (as prefixes).
	Search string
	// Desc lists newest first.
	Desc bool
	// After is the cursor: SamplePage.Next of the previous page, 0 to start.
	After int64
	// Limit is the page size; 0 means DefaultPageSize, capped at MaxPageSize.
	Limit int
}

// SampleSummary is one row of a sample listing.
type SampleSummary struct {
	ID          int64
	RepoID      int64
	RepoName    string
	FilePath    string
	LineStart   int
	LineEnd     int
	Status      string
	Score       *float64
	HumanRating int
	Edited      bool
	Truncated   bool
	Question    string // first user turn
	Answer      string // last assistant turn, "" while pending
	CreatedAt   time.Time
}

// SamplePage is one page of ListSamples.
type SamplePage struct {
	Samples []SampleSummary
	// Next is the cursor for the following page, 0 when this is the last.
	Next int64
}

// ListSamples returns one page of samples ordered by id. Paging is by
// keyset (sample_id after the cursor), not OFFSET, so every page costs the
// same however deep it is and rows inserted meanwhile never shift pages.
func (s *Store) ListSamples(ctx context.Context, q SampleQuery) (SamplePage, error) {
	where, args, ok, err := sampleFilter(q)
	if err != nil {
		return SamplePage{}, fmt.Errorf("list samples: %w", err)
	}
	if !ok {
		return SamplePage{}, nil
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)

	order := "ASC"
	if q.After > 0 {
		if q.Desc {
			where += ` AND s.sample_id < :after`
		} else {
			where += ` AND s.sample_id > :after`
		}
		args[":after"] = q.After
	}
	if q.Desc {
		order = "DESC"
	}
	// One row more than the page tells whether another page exists
	// without a separate count.
	args[":limit"] = limit + 1
	// The page's ids are chosen first, by id alone, and only those rows
	// get their turns looked up: otherwise SQLite evaluates the turn
	// subqueries for every candidate row before sorting and limiting.
	query := `
		SELECT s.sample_id, s.repo_id, r.name, s.file_path, s.line_start, s.line_end,
			s.status, s.sample_quality_score, COALESCE(s.human_rating, 0),
			s.edited_at IS NOT NULL, s.truncated,
			COALESCE((SELECT content FROM ConversationTurns
				WHERE sample_id = s.sample_id AND role = 'user' ORDER BY turn_index LIMIT 1), ''),
			COALESCE((SELECT content FROM ConversationTurns
				WHERE sample_id = s.sample_id AND role = 'assistant' ORDER BY turn_index DESC LIMIT 1), ''),
			s.creation_date
		FROM (
			SELECT s.sample_id AS id FROM TrainingSamples s
			WHERE ` + where + `
			ORDER BY s.sample_id ` + order + `
			LIMIT :limit
		) AS page
		JOIN TrainingSamples s ON s.sample_id = page.id
		JOIN Repos r ON r.repo_id = s.repo_id
		ORDER BY s.sample_id ` + order + `;`

	page := SamplePage{Samples: make([]SampleSummary, 0, min(limit, 256))}
	err = s.read(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, query, args, func(stmt *sqlite.Stmt) error {
			page.Samples = append(page.Samples, SampleSummary{
				ID:          stmt.ColumnInt64(0),
				RepoID:      stmt.ColumnInt64(1),
				RepoName:    stmt.ColumnText(2),
				FilePath:    stmt.ColumnText(3),
				LineStart:   stmt.ColumnInt(4),
				LineEnd:     stmt.ColumnInt(5),
				Status:      stmt.ColumnText(6),
				Score:       columnFloatPtr(stmt, 7),
				HumanRating: stmt.ColumnInt(8),
				Edited:      stmt.ColumnBool(9),
				Truncated:   stmt.ColumnBool(10),
				Question:    stmt.ColumnText(11),
				Answer:      stmt.ColumnText(12),
				CreatedAt:   parseTime(stmt, 13),
			})
			return nil
		})
	})
	if err != nil {
		return SamplePage{}, fmt.Errorf("list samples: %w", err)
	}
	if len(page.Samples) > limit {
		page.Samples = page.Samples[:limit]
		page.Next = page.Samples[limit-1].ID
	}
	return page, nil
}

// CountSamples counts the samples q selects, ignoring After and Limit.
func (s *Store) CountSamples(ctx context.Context, q SampleQuery) (int64, error) {
	where, args, ok, err := sampleFilter(q)
	if err != nil {
		return 0, fmt.Errorf("count samples: %w", err)
	}
	if !ok {
		return 0, nil
	}
	var n int64
	err = s.read(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, `SELECT count(*) FROM TrainingSamples s WHERE `+where+`;`, args,
			func(stmt *sqlite.Stmt) error {
				n = stmt.ColumnInt64(0)
				return nil
			})
	})
	if err != nil {
		return 0, fmt.Errorf("count samples: %w", err)
	}
	return n, nil
}

func sampleStatuses() []string {
	return []string{StatusPending, StatusActive, StatusStale, StatusDeleted}
}

// sampleFilter builds the WHERE clause for q from fixed fragments; every
// value is bound, never spliced. The number of distinct query texts stays
// small, so the per-connection statement cache stays small too. ok is false
// when the query can match nothing (a search with no searchable words).
func sampleFilter(q SampleQuery) (where string, args map[string]any, ok bool, err error) {
	var b strings.Builder
	b.WriteString("1")
	args = map[string]any{}
	if q.RepoID != 0 {
		b.WriteString(" AND s.repo_id = :repo")
		args[":repo"] = q.RepoID
	}
	if q.FilePath != "" {
		b.WriteString(" AND s.file_path = :path")
		args[":path"] = q.FilePath
	}
	var statuses []string
	for _, st := range q.Statuses {
		if !slices.Contains(sampleStatuses(), st) {
			return "", nil, false, fmt.Errorf("unknown status %q (use pending, active, stale or deleted)", st)
		}
		if !slices.Contains(statuses, st) {
			statuses = append(statuses, st)
		}
	}
	switch {
	case len(statuses) == 0:
		b.WriteString(" AND s.status <> 'deleted'")
	case len(statuses) == len(sampleStatuses()):
		// Every status: a filter would only stop SQLite from walking the
		// primary key in order and stopping at the page end.
	default:
		// Placeholders are numbered by position, so only a few shapes.
		b.WriteString(" AND s.status IN (")
		for i, st := range statuses {
			name := ":status" + strconv.Itoa(i)
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(name)
			args[name] = st
		}
		b.WriteString(")")
	}
	if q.MinScore != nil {
		b.WriteString(" AND s.sample_quality_score >= :min_score")
		args[":min_score"] = *q.MinScore
	}
	if q.MaxScore != nil {
		b.WriteString(" AND s.sample_quality_score <= :max_score")
		args[":max_score"] = *q.MaxScore
	}
	if strings.TrimSpace(q.Search) != "" {
		match := ftsQuery(q.Search)
		if match == "" {
			return "", nil, false, nil
		}
		b.WriteString(` AND s.sample_id IN (
			SELECT t.sample_id FROM TurnsFTS f JOIN ConversationTurns t ON t.turn_id = f.rowid
			WHERE TurnsFTS MATCH :match)`)
		args[":match"] = match
	}
	return b.String(), args, true, nil
}

// ftsQuery turns free text into an FTS5 query that can never be a syntax
// error: each word becomes a quoted phrase prefix ("word"*), with embedded
// quotes doubled, so operators and brackets in user input are plain text.
// Words without a letter or digit are dropped because the tokenizer would
// index nothing for them. Returns "" when no searchable word remains.
func ftsQuery(text string) string {
	var terms []string
	for _, word := range strings.Fields(text) {
		if !strings.ContainsFunc(word, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }) {
			continue
		}
		terms = append(terms, `"`+strings.ReplaceAll(word, `"`, `""`)+`"*`)
	}
	return strings.Join(terms, " ")
}
