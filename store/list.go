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
	// OnlyEdited keeps samples a human has edited (and not undone).
	OnlyEdited bool
	// OnlyUnrated keeps samples without a human rating.
	OnlyUnrated bool
	// Order is the sort key; the zero value sorts by id.
	Order SampleOrder
	// Desc reverses the order: newest first for OrderID, best first for
	// OrderScore, Z to A for OrderFile.
	Desc bool
	// After is the OrderID cursor: SamplePage.Next of the previous page, 0
	// to start. It is kept beside AfterKey because it is all OrderID needs.
	After int64
	// AfterKey is the cursor for every order: SamplePage.NextKey of the
	// previous page, the zero value to start. For OrderID, a non-zero After
	// wins over AfterKey.
	AfterKey SampleCursor
	// Limit is the page size; 0 means DefaultPageSize, capped at MaxPageSize.
	Limit int
}

// SampleOrder is the sort key of a listing. Every order ends with the
// sample id, so the order is total and a cursor names exactly one place.
type SampleOrder int

const (
	// OrderID sorts by sample id, which is creation order.
	OrderID SampleOrder = iota
	// OrderScore sorts by judge score, unscored samples counting as -1
	// (below every real score), then by id.
	OrderScore
	// OrderFile sorts by file path, then by id.
	OrderFile
)

// String names the order for messages.
func (o SampleOrder) String() string {
	switch o {
	case OrderID:
		return "id"
	case OrderScore:
		return "score"
	case OrderFile:
		return "file"
	}
	return fmt.Sprintf("order(%d)", int(o))
}

// unscoredKey is the sort key of a sample without a judge score. It must
// match the expression index TrainingSamples_score_key.
const unscoredKey = -1

// SampleCursor is a place in a listing: the sort key of one sample. Only
// the fields the query's order uses matter; ID always does.
type SampleCursor struct {
	ID    int64
	Score float64 // judge score, or -1 when unscored (OrderScore)
	File  string  // file path (OrderFile)
}

// IsZero reports whether c is the start of a listing.
func (c SampleCursor) IsZero() bool { return c.ID == 0 }

// Cursor returns the place of sm in a listing, to resume a listing
// just after (or, with Desc flipped, just before) it.
func (sm SampleSummary) Cursor() SampleCursor {
	return makeCursor(sm.ID, sm.Score, sm.FilePath)
}

// Cursor returns the place of sm in a listing, as SampleSummary.Cursor.
func (sm Sample) Cursor() SampleCursor {
	return makeCursor(sm.ID, sm.Score, sm.FilePath)
}

func makeCursor(id int64, score *float64, file string) SampleCursor {
	c := SampleCursor{ID: id, Score: unscoredKey, File: file}
	if score != nil {
		c.Score = *score
	}
	return c
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
	// Next is the id of the last sample when another page follows, 0 when
	// this is the last. It is the OrderID cursor (SampleQuery.After).
	Next int64
	// NextKey is the cursor for the following page in any order
	// (SampleQuery.AfterKey); the zero value when this is the last.
	NextKey SampleCursor
}

// ListSamples returns one page of samples in q.Order. Paging is by keyset
// (the sort key after the cursor), not OFFSET, so every page costs the
// same however deep it is and rows inserted meanwhile never shift pages.
// Each order has an index that yields rows already sorted, so SQLite walks
// it from the cursor and stops at the page end.
func (s *Store) ListSamples(ctx context.Context, q SampleQuery) (SamplePage, error) {
	query, args, limit, ok, err := listSQL(q)
	if err != nil {
		return SamplePage{}, fmt.Errorf("list samples: %w", err)
	}
	if !ok {
		return SamplePage{}, nil
	}
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
		last := page.Samples[limit-1]
		page.Next = last.ID
		page.NextKey = last.Cursor()
	}
	return page, nil
}

// listSQL builds ListSamples' statement and arguments. ok is false when q
// can match nothing.
func listSQL(q SampleQuery) (query string, args map[string]any, limit int, ok bool, err error) {
	where, args, ok, err := sampleFilter(q)
	if err != nil || !ok {
		return "", nil, 0, ok, err
	}
	key, err := orderKey(q.Order)
	if err != nil {
		return "", nil, 0, false, err
	}
	limit = q.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)

	dir, cmp := "ASC", ">"
	if q.Desc {
		dir, cmp = "DESC", "<"
	}
	after := q.AfterKey
	if q.After != 0 {
		after = SampleCursor{ID: q.After}
	}
	orderBy := `s.sample_id ` + dir
	if q.Order != OrderID {
		orderBy = key + ` ` + dir + `, s.sample_id ` + dir
	}
	pageSQL := `SELECT s.sample_id AS id FROM TrainingSamples s WHERE ` + where + `
			ORDER BY ` + orderBy + ` LIMIT :limit`
	if !after.IsZero() {
		args[":after"] = after.ID
		switch q.Order {
		case OrderID:
			pageSQL = `SELECT s.sample_id AS id FROM TrainingSamples s
				WHERE ` + where + ` AND s.sample_id ` + cmp + ` :after
				ORDER BY ` + orderBy + ` LIMIT :limit`
		default:
			if q.Order == OrderScore {
				args[":after_key"] = after.Score
			} else {
				args[":after_key"] = after.File
			}
			// The rows after the cursor are those with the same key and a
			// later id, then those with a later key. Asked for separately,
			// each is one plain index range. The row value comparison
			// (key, id) > (?, ?) cannot seek the score's expression index
			// at all (it scans from the top), and seeks the file index on
			// the path alone, reading every earlier row of a big file.
			pageSQL = `SELECT id FROM (
				SELECT * FROM (SELECT s.sample_id AS id, ` + key + ` AS k FROM TrainingSamples s
					WHERE ` + where + ` AND ` + key + ` = :after_key AND s.sample_id ` + cmp + ` :after
					ORDER BY s.sample_id ` + dir + ` LIMIT :limit)
				UNION ALL
				SELECT * FROM (SELECT s.sample_id AS id, ` + key + ` AS k FROM TrainingSamples s
					WHERE ` + where + ` AND ` + key + ` ` + cmp + ` :after_key
					ORDER BY ` + orderBy + ` LIMIT :limit)
			) ORDER BY k ` + dir + `, id ` + dir + ` LIMIT :limit`
		}
	}
	// One row more than the page tells whether another page exists
	// without a separate count.
	args[":limit"] = limit + 1
	// The page's ids are chosen first, by sort key alone, and only those
	// rows get their turns looked up: otherwise SQLite evaluates the turn
	// subqueries for every candidate row before sorting and limiting.
	query = `
		SELECT s.sample_id, s.repo_id, r.name, s.file_path, s.line_start, s.line_end,
			s.status, s.sample_quality_score, COALESCE(s.human_rating, 0),
			s.edited_at IS NOT NULL, s.truncated,
			COALESCE((SELECT content FROM ConversationTurns
				WHERE sample_id = s.sample_id AND role = 'user' ORDER BY turn_index LIMIT 1), ''),
			COALESCE((SELECT content FROM ConversationTurns
				WHERE sample_id = s.sample_id AND role = 'assistant' ORDER BY turn_index DESC LIMIT 1), ''),
			s.creation_date
		FROM (` + pageSQL + `) AS page
		JOIN TrainingSamples s ON s.sample_id = page.id
		JOIN Repos r ON r.repo_id = s.repo_id
		ORDER BY ` + orderBy + `;`
	return query, args, limit, true, nil
}

// orderKey returns the SQL sort expression of an order, written exactly as
// its index (migration 2) spells it so the planner matches the two.
func orderKey(o SampleOrder) (string, error) {
	switch o {
	case OrderID:
		return "s.sample_id", nil
	case OrderScore:
		return "COALESCE(s.sample_quality_score, -1)", nil
	case OrderFile:
		return "s.file_path", nil
	}
	return "", fmt.Errorf("unknown sort order %d (use id, score or file)", int(o))
}

// CountSamples counts the samples q selects, ignoring the order, the
// cursor and Limit.
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
	if q.OnlyEdited {
		if q.Order == OrderID {
			b.WriteString(" AND s.edited_at IS NOT NULL")
		} else {
			// Edited samples are few. As a list, SQLite looks them up
			// through their partial index and sorts them; as a plain
			// filter it walks the whole sort index looking for them.
			b.WriteString(` AND s.sample_id IN (
				SELECT e.sample_id FROM TrainingSamples e WHERE e.edited_at IS NOT NULL)`)
		}
	}
	if q.OnlyUnrated {
		b.WriteString(" AND s.human_rating IS NULL")
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
