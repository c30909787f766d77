package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"cicdllm/pipeline/export"
	"cicdllm/pipeline/redact"
	"cicdllm/store"
)

// ExportSpec is what a user asked an export to do, from the command line or
// the export dialog. Empty fields take the [export] defaults of the
// configuration, so both front ends build identical jobs.
type ExportSpec struct {
	Template string // "" = export.template
	Output   string // the file, or the directory of a directory format; relative to the current directory
	Force    bool   // replace an existing output

	Statuses         []string // sample statuses to export; empty = active only
	IncludeTruncated bool
	// MinScore 0 takes export.min_score; a negative value keeps every
	// score even when the configuration sets a minimum (the dialog's "any").
	MinScore float64
	RepoIDs  []int64 // empty = every repository
	// RepoMatch keeps only repositories whose name contains it (--repo); it
	// narrows RepoIDs when both are given. Matching none is an error.
	RepoMatch string
	// Languages keeps only these languages; entries may themselves be
	// comma-separated lists (--language Go,YAML).
	Languages []string
	// Licenses keeps only samples of repositories whose licence is made of
	// these SPDX ids (--license MIT,Apache-2.0; entries may be
	// comma-separated lists); a repository under "MIT AND Apache-2.0"
	// needs both. Empty keeps every licence. See store.ExportQuery.Licenses.
	Licenses []string
	Since    time.Time // zero = any time

	Dedup string // "" = export.dedup; else off, exact or near
	// Split is "train=0.9,test=0.1"; "" takes export.split, or for mlx-lm
	// (whose trainer validates on valid.jsonl) train=0.9,valid=0.05,test=0.05;
	// "none" writes one file whatever the configuration says.
	Split     string
	Limit     int // records written at most; 0 = no limit
	Shuffle   bool
	LlamaDate string // llama3: the Llama 3.1 date header, e.g. "26 Jul 2024"
	// Redact replaces secrets still found in samples instead of leaving
	// those samples out (export --redact).
	Redact bool
	// RequireValidCode leaves out samples whose code blocks do not parse.
	RequireValidCode bool
}

// MLXDefaultSplit is the split mlx-lm exports get when none is configured:
// mlx_lm.lora validates on valid.jsonl and refuses to train without it.
const MLXDefaultSplit = "train=0.9,valid=0.05,test=0.05"

// ExportSpecError is a mistake in an ExportSpec (an unknown format, a bad
// split, a repository filter that matches nothing), as opposed to a failure
// reading the database: the CLI reports it as a usage error and the export
// dialog shows it beside the form.
type ExportSpecError struct{ msg string }

func (e *ExportSpecError) Error() string { return e.msg }

func specError(format string, args ...any) error {
	return &ExportSpecError{msg: fmt.Sprintf(format, args...)}
}

// NewExportJob turns spec into an export.Job over st, filling what spec
// leaves unset from cfg.Export (and the dataset card's Params from
// cfg.Generation). Progress is left for the caller to set. Every mistake in
// spec is an *ExportSpecError; other errors come from reading the store.
func NewExportJob(cfg Config, st *store.Store, spec ExportSpec) (export.Job, error) {
	c := cfg.Export
	if strings.TrimSpace(spec.Output) == "" {
		return export.Job{}, specError("no output path given; name a file such as dataset.jsonl (--output-file)")
	}
	ft, err := export.Lookup(specOr(spec.Template, c.Template))
	if err != nil {
		return export.Job{}, specError("%v", err)
	}
	splits, err := exportSplits(ft, specOr(spec.Split, c.Split))
	if err != nil {
		return export.Job{}, err
	}
	dedup := specOr(spec.Dedup, c.Dedup)
	switch dedup {
	case "", "off", "exact", "near":
	default:
		return export.Job{}, specError("duplicate removal %q is not one of off, exact or near", dedup)
	}
	if spec.Limit < 0 {
		return export.Job{}, specError("the record limit %d is negative; use 0 for no limit", spec.Limit)
	}

	q := store.ExportQuery{Statuses: spec.Statuses, IncludeTruncated: spec.IncludeTruncated, Since: spec.Since.UTC(),
		Licenses: commaList(spec.Licenses)}
	for _, l := range q.Licenses {
		if len(store.LicenseIDs(l)) == 0 {
			return export.Job{}, specError("%q is not a licence; give SPDX ids such as MIT,Apache-2.0", l)
		}
	}
	if len(q.Statuses) == 0 {
		q.Statuses = []string{store.StatusActive}
	}
	for _, s := range q.Statuses {
		switch s {
		case store.StatusActive, store.StatusStale, store.StatusDeleted, store.StatusPending:
		default:
			return export.Job{}, specError("unknown sample status %q; use active, stale, deleted or pending", s)
		}
	}
	minScore := spec.MinScore
	if minScore == 0 {
		minScore = c.MinScore
	}
	if math.IsNaN(minScore) || minScore > 5 {
		return export.Job{}, specError("minimum score %v is out of range; scores run from 0 to 5", minScore)
	}
	if minScore > 0 {
		q.MinScore = &minScore
	}
	output, err := filepath.Abs(spec.Output)
	if err != nil {
		return export.Job{}, fmt.Errorf("resolve the output path %s: %w", spec.Output, err)
	}
	// The store is consulted last, so every mistake in spec is reported
	// without touching it.
	q.RepoIDs = append(q.RepoIDs, spec.RepoIDs...)
	if spec.RepoMatch != "" {
		if q.RepoIDs, err = matchRepos(st, spec.RepoMatch, q.RepoIDs); err != nil {
			return export.Job{}, err
		}
	}
	// The last of the safety checks: with redaction on, every record is
	// scanned once more (rules improve; curators edit samples).
	var secrets *redact.Scanner
	if cfg.Safety.RedactSecrets || spec.Redact {
		if secrets, err = redact.New(redact.Options{Emails: cfg.Safety.RedactEmails}); err != nil {
			return export.Job{}, err
		}
	}
	g := cfg.Generation
	return export.Job{
		Store: st, Format: ft, Output: output, Force: spec.Force, Query: q, Languages: commaList(spec.Languages),
		Options: export.Options{System: c.SystemPrompt, BOS: c.BOS, LlamaDate: spec.LlamaDate, WithMetadata: c.WithMetadata},
		Dedup:   dedup, Threshold: c.NearDuplicateThreshold, Splits: splits, Seed: int64(c.Seed),
		Limit: spec.Limit, Shuffle: spec.Shuffle, Notices: ReadNotices, Secrets: secrets, Redact: spec.Redact,
		RequireValidCode: spec.RequireValidCode,
		Params: map[string]string{"theme": g.Theme, "temperature": strconv.FormatFloat(g.Temperature, 'g', -1, 64),
			"max_tokens": strconv.Itoa(g.MaxTokens), "questions_per_chunk": strconv.Itoa(g.QuestionsPerChunk)},
	}, nil
}

// exportSplits parses a split; "" is one file except for mlx-lm.
func exportSplits(ft *export.Format, split string) ([]export.SplitSpec, error) {
	switch strings.ToLower(strings.TrimSpace(split)) {
	case "none":
		return nil, nil
	case "":
		if ft.Name != "mlx-lm" {
			return nil, nil
		}
		split = MLXDefaultSplit
	}
	splits, err := export.ParseSplits(split)
	if err != nil {
		return nil, specError("%v", err)
	}
	return splits, nil
}

// matchRepos keeps the repositories whose name contains match, within ids
// when ids is not empty.
func matchRepos(st *store.Store, match string, ids []int64) ([]int64, error) {
	if st == nil {
		return nil, errors.New("no database to look repositories up in")
	}
	// NewExportJob takes no context (building a job is not the export);
	// this one short read is bounded by the store's busy timeout.
	repos, err := st.Repos(context.Background())
	if err != nil {
		return nil, err
	}
	within := map[int64]bool{}
	for _, id := range ids {
		within[id] = true
	}
	var out []int64
	for _, r := range repos {
		if strings.Contains(r.Name, match) && (len(ids) == 0 || within[r.ID]) {
			out = append(out, r.ID)
		}
	}
	if len(out) == 0 {
		return nil, specError("no repository name contains %q; see `cicdllm stats` for the names", match)
	}
	return out, nil
}

// splitList flattens comma-separated entries, dropping blanks.
func commaList(in []string) []string {
	var out []string
	for _, e := range in {
		for _, s := range strings.Split(e, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func specOr(s, d string) string {
	if strings.TrimSpace(s) == "" {
		return d
	}
	return s
}

// CountExport is the number of samples q selects: what an export reads,
// before languages, duplicates, unanswered questions and a limit drop any.
func CountExport(ctx context.Context, st *store.Store, q store.ExportQuery) (int, error) {
	return st.ExportCount(ctx, q)
}
