package store

import (
	"context"
	"fmt"
	"sort"

	"zombiezen.com/go/sqlite"
)

// Redaction stages.
const (
	RedactPrompt = "prompt" // code sent to the LLM
	RedactOutput = "output" // questions and answers the LLM wrote
)

// RedactionCount is how often one rule fired at one stage.
type RedactionCount struct {
	Stage string
	Rule  string
	Count int64
}

// AddRedactions adds counts by rule for a stage, in one transaction.
func (s *Store) AddRedactions(ctx context.Context, stage string, byRule map[string]int) error {
	if len(byRule) == 0 {
		return nil
	}
	rules := make([]string, 0, len(byRule))
	for r := range byRule {
		rules = append(rules, r)
	}
	sort.Strings(rules) // a stable lock order in the B-tree
	err := s.write(ctx, func(conn *sqlite.Conn) error {
		for _, r := range rules {
			err := execSQL(conn, `
				INSERT INTO Redactions (stage, rule, count) VALUES (:stage, :rule, :n)
				ON CONFLICT (stage, rule) DO UPDATE SET count = count + excluded.count;`,
				map[string]any{":stage": stage, ":rule": r, ":n": byRule[r]}, nil)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record redaction counts: %w", err)
	}
	return nil
}

// Redactions returns every count, by stage then rule.
func (s *Store) Redactions(ctx context.Context) ([]RedactionCount, error) {
	var out []RedactionCount
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, `SELECT stage, rule, count FROM Redactions ORDER BY stage, rule;`, nil,
			func(stmt *sqlite.Stmt) error {
				out = append(out, RedactionCount{Stage: stmt.ColumnText(0), Rule: stmt.ColumnText(1), Count: stmt.ColumnInt64(2)})
				return nil
			})
	})
	if err != nil {
		return nil, fmt.Errorf("read redaction counts: %w", err)
	}
	return out, nil
}

// CounterNearDuplicateQuestions counts questions dropped at generation
// because a stored question of the same repository was too similar.
const CounterNearDuplicateQuestions = "near_duplicate_questions"

// CounterFlagPrefix + a quality flag kind counts answers flagged so.
const CounterFlagPrefix = "quality_flag:"

// Counters returns every running total whose name starts with prefix.
func (s *Store) Counters(ctx context.Context, prefix string) (map[string]int64, error) {
	out := map[string]int64{}
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, `SELECT name, value FROM Counters WHERE substr(name, 1, length(:p)) = :p ORDER BY name;`,
			map[string]any{":p": prefix}, func(stmt *sqlite.Stmt) error {
				out[stmt.ColumnText(0)[len(prefix):]] = stmt.ColumnInt64(1)
				return nil
			})
	})
	if err != nil {
		return nil, fmt.Errorf("read counters: %w", err)
	}
	return out, nil
}

// AddCounter adds n to a named running total.
func (s *Store) AddCounter(ctx context.Context, name string, n int64) error {
	return s.AddCounters(ctx, map[string]int64{name: n})
}

// AddCounters adds to several running totals in one transaction.
func (s *Store) AddCounters(ctx context.Context, add map[string]int64) error {
	names := make([]string, 0, len(add))
	for name, n := range add {
		if n != 0 {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	err := s.write(ctx, func(conn *sqlite.Conn) error {
		for _, name := range names {
			err := execSQL(conn, `
				INSERT INTO Counters (name, value) VALUES (:name, :n)
				ON CONFLICT (name) DO UPDATE SET value = value + excluded.value;`,
				map[string]any{":name": name, ":n": add[name]}, nil)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update counters %v: %w", names, err)
	}
	return nil
}

// Counter returns a running total (0 when never added to).
func (s *Store) Counter(ctx context.Context, name string) (int64, error) {
	var v int64
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, `SELECT value FROM Counters WHERE name = :name;`, map[string]any{":name": name},
			func(stmt *sqlite.Stmt) error { v = stmt.ColumnInt64(0); return nil })
	})
	if err != nil {
		return 0, fmt.Errorf("read counter %s: %w", name, err)
	}
	return v, nil
}
