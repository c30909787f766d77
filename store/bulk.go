package store

import (
	"context"
	"fmt"
	"slices"

	"zombiezen.com/go/sqlite"
)

// Bulk curation: what a curator does to every sample a listing shows at
// once. Each call is one IMMEDIATE transaction, so either every selected
// sample changes or none does, and the selection cannot shift between the
// moment it is evaluated and the moment it is written.

// RatingChange is one sample's human rating before a bulk rating, so the
// rating can be put back (0 = unrated).
type RatingChange struct {
	ID     int64
	Rating int
}

// DeleteMatching soft-deletes every sample q selects (ignoring its order,
// cursor and limit; samples already deleted are left alone) and returns
// the ids it deleted, ascending, for RestoreSamples.
func (s *Store) DeleteMatching(ctx context.Context, q SampleQuery) ([]int64, error) {
	where, args, ok, err := sampleFilter(q)
	if err != nil {
		return nil, fmt.Errorf("delete samples: %w", err)
	}
	if !ok {
		return nil, nil
	}
	var ids []int64
	err = s.write(ctx, func(conn *sqlite.Conn) error {
		// Same columns as DeleteSample, so RestoreSample and
		// RestoreSamples work on either.
		return execSQL(conn, `
			UPDATE TrainingSamples AS s
			SET status_before_delete = status, status = 'deleted', updated_at = CURRENT_TIMESTAMP
			WHERE `+where+` AND s.status <> 'deleted'
			RETURNING sample_id;`, args, func(stmt *sqlite.Stmt) error {
			ids = append(ids, stmt.ColumnInt64(0))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("delete samples: %w", err)
	}
	slices.Sort(ids)
	return ids, nil
}

// RestoreSamples undoes DeleteMatching (or DeleteSample) for ids, each
// back to the status it had. Ids that are not deleted are left alone. If
// any sample cannot come back (its question was generated again since),
// nothing is restored.
func (s *Store) RestoreSamples(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.write(ctx, func(conn *sqlite.Conn) error {
		stmt, err := conn.Prepare(`
			UPDATE TrainingSamples SET
				status = COALESCE(status_before_delete,
					CASE WHEN EXISTS (SELECT 1 FROM ConversationTurns
						WHERE sample_id = :id AND role = 'assistant')
					THEN 'active' ELSE 'pending' END),
				status_before_delete = NULL,
				updated_at = CURRENT_TIMESTAMP
			WHERE sample_id = :id AND status = 'deleted';`)
		if err != nil {
			return err
		}
		for _, id := range ids {
			stmt.SetInt64(":id", id)
			_, err := stepOne(stmt, nil)
			if isConstraint(err, sqlite.ResultConstraintUnique) {
				return fmt.Errorf("sample %d cannot come back: the same question has since been generated again for its file; delete that sample first", id)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore %d samples: %w", len(ids), err)
	}
	return nil
}

// RateMatching sets the human rating of every sample q selects (ignoring
// its order, cursor and limit) to rating, 1 to 5, or clears it with 0. It
// returns how many samples changed; those that already had the rating are
// not touched, so their updated_at stays.
func (s *Store) RateMatching(ctx context.Context, q SampleQuery, rating int) (int64, error) {
	_, n, err := s.rateMatching(ctx, q, rating, false)
	return n, err
}

// RateMatchingWithUndo is RateMatching, but returns the previous rating of
// every sample it changed (ascending by id), for RestoreRatings.
func (s *Store) RateMatchingWithUndo(ctx context.Context, q SampleQuery, rating int) ([]RatingChange, error) {
	changes, _, err := s.rateMatching(ctx, q, rating, true)
	return changes, err
}

func (s *Store) rateMatching(ctx context.Context, q SampleQuery, rating int, record bool) ([]RatingChange, int64, error) {
	if rating < 0 || rating > 5 {
		return nil, 0, fmt.Errorf("rate samples: rating must be from 1 to 5, or 0 to clear it; got %d", rating)
	}
	where, args, ok, err := sampleFilter(q)
	if err != nil {
		return nil, 0, fmt.Errorf("rate samples: %w", err)
	}
	if !ok {
		return nil, 0, nil
	}
	var value any
	if rating != 0 {
		value = rating
	}
	args[":rating"] = value
	where += ` AND s.human_rating IS NOT :rating`
	var changes []RatingChange
	var n int64
	err = s.write(ctx, func(conn *sqlite.Conn) error {
		if record {
			// Read inside the same transaction as the update, so the
			// undo list names exactly the rows the update changes.
			err := execSQL(conn, `
				SELECT s.sample_id, COALESCE(s.human_rating, 0) FROM TrainingSamples s
				WHERE `+where+` ORDER BY s.sample_id;`, args, func(stmt *sqlite.Stmt) error {
				changes = append(changes, RatingChange{ID: stmt.ColumnInt64(0), Rating: stmt.ColumnInt(1)})
				return nil
			})
			if err != nil {
				return err
			}
		}
		err := execSQL(conn, `
			UPDATE TrainingSamples AS s SET human_rating = :rating, updated_at = CURRENT_TIMESTAMP
			WHERE `+where+`;`, args, nil)
		n = int64(conn.Changes())
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("rate samples: %w", err)
	}
	return changes, n, nil
}

// RestoreRatings puts back the ratings RateMatchingWithUndo replaced, in
// one transaction. Samples that no longer exist are skipped: a rating has
// nothing to come back to.
func (s *Store) RestoreRatings(ctx context.Context, changes []RatingChange) error {
	if len(changes) == 0 {
		return nil
	}
	for _, c := range changes {
		if c.Rating < 0 || c.Rating > 5 {
			return fmt.Errorf("restore ratings: sample %d: rating must be from 1 to 5, or 0; got %d", c.ID, c.Rating)
		}
	}
	err := s.write(ctx, func(conn *sqlite.Conn) error {
		stmt, err := conn.Prepare(`
			UPDATE TrainingSamples SET human_rating = :rating, updated_at = CURRENT_TIMESTAMP
			WHERE sample_id = :id AND human_rating IS NOT :rating;`)
		if err != nil {
			return err
		}
		for _, c := range changes {
			stmt.SetInt64(":id", c.ID)
			if c.Rating == 0 {
				stmt.SetNull(":rating")
			} else {
				stmt.SetInt64(":rating", int64(c.Rating))
			}
			if _, err := stepOne(stmt, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore ratings of %d samples: %w", len(changes), err)
	}
	return nil
}
