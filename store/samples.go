package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"zombiezen.com/go/sqlite"
)

// Sample statuses. A sample is pending until its answer is stored, active
// once answered, stale when the file it came from changed, and deleted when
// a curator removed it (soft, restorable).
const (
	StatusPending = "pending"
	StatusActive  = "active"
	StatusStale   = "stale"
	StatusDeleted = "deleted"
)

// NewQuestion is a generated question waiting for its answer.
type NewQuestion struct {
	RepoID     int64
	FilePath   string // repository-relative, '/' separated
	CommitSHA  string
	BlobOID    string // git blob of the file version the question is about
	ChunkIndex int
	LineStart  int
	LineEnd    int
	System     string // optional system turn
	Question   string
	Model      string
	Theme      string
	PromptHash string
	ParamsJSON string // generation parameters; empty means {}
}

// PendingQuestion is a question that still needs an answer, with what the
// generator needs to produce it.
type PendingQuestion struct {
	SampleID   int64
	RepoID     int64
	FilePath   string
	CommitSHA  string
	BlobOID    string
	ChunkIndex int
	LineStart  int
	LineEnd    int
	System     string // empty when the sample has no system turn
	Question   string
	Model      string
	Theme      string
	PromptHash string
	ParamsJSON string
}

// Answer is the model's reply to a pending question.
type Answer struct {
	SampleID     int64
	Content      string
	Truncated    bool   // the model stopped at its token limit
	MetadataJSON string // finish reason, latency, tokens; empty for none
}

// Sample is one question/answer sample with its conversation.
type Sample struct {
	ID            int64
	RepoID        int64
	RepoName      string
	DatasetSource string
	FilePath      string
	CommitSHA     string
	BlobOID       string
	ChunkIndex    int
	LineStart     int
	LineEnd       int
	Status        string
	Truncated     bool
	IsMultiturn   bool
	Score         *float64 // judge score, nil when unscored
	HumanRating   int      // 1..5, 0 when unrated
	Model         string
	Theme         string
	PromptHash    string
	ParamsJSON    string
	CreatedAt     time.Time
	EditedAt      time.Time // zero when never edited (or every edit was undone)
	UpdatedAt     time.Time
	Turns         []Turn
}

// Turn is one message of a sample's conversation. Turn text is always
// valid UTF-8: the API refuses anything else rather than replacing bytes
// behind the caller's back.
type Turn struct {
	ID           int64
	Index        int
	Role         string // system, user or assistant
	Content      string
	MetadataJSON string
	IsLabel      bool // the assistant turns training learns to produce
}

// QuestionHash is the hex sha256 of the question after trimming, collapsing
// whitespace and lowercasing, so trivially different wordings of the same
// generated question count as one.
func QuestionHash(question string) string {
	norm := strings.ToLower(strings.Join(strings.Fields(question), " "))
	sum := sha256.Sum256([]byte(norm))
	return hex.EncodeToString(sum[:])
}

// stepOne steps stmt once, hands a row (if any) to fn and always resets, so
// the statement never goes back to the pool still active.
func stepOne(stmt *sqlite.Stmt, fn func(*sqlite.Stmt)) (found bool, err error) {
	defer stmt.Reset()
	row, err := stmt.Step()
	if err != nil || !row {
		return false, err
	}
	if fn != nil {
		fn(stmt)
	}
	return true, nil
}

func validateQuestion(q NewQuestion) error {
	switch {
	case q.RepoID <= 0:
		return errors.New("no repository given")
	case q.FilePath == "":
		return errors.New("no file path given")
	case strings.TrimSpace(q.Question) == "":
		return errors.New("the question is empty")
	case !utf8.ValidString(q.Question) || !utf8.ValidString(q.System):
		return errors.New("the question is not valid UTF-8; decode the text before storing it")
	case q.ChunkIndex < 0:
		return fmt.Errorf("chunk index %d is negative", q.ChunkIndex)
	case q.ParamsJSON != "" && !json.Valid([]byte(q.ParamsJSON)):
		return errors.New("generation parameters are not valid JSON")
	}
	return nil
}

// InsertPendingQuestions stores questions as pending samples in one
// transaction and returns their ids in order. A question that is already
// pending or answered for the same repository, file, blob and chunk is not
// inserted again; its existing id is returned in its slot instead.
func (s *Store) InsertPendingQuestions(ctx context.Context, qs []NewQuestion) ([]int64, error) {
	for i, q := range qs {
		if err := validateQuestion(q); err != nil {
			return nil, fmt.Errorf("save question %d of %d (%s): %w", i+1, len(qs), q.FilePath, err)
		}
	}
	if len(qs) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(qs))
	err := s.write(ctx, func(conn *sqlite.Conn) error {
		repoName, err := conn.Prepare(`SELECT name FROM Repos WHERE repo_id = :repo;`)
		if err != nil {
			return err
		}
		existing, err := conn.Prepare(`
			SELECT sample_id FROM TrainingSamples
			WHERE repo_id = :repo AND file_path = :path AND blob_oid = :blob
				AND chunk_index = :chunk AND question_hash = :qhash
				AND status IN ('pending', 'active');`)
		if err != nil {
			return err
		}
		insertSample, err := conn.Prepare(`
			INSERT INTO TrainingSamples (dataset_source, repo_id, file_path, commit_sha, blob_oid,
				chunk_index, line_start, line_end, question_hash, status,
				model, theme, prompt_hash, params_json)
			VALUES (:source, :repo, :path, :commit, :blob,
				:chunk, :line_start, :line_end, :qhash, 'pending',
				:model, :theme, :prompt_hash, :params);`)
		if err != nil {
			return err
		}
		var turns []turnRow
		names := map[int64]string{}
		for i, q := range qs {
			name, ok := names[q.RepoID]
			if !ok {
				repoName.SetInt64(":repo", q.RepoID)
				found, err := stepOne(repoName, func(stmt *sqlite.Stmt) { name = stmt.ColumnText(0) })
				if err != nil {
					return err
				}
				if !found {
					return fmt.Errorf("repository %d: %w", q.RepoID, ErrNotFound)
				}
				names[q.RepoID] = name
			}

			qhash := QuestionHash(q.Question)
			existing.SetInt64(":repo", q.RepoID)
			existing.SetText(":path", q.FilePath)
			existing.SetText(":blob", q.BlobOID)
			existing.SetInt64(":chunk", int64(q.ChunkIndex))
			existing.SetText(":qhash", qhash)
			found, err := stepOne(existing, func(stmt *sqlite.Stmt) { ids[i] = stmt.ColumnInt64(0) })
			if err != nil {
				return err
			}
			if found {
				continue
			}

			params := q.ParamsJSON
			if params == "" {
				params = "{}"
			}
			insertSample.SetText(":source", "repo_file:"+name+"/"+q.FilePath)
			insertSample.SetInt64(":repo", q.RepoID)
			insertSample.SetText(":path", q.FilePath)
			insertSample.SetText(":commit", q.CommitSHA)
			insertSample.SetText(":blob", q.BlobOID)
			insertSample.SetInt64(":chunk", int64(q.ChunkIndex))
			insertSample.SetInt64(":line_start", int64(q.LineStart))
			insertSample.SetInt64(":line_end", int64(q.LineEnd))
			insertSample.SetText(":qhash", qhash)
			insertSample.SetText(":model", q.Model)
			insertSample.SetText(":theme", q.Theme)
			insertSample.SetText(":prompt_hash", q.PromptHash)
			insertSample.SetText(":params", params)
			if _, err := stepOne(insertSample, nil); err != nil {
				return err
			}
			id := conn.LastInsertRowID()
			ids[i] = id

			index := 0
			if q.System != "" {
				turns = append(turns, turnRow{Sample: id, Index: index, Role: "system", Content: q.System})
				index++
			}
			turns = append(turns, turnRow{Sample: id, Index: index, Role: "user", Content: q.Question})
		}
		return insertTurns(conn, turns)
	})
	if err != nil {
		return nil, fmt.Errorf("save %d questions: %w", len(qs), err)
	}
	return ids, nil
}

type turnRow struct {
	Sample  int64   `json:"s"`
	Index   int     `json:"i"`
	Role    string  `json:"r"`
	Content string  `json:"c"`
	Label   bool    `json:"l"`
	Meta    *string `json:"m"`
}

// insertTurns inserts a batch of turns with one statement. Each statement
// that fires the FTS trigger opens a statement savepoint, and FTS5 flushes
// its pending index to disk at every savepoint; one statement per batch
// instead of one per turn lets it build the index in memory and write it
// once, several times faster.
func insertTurns(conn *sqlite.Conn, turns []turnRow) error {
	if len(turns) == 0 {
		return nil
	}
	b, err := json.Marshal(turns)
	if err != nil {
		return err
	}
	return execSQL(conn, `
		INSERT INTO ConversationTurns (sample_id, turn_index, role, content, is_label, metadata_json)
		SELECT value ->> '$.s', value ->> '$.i', value ->> '$.r', value ->> '$.c', value ->> '$.l', value ->> '$.m'
		FROM json_each(:turns);`, map[string]any{":turns": string(b)}, nil)
}

// PendingQuestions returns the questions still waiting for an answer, oldest
// first. repoID 0 means every repository; filePath "" means every file.
func (s *Store) PendingQuestions(ctx context.Context, repoID int64, filePath string) ([]PendingQuestion, error) {
	query := `
		SELECT s.sample_id, s.repo_id, s.file_path, s.commit_sha, s.blob_oid,
			s.chunk_index, s.line_start, s.line_end,
			COALESCE((SELECT content FROM ConversationTurns
				WHERE sample_id = s.sample_id AND role = 'system' ORDER BY turn_index LIMIT 1), ''),
			COALESCE((SELECT content FROM ConversationTurns
				WHERE sample_id = s.sample_id AND role = 'user' ORDER BY turn_index LIMIT 1), ''),
			s.model, s.theme, s.prompt_hash, s.params_json
		FROM TrainingSamples s
		WHERE s.status = 'pending'`
	args := map[string]any{}
	if repoID != 0 {
		query += ` AND s.repo_id = :repo`
		args[":repo"] = repoID
	}
	if filePath != "" {
		query += ` AND s.file_path = :path`
		args[":path"] = filePath
	}
	query += ` ORDER BY s.sample_id;`

	var out []PendingQuestion
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, query, args, func(stmt *sqlite.Stmt) error {
			out = append(out, PendingQuestion{
				SampleID:   stmt.ColumnInt64(0),
				RepoID:     stmt.ColumnInt64(1),
				FilePath:   stmt.ColumnText(2),
				CommitSHA:  stmt.ColumnText(3),
				BlobOID:    stmt.ColumnText(4),
				ChunkIndex: stmt.ColumnInt(5),
				LineStart:  stmt.ColumnInt(6),
				LineEnd:    stmt.ColumnInt(7),
				System:     stmt.ColumnText(8),
				Question:   stmt.ColumnText(9),
				Model:      stmt.ColumnText(10),
				Theme:      stmt.ColumnText(11),
				PromptHash: stmt.ColumnText(12),
				ParamsJSON: stmt.ColumnText(13),
			})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list pending questions: %w", err)
	}
	return out, nil
}

// CountPending returns how many questions are waiting for an answer.
func (s *Store) CountPending(ctx context.Context) (int64, error) {
	var n int64
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, `SELECT count(*) FROM TrainingSamples WHERE status = 'pending';`, nil,
			func(stmt *sqlite.Stmt) error {
				n = stmt.ColumnInt64(0)
				return nil
			})
	})
	if err != nil {
		return 0, fmt.Errorf("count pending questions: %w", err)
	}
	return n, nil
}

// StoreAnswer stores one answer; see StoreAnswers.
func (s *Store) StoreAnswer(ctx context.Context, a Answer) error {
	return s.StoreAnswers(ctx, []Answer{a})
}

// StoreAnswers appends each answer as the sample's assistant turn and makes
// the sample active, all in one transaction. Answering a sample that is no
// longer pending (already answered, stale, deleted) changes nothing, so a
// retried batch never adds a second answer. A missing sample or an empty
// answer fails the whole batch.
func (s *Store) StoreAnswers(ctx context.Context, answers []Answer) error {
	for _, a := range answers {
		if strings.TrimSpace(a.Content) == "" {
			return fmt.Errorf("save answer for sample %d: the answer is empty", a.SampleID)
		}
		if !utf8.ValidString(a.Content) {
			return fmt.Errorf("save answer for sample %d: the answer is not valid UTF-8; decode the text before storing it", a.SampleID)
		}
		if a.MetadataJSON != "" && !json.Valid([]byte(a.MetadataJSON)) {
			return fmt.Errorf("save answer for sample %d: the turn metadata is not valid JSON", a.SampleID)
		}
	}
	if len(answers) == 0 {
		return nil
	}
	err := s.write(ctx, func(conn *sqlite.Conn) error {
		status, err := conn.Prepare(`
			SELECT status, (SELECT COALESCE(MAX(turn_index), -1) + 1
				FROM ConversationTurns WHERE sample_id = :sample)
			FROM TrainingSamples WHERE sample_id = :sample;`)
		if err != nil {
			return err
		}
		activate, err := conn.Prepare(`
			UPDATE TrainingSamples
			SET status = 'active', truncated = :truncated, updated_at = CURRENT_TIMESTAMP
			WHERE sample_id = :sample;`)
		if err != nil {
			return err
		}
		var turns []turnRow
		for _, a := range answers {
			var st string
			var next int
			status.SetInt64(":sample", a.SampleID)
			found, err := stepOne(status, func(stmt *sqlite.Stmt) {
				st, next = stmt.ColumnText(0), stmt.ColumnInt(1)
			})
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("sample %d: %w", a.SampleID, ErrNotFound)
			}
			if st != StatusPending {
				continue
			}
			turn := turnRow{Sample: a.SampleID, Index: next, Role: "assistant", Content: a.Content, Label: true}
			if a.MetadataJSON != "" {
				turn.Meta = &a.MetadataJSON
			}
			turns = append(turns, turn)
			activate.SetInt64(":sample", a.SampleID)
			activate.SetBool(":truncated", a.Truncated)
			if _, err := stepOne(activate, nil); err != nil {
				return err
			}
		}
		return insertTurns(conn, turns)
	})
	if err != nil {
		return fmt.Errorf("save %d answers: %w", len(answers), err)
	}
	return nil
}

// MarkStale marks the pending and active samples of a file that were not
// generated from keepBlobOID as stale, and returns how many changed. An
// empty keepBlobOID means the file is gone, so all of them go stale. Samples
// a human has edited or rated are left alone: curated work is never thrown
// away automatically.
func (s *Store) MarkStale(ctx context.Context, repoID int64, filePath, keepBlobOID string) (int64, error) {
	var n int64
	err := s.write(ctx, func(conn *sqlite.Conn) error {
		args := map[string]any{":repo": repoID, ":path": filePath, ":keep": keepBlobOID}
		err := execSQL(conn, `
			UPDATE TrainingSamples SET status = 'stale', updated_at = CURRENT_TIMESTAMP
			WHERE repo_id = :repo AND file_path = :path
				AND (:keep = '' OR blob_oid <> :keep)
				AND status IN ('pending', 'active')
				AND edited_at IS NULL AND human_rating IS NULL;`, args, nil)
		if err != nil {
			return err
		}
		n = int64(conn.Changes())
		// A deleted sample must not come back as current when restored.
		return execSQL(conn, `
			UPDATE TrainingSamples SET status_before_delete = 'stale', updated_at = CURRENT_TIMESTAMP
			WHERE repo_id = :repo AND file_path = :path
				AND (:keep = '' OR blob_oid <> :keep)
				AND status = 'deleted' AND status_before_delete IN ('pending', 'active')
				AND edited_at IS NULL AND human_rating IS NULL;`, args, nil)
	})
	if err != nil {
		return 0, fmt.Errorf("mark samples of %s stale: %w", filePath, err)
	}
	return n, nil
}

// Sample returns one sample with its turns, or an error wrapping
// ErrNotFound.
func (s *Store) Sample(ctx context.Context, id int64) (Sample, error) {
	var sm Sample
	found := false
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		args := map[string]any{":id": id}
		err := execSQL(conn, `SELECT `+sampleColumns+`
			FROM TrainingSamples s JOIN Repos r ON r.repo_id = s.repo_id
			WHERE s.sample_id = :id;`, args,
			func(stmt *sqlite.Stmt) error {
				found = true
				sm = scanSample(stmt)
				return nil
			})
		if err != nil || !found {
			return err
		}
		return execSQL(conn, `
			SELECT turn_id, turn_index, role, content, COALESCE(metadata_json, ''), is_label
			FROM ConversationTurns WHERE sample_id = :id ORDER BY turn_index;`, args,
			func(stmt *sqlite.Stmt) error {
				sm.Turns = append(sm.Turns, Turn{
					ID:           stmt.ColumnInt64(0),
					Index:        stmt.ColumnInt(1),
					Role:         stmt.ColumnText(2),
					Content:      stmt.ColumnText(3),
					MetadataJSON: stmt.ColumnText(4),
					IsLabel:      stmt.ColumnBool(5),
				})
				return nil
			})
	})
	if err != nil {
		return Sample{}, fmt.Errorf("load sample %d: %w", id, err)
	}
	if !found {
		return Sample{}, fmt.Errorf("sample %d: %w", id, ErrNotFound)
	}
	return sm, nil
}

// sampleColumns are the TrainingSamples columns scanSample reads, in order
// (s = TrainingSamples, r = Repos).
const sampleColumns = `s.sample_id, s.repo_id, r.name, COALESCE(s.dataset_source, ''), s.file_path,
	s.commit_sha, s.blob_oid, s.chunk_index, s.line_start, s.line_end,
	s.status, s.truncated, s.is_multiturn, s.sample_quality_score,
	COALESCE(s.human_rating, 0), s.model, s.theme, s.prompt_hash, s.params_json,
	s.creation_date, s.edited_at, s.updated_at`

// sampleColumnCount is how many columns sampleColumns selects.
const sampleColumnCount = 22

func scanSample(stmt *sqlite.Stmt) Sample {
	return Sample{
		ID:            stmt.ColumnInt64(0),
		RepoID:        stmt.ColumnInt64(1),
		RepoName:      stmt.ColumnText(2),
		DatasetSource: stmt.ColumnText(3),
		FilePath:      stmt.ColumnText(4),
		CommitSHA:     stmt.ColumnText(5),
		BlobOID:       stmt.ColumnText(6),
		ChunkIndex:    stmt.ColumnInt(7),
		LineStart:     stmt.ColumnInt(8),
		LineEnd:       stmt.ColumnInt(9),
		Status:        stmt.ColumnText(10),
		Truncated:     stmt.ColumnBool(11),
		IsMultiturn:   stmt.ColumnBool(12),
		Score:         columnFloatPtr(stmt, 13),
		HumanRating:   stmt.ColumnInt(14),
		Model:         stmt.ColumnText(15),
		Theme:         stmt.ColumnText(16),
		PromptHash:    stmt.ColumnText(17),
		ParamsJSON:    stmt.ColumnText(18),
		CreatedAt:     parseTime(stmt, 19),
		EditedAt:      parseTime(stmt, 20),
		UpdatedAt:     parseTime(stmt, 21),
	}
}

func columnFloatPtr(stmt *sqlite.Stmt, col int) *float64 {
	if stmt.ColumnType(col) == sqlite.TypeNull {
		return nil
	}
	v := stmt.ColumnFloat(col)
	return &v
}

// requireSample returns an ErrNotFound error when the sample does not exist.
func requireSample(conn *sqlite.Conn, id int64) error {
	found := false
	err := execSQL(conn, `SELECT 1 FROM TrainingSamples WHERE sample_id = :id;`,
		map[string]any{":id": id}, func(*sqlite.Stmt) error {
			found = true
			return nil
		})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("sample %d: %w", id, ErrNotFound)
	}
	return nil
}

// EditTurn replaces the text of one turn, keeping the old text in TurnEdits
// so UndoEdit can bring it back. Setting the text it already has is a no-op.
// Editing the question leaves question_hash alone on purpose: it identifies
// the question as generated, so regenerating that question is still
// recognised as a duplicate of the curated sample.
func (s *Store) EditTurn(ctx context.Context, sampleID int64, turnIndex int, content string) error {
	if strings.TrimSpace(content) == "" {
		return fmt.Errorf("edit sample %d: the new text is empty", sampleID)
	}
	if !utf8.ValidString(content) {
		return fmt.Errorf("edit sample %d: the new text is not valid UTF-8", sampleID)
	}
	err := s.write(ctx, func(conn *sqlite.Conn) error {
		var turnID int64
		var old string
		found := false
		err := execSQL(conn, `
			SELECT turn_id, content FROM ConversationTurns
			WHERE sample_id = :sample AND turn_index = :index;`,
			map[string]any{":sample": sampleID, ":index": turnIndex},
			func(stmt *sqlite.Stmt) error {
				turnID, old, found = stmt.ColumnInt64(0), stmt.ColumnText(1), true
				return nil
			})
		if err != nil {
			return err
		}
		if !found {
			if err := requireSample(conn, sampleID); err != nil {
				return err
			}
			return fmt.Errorf("turn %d: %w", turnIndex, ErrNotFound)
		}
		if old == content {
			return nil
		}
		err = execSQL(conn, `
			INSERT INTO TurnEdits (turn_id, old_content, new_content) VALUES (:turn, :old, :new);`,
			map[string]any{":turn": turnID, ":old": old, ":new": content}, nil)
		if err != nil {
			return err
		}
		err = execSQL(conn, `UPDATE ConversationTurns SET content = :content WHERE turn_id = :turn;`,
			map[string]any{":content": content, ":turn": turnID}, nil)
		if err != nil {
			return err
		}
		return execSQL(conn, `
			UPDATE TrainingSamples SET edited_at = CURRENT_TIMESTAMP, updated_at = CURRENT_TIMESTAMP
			WHERE sample_id = :sample;`, map[string]any{":sample": sampleID}, nil)
	})
	if err != nil {
		return fmt.Errorf("edit sample %d: %w", sampleID, err)
	}
	return nil
}

// UndoEdit reverts the sample's most recent edit and forgets it. It reports
// false when there is nothing to undo. Once no edits remain the sample
// counts as unedited again.
func (s *Store) UndoEdit(ctx context.Context, sampleID int64) (bool, error) {
	undone := false
	err := s.write(ctx, func(conn *sqlite.Conn) error {
		if err := requireSample(conn, sampleID); err != nil {
			return err
		}
		args := map[string]any{":sample": sampleID}
		var editID, turnID int64
		var old string
		err := execSQL(conn, `
			SELECT e.edit_id, e.turn_id, e.old_content
			FROM TurnEdits e JOIN ConversationTurns t ON t.turn_id = e.turn_id
			WHERE t.sample_id = :sample
			ORDER BY e.edit_id DESC LIMIT 1;`, args,
			func(stmt *sqlite.Stmt) error {
				editID, turnID, old = stmt.ColumnInt64(0), stmt.ColumnInt64(1), stmt.ColumnText(2)
				undone = true
				return nil
			})
		if err != nil || !undone {
			return err
		}
		err = execSQL(conn, `UPDATE ConversationTurns SET content = :content WHERE turn_id = :turn;`,
			map[string]any{":content": old, ":turn": turnID}, nil)
		if err != nil {
			return err
		}
		err = execSQL(conn, `DELETE FROM TurnEdits WHERE edit_id = :edit;`, map[string]any{":edit": editID}, nil)
		if err != nil {
			return err
		}
		return execSQL(conn, `
			UPDATE TrainingSamples SET
				edited_at = (SELECT MAX(e.edited_at)
					FROM TurnEdits e JOIN ConversationTurns t ON t.turn_id = e.turn_id
					WHERE t.sample_id = :sample),
				updated_at = CURRENT_TIMESTAMP
			WHERE sample_id = :sample;`, args, nil)
	})
	if err != nil {
		return false, fmt.Errorf("undo edit of sample %d: %w", sampleID, err)
	}
	return undone, nil
}

// DeleteSample hides a sample from exports and listings, remembering its
// status so RestoreSample can bring it back. Deleting twice is a no-op.
func (s *Store) DeleteSample(ctx context.Context, id int64) error {
	err := s.write(ctx, func(conn *sqlite.Conn) error {
		if err := requireSample(conn, id); err != nil {
			return err
		}
		return execSQL(conn, `
			UPDATE TrainingSamples
			SET status_before_delete = status, status = 'deleted', updated_at = CURRENT_TIMESTAMP
			WHERE sample_id = :id AND status <> 'deleted';`, map[string]any{":id": id}, nil)
	})
	if err != nil {
		return fmt.Errorf("delete sample %d: %w", id, err)
	}
	return nil
}

// RestoreSample undoes DeleteSample, returning the sample to the status it
// had. Restoring a sample that is not deleted is a no-op.
func (s *Store) RestoreSample(ctx context.Context, id int64) error {
	err := s.write(ctx, func(conn *sqlite.Conn) error {
		if err := requireSample(conn, id); err != nil {
			return err
		}
		// Without a remembered status (rows from elsewhere), infer it from
		// whether the sample has an answer.
		err := execSQL(conn, `
			UPDATE TrainingSamples SET
				status = COALESCE(status_before_delete,
					CASE WHEN EXISTS (SELECT 1 FROM ConversationTurns
						WHERE sample_id = :id AND role = 'assistant')
					THEN 'active' ELSE 'pending' END),
				status_before_delete = NULL,
				updated_at = CURRENT_TIMESTAMP
			WHERE sample_id = :id AND status = 'deleted';`, map[string]any{":id": id}, nil)
		if isConstraint(err, sqlite.ResultConstraintUnique) {
			return errors.New("the same question has since been generated again for this file; delete that sample first")
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("restore sample %d: %w", id, err)
	}
	return nil
}

// RateSample records a human rating from 1 to 5; 0 clears it.
func (s *Store) RateSample(ctx context.Context, id int64, rating int) error {
	if rating < 0 || rating > 5 {
		return fmt.Errorf("rate sample %d: rating must be from 1 to 5, or 0 to clear it; got %d", id, rating)
	}
	var value any
	if rating != 0 {
		value = rating
	}
	return s.updateSample(ctx, id, "rate", `
		UPDATE TrainingSamples SET human_rating = :value, updated_at = CURRENT_TIMESTAMP
		WHERE sample_id = :id;`, value)
}

// SetScore records the judge's quality score for a sample.
func (s *Store) SetScore(ctx context.Context, id int64, score float64) error {
	if math.IsNaN(score) || math.IsInf(score, 0) {
		return fmt.Errorf("score sample %d: the score %v is not a finite number", id, score)
	}
	return s.updateSample(ctx, id, "score", `
		UPDATE TrainingSamples SET sample_quality_score = :value, updated_at = CURRENT_TIMESTAMP
		WHERE sample_id = :id;`, score)
}

// updateSample runs one UPDATE of an existing sample, binding :id and
// :value, and fails with ErrNotFound when there is no such sample.
func (s *Store) updateSample(ctx context.Context, id int64, verb, query string, value any) error {
	err := s.write(ctx, func(conn *sqlite.Conn) error {
		if err := requireSample(conn, id); err != nil {
			return err
		}
		return execSQL(conn, query, map[string]any{":value": value, ":id": id}, nil)
	})
	if err != nil {
		return fmt.Errorf("%s sample %d: %w", verb, id, err)
	}
	return nil
}

// AskedChunks returns the chunk indices of one file version that already
// have questions (pending or answered), so a resumed run asks only the
// chunks it never asked and answers only what is still pending.
func (s *Store) AskedChunks(ctx context.Context, repoID int64, filePath, blobOID string) (map[int]bool, error) {
	out := map[int]bool{}
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, `
			SELECT DISTINCT chunk_index FROM TrainingSamples
			WHERE repo_id = :repo AND file_path = :path AND blob_oid = :blob AND status IN ('pending', 'active');`,
			map[string]any{":repo": repoID, ":path": filePath, ":blob": blobOID}, func(stmt *sqlite.Stmt) error {
				out[stmt.ColumnInt(0)] = true
				return nil
			})
	})
	if err != nil {
		return nil, fmt.Errorf("list asked chunks of %s: %w", filePath, err)
	}
	return out, nil
}
