package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"zombiezen.com/go/sqlite"
)

// JudgeParts are the criteria the judge rates, each from 1 to 5.
var JudgeParts = []string{"groundedness", "correctness", "usefulness"}

// SetJudgement records the LLM judge's verdict on a sample in one
// transaction: the score goes to sample_quality_score, and the parts, the
// reason and the judging model are merged as "judge" into the metadata of
// the sample's last assistant turn, keeping its other keys. The human
// rating is a separate column and is never touched.
func (s *Store) SetJudgement(ctx context.Context, id int64, score float64, parts map[string]int, reason, model string) error {
	if math.IsNaN(score) || math.IsInf(score, 0) {
		return fmt.Errorf("judge sample %d: the score %v is not a finite number", id, score)
	}
	judge := map[string]any{"reason": reason, "model": model}
	for _, k := range JudgeParts {
		v, ok := parts[k]
		if !ok {
			return fmt.Errorf("judge sample %d: no %s rating", id, k)
		}
		if v < 1 || v > 5 {
			return fmt.Errorf("judge sample %d: %s rating %d is not from 1 to 5", id, k, v)
		}
		judge[k] = v
	}
	judgeJSON, err := json.Marshal(judge)
	if err != nil {
		return fmt.Errorf("judge sample %d: %w", id, err)
	}
	err = s.write(ctx, func(conn *sqlite.Conn) error {
		if err := requireSample(conn, id); err != nil {
			return err
		}
		var turnID int64
		var meta string
		found := false
		err := execSQL(conn, `
			SELECT turn_id, COALESCE(metadata_json, '') FROM ConversationTurns
			WHERE sample_id = :id AND role = 'assistant'
			ORDER BY turn_index DESC LIMIT 1;`, map[string]any{":id": id},
			func(stmt *sqlite.Stmt) error {
				turnID, meta, found = stmt.ColumnInt64(0), stmt.ColumnText(1), true
				return nil
			})
		if err != nil {
			return err
		}
		if !found {
			return errors.New("the sample has no answer to judge")
		}
		m := map[string]json.RawMessage{}
		if meta != "" {
			if err := json.Unmarshal([]byte(meta), &m); err != nil || m == nil {
				// Never overwrite metadata we cannot read.
				return fmt.Errorf("the answer's metadata is not a JSON object: %v", err)
			}
		}
		m["judge"] = judgeJSON
		merged, err := json.Marshal(m)
		if err != nil {
			return err
		}
		err = execSQL(conn, `UPDATE ConversationTurns SET metadata_json = :meta WHERE turn_id = :turn;`,
			map[string]any{":meta": string(merged), ":turn": turnID}, nil)
		if err != nil {
			return err
		}
		return execSQL(conn, `
			UPDATE TrainingSamples SET sample_quality_score = :score, updated_at = CURRENT_TIMESTAMP
			WHERE sample_id = :id;`, map[string]any{":score": score, ":id": id}, nil)
	})
	if err != nil {
		return fmt.Errorf("judge sample %d: %w", id, err)
	}
	return nil
}

// UnscoredSamples returns, in id order, up to limit ids greater than
// afterID of active samples that have an answer and no judge score yet (or
// any score, when rescore). Pass the last id returned as afterID for the
// next page; an empty page means there is nothing more.
func (s *Store) UnscoredSamples(ctx context.Context, afterID int64, limit int, rescore bool) ([]int64, error) {
	if limit <= 0 {
		limit = 500
	}
	var ids []int64
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, `
			SELECT s.sample_id FROM TrainingSamples s
			WHERE s.status = 'active' AND s.sample_id > :after
				AND (:rescore OR s.sample_quality_score IS NULL)
				AND EXISTS (SELECT 1 FROM ConversationTurns t
					WHERE t.sample_id = s.sample_id AND t.role = 'assistant')
			ORDER BY s.sample_id LIMIT :limit;`,
			map[string]any{":after": afterID, ":rescore": rescore, ":limit": limit},
			func(stmt *sqlite.Stmt) error {
				ids = append(ids, stmt.ColumnInt64(0))
				return nil
			})
	})
	if err != nil {
		return nil, fmt.Errorf("list unscored samples: %w", err)
	}
	return ids, nil
}
