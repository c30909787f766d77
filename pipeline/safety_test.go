package pipeline

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"cicdllm/llm/sim"
	"cicdllm/pipeline/export"
	"cicdllm/pipeline/redact/redacttest"
	"cicdllm/store"
)

// promptRecorder stands between cicdllm and the simulated server and
// keeps every request body: what a remote API would have received.
type promptRecorder struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (p *promptRecorder) proxy(t *testing.T, target string) *httptest.Server {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1 // keep streaming streaming
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.bodies = append(p.bodies, body)
		p.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (p *promptRecorder) all() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(bytes.Join(p.bodies, []byte("\n")))
}

// TestNoPlantedSecretLeavesTheMachineOrEntersTheDataset is issue 9's
// acceptance run: a repository with hundreds of planted fake secrets and
// look-alikes goes through prepare against the simulator (every prompt
// recorded) and export. No planted value may appear in any prompt, in
// the database file or in the exported dataset.
func TestNoPlantedSecretLeavesTheMachineOrEntersTheDataset(t *testing.T) {
	files, plants, lookalikes := redacttest.Corpus(1)
	f := newPrepFixture(t, files, sim.Config{Slots: 4})
	rec := &promptRecorder{}
	f.cfg.LLM.BaseURL = rec.proxy(t, f.sim.URL()).URL
	f.cfg.Generation.QuestionsPerChunk = 2
	f.cfg.Files.MaxFilesPerRepo = 100000
	r := f.run(nil)
	if r.Progress().FilesFailed.Load() > 0 {
		t.Fatalf("%d files failed", r.Progress().FilesFailed.Load())
	}

	prompts := rec.all()
	if len(prompts) == 0 {
		t.Fatal("no prompt was recorded")
	}
	out := filepath.Join(t.TempDir(), "out.jsonl")
	job, err := NewExportJob(f.cfg, f.st, ExportSpec{Template: "chatml-jsonl", Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := export.Run(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	exported, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	var db []byte
	for _, suffix := range []string{"", "-wal"} {
		b, _ := os.ReadFile(f.ws.DBPath + suffix)
		db = append(db, b...)
	}
	stored := f.samplesText(t)

	var fixed, fixedCaught, leaks int
	for _, p := range plants {
		inPrompt := strings.Contains(prompts, p.Value)
		leaked := inPrompt || strings.Contains(stored, p.Value) || bytes.Contains(db, []byte(p.Value)) ||
			bytes.Contains(exported, []byte(p.Value))
		if leaked {
			leaks++
			t.Errorf("planted %s from %s leaked (prompt %v)", p.Kind, p.File, inPrompt)
		}
		if p.FixedFormat {
			fixed++
			if !inPrompt {
				fixedCaught++
			}
		}
	}
	// A look-alike is "redacted" when it was in a file sent to the LLM
	// but is missing from every prompt.
	var sent, redacted int
	for _, l := range lookalikes {
		inSource := false
		for _, text := range files {
			if strings.Contains(text, l) {
				inSource = true
				break
			}
		}
		if !inSource {
			continue
		}
		sent++
		if !strings.Contains(prompts, l) {
			redacted++
			t.Logf("look-alike redacted: %q", l)
		}
	}
	rate := 100 * float64(redacted) / float64(max(sent, 1))
	t.Logf("safety end to end: %d planted secrets, %d leaked into prompts, database or export; fixed-format caught %d/%d; look-alikes redacted %d/%d (%.1f%%); %d requests recorded",
		len(plants), leaks, fixedCaught, fixed, redacted, sent, rate, len(rec.bodies))
	if fixedCaught != fixed {
		t.Errorf("fixed-format tokens caught %d of %d", fixedCaught, fixed)
	}
	if rate > 5 {
		t.Errorf("%.1f%% of look-alikes redacted, want at most 5%%", rate)
	}
	if len(plants) < 200 || sent < 100 {
		t.Errorf("corpus too small: %d plants, %d look-alikes sent", len(plants), sent)
	}
	reds, err := f.st.Redactions(context.Background())
	if err != nil || len(reds) == 0 {
		t.Errorf("no redaction counts stored: %v", err)
	}
	if r.Progress().SecretFiles.Load() == 0 {
		t.Error("no credential file was skipped")
	}
}

// samplesText is every stored turn, joined.
func (f *prepFixture) samplesText(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	q := store.SampleQuery{Statuses: []string{store.StatusActive, store.StatusPending, store.StatusStale, store.StatusDeleted}, Limit: 1000}
	for {
		page, err := f.st.ListSamples(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Samples {
			full, err := f.st.Sample(context.Background(), s.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, turn := range full.Turns {
				b.WriteString(turn.Content)
				b.WriteByte('\n')
			}
		}
		if page.Next == 0 {
			return b.String()
		}
		q.After = page.Next
	}
}

func TestRemoteServerWithoutRedactionNeedsConsent(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Safety.RedactSecrets = false
	cfg.LLM.BaseURL = "https://llm.example.com"
	if err := checkRemote(cfg, false); err == nil || !strings.Contains(err.Error(), "--allow-remote-unredacted") {
		t.Errorf("remote + no redaction: %v", err)
	}
	if err := checkRemote(cfg, true); err != nil {
		t.Errorf("with consent: %v", err)
	}
	cfg.LLM.BaseURL = "http://127.0.0.1:8080"
	if err := checkRemote(cfg, false); err != nil {
		t.Errorf("loopback: %v", err)
	}
	cfg.LLM.BaseURL, cfg.Safety.RedactSecrets = "https://llm.example.com", true
	if err := checkRemote(cfg, false); err != nil {
		t.Errorf("remote with redaction on: %v", err)
	}
	for u, want := range map[string]bool{"http://localhost:1": true, "http://[::1]:8080": true, "http://127.0.0.2": true,
		"http://10.0.0.1": false, "https://api.openai.com/v1": false, "::bad": false} {
		if got := IsLoopback(u); got != want {
			t.Errorf("IsLoopback(%q) = %v", u, got)
		}
	}
}

// A secret that reaches the database anyway (a curator pasted it into an
// answer) is caught at export: left out by default, redacted with Redact.
func TestExportScansAgain(t *testing.T) {
	ws, err := NewWorkspace(t.TempDir(), "data")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), ws.DBPath, store.Options{Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	repoID, err := st.UpsertRepo(ctx, store.Repo{URL: "https://example.com/a/b", Name: "example.com/a/b", HeadCommit: "abc", License: "MIT"})
	if err != nil {
		t.Fatal(err)
	}
	token := "ghp_" + "R7kQ2mZx9TfW4pLs8NvB3cYh6GdJ1aEu5KoX" // a fake GitHub token: 36 characters after the prefix
	ids, err := st.InsertPendingQuestions(ctx, []store.NewQuestion{
		{RepoID: repoID, FilePath: "a.go", CommitSHA: "abc", BlobOID: "b1", LineStart: 1, LineEnd: 3, Question: "What does A do?"},
		{RepoID: repoID, FilePath: "b.go", CommitSHA: "abc", BlobOID: "b2", LineStart: 1, LineEnd: 3, Question: "How is B configured?"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range []string{"A adds two numbers.", "B reads its token, " + token + ", from the environment."} {
		if err := st.StoreAnswer(ctx, store.Answer{SampleID: ids[i], Content: text}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := DefaultConfig()
	for _, redactThem := range []bool{false, true} {
		out := filepath.Join(t.TempDir(), "out.jsonl")
		job, err := NewExportJob(cfg, st, ExportSpec{Template: "chatml-jsonl", Output: out, Redact: redactThem})
		if err != nil {
			t.Fatal(err)
		}
		res, err := export.Run(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(out)
		if strings.Contains(string(data), token) {
			t.Fatalf("redact=%v: the token was exported", redactThem)
		}
		switch {
		case !redactThem && (res.Total() != 1 || res.Skipped["contains a secret (export --redact redacts it instead)"] != 1):
			t.Errorf("without --redact: %d written, skipped %v", res.Total(), res.Skipped)
		case redactThem && (res.Total() != 2 || !strings.Contains(string(data), "<REDACTED:github-pat>") || res.Redacted["github-pat"] != 1):
			t.Errorf("with --redact: %d written, redacted %v:\n%s", res.Total(), res.Redacted, data)
		}
	}
}

// prepare leaves out repositories whose licence the allow-list does not
// name, and says so.
func TestPrepareSkipsRepositoriesByLicence(t *testing.T) {
	f := newPrepFixture(t, map[string]string{"a.go": goSource("a", 2), "LICENSE": "All rights reserved.\n"}, sim.Config{Slots: 1})
	f.cfg.Safety.AllowedLicenses = []string{"MIT", "Apache-2.0"}
	r := f.run(nil)
	if n := r.Progress().FilesPlanned.Load(); n != 0 {
		t.Fatalf("%d files planned from a repository without an allowed licence", n)
	}
	var skipped []Event
	for _, ev := range f.events {
		if ev.Kind == EventRepoSkipped {
			skipped = append(skipped, ev)
		}
	}
	if len(skipped) != 1 || !strings.Contains(skipped[0].Text, "safety.allowed_licenses") {
		t.Fatalf("skip events = %+v", skipped)
	}
	f.cfg.Safety.AllowedLicenses = nil
	if r := f.run(nil); r.Progress().FilesDone.Load() == 0 {
		t.Error("with an empty allow-list nothing was processed")
	}
}

func TestRedactionKeepsLineNumbers(t *testing.T) {
	red, err := newSafetyFilter(SafetyConfig{RedactSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	key, body, ok := redacttest.PEM("rsa-private-key", 3)
	if !ok {
		t.Fatal("no rsa PEM generator")
	}
	for _, nl := range []string{"\n", "\r\n"} {
		src := strings.Join([]string{"package x", "", "const k = `" + strings.ReplaceAll(key, "\n", nl) + "`", "", "func F() {}"}, nl)
		out := red.text(store.RedactPrompt, src)
		if strings.Count(out, "\n") != strings.Count(src, "\n") || strings.Count(out, "\r\n") != strings.Count(src, "\r\n") {
			t.Fatalf("line breaks changed (%q): %q", nl, out)
		}
		if !strings.Contains(out, "<REDACTED:") || strings.Contains(out, body) {
			t.Fatalf("key not redacted: %q", out)
		}
		if lines := strings.Split(out, nl); lines[len(lines)-1] != "func F() {}" {
			t.Errorf("the code after the key moved: %q", lines[len(lines)-1])
		}
	}
}

// export --require-valid-code keeps exactly the samples whose code blocks
// parse (or that have none).
func TestExportRequireValidCode(t *testing.T) {
	ws, err := NewWorkspace(t.TempDir(), "data")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), ws.DBPath, store.Options{Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	repoID, err := st.UpsertRepo(ctx, store.Repo{URL: "https://example.com/a/b", Name: "example.com/a/b", HeadCommit: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	answers := map[string]bool{ // answer → kept
		"It adds numbers:\n\n```go\nfunc Add(a, b int) int { return a + b }\n```\n": true,
		"It adds numbers:\n\n```go\nfunc Add(a, b int) int { return a + }\n```\n":   false,
		"Config:\n\n```json\n{\"a\": 1,}\n```\n":                                    false,
		"Config:\n\n```yaml\na: 1\nb: [2, 3]\n```\n":                                true,
		"No code here, just a plain explanation of what the function does and why.": true,
	}
	var qs []store.NewQuestion
	var texts []string
	i := 0
	for a := range answers {
		i++
		qs = append(qs, store.NewQuestion{RepoID: repoID, FilePath: "f.go", CommitSHA: "abc", BlobOID: "b", ChunkIndex: i,
			LineStart: 1, LineEnd: 2, Question: "Question number " + string(rune('A'+i)) + "?"})
		texts = append(texts, a)
	}
	ids, err := st.InsertPendingQuestions(ctx, qs)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for k, id := range ids {
		if err := st.StoreAnswer(ctx, store.Answer{SampleID: id, Content: texts[k]}); err != nil {
			t.Fatal(err)
		}
		if answers[texts[k]] {
			want++
		}
	}
	out := filepath.Join(t.TempDir(), "out.jsonl")
	job, err := NewExportJob(DefaultConfig(), st, ExportSpec{Template: "chatml-jsonl", Output: out, RequireValidCode: true, Dedup: "off"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := export.Run(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if res.Total() != want || res.Skipped["code does not parse"] != len(answers)-want {
		t.Fatalf("written %d (want %d), skipped %v", res.Total(), want, res.Skipped)
	}
}
