package pipeline

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"cicdllm/store"
)

// Status is the one-screen overview behind `cicdllm status`.
type Status struct {
	ReposListed   int // accepted entries in repos.txt (an organisation counts once)
	ReposRejected int // repos.txt lines scrape would reject
	ReposKnown    int64
	ReposCloned   int64
	FilesDone     int64
	FilesSkipped  int64
	FilesFailed   int64
	Samples       map[string]int64 // by status: pending, active, deleted, stale
	Turns         int64
	DBSize        int64
	DiskFree      uint64 // 0 when unknown
	LastActivity  time.Time
	Power         PowerState
	PowerErr      error
	NextStep      string

	// Licenses counts the cloned repositories by the licence scrape
	// detected (Repos.license): SPDX id or expression → repositories;
	// NOASSERTION for none (or not detected yet). LicenseSummary formats it.
	Licenses map[string]int
}

// SampleTotal counts samples of every status.
func (s Status) SampleTotal() int64 {
	var n int64
	for _, v := range s.Samples {
		n += v
	}
	return n
}

// ReadStatus gathers the workspace's counts from repos.txt and the store.
// home expands ~ in repos.txt, as for scrape, so both read the same list.
func ReadStatus(ctx context.Context, ws Workspace, st *store.Store, home string) (Status, error) {
	entries, rejected, err := ReadRepoList(ws, RepoListOptions{Workdir: ws.Dir, Home: home})
	if err != nil {
		return Status{}, err
	}
	stats, err := st.Stats(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("read counts: %w", err)
	}
	size, err := st.DBSize()
	if err != nil {
		return Status{}, fmt.Errorf("database size: %w", err)
	}
	s := Status{
		ReposListed:   len(entries),
		ReposRejected: len(rejected),
		ReposKnown:    stats.Repos,
		ReposCloned:   stats.ReposCloned,
		FilesDone:     stats.FilesDone,
		FilesSkipped:  stats.FilesSkipped,
		FilesFailed:   stats.FilesFailed,
		Samples:       stats.SamplesByStatus,
		Turns:         stats.Turns,
		DBSize:        size,
		LastActivity:  stats.LastActivity,
	}
	if s.Samples == nil {
		s.Samples = map[string]int64{}
	}
	if s.Licenses, err = repoLicenses(ctx, st); err != nil {
		return Status{}, err
	}
	if free, err := DiskFree(ws.DataDir); err == nil {
		s.DiskFree = free
	}
	s.Power, s.PowerErr = ReadPower()
	s.NextStep = nextStep(s)
	return s, nil
}

// repoLicenses counts the cloned repositories per licence.
func repoLicenses(ctx context.Context, st *store.Store) (map[string]int, error) {
	repos, err := st.Repos(ctx)
	if err != nil {
		return nil, fmt.Errorf("repository licences: %w", err)
	}
	out := map[string]int{}
	for _, r := range repos {
		if r.HeadCommit == "" {
			continue
		}
		lic := strings.TrimSpace(r.License)
		if unknownLicenseID(lic) {
			lic = store.NoAssertion
		}
		out[lic]++
	}
	return out, nil
}

// LicenseSummary formats Licenses for `cicdllm status`, most repositories
// first, then by name: "MIT 3, Apache-2.0 1, NOASSERTION 1"; "" when no
// repository is cloned.
func (s Status) LicenseSummary() string {
	keys := make([]string, 0, len(s.Licenses))
	for k := range s.Licenses {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if s.Licenses[keys[i]] != s.Licenses[keys[j]] {
			return s.Licenses[keys[i]] > s.Licenses[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, s.Licenses[k])
	}
	return strings.Join(parts, ", ")
}

// nextStep tells the user what to run next, in the order the pipeline
// works (as the prototype's status did).
func nextStep(s Status) string {
	switch {
	case s.ReposListed == 0 && s.ReposKnown == 0:
		return "Create repos.txt with one repository URL or local path per line, then run `cicdllm scrape`."
	case s.ReposCloned == 0:
		return fmt.Sprintf("Run `cicdllm scrape` to clone the %d repositories listed in repos.txt.", s.ReposListed)
	case s.FilesDone == 0 && s.SampleTotal() == 0:
		return "Run `cicdllm prepare` to generate questions and answers."
	case s.FilesFailed > 0:
		return fmt.Sprintf("Run `cicdllm retry` to retry the %d failed files.", s.FilesFailed)
	case s.Samples["pending"] > 0:
		return fmt.Sprintf("Run `cicdllm prepare` to answer the %d pending questions.", s.Samples["pending"])
	case s.Samples["active"] > 0:
		return "Run `cicdllm export --template chatml-jsonl --output-file dataset.jsonl` to write the training set, or `cicdllm` to curate samples first."
	}
	return "Run `cicdllm prepare` to process the cloned repositories."
}

// Statistics is the breakdown behind `cicdllm stats`.
type Statistics struct {
	Repositories []store.RepoStat
	Scores       []store.ScoreBucket
	Failures     []store.Failure
}

// ReadStatistics gathers samples per repository, the score histogram and
// the most recent failures.
func ReadStatistics(ctx context.Context, st *store.Store, recentFailures int) (Statistics, error) {
	repos, err := st.RepoStats(ctx)
	if err != nil {
		return Statistics{}, fmt.Errorf("samples per repository: %w", err)
	}
	scores, err := st.ScoreHistogram(ctx)
	if err != nil {
		return Statistics{}, fmt.Errorf("score histogram: %w", err)
	}
	failures, err := st.Failures(ctx, recentFailures)
	if err != nil {
		return Statistics{}, fmt.Errorf("recent failures: %w", err)
	}
	return Statistics{Repositories: repos, Scores: scores, Failures: failures}, nil
}
