package export

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-enry/go-enry/v2"

	"cicdllm/pipeline/quality"
	"cicdllm/pipeline/redact"
	"cicdllm/store"
)

// Job is one export.
type Job struct {
	Store     *store.Store
	Format    *Format
	Options   Options
	Output    string // the file, or the directory for directory formats
	Force     bool   // replace an existing output
	Query     store.ExportQuery
	Languages []string // keep only these languages (case-insensitive); empty keeps all
	Dedup     string   // "off", "exact" or "near"
	Threshold float64  // near-duplicate Jaccard threshold
	Splits    []SplitSpec
	Seed      int64
	Limit     int // records written at most; 0 = no limit
	Shuffle   bool
	Params    map[string]string // generation parameters for dataset cards
	// Notices reads the copyright lines and NOTICE files of the source
	// repositories for ATTRIBUTION.md (pipeline.ReadNotices); nil leaves
	// them out, saying so in the file.
	Notices NoticeReader
	// Progress, when set, hears the number of samples read so far.
	Progress func(read int)
	// Secrets, when set, scans every record once more before it is
	// written (rules change, and curators edit samples): a record that
	// still holds a secret is left out, or redacted when Redact is set.
	Secrets *redact.Scanner
	Redact  bool
	// RequireValidCode leaves out samples whose answers hold a fenced Go,
	// JSON, YAML or TOML block that does not parse (checked now, so edits
	// count).
	RequireValidCode bool
}

// Result sums up an export.
type Result struct {
	Records map[string]int // written, per split ("train" when not split)
	Skipped map[string]int // by reason
	Files   []string       // every file written, the attribution included
	Bytes   int64          // bytes of the data and the format's files (not of the attribution)
	// Redacted counts secrets replaced by rule (Job.Redact).
	Redacted map[string]int
}

// Total is the number of records written.
func (r Result) Total() int {
	n := 0
	for _, v := range r.Records {
		n += v
	}
	return n
}

// ErrExists reports an output that exists while Force is off.
var ErrExists = errors.New("the output already exists")

const batchSize = 500

// Run writes the export. Everything is written to a temporary file or
// directory beside the target, synced, then renamed into place, so an
// interrupted export leaves the previous output or none, never half of
// one. Two runs over the same data write the same bytes.
func Run(ctx context.Context, j Job) (Result, error) {
	res := Result{Records: map[string]int{}, Skipped: map[string]int{}, Redacted: map[string]int{}}
	if _, err := os.Lstat(j.Output); err == nil && !j.Force {
		return res, fmt.Errorf("%s: %w; pass --force to replace it", j.Output, ErrExists)
	}
	dedup, err := NewDeduper(orDefault(j.Dedup, "off"), j.Threshold)
	if err != nil {
		return res, err
	}
	splitOf, err := planSplits(ctx, j)
	if err != nil {
		return res, err
	}
	out, err := newOutput(j)
	if err != nil {
		return res, err
	}
	defer out.abandon()
	attrName := AttributionFile
	if !j.Format.Dir {
		if attrName, err = attributionName(j.Output); err != nil {
			return res, err
		}
	}

	sum := Summary{Name: strings.TrimSuffix(filepath.Base(j.Output), filepath.Ext(j.Output)), Template: j.Format.Name,
		Splits: map[string]int{}, Repos: map[string]int{}, Languages: map[string]int{}, Models: map[string]int{},
		Licenses: map[string]int{}, Params: j.Params}
	sources := map[string]*sourceAcc{}
	langs := map[string]bool{}
	for _, l := range j.Languages {
		langs[strings.ToLower(l)] = true
	}
	read := 0
	err = forEachSample(ctx, j, func(sm store.ExportSample) error {
		read++
		if j.Progress != nil && read%1000 == 0 {
			j.Progress(read)
		}
		if j.Limit > 0 && res.Total() >= j.Limit {
			return errStop
		}
		rec := toRecord(sm)
		if len(langs) > 0 && !langs[strings.ToLower(rec.Meta.Language)] {
			res.Skipped["language"]++
			return nil
		}
		if j.RequireValidCode && !codeParses(rec) {
			res.Skipped["code does not parse"]++
			return nil
		}
		if j.Secrets != nil && !scanRecord(j.Secrets, j.Redact, &rec, res.Redacted) {
			res.Skipped["contains a secret (export --redact redacts it instead)"]++
			return nil
		}
		q, a := firstUser(rec), lastAssistant(rec)
		if strings.TrimSpace(a) == "" {
			res.Skipped["empty answer"]++
			return nil
		}
		if dedup.Duplicate(q, a) {
			res.Skipped["duplicate"]++
			return nil
		}
		line, err := j.Format.Encode(rec, j.Options)
		var skip *SkipError
		switch {
		case errors.As(err, &skip):
			res.Skipped[skip.Reason]++
			return nil
		case err != nil:
			return fmt.Errorf("sample %d: %w", sm.ID, err)
		}
		split := "train"
		if splitOf != nil {
			split = splitOf[store.GroupKey(sm.RepoID, sm.FilePath)]
		}
		if err := out.write(split, line); err != nil {
			return err
		}
		res.Records[split]++
		sum.Splits[split]++
		sum.Repos[sm.RepoName]++
		sum.Languages[orDefault(rec.Meta.Language, "unknown")]++
		sum.Models[orDefault(sm.Model, "unknown")]++
		sum.Licenses[orDefault(sm.License, "NOASSERTION")]++
		src := sources[sm.RepoName]
		if src == nil {
			src = &sourceAcc{Source: Source{Name: sm.RepoName, URL: sm.RepoURL, License: orDefault(sm.License, "NOASSERTION")},
				commits: map[string]bool{}}
			sources[sm.RepoName] = src
		}
		src.add(sm)
		// The newest sample dates the card, so re-exporting the same data
		// writes the same bytes.
		if sm.CreatedAt.After(sum.Created) {
			sum.Created = sm.CreatedAt
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return res, err
	}
	for _, name := range slices.Sorted(maps.Keys(sources)) {
		sum.Sources = append(sum.Sources, sources[name].source())
	}
	notices, err := readNotices(ctx, j, sum.Sources)
	if err != nil {
		return res, err
	}
	base := filepath.Base(j.Output)
	// The attribution is not counted in Bytes: that is the dataset's size.
	n := out.bytes
	if err := out.writeFile(attrName, renderAttribution(base, sum.Sources, notices)); err != nil {
		return res, err
	}
	out.attr, out.bytes = attrName, n
	if j.Format.Aux != nil {
		aux, err := j.Format.Aux(sum, j.Options)
		if err != nil {
			return res, err
		}
		for name, data := range aux {
			if err := out.writeFile(name, data); err != nil {
				return res, err
			}
		}
	}
	if err := out.commit(); err != nil {
		return res, err
	}
	res.Files, res.Bytes = out.files, out.bytes
	return res, nil
}

var errStop = errors.New("limit reached")

// sourceAcc gathers a source repository's records as they are written.
type sourceAcc struct {
	Source
	commits  map[string]bool
	newest   time.Time
	newestID int64
}

func (a *sourceAcc) add(sm store.ExportSample) {
	a.Records++
	if sm.CommitSHA == "" {
		return
	}
	a.commits[sm.CommitSHA] = true
	// The newest record names the commit, whatever the order of the
	// export (shuffled or not).
	if a.Commit == "" || sm.CreatedAt.After(a.newest) || (sm.CreatedAt.Equal(a.newest) && sm.ID > a.newestID) {
		a.Commit, a.newest, a.newestID = sm.CommitSHA, sm.CreatedAt, sm.ID
	}
}

func (a *sourceAcc) source() Source {
	s := a.Source
	if s.Commit != "" {
		s.Commits = []string{s.Commit}
	}
	for _, c := range slices.Sorted(maps.Keys(a.commits)) {
		if c != s.Commit {
			s.Commits = append(s.Commits, c)
		}
	}
	return s
}

// readNotices reads the notices of every source that has a clone, keyed by
// name; a source left out could not be read. Without a NoticeReader it
// returns nil: nothing was read.
func readNotices(ctx context.Context, j Job, sources []Source) (map[string]Notices, error) {
	if j.Notices == nil {
		return nil, nil
	}
	out := map[string]Notices{}
	if len(sources) == 0 {
		return out, nil
	}
	repos, err := j.Store.Repos(ctx)
	if err != nil {
		return nil, err
	}
	dirs := map[string]string{}
	for _, r := range repos {
		dirs[r.Name] = r.LocalPath
	}
	for _, s := range sources {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dir := dirs[s.Name]
		if dir == "" || len(s.Commits) == 0 {
			continue
		}
		if n, err := j.Notices(dir, s.Commits); err == nil {
			out[s.Name] = n
		}
	}
	return out, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// planSplits assigns source files to splits, or returns nil for one split.
func planSplits(ctx context.Context, j Job) (map[string]string, error) {
	if len(j.Splits) <= 1 {
		return nil, nil
	}
	groups, err := j.Store.ExportGroups(ctx, j.Query)
	if err != nil {
		return nil, err
	}
	return PlanSplits(groups, j.Splits, j.Seed), nil
}

// forEachSample streams the selected samples: by id in keyset batches, or
// in a seeded permutation when shuffling (only the ids are held).
func forEachSample(ctx context.Context, j Job, fn func(store.ExportSample) error) error {
	if !j.Shuffle {
		after := int64(0)
		for {
			batch, err := j.Store.ExportBatch(ctx, j.Query, after, batchSize)
			if err != nil || len(batch) == 0 {
				return err
			}
			for _, sm := range batch {
				if err := fn(sm); err != nil {
					return err
				}
			}
			after = batch[len(batch)-1].ID
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	ids, err := j.Store.ExportIDs(ctx, j.Query)
	if err != nil {
		return err
	}
	sort.Slice(ids, func(a, b int) bool { return ShuffleKey(j.Seed, ids[a]) < ShuffleKey(j.Seed, ids[b]) })
	for start := 0; start < len(ids); start += batchSize {
		batch, err := j.Store.ExportByIDs(ctx, ids[start:min(start+batchSize, len(ids))])
		if err != nil {
			return err
		}
		for _, sm := range batch {
			if err := fn(sm); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// toRecord turns a stored sample into the formats' record.
// codeParses reports whether every checkable code block in the
// assistant's turns parses.
func codeParses(rec Record) bool {
	for _, t := range rec.Turns {
		if t.Role != "assistant" {
			continue
		}
		for _, b := range quality.ExtractCode(t.Content) {
			if r := quality.ValidateCode(b); r.Checked && !r.OK {
				return false
			}
		}
	}
	return true
}

// scanRecord checks every turn for secrets. It reports false when one was
// found and redaction is off; with redaction on it replaces them, counting
// by rule.
func scanRecord(sc *redact.Scanner, redactThem bool, rec *Record, counts map[string]int) bool {
	for i, t := range rec.Turns {
		if !redactThem {
			if len(sc.Find(t.Content)) > 0 {
				return false
			}
			continue
		}
		out, findings := sc.Redact(t.Content)
		for _, f := range findings {
			counts[f.Rule]++
		}
		rec.Turns[i].Content = out
	}
	return true
}

func toRecord(sm store.ExportSample) Record {
	r := Record{Meta: Metadata{SampleID: sm.ID, Repo: sm.RepoName, RepoURL: sm.RepoURL, Path: sm.FilePath,
		Commit: sm.CommitSHA, License: sm.License, LineStart: sm.LineStart, LineEnd: sm.LineEnd,
		Model: sm.Model, Theme: sm.Theme, Score: sm.Score, HumanRating: sm.HumanRating,
		Language: languageOf(sm.FilePath)}}
	for _, t := range sm.Turns {
		r.Turns = append(r.Turns, Turn{Role: t.Role, Content: t.Content})
	}
	return r
}

// languageOf names a file's language from its path (the export has no
// content at hand; linguist's filename and extension rules decide).
func languageOf(path string) string {
	if lang, ok := enry.GetLanguageByFilename(path); ok {
		return lang
	}
	lang, _ := enry.GetLanguageByExtension(path)
	return lang
}

func firstUser(r Record) string {
	for _, t := range r.Turns {
		if t.Role == "user" {
			return t.Content
		}
	}
	return ""
}

func lastAssistant(r Record) string {
	for i := len(r.Turns) - 1; i >= 0; i-- {
		if r.Turns[i].Role == "assistant" {
			return r.Turns[i].Content
		}
	}
	return ""
}

// output writes an export's files into a temporary place and moves them
// into the target at commit.
type output struct {
	j       Job
	tmp     string // temporary file (file formats with one split) or directory
	writers map[string]*splitFile
	files   []string
	bytes   int64
	attr    string // the attribution, moved into place before the data of a file export
	done    bool
}

type splitFile struct {
	f    *os.File
	w    *bufio.Writer
	path string // final path
}

func newOutput(j Job) (*output, error) {
	dir := filepath.Dir(j.Output)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	// Leftovers of exports a crash interrupted.
	stale, _ := filepath.Glob(filepath.Join(dir, "."+filepath.Base(j.Output)+".tmp-*"))
	for _, s := range stale {
		_ = os.RemoveAll(s)
	}
	tmp, err := os.MkdirTemp(dir, "."+filepath.Base(j.Output)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("create a temporary directory beside %s: %w", j.Output, err)
	}
	return &output{j: j, tmp: tmp, writers: map[string]*splitFile{}}, nil
}

// name is where a split's data goes inside the temporary directory.
func (o *output) name(split string) string {
	if o.j.Format.Dir {
		return o.j.Format.DataFile(split)
	}
	base := filepath.Base(o.j.Output)
	if len(o.j.Splits) > 1 {
		ext := filepath.Ext(base)
		return strings.TrimSuffix(base, ext) + "." + split + ext
	}
	return base
}

func (o *output) write(split string, line []byte) error {
	sf, ok := o.writers[split]
	if !ok {
		rel := o.name(split)
		p := filepath.Join(o.tmp, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := os.Create(p)
		if err != nil {
			return fmt.Errorf("create %s: %w", rel, err)
		}
		sf = &splitFile{f: f, w: bufio.NewWriterSize(f, 1<<20), path: rel}
		o.writers[split] = sf
		if o.j.Format.Header != nil {
			if h := o.j.Format.Header(o.j.Options); len(h) > 0 {
				if _, err := sf.w.Write(h); err != nil {
					return err
				}
				o.bytes += int64(len(h))
			}
		}
	}
	if _, err := sf.w.Write(line); err != nil {
		return fmt.Errorf("write %s: %w", sf.path, err)
	}
	o.bytes += int64(len(line))
	return nil
}

func (o *output) writeFile(rel string, data []byte) error {
	p := filepath.Join(o.tmp, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	// Synced like the data files, so a crash after the rename never
	// leaves an empty card or attribution.
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	o.bytes += int64(len(data))
	o.files = append(o.files, rel)
	return nil
}

// commit flushes and syncs every file, then moves the result into place.
func (o *output) commit() error {
	if len(o.writers) == 0 && !o.j.Format.Dir {
		// Nothing selected: still an (empty) file, with its header.
		if err := o.write("train", nil); err != nil {
			return err
		}
	}
	for _, split := range slices.Sorted(maps.Keys(o.writers)) {
		sf := o.writers[split]
		if err := sf.w.Flush(); err != nil {
			return fmt.Errorf("write %s: %w", sf.path, err)
		}
		if err := sf.f.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", sf.path, err)
		}
		if err := sf.f.Close(); err != nil {
			return err
		}
		o.files = append(o.files, sf.path)
	}
	sort.Strings(o.files)
	if o.j.Format.Dir {
		if err := replace(o.tmp, o.j.Output); err != nil {
			return err
		}
	} else {
		// File formats: move each file out of the temporary directory,
		// the attribution first, so an interruption never leaves new data
		// beside an older attribution that may lack its sources.
		order := slices.DeleteFunc(slices.Clone(o.files), func(f string) bool { return f == o.attr })
		if o.attr != "" {
			order = append([]string{o.attr}, order...)
		}
		for _, rel := range order {
			target := filepath.Join(filepath.Dir(o.j.Output), rel)
			if err := os.Rename(filepath.Join(o.tmp, rel), target); err != nil {
				return fmt.Errorf("move %s into place: %w", rel, err)
			}
		}
		_ = os.RemoveAll(o.tmp)
	}
	syncDir(filepath.Dir(o.j.Output))
	o.done = true
	return nil
}

// abandon removes the temporary output of a failed export.
func (o *output) abandon() {
	if o.done {
		return
	}
	for _, sf := range o.writers {
		_ = sf.f.Close()
	}
	_ = os.RemoveAll(o.tmp)
}

// replace moves dir into target. A directory cannot be renamed over a
// non-empty one, so an old target is first moved aside: an interruption
// between the two renames leaves the target absent, never half written.
func replace(dir, target string) error {
	old := ""
	if _, err := os.Lstat(target); err == nil {
		old = target + ".old-" + time.Now().Format("20060102150405.000000000")
		if err := os.Rename(target, old); err != nil {
			return fmt.Errorf("move the old %s aside: %w", target, err)
		}
	}
	if err := os.Rename(dir, target); err != nil {
		return fmt.Errorf("move the export into %s: %w", target, err)
	}
	if old != "" {
		_ = os.RemoveAll(old)
	}
	return nil
}

// syncDir makes the renames durable (best effort: not every platform can
// sync a directory).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
