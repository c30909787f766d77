package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"zombiezen.com/go/sqlite"
)

// AppendExchange adds a follow-up question and its answer to an answered
// sample, in order after its last turn, and marks it multi-turn. Both turns
// commit together, so a conversation never ends on an unanswered question.
// A sample that is not active (deleted, stale, still pending) is left alone.
func (s *Store) AppendExchange(ctx context.Context, sampleID int64, question, answer, answerMeta string) error {
	for _, t := range []string{question, answer} {
		if strings.TrimSpace(t) == "" {
			return fmt.Errorf("append to sample %d: a turn is empty", sampleID)
		}
		if !utf8.ValidString(t) {
			return fmt.Errorf("append to sample %d: a turn is not valid UTF-8", sampleID)
		}
	}
	if answerMeta != "" && !json.Valid([]byte(answerMeta)) {
		return fmt.Errorf("append to sample %d: the turn metadata is not valid JSON", sampleID)
	}
	err := s.write(ctx, func(conn *sqlite.Conn) error {
		var status string
		next := 0
		found := false
		err := execSQL(conn, `
			SELECT status, (SELECT COALESCE(MAX(turn_index), -1) + 1 FROM ConversationTurns WHERE sample_id = :id)
			FROM TrainingSamples WHERE sample_id = :id;`, map[string]any{":id": sampleID},
			func(stmt *sqlite.Stmt) error {
				status, next, found = stmt.ColumnText(0), stmt.ColumnInt(1), true
				return nil
			})
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("sample %d: %w", sampleID, ErrNotFound)
		}
		if status != StatusActive {
			return nil
		}
		turns := []turnRow{
			{Sample: sampleID, Index: next, Role: "user", Content: question},
			{Sample: sampleID, Index: next + 1, Role: "assistant", Content: answer, Label: true},
		}
		if answerMeta != "" {
			turns[1].Meta = &answerMeta
		}
		if err := insertTurns(conn, turns); err != nil {
			return err
		}
		return execSQL(conn, `UPDATE TrainingSamples SET is_multiturn = 1, updated_at = CURRENT_TIMESTAMP WHERE sample_id = :id;`,
			map[string]any{":id": sampleID}, nil)
	})
	if err != nil {
		return fmt.Errorf("append a follow-up to sample %d: %w", sampleID, err)
	}
	return nil
}
