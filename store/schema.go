package store

import "zombiezen.com/go/sqlite/sqlitemigration"

// appID marks the file as ours ("cicd"), so Open refuses to migrate some
// other program's database into shape.
const appID = 0x63696364

// schema returns the migration list. sqlitemigration records how many
// entries have run in PRAGMA user_version and runs each one once, inside its
// own transaction.
//
// The list is append-only. NEVER edit, reorder or remove a shipped entry:
// databases in the field have already run it and will not run it again, so a
// change would silently fork the schema. Add a new entry instead.
//
// Every statement uses IF NOT EXISTS so that re-running an entry by hand
// (support, crash recovery) is harmless.
func schema() sqlitemigration.Schema {
	return sqlitemigration.Schema{
		AppID:      appID,
		Migrations: []string{migration1, migration2, migration3, migration4},
	}
}

// migration1 keeps the Python prototype's table and column names
// (TrainingSamples, ConversationTurns, FileHashes, FailedFiles) because users
// have queries written against them. Timestamps are UTC TEXT in
// CURRENT_TIMESTAMP format, as the prototype wrote them.
const migration1 = `
CREATE TABLE IF NOT EXISTS Repos (
	repo_id        INTEGER PRIMARY KEY,
	url            TEXT NOT NULL UNIQUE,
	name           TEXT NOT NULL UNIQUE, -- host/owner/name
	local_path     TEXT NOT NULL DEFAULT '',
	head_commit    TEXT NOT NULL DEFAULT '',
	default_branch TEXT NOT NULL DEFAULT '',
	license        TEXT NOT NULL DEFAULT '',
	last_scraped   TEXT,
	last_error     TEXT NOT NULL DEFAULT '',
	created_at     TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS TrainingSamples (
	sample_id            INTEGER PRIMARY KEY AUTOINCREMENT,
	dataset_source       VARCHAR(255), -- prototype: 'repo_file:<repo name>/<file_path>'
	creation_date        TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
	model_type_intended  VARCHAR(50) DEFAULT 'Instruct',
	sample_quality_score REAL, -- judge score, NULL = unscored
	is_multiturn         BOOLEAN NOT NULL DEFAULT 0,
	repo_id              INTEGER NOT NULL REFERENCES Repos(repo_id) ON DELETE CASCADE,
	file_path            TEXT NOT NULL, -- repository-relative, '/' separated
	commit_sha           TEXT NOT NULL DEFAULT '',
	blob_oid             TEXT NOT NULL DEFAULT '', -- git blob the sample was generated from
	chunk_index          INTEGER NOT NULL DEFAULT 0,
	line_start           INTEGER NOT NULL DEFAULT 0,
	line_end             INTEGER NOT NULL DEFAULT 0,
	question_hash        TEXT NOT NULL DEFAULT '', -- sha256 of the normalised generated question
	status               TEXT NOT NULL DEFAULT 'pending'
	                     CHECK (status IN ('pending', 'active', 'deleted', 'stale')),
	status_before_delete TEXT, -- lets restore put a sample back where it was
	truncated            INTEGER NOT NULL DEFAULT 0,
	edited_at            TEXT,
	human_rating         INTEGER CHECK (human_rating IS NULL OR human_rating BETWEEN 1 AND 5),
	model                TEXT NOT NULL DEFAULT '',
	theme                TEXT NOT NULL DEFAULT '',
	prompt_hash          TEXT NOT NULL DEFAULT '',
	params_json          TEXT NOT NULL DEFAULT '{}',
	updated_at           TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- Exactly-once generation: a question that is already waiting or answered
-- for the same file version and chunk cannot be inserted again. Stale and
-- deleted samples do not count, so regeneration after a change is possible.
CREATE UNIQUE INDEX IF NOT EXISTS TrainingSamples_question_key
	ON TrainingSamples (repo_id, file_path, blob_oid, chunk_index, question_hash)
	WHERE status IN ('pending', 'active');
CREATE INDEX IF NOT EXISTS TrainingSamples_repo_file ON TrainingSamples (repo_id, file_path);
CREATE INDEX IF NOT EXISTS TrainingSamples_status ON TrainingSamples (status, sample_id);
CREATE INDEX IF NOT EXISTS TrainingSamples_score ON TrainingSamples (sample_quality_score, sample_id);
CREATE INDEX IF NOT EXISTS TrainingSamples_dataset_source ON TrainingSamples (dataset_source);

CREATE TABLE IF NOT EXISTS ConversationTurns (
	turn_id       INTEGER PRIMARY KEY AUTOINCREMENT,
	sample_id     INTEGER NOT NULL REFERENCES TrainingSamples(sample_id) ON DELETE CASCADE,
	turn_index    INTEGER NOT NULL,
	role          VARCHAR(50) NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
	content       TEXT NOT NULL,
	is_label      BOOLEAN NOT NULL DEFAULT 0, -- 1 for assistant turns: what training learns
	metadata_json TEXT, -- per-turn facts: finish reason, latency, tokens
	UNIQUE (sample_id, turn_index)
);

CREATE TABLE IF NOT EXISTS TurnEdits (
	edit_id     INTEGER PRIMARY KEY,
	turn_id     INTEGER NOT NULL REFERENCES ConversationTurns(turn_id) ON DELETE CASCADE,
	old_content TEXT NOT NULL,
	new_content TEXT NOT NULL,
	edited_at   TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
-- Without it every cascade from ConversationTurns scans the whole history.
CREATE INDEX IF NOT EXISTS TurnEdits_turn ON TurnEdits (turn_id);

CREATE TABLE IF NOT EXISTS FileHashes (
	file_id        INTEGER PRIMARY KEY,
	repo_id        INTEGER NOT NULL REFERENCES Repos(repo_id) ON DELETE CASCADE,
	file_path      TEXT NOT NULL,
	content_hash   TEXT NOT NULL DEFAULT '', -- sha256 hex, as the prototype
	blob_oid       TEXT NOT NULL DEFAULT '',
	status         TEXT NOT NULL DEFAULT 'done' CHECK (status IN ('done', 'skipped', 'gone')),
	skip_reason    TEXT NOT NULL DEFAULT '',
	last_processed DATETIME DEFAULT CURRENT_TIMESTAMP,
	sample_id      INTEGER REFERENCES TrainingSamples(sample_id) ON DELETE SET NULL, -- prototype column, unused
	UNIQUE (repo_id, file_path)
);
-- Without it every sample deletion scans FileHashes to honour ON DELETE SET NULL.
CREATE INDEX IF NOT EXISTS FileHashes_sample ON FileHashes (sample_id);

CREATE TABLE IF NOT EXISTS FailedFiles (
	failed_id INTEGER PRIMARY KEY AUTOINCREMENT,
	file_path TEXT NOT NULL,
	reason    TEXT,
	failed_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
	repo_id   INTEGER NOT NULL REFERENCES Repos(repo_id) ON DELETE CASCADE,
	attempts  INTEGER NOT NULL DEFAULT 1,
	UNIQUE (repo_id, file_path)
);

-- External-content FTS5 index over turn text: the text lives once, in
-- ConversationTurns, and the triggers below keep the index in step.
CREATE VIRTUAL TABLE IF NOT EXISTS TurnsFTS USING fts5(
	content,
	content = 'ConversationTurns',
	content_rowid = 'turn_id',
	tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER IF NOT EXISTS ConversationTurns_fts_insert
AFTER INSERT ON ConversationTurns BEGIN
	INSERT INTO TurnsFTS (rowid, content) VALUES (new.turn_id, new.content);
END;

-- External content tables cannot look up the old text themselves, so the
-- 'delete' command must be handed exactly what was indexed.
CREATE TRIGGER IF NOT EXISTS ConversationTurns_fts_delete
AFTER DELETE ON ConversationTurns BEGIN
	INSERT INTO TurnsFTS (TurnsFTS, rowid, content) VALUES ('delete', old.turn_id, old.content);
END;

CREATE TRIGGER IF NOT EXISTS ConversationTurns_fts_update
AFTER UPDATE OF content ON ConversationTurns BEGIN
	INSERT INTO TurnsFTS (TurnsFTS, rowid, content) VALUES ('delete', old.turn_id, old.content);
	INSERT INTO TurnsFTS (rowid, content) VALUES (new.turn_id, new.content);
END;
`

// migration2 gives every sort order of ListSamples an index that yields
// rows already in order, so a page costs the same at any depth of a large
// table instead of sorting every matching row: one per order for the
// default listing (every status but deleted) and one per order behind the
// status, for a listing of one status (deleted ones, say), which would
// otherwise sort that whole status. The score expression must stay exactly
// as ListSamples writes it, or the planner cannot match it. The partial
// index serves "only edited", which is rare: without it a page would scan
// the whole table to find a few edited rows. Together they cost about 15%
// of insert speed (BenchmarkInsert100kSamples).
const migration2 = `
CREATE INDEX IF NOT EXISTS TrainingSamples_score_key
	ON TrainingSamples (COALESCE(sample_quality_score, -1), sample_id);
CREATE INDEX IF NOT EXISTS TrainingSamples_file_key
	ON TrainingSamples (file_path, sample_id);
CREATE INDEX IF NOT EXISTS TrainingSamples_status_score_key
	ON TrainingSamples (status, COALESCE(sample_quality_score, -1), sample_id);
CREATE INDEX IF NOT EXISTS TrainingSamples_status_file_key
	ON TrainingSamples (status, file_path, sample_id);
CREATE INDEX IF NOT EXISTS TrainingSamples_edited
	ON TrainingSamples (sample_id) WHERE edited_at IS NOT NULL;
`

// migration3 counts redactions per stage (prompt: code sent to the LLM,
// output: what the LLM wrote) and rule. Only counts are kept:
// never a secret, not even hashed.
const migration3 = `
CREATE TABLE IF NOT EXISTS Redactions (
	stage TEXT NOT NULL,
	rule  TEXT NOT NULL,
	count INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (stage, rule)
) WITHOUT ROWID;
`

// migration4 keeps running totals of things that leave no row behind,
// such as near-duplicate questions dropped before they were answered.
const migration4 = `
CREATE TABLE IF NOT EXISTS Counters (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
`
