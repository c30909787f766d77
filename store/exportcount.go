package store

import (
	"context"
	"fmt"

	"zombiezen.com/go/sqlite"
)

// ExportCount is the number of samples q selects, counted in SQLite so a
// form can show it as the user changes filters without loading a sample.
func (s *Store) ExportCount(ctx context.Context, q ExportQuery) (int, error) {
	args, err := exportArgs(q)
	if err != nil {
		return 0, err
	}
	n := 0
	err = s.read(ctx, func(conn *sqlite.Conn) error {
		return execSQL(conn, `SELECT count(*) FROM TrainingSamples s WHERE `+exportWhere+`;`, args,
			func(stmt *sqlite.Stmt) error {
				n = stmt.ColumnInt(0)
				return nil
			})
	})
	if err != nil {
		return 0, fmt.Errorf("count samples for export: %w", err)
	}
	return n, nil
}
