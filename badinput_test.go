package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/memory"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"cicdllm/llm/sim"
	"cicdllm/store"
)

// TestBadInputCatalogue is reliability.md §5 as a table: every kind of bad
// input a user, a repository or a damaged workspace can hand cicdllm, each
// with the outcome it must get. Rejected input gets its exit code, one line on
// stderr that says what was wrong, where and what to do, and no side
// effect: the workspace is unchanged (logs/ aside: every command that works
// on a workspace writes its log), no database is created or touched and
// the LLM is never called. Input that is not an error but must not reach
// the LLM (binary, undecodable, minified, generated, lock files, deep
// trees...) is recorded as skipped with its reason, and no request carries
// its content.
func TestBadInputCatalogue(t *testing.T) {
	secret := "ghp_" + strings.Repeat("Zq7", 12) // shaped like a GitHub token
	rows := []badRow{
		// ---- repos.txt: accepted as written ----
		{name: "repos/comments-and-blank-lines", args: []string{"scrape", "--dry-run"},
			setup: badReposTxt("# our services\n\n   \n# https://github.com/x/commented-out\nhttps://github.com/a/one\n"),
			out:   []string{"github.com/a/one", "1 repository (dry run"}, notOut: []string{"commented-out"}, pure: true},
		{name: "repos/crlf-line-endings", args: []string{"scrape", "--dry-run"},
			setup: badReposTxt("https://github.com/a/one\r\nhttps://github.com/a/two\r\n"),
			out:   []string{"github.com/a/one", "github.com/a/two", "2 repositories (dry run"}, notOut: []string{"\r", `\r`, "rejected"}, pure: true},
		{name: "repos/utf8-bom", args: []string{"scrape", "--dry-run"},
			setup: badReposTxt("\ufeffhttps://github.com/a/one\n"),
			out:   []string{"github.com/a/one", "1 repository (dry run"}, notOut: []string{"rejected", "\ufeff", `\ufeff`}, pure: true},
		{name: "repos/trailing-spaces-tabs-and-comment", args: []string{"scrape", "--dry-run"},
			setup: badReposTxt("https://github.com/a/one   \t\n\t https://github.com/a/two  # the second one\n"),
			out:   []string{"github.com/a/one", "github.com/a/two", "2 repositories (dry run"}, notOut: []string{"rejected"}, pure: true},
		{name: "repos/no-final-newline", args: []string{"scrape", "--dry-run"},
			setup: badReposTxt("https://github.com/a/one\nhttps://github.com/a/two"),
			out:   []string{"github.com/a/two", "2 repositories (dry run"}, pure: true},
		{name: "repos/tree-url-is-the-repository", args: []string{"scrape", "--dry-run"},
			setup: badReposTxt("https://github.com/o/r/tree/main/deploy/helm\n"),
			out:   []string{"github.com/o/r  repos/github.com/o/r.git", "1 repository (dry run"}, notOut: []string{"helm"}, pure: true},
		{name: "repos/blob-url-is-the-repository", args: []string{"scrape", "--dry-run"},
			setup: badReposTxt("https://github.com/o/r/blob/main/Makefile\n"),
			out:   []string{"github.com/o/r  repos/github.com/o/r.git", "1 repository (dry run"}, notOut: []string{"Makefile"}, pure: true},
		{name: "repos/token-in-query-dropped-never-shown", args: []string{"scrape", "--dry-run"},
			setup: badReposTxt("https://github.com/o/r?access_token=" + secret + "\n"),
			out:   []string{"github.com/o/r", "1 repository (dry run"}, notOut: []string{secret}, pure: true},
		{name: "repos/org-url-expanded-up-to-the-cap", args: []string{"scrape", "--dry-run"}, setup: badOrgAPI(5, 2),
			out: []string{"github.com/bigorg/repo0", "github.com/bigorg/repo1", "2 repositories (dry run"}, notOut: []string{"repo2"}, pure: true},

		// ---- repos.txt: rejected lines (exit 1 after the others; each named by line) ----
		{name: "repos/duplicates-after-normalisation", args: []string{"scrape", "--dry-run"},
			setup: badReposTxt("HTTPS://GitHub.com/o/r.git/\nhttps://github.com/o/r\nhttps://github.com/O/R#readme\n"),
			code:  1, errLine: "2 lines of repos.txt rejected",
			out:  []string{"1 repository (dry run", "repos.txt:2: rejected", "repos.txt:3: rejected", "duplicate of line 1"},
			pure: true},
		{name: "repos/invalid-line", args: []string{"scrape", "--dry-run"}, setup: badReposTxt("this is not a repository\n"),
			code: 1, errLine: "1 line of repos.txt rejected", out: []string{"repos.txt:1: rejected", "no such directory"}, pure: true},
		{name: "repos/plain-http", args: []string{"scrape", "--dry-run"}, setup: badReposTxt("http://github.com/o/r\n"),
			code: 1, errLine: "1 line of repos.txt rejected", out: []string{"repos.txt:1: rejected", "use https:// instead"}, pure: true},
		{name: "repos/git-protocol", args: []string{"scrape", "--dry-run"}, setup: badReposTxt("git://github.com/o/r\n"),
			code: 1, errLine: "1 line of repos.txt rejected", out: []string{"repos.txt:1: rejected", "git:// is unencrypted"}, pure: true},
		{name: "repos/credentials-in-url-never-echoed", args: []string{"scrape"},
			setup: badReposTxt("https://alice:" + secret + "@github.com/o/r\n"),
			code:  1, errLine: "1 line of repos.txt rejected", out: []string{"repos.txt:1: rejected", "embeds credentials", "https://***@github.com/o/r"},
			notOut: []string{secret, "alice"}, pure: true},
		{name: "repos/scp-url-with-password-never-echoed", args: []string{"scrape"},
			setup: badReposTxt("alice:" + secret + "@github.com:o/r.git\n"),
			code:  1, errLine: "1 line of repos.txt rejected", out: []string{"repos.txt:1: rejected", "a password after the user name"},
			notOut: []string{secret}, pure: true},
		{name: "repos/line-over-4KiB", args: []string{"scrape", "--dry-run"},
			setup: badReposTxt("https://github.com/o/" + strings.Repeat("r", 5000) + "\n"),
			code:  1, errLine: "1 line of repos.txt rejected", out: []string{"repos.txt:1: rejected", "the line is 5021 bytes long; the limit is 4096"}, pure: true},
		{name: "repos/nul-byte", args: []string{"scrape", "--dry-run"}, setup: badReposTxt("https://github.com/o/r\x00evil\n"),
			code: 1, errLine: "1 line of repos.txt rejected", out: []string{"repos.txt:1: rejected", "a control character (U+0000)"},
			notOut: []string{"\x00"}, pure: true},
		{name: "repos/escape-sequence", args: []string{"scrape", "--dry-run"}, setup: badReposTxt("https://github.com/o/\x1b[2J\x1b[31mred\n"),
			code: 1, errLine: "1 line of repos.txt rejected", out: []string{"repos.txt:1: rejected", "a control character (U+001B)"}, pure: true},
		{name: "repos/invalid-utf8", args: []string{"scrape", "--dry-run"}, setup: badReposTxt("https://github.com/o/r\xff\xfe\n"),
			code: 1, errLine: "1 line of repos.txt rejected", out: []string{"repos.txt:1: rejected", "not valid UTF-8"}, pure: true},
		{name: "repos/remote-helper-transport", args: []string{"scrape", "--dry-run"}, setup: badReposTxt("ext::sh -c touch% /tmp/pwned\n"),
			code: 1, errLine: "1 line of repos.txt rejected", out: []string{"repos.txt:1: rejected", "remote helper transports"}, pure: true},
		{name: "repos/option-injection", args: []string{"scrape", "--dry-run"}, setup: badReposTxt("--upload-pack=touch /tmp/pwned\n"),
			code: 1, errLine: "1 line of repos.txt rejected", out: []string{"repos.txt:1: rejected", "looks like an option"}, pure: true},
		{name: "repos/local-path-gone", args: []string{"scrape", "--dry-run"}, setup: badReposTxt("/nonexistent/cicdllm/repo\n"),
			code: 1, errLine: "1 line of repos.txt rejected", out: []string{"repos.txt:1: rejected", `no such directory: "/nonexistent/cicdllm/repo"`}, pure: true},
		{name: "repos/every-line-rejected-creates-no-database", args: []string{"scrape"},
			setup: badReposTxt("http://github.com/o/r\nftp://github.com/o/r\n"),
			code:  1, errLine: "2 lines of repos.txt rejected", out: []string{"repos.txt:2: rejected", `unknown scheme "ftp"`}, pure: true},
		{name: "repos/missing", args: []string{"scrape"}, code: 2, errLine: "no repos.txt in", pure: true},

		// ---- repositories that are gone, private or empty ----
		{name: "repo/remote-404-gone", args: []string{"scrape"}, setup: badGitServer(http.StatusNotFound),
			code: 1, errLine: "1 repository or organisation failed", out: []string{"failed 127.0.0.1", "no such repository; check the URL in repos.txt"}},
		{name: "repo/remote-401-private", args: []string{"scrape"}, setup: badGitServer(http.StatusUnauthorized),
			code: 1, errLine: "1 repository or organisation failed", out: []string{"failed 127.0.0.1", "requires authentication"}},
		{name: "repo/empty-no-commits", args: []string{"scrape"}, setup: badEmptyRepo(false),
			code: 1, errLine: "1 repository or organisation failed", out: []string{"1 repository ready", "failed local/empty", "has no commits"}},
		{name: "repo/unborn-head-other-branch-has-commits", args: []string{"scrape"}, setup: badEmptyRepo(true),
			code: 1, errLine: "1 repository or organisation failed",
			out: []string{"1 repository ready", "failed local/empty", `"main"`, "dev"}},
		{name: "repo/deleted-after-scrape", args: []string{"prepare"}, setup: badRepoDeleted,
			code: 1, errLine: "1 repository could not be read", out: []string{"failed local/gone:", "no such directory"}},

		// ---- cicdllm.toml and environment (exit 2 before anything is created) ----
		{name: "config/toml-syntax-error", args: []string{"prepare"}, setup: badConfig("[llm]\nmodel = \"m\"\nconcurrency = = 3\n"),
			code: 2, errLine: "cicdllm.toml:3: invalid TOML", pure: true},
		{name: "config/unterminated-string", args: []string{"prepare"}, setup: badConfig("[generation]\ntheme = \"code\n"),
			code: 2, errLine: "cicdllm.toml:2: invalid TOML", pure: true},
		{name: "config/duplicate-key", args: []string{"prepare"}, setup: badConfig("[llm]\nmodel = \"a\"\nmodel = \"b\"\n"),
			code: 2, errLine: "cicdllm.toml:3: invalid TOML", pure: true},
		{name: "config/nul-byte", args: []string{"prepare"}, setup: badConfig("[llm]\nmodel = \"a\"\n\x00\n"),
			code: 2, errLine: "cicdllm.toml:3: invalid TOML", pure: true},
		{name: "config/wrong-type-number", args: []string{"prepare"}, setup: badConfig("[llm]\nconcurrency = \"four\"\n"),
			code: 2, errLine: `cicdllm.toml:2: llm.concurrency: expected a whole number, got string four`, pure: true},
		{name: "config/wrong-type-bool", args: []string{"prepare"}, setup: badConfig("[battery]\nenabled = \"yes\"\n"),
			code: 2, errLine: "cicdllm.toml:2: battery.enabled: expected true or false", pure: true},
		{name: "config/duration-without-unit", args: []string{"prepare"}, setup: badConfig("[llm]\nrequest_timeout = 30\n"),
			code: 2, errLine: `cicdllm.toml:2: llm.request_timeout: expected a duration string such as "30s"`, pure: true},
		{name: "config/size-without-meaning", args: []string{"prepare"}, setup: badConfig("[files]\nmax_file_size = \"5 parsecs\"\n"),
			code: 2, errLine: `cicdllm.toml:2: files.max_file_size: "5 parsecs" is not a size`, pure: true},
		{name: "config/unknown-key", args: []string{"prepare"}, setup: badConfig("[generation]\ntemprature = 0.5\n"),
			code: 2, errLine: `cicdllm.toml:2: generation.temprature: unknown key (did you mean "temperature"?)`, pure: true},
		{name: "config/unknown-section", args: []string{"prepare"}, setup: badConfig("[lmm]\nmodel = \"m\"\n"),
			code: 2, errLine: `cicdllm.toml:1: lmm: unknown section (did you mean "llm"?)`, pure: true},
		{name: "config/key-outside-a-section", args: []string{"prepare"}, setup: badConfig("model = \"m\"\n"),
			code: 2, errLine: "cicdllm.toml:1: model: unknown top-level key", pure: true},
		{name: "config/out-of-range", args: []string{"prepare"}, setup: badConfig("[llm]\nconcurrency = 999\n"),
			code: 2, errLine: "cicdllm.toml:2: llm.concurrency: 999 is out of range; allowed 0 to 256", pure: true},
		{name: "config/max-tokens-not-below-context", args: []string{"prepare"},
			setup: badConfig("[llm]\ncontext_size = 512\n[generation]\nmax_tokens = 1024\n"),
			code:  2, errLine: "cicdllm.toml:4: generation.max_tokens: 1024 leaves no room for the prompt", pure: true},
		{name: "config/every-problem-at-once", args: []string{"prepare"},
			setup: badConfig("[llm]\nconcurrency = -1\nbackend = \"gpt\"\n[generation]\ntemperature = 7\n"),
			code:  2, errLine: "cicdllm.toml:2: llm.concurrency", errLines: 3, pure: true},
		{name: "config/pasted-secret-never-echoed", args: []string{"prepare"}, setup: badConfig("[llm]\napi_key_env = \"" + secret + "-x\"\n"),
			code: 2, errLine: "cicdllm.toml:2: llm.api_key_env: must name an environment variable", notOut: []string{secret}, pure: true},
		{name: "config/env-wrong-type", args: []string{"prepare"}, setup: badConfig(""), env: map[string]string{"CICDLLM_GENERATION_MAX_TOKENS": "lots"},
			code: 2, errLine: `environment variable CICDLLM_GENERATION_MAX_TOKENS: generation.max_tokens: "lots" is not a whole number`, pure: true},
		{name: "config/env-misspelt", args: []string{"prepare"}, setup: badConfig(""), env: map[string]string{"CICDLLM_LLM_MODLE": "m"},
			code: 2, errLine: `environment variable CICDLLM_LLM_MODLE: does not match any config key (did you mean "CICDLLM_LLM_MODEL"?)`, pure: true},
		{name: "config/env-conflicts-with-file", args: []string{"prepare"}, setup: badConfig("[battery]\nlow = 20\n"),
			env:  map[string]string{"CICDLLM_BATTERY_HIGH": "10"},
			code: 2, errLine: "cicdllm.toml:2: battery.low: 20 must be below battery.high (10)", pure: true},
		{name: "config/explicit-file-missing", args: []string{"prepare", "--config", "/nonexistent/ci.toml"}, setup: badConfig(""),
			code: 2, errLine: "config file /nonexistent/ci.toml (from --config) does not exist", pure: true},
		{name: "config/utf8-bom-and-crlf-accepted", args: []string{"config", "validate"},
			setup: badConfig("\ufeff[generation]\r\nquestions_per_chunk = 2\r\n"), out: []string{"configuration is valid"}, pure: true},

		// ---- prompts/ (a custom theme) ----
		{name: "prompts/unterminated-action", args: []string{"prepare", "--dry-run", "--theme", "custom"},
			setup: badTheme("question_user.txt", "Questions about {{.Path}}:\n{{.Code\n"),
			code:  2, errLine: "prompts/custom/question_user.txt:3: unclosed action started at line 2", pure: true},
		{name: "prompts/unknown-field", args: []string{"prepare", "--dry-run", "--theme", "custom"},
			setup: badTheme("answer_user.txt", "{{.Code}}\n\n{{.Questoin}}\n"),
			code:  2, errLine: "prompts/custom/answer_user.txt:3:2: .Questoin is not a field (did you mean .Question?)", pure: true},
		{name: "prompts/missing-file", args: []string{"prepare", "--dry-run", "--theme", "custom"},
			setup: badTheme("answer_system.txt", ""),
			code:  2, errLine: "prompts/custom/answer_system.txt is missing", pure: true},
		{name: "prompts/not-utf8", args: []string{"prepare", "--dry-run", "--theme", "custom"},
			setup: badTheme("question_system.txt", "R\xe9ponds en fran\xe7ais.\n"),
			code:  2, errLine: "prompts/custom/question_system.txt is not UTF-8 text", pure: true},
		{name: "prompts/code-never-shown", args: []string{"prepare", "--dry-run", "--theme", "custom"},
			setup: badTheme("question_user.txt", "{{if false}}{{.Code}}{{end}}Ask about {{.Path}}.\n"),
			code:  2, errLine: "never uses {{.Code}}", pure: true},

		// ---- data/pipeline.db that is not ours or not whole ----
		{name: "db/random-bytes", args: []string{"status"}, setup: badDB("random"),
			code: 1, errLine: "data/pipeline.db is not a cicdllm database (not an SQLite file); it was left as it is", pure: true,
			// What the message says to do works.
			check: badAnd(badRerun([]string{"reset", "db", "--yes"}, "deleted data/pipeline.db"), badRerun([]string{"status"}, "Next step"))},
		{name: "db/truncated", args: []string{"stats"}, setup: badDB("truncated"),
			code: 1, errLine: "data/pipeline.db is damaged (database disk image is malformed); it was left as it is", pure: true},
		{name: "db/foreign-sqlite-database", args: []string{"export", "--output-file", "out.jsonl"}, setup: badDB("foreign"),
			code: 1, errLine: "data/pipeline.db is not a cicdllm database: the file holds tables but was not created by cicdllm", pure: true},
		{name: "db/random-bytes-under-a-writer", args: []string{"prepare"}, setup: badDB("random"),
			code: 1, errLine: "data/pipeline.db is not a cicdllm database (not an SQLite file); it was left as it is", check: badDBUntouched},
		{name: "db/directory-in-its-place", args: []string{"status"}, setup: badDB("directory"),
			code: 1, errLine: "data/pipeline.db is a directory, not a database file; move it aside", pure: true},

		// ---- the workspace itself ----
		{name: "workspace/missing", args: []string{"status", "--workdir", "/nonexistent/cicdllm"},
			code: 2, errLine: "workspace /nonexistent/cicdllm does not exist; create it or pass another --workdir", pure: true},
		{name: "workspace/a-file", args: []string{"status"}, setup: badWorkdirFile,
			code: 2, errLine: "is not a directory; pass a directory with --workdir", pure: true},
		{name: "workspace/read-only", args: []string{"status"}, setup: badReadOnly,
			code: 1, errLine: "cannot write to the workspace", pure: true},

		// ---- flags ----
		{name: "flags/unknown-command", args: []string{"prepair"}, code: 2, errLine: `unknown command "prepair" (did you mean "prepare"?)`, pure: true},
		{name: "flags/unknown-flag", args: []string{"scrape", "--bogus"}, code: 2, errLine: "flag provided but not defined: -bogus", pure: true},
		{name: "flags/missing-value", args: []string{"stats", "--format"}, code: 2, errLine: "flag --format needs a value", pure: true},
		{name: "flags/global-flag-not-a-number", args: []string{"--max-log-files", "many", "status"},
			code: 2, errLine: `invalid value "many" for flag --max-log-files: not a whole number`, pure: true},
		{name: "flags/stats-format-nope", args: []string{"stats", "--format", "nope"},
			code: 2, errLine: `--format "nope" is not supported; use table or json`, pure: true},
		{name: "flags/export-min-score-abc", args: []string{"export", "--min-score", "abc", "--output-file", "o.jsonl"},
			code: 2, errLine: `invalid value "abc" for flag --min-score: not a number`, pure: true},
		{name: "flags/export-min-score-out-of-range", args: []string{"export", "--min-score", "9", "--output-file", "o.jsonl"},
			code: 2, errLine: "flag --min-score: export.min_score: 9 is out of range", pure: true},
		{name: "flags/export-template-unknown", args: []string{"export", "--template", "unknown", "--output-file", "o.jsonl"},
			code: 2, errLine: `flag --template: export.template: "unknown" is not allowed`, pure: true},
		{name: "flags/export-limit-negative", args: []string{"export", "--limit", "-1", "--output-file", "o.jsonl"},
			code: 2, errLine: "the record limit -1 is negative; use 0 for no limit", pure: true},
		{name: "flags/export-since-not-a-date", args: []string{"export", "--since", "2024-13-45", "--output-file", "o.jsonl"},
			code: 2, errLine: `--since "2024-13-45" is not a date; write YYYY-MM-DD`, pure: true},
		{name: "flags/export-split-malformed", args: []string{"export", "--split", "train=2", "--output-file", "o.jsonl"},
			code: 2, errLine: "flag --split: export.split:", pure: true},
		{name: "flags/export-no-output", args: []string{"export"}, code: 2, errLine: "--output-file is required", pure: true},
		{name: "flags/prepare-max-tokens-abc", args: []string{"prepare", "--max-tokens", "abc"},
			code: 2, errLine: `invalid value "abc" for flag --max-tokens: not a whole number`, pure: true},
		{name: "flags/prepare-temperature-out-of-range", args: []string{"prepare", "--temperature", "9"},
			code: 2, errLine: "flag --temperature: generation.temperature: 9 is out of range; allowed 0 to 2", pure: true},
		{name: "flags/prepare-max-file-size-garbage", args: []string{"prepare", "--max-file-size", "huge"},
			code: 2, errLine: `flag --max-file-size: "huge" is not a size`, pure: true},
		{name: "flags/prepare-theme-path", args: []string{"prepare", "--theme", "../../etc"},
			code: 2, errLine: `flag --theme: generation.theme: "../../etc" is not a theme name`, pure: true},
		{name: "flags/scrape-concurrency-zero", args: []string{"scrape", "--concurrency", "0"},
			code: 2, errLine: "flag --concurrency: scrape.concurrency: 0 is out of range; allowed 1 to 32", pure: true},
		{name: "flags/reset-unknown-target", args: []string{"reset", "everything", "--yes"},
			code: 2, errLine: `unknown reset target "everything"`, pure: true},

		// ---- files in a repository: skipped with a reason, never sent ----
		{name: "files/nul-bytes-binary", args: []string{"prepare"},
			setup: badFilesRepo(map[string]string{"data.txt": "MARK_nul\x00\x01\x02 binary payload\n"}, ""),
			check: badSkipped(map[string]string{"data.txt": "binary"}, "MARK_nul")},
		{name: "files/nul-after-8000-bytes-binary", args: []string{"prepare"},
			setup: badFilesRepo(map[string]string{"big.txt": "MARK_late " + strings.Repeat("plain text line\n", 600) + "\x00tail\n"}, ""),
			check: badSkipped(map[string]string{"big.txt": "binary"}, "MARK_late")},
		{name: "files/utf16-with-bom-skipped", args: []string{"prepare"},
			setup: badFilesRepo(map[string]string{"win.ps1": badUTF16LE("Write-Host 'MARK_utf16'\r\n")}, ""),
			check: badSkipped(map[string]string{"win.ps1": "non_utf8"}, "MARK_utf16")},
		{name: "files/utf16-with-bom-decoded", args: []string{"prepare"},
			setup: badFilesRepo(map[string]string{"win.ps1": badUTF16LE("Write-Host 'MARK_utf16 caf\u00e9 \u00fcber'\r\n")}, "[files]\nnon_utf8 = \"decode\"\n"),
			check: badDone([]string{"win.ps1"}, "MARK_utf16 caf\u00e9 \u00fcber")},
		{name: "files/utf32-skipped", args: []string{"prepare"},
			setup: badFilesRepo(map[string]string{"odd.txt": "\xff\xfe\x00\x00M\x00\x00\x00"}, "[files]\nnon_utf8 = \"decode\"\n"),
			check: badSkipped(map[string]string{"odd.txt": "non_utf8"})},
		{name: "files/latin1-skipped", args: []string{"prepare"},
			setup: badFilesRepo(map[string]string{"old.py": "# MARK_latin1 caf\xe9 na\xefve\nprint('ol\xe9')\n"}, ""),
			check: badSkipped(map[string]string{"old.py": "non_utf8"}, "MARK_latin1")},
		{name: "files/latin1-decoded-byte-for-byte", args: []string{"prepare"},
			setup: badFilesRepo(map[string]string{"old.py": "# MARK_latin1 caf\xe9 na\xefve\nprint('ol\xe9')\n"}, "[files]\nnon_utf8 = \"decode\"\n"),
			check: badDone([]string{"old.py"}, "MARK_latin1 caf\u00e9 na\u00efve")},
		{name: "files/utf8-bom-and-crlf", args: []string{"prepare"},
			setup: badFilesRepo(map[string]string{"run.sh": "\ufeff#!/bin/sh\r\n# MARK_bom\r\necho hello\r\n"}, ""),
			check: badDone([]string{"run.sh"}, `# MARK_bom\r\necho hello\r\n`)},
		{name: "files/minified-one-line", args: []string{"prepare"},
			setup: badFilesRepo(map[string]string{"bundle.js": "/*MARK_min*/" + strings.Repeat("var a=b(c,d);", 4000)}, ""),
			check: badSkipped(map[string]string{"bundle.js": "minified"}, "MARK_min")},
		{name: "files/10MB-single-line-too-large", args: []string{"prepare"},
			setup: badFilesRepo(map[string]string{"huge.js": "/*MARK_huge*/" + strings.Repeat("x=1;", 10<<20/4)}, ""),
			check: badSkipped(map[string]string{"huge.js": "too_large"}, "MARK_huge")},
		{name: "files/10MB-single-line-minified-when-allowed", args: []string{"prepare"},
			setup: badFilesRepo(map[string]string{"huge.js": "/*MARK_huge*/" + strings.Repeat("x=1;", 10<<20/4)}, "[files]\nmax_file_size = \"16MiB\"\n"),
			check: badSkipped(map[string]string{"huge.js": "minified"}, "MARK_huge")},
		{name: "files/min-js-and-source-map", args: []string{"prepare"},
			setup: badFilesRepo(map[string]string{"static/app.min.js": "var MARK_minjs=1;\n", "static/app.js.map": "{\"version\":3,\"MARK_map\":1}\n"}, ""),
			check: badSkipped(map[string]string{"static/app.min.js": "vendored", "static/app.js.map": "generated"}, "MARK_minjs", "MARK_map")},
		{name: "files/generated-code", args: []string{"prepare"},
			setup: badFilesRepo(map[string]string{"api/api.pb.go": "// Code generated by protoc-gen-go. DO NOT EDIT.\n\npackage api\n\n// MARK_gen\nvar X = 1\n"}, ""),
			check: badSkipped(map[string]string{"api/api.pb.go": "generated"}, "MARK_gen")},
		{name: "files/vendored-code", args: []string{"prepare"},
			setup: badFilesRepo(map[string]string{"vendor/github.com/x/y/y.go": "package y\n\n// MARK_vendor\nfunc Y() {}\n", "node_modules/z/index.js": "// MARK_nodemod\nmodule.exports = 1;\n"}, ""),
			check: badSkipped(map[string]string{"vendor/github.com/x/y/y.go": "vendored", "node_modules/z/index.js": "vendored"}, "MARK_vendor", "MARK_nodemod")},
		{name: "files/lock-files", args: []string{"prepare"}, setup: badFilesRepo(badLockFiles(), ""), check: badSkipped(badLockReasons(), "MARK_lock")},
		{name: "files/jupyter-notebook", args: []string{"prepare"},
			setup: badFilesRepo(map[string]string{"analysis.ipynb": `{"cells":[{"cell_type":"code","source":["print('MARK_nb')"],"outputs":[{"data":{"image/png":"iVBORw0KGgo` + strings.Repeat("A", 2000) + `"}}]}],"nbformat":4}` + "\n"}, ""),
			check: badSkipped(map[string]string{"analysis.ipynb": "notebook"}, "MARK_nb", "iVBORw0KGgo")},
		{name: "files/empty-and-blank", args: []string{"prepare"},
			setup: badFilesRepo(map[string]string{"empty.go": "", "blank.yaml": " \n\t\n\r\n"}, ""),
			check: badSkipped(map[string]string{"empty.go": "empty", "blank.yaml": "empty"})},
		{name: "files/tiny", args: []string{"prepare"},
			setup: badFilesRepo(map[string]string{".nvmrc": "20\n", "x.py": "1\n"}, ""),
			check: badSkipped(map[string]string{".nvmrc": "too_small", "x.py": "too_small"})},
		{name: "files/tree-10000-directories-deep", args: []string{"prepare"}, setup: badDeepRepo,
			check: badAnd(badSkipped(map[string]string{strings.TrimSuffix(strings.Repeat("d/", 257), "/"): "too_deep"}, "MARK_deep"),
				badRerun([]string{"prepare", "--dry-run"}, "skipped: too_deep 1"))},
		{name: "files/path-over-4KiB", args: []string{"prepare"},
			setup: badFilesRepo(map[string]string{strings.Repeat(strings.Repeat("p", 250)+"/", 20) + "leaf.go": "package leaf\n\n// MARK_long\nfunc Leaf() {}\n"}, ""),
			check: badSkipped(map[string]string{strings.TrimSuffix(strings.Repeat(strings.Repeat("p", 250)+"/", 17), "/"): "path_too_long"}, "MARK_long")},
		{name: "files/symlink-never-followed", args: []string{"prepare"},
			setup: badFilesRepo(map[string]string{"passwd": badSymlinkPrefix + "/etc/passwd"}, ""),
			check: badSkipped(map[string]string{"passwd": "symlink"}, "root:")},
		{name: "files/names-with-newline-and-escape-sequences", args: []string{"prepare"},
			setup: badFilesRepo(map[string]string{"evil\x1b[2J\x1b]0;pwned\x07\nname.sh": "#!/bin/sh\n# MARK_evil\necho hi\n"}, ""),
			check: badEscapes},
	}

	if len(rows) < 45 {
		t.Fatalf("the catalogue has %d rows; it needs at least 45", len(rows))
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			row.run(t)
		})
	}
}

// badRow is one input and the outcome it must get.
type badRow struct {
	name  string
	setup func(t *testing.T, c *badCase) // builds the workspace c.ws
	args  []string                       // after --workdir
	env   map[string]string
	code  int
	// errLine is part of the error on stderr; errLines is how many lines
	// stderr holds (0 means 1), more only where a command lists every
	// problem at once (config validation).
	errLine  string
	errLines int
	out      []string // parts of stdout
	// notOut must appear nowhere: stdout, stderr or the logs (secrets,
	// control characters, content that must not be echoed).
	notOut []string
	// pure: rejected input changes nothing. The workspace tree and every
	// file's bytes are as before (logs/ aside) and the LLM got no request.
	pure  bool
	check func(t *testing.T, c *badCase, r result)
}

// badCase is one row's workspace and simulated LLM.
type badCase struct {
	ws   string
	llm  *badLLM
	args []string // added to the command line by setup
	env  map[string]string
	// asUser, when above 0, runs the command as this user (and group) id
	// in a subprocess: root ignores file permissions.
	asUser int
	before map[string]string // the workspace before the command (badSnapshot)
}

func (row badRow) run(t *testing.T) {
	c := &badCase{ws: filepath.Join(t.TempDir(), "ws"), env: map[string]string{}}
	if err := os.Mkdir(c.ws, 0o755); err != nil {
		t.Fatal(err)
	}
	if row.setup != nil {
		row.setup(t, c)
	}
	for k, v := range row.env {
		c.env[k] = v
	}
	before := badSnapshot(t, c.ws)
	c.before = before
	asked := c.llm.requests()
	args := append(append([]string{"--workdir", c.ws}, row.args...), c.args...)
	start := time.Now()
	var r result
	if c.asUser > 0 {
		r = badRunAs(t, c.asUser, c.env, args...)
	} else {
		r = runCLI(t, c.env, args...)
	}
	took := time.Since(start)
	if took > 30*time.Second {
		t.Errorf("the command took %s", took)
	}
	show := func() string { return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr) }
	if r.code != row.code {
		t.Fatalf("want exit %d; %s", row.code, show())
	}
	errs := badLines(r.stderr)
	switch {
	case row.code == 0 && len(errs) > 0:
		t.Errorf("a successful command wrote to stderr; %s", show())
	case row.code != 0:
		want := max(row.errLines, 1)
		if len(errs) != want {
			t.Errorf("want %d line(s) on stderr, got %d; %s", want, len(errs), show())
		}
		if !strings.Contains(r.stderr, row.errLine) {
			t.Errorf("stderr lacks %q; %s", row.errLine, show())
		}
		for _, l := range errs {
			if !strings.HasPrefix(l, "cicdllm") {
				t.Errorf("stderr line %q does not say which command failed", l)
			}
		}
	}
	for _, w := range row.out {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("stdout lacks %q; %s", w, show())
		}
	}
	// No terminal here: not one escape byte, whatever the input held.
	if strings.ContainsRune(r.stdout+r.stderr, 0x1b) {
		t.Errorf("an escape byte reached the output; %s", show())
	}
	logs := badLogs(t, c.ws)
	for _, bad := range row.notOut {
		for where, text := range map[string]string{"stdout": r.stdout, "stderr": r.stderr, "the log": logs} {
			if strings.Contains(text, bad) {
				t.Errorf("%s shows %q", where, bad)
			}
		}
	}
	if row.pure {
		if after := badSnapshot(t, c.ws); !maps.Equal(before, after) {
			t.Errorf("rejected input changed the workspace:\nbefore %v\nafter  %v", badKeys(before), badKeys(after))
		}
		if n := c.llm.requests() - asked; n != 0 {
			t.Errorf("rejected input made %d requests to the LLM", n)
		}
	}
	if row.check != nil {
		row.check(t, c, r)
	}
}

// badRunAs runs cicdllm (this test binary, see TestMain) as another user.
// The binary is copied where that user can execute it. The credential is
// set through reflection because syscall.Credential exists only on Unix,
// and this file must compile everywhere.
func badRunAs(t *testing.T, id int, vars map[string]string, args ...string) result {
	t.Helper()
	bin := filepath.Join(badSharedDir(t), "cicdllm.test")
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"CICDLLM_TEST_MAIN=1", "HOME=/nonexistent", "PATH=/usr/bin:/bin"}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	attr := &syscall.SysProcAttr{}
	field := reflect.ValueOf(attr).Elem().FieldByName("Credential")
	if !field.IsValid() {
		t.Skipf("cannot run a process as another user on %s", runtime.GOOS)
	}
	cred := reflect.New(field.Type().Elem())
	cred.Elem().FieldByName("Uid").SetUint(uint64(id))
	cred.Elem().FieldByName("Gid").SetUint(uint64(id))
	field.Set(cred)
	cmd.SysProcAttr = attr
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Skipf("cannot run cicdllm as uid %d: %v", id, err)
	}
	return result{code, out.String(), errOut.String()}
}

// badSharedDir is a temporary directory other users can enter.
func badSharedDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "cicdllm-bad-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func badLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// badSnapshot maps every path under dir (logs/ aside) to its content hash,
// "dir" for directories.
func badSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case rel == ".":
			return nil
		case rel == "logs":
			return filepath.SkipDir
		case d.IsDir():
			out[rel] = "dir"
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func badKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// badLogs is everything the run logged.
func badLogs(t *testing.T, ws string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(ws, "logs", "*.log"))
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

// ---- setups ----------------------------------------------------------------

func badReposTxt(body string) func(*testing.T, *badCase) {
	return func(t *testing.T, c *badCase) {
		mustWrite(t, filepath.Join(c.ws, "repos.txt"), body)
	}
}

// badConfig writes cicdllm.toml and points the LLM at a recording
// simulator through the environment, so a request that slipped past a
// broken file would be counted.
func badConfig(body string) func(*testing.T, *badCase) {
	return func(t *testing.T, c *badCase) {
		c.llm = badSim(t)
		c.env["CICDLLM_LLM_BASE_URL"] = c.llm.url
		if body != "" {
			mustWrite(t, filepath.Join(c.ws, "cicdllm.toml"), body)
		}
		mustWrite(t, filepath.Join(c.ws, "repos.txt"), badGoodRepo(t)+"\n")
	}
}

// badGoodRepo is a repository with one ordinary file.
func badGoodRepo(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "good")
	badRepo(t, dir, map[string]string{"main.go": "package main\n\n// MARK_good says hello.\nfunc main() { println(\"hello\") }\n"})
	return dir
}

// badTheme writes a custom theme (the built-in code theme) with one file
// replaced; an empty body deletes it.
func badTheme(file, body string) func(*testing.T, *badCase) {
	return func(t *testing.T, c *badCase) {
		if r := runCLI(t, nil, "--workdir", c.ws, "prompts", "export", "code"); r.code != 0 {
			t.Fatal(r.stderr)
		}
		if err := os.Rename(filepath.Join(c.ws, "prompts", "code"), filepath.Join(c.ws, "prompts", "custom")); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(c.ws, "prompts", "custom", file)
		if body == "" {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		} else {
			mustWrite(t, p, body)
		}
		os.RemoveAll(filepath.Join(c.ws, "logs"))
	}
}

// badDB puts something that is not a sound cicdllm database at
// data/pipeline.db.
func badDB(kind string) func(*testing.T, *badCase) {
	return func(t *testing.T, c *badCase) {
		db := filepath.Join(c.ws, "data", "pipeline.db")
		switch kind {
		case "random":
			junk := make([]byte, 64<<10)
			for i := range junk {
				junk[i] = byte(i*7919 + i/13)
			}
			mustWrite(t, db, string(junk))
		case "truncated":
			st, err := store.Open(context.Background(), db, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 200 {
				if _, err := st.UpsertRepo(context.Background(), store.Repo{URL: fmt.Sprintf("https://github.com/o/r%d", i),
					Name: fmt.Sprintf("github.com/o/r%d", i), HeadCommit: strings.Repeat("a", 40), LastError: strings.Repeat("e", 300)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(db)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(db, data[:len(data)/3], 0o644); err != nil {
				t.Fatal(err)
			}
			for _, side := range []string{"-wal", "-shm"} {
				os.Remove(db + side)
			}
		case "foreign":
			if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
				t.Fatal(err)
			}
			conn, err := sqlite.OpenConn(db)
			if err != nil {
				t.Fatal(err)
			}
			if err := sqlitex.ExecuteScript(conn, "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5);", nil); err != nil {
				t.Fatal(err)
			}
			if err := conn.Close(); err != nil {
				t.Fatal(err)
			}
		case "directory":
			if err := os.MkdirAll(db, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func badWorkdirFile(t *testing.T, c *badCase) {
	f := filepath.Join(c.ws, "not-a-dir")
	mustWrite(t, f, "x")
	c.args = append(c.args, "--workdir", f)
}

// badReadOnly makes the workspace read-only. Root ignores permissions, so
// as root the command runs as nobody; where that is impossible the row is
// skipped.
func badReadOnly(t *testing.T, c *badCase) {
	if runtime.GOOS == "windows" {
		t.Skip("directory permissions do not make a folder read-only on Windows")
	}
	shared := badSharedDir(t)
	ws := filepath.Join(shared, "ws")
	if err := os.Mkdir(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(ws, "repos.txt"), "https://github.com/o/r\n")
	if err := os.Chmod(ws, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(ws, 0o755) })
	c.ws = ws
	probe := filepath.Join(ws, "probe")
	if err := os.WriteFile(probe, nil, 0o644); err == nil {
		os.Remove(probe)
		if os.Geteuid() != 0 {
			t.Skip("the file system ignores directory permissions here")
		}
		c.asUser = 65534 // nobody
	}
}

// badOrgAPI serves a GitHub organisation of n repositories and caps
// expansion at limit.
func badOrgAPI(n, limit int) func(*testing.T, *badCase) {
	return func(t *testing.T, c *badCase) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			switch {
			case r.URL.Path == "/users/bigorg":
				io.WriteString(w, `{"login":"bigorg","type":"Organization"}`)
			case r.URL.Path == "/orgs/bigorg/repos":
				var items []string
				for i := range n {
					items = append(items, fmt.Sprintf(`{"name":"repo%d","full_name":"bigorg/repo%d","html_url":"https://github.com/bigorg/repo%d","owner":{"login":"bigorg"}}`, i, i, i))
				}
				io.WriteString(w, "["+strings.Join(items, ",")+"]")
			default:
				http.NotFound(w, r)
			}
		}))
		t.Cleanup(srv.Close)
		mustWrite(t, filepath.Join(c.ws, "cicdllm.toml"), fmt.Sprintf("[scrape]\ngithub_api_url = %q\nmax_org_repos = %d\n", srv.URL, limit))
		mustWrite(t, filepath.Join(c.ws, "repos.txt"), "https://github.com/bigorg\n")
	}
}

// badGitServer is a git host that answers every request with status.
func badGitServer(status int) func(*testing.T, *badCase) {
	return func(t *testing.T, c *badCase) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			}
			http.Error(w, http.StatusText(status), status)
		}))
		t.Cleanup(srv.Close)
		mustWrite(t, filepath.Join(c.ws, "cicdllm.toml"), "[scrape]\nallow_http = true\ntimeout = \"20s\"\n")
		mustWrite(t, filepath.Join(c.ws, "repos.txt"), srv.URL+"/o/gone\n")
	}
}

// badEmptyRepo lists an empty repository beside a good one. With
// otherBranch, HEAD names main (no commits) while dev has one.
func badEmptyRepo(otherBranch bool) func(*testing.T, *badCase) {
	return func(t *testing.T, c *badCase) {
		dir := filepath.Join(t.TempDir(), "empty")
		repo, err := git.PlainInit(dir, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, "refs/heads/main")); err != nil {
			t.Fatal(err)
		}
		if otherBranch {
			commit := badCommit(t, repo.Storer, badWriteDir(t, repo.Storer, map[string]string{"a.go": "package a\n"}))
			if err := repo.Storer.SetReference(plumbing.NewHashReference("refs/heads/dev", commit)); err != nil {
				t.Fatal(err)
			}
		}
		mustWrite(t, filepath.Join(c.ws, "repos.txt"), badGoodRepo(t)+"\n"+dir+"\n")
	}
}

// badRepoDeleted scrapes a repository, then deletes it.
func badRepoDeleted(t *testing.T, c *badCase) {
	dir := filepath.Join(t.TempDir(), "gone")
	badRepo(t, dir, map[string]string{"main.go": "package main\n\nfunc main() {}\n"})
	badWorkspace(t, c, dir, "")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
}

// badFilesRepo makes a repository of files beside an ordinary main.go,
// lists it and scrapes it; toml is added to the configuration.
func badFilesRepo(files map[string]string, toml string) func(*testing.T, *badCase) {
	return func(t *testing.T, c *badCase) {
		all := map[string]string{"main.go": "package main\n\n// MARK_good says hello.\nfunc main() { println(\"hello\") }\n"}
		for k, v := range files {
			all[k] = v
		}
		dir := filepath.Join(t.TempDir(), "src")
		badRepo(t, dir, all)
		badWorkspace(t, c, dir, toml)
	}
}

// badDeepRepo holds a file 10,000 directories down, built as tree objects:
// no file system could hold that path.
func badDeepRepo(t *testing.T, c *badCase) {
	dir := filepath.Join(t.TempDir(), "deep")
	st := memory.NewStorage()
	h := badWriteDir(t, st, map[string]string{"bottom.go": "package bottom\n\n// MARK_deep\nfunc B() {}\n"})
	for range 10_000 {
		h = badTreeObject(t, st, []object.TreeEntry{{Name: "d", Mode: filemode.Dir, Hash: h}})
	}
	good := badBlob(t, st, "package main\n\n// MARK_good says hello.\nfunc main() { println(\"hello\") }\n")
	root := badTreeObject(t, st, []object.TreeEntry{{Name: "d", Mode: filemode.Dir, Hash: h}, {Name: "main.go", Mode: filemode.Regular, Hash: good}})
	badPack(t, dir, st, badCommit(t, st, root))
	badWorkspace(t, c, dir, "")
}

// badWorkspace lists repo, points the LLM at a recording simulator and
// scrapes.
func badWorkspace(t *testing.T, c *badCase, repo, toml string) {
	c.llm = badSim(t)
	mustWrite(t, filepath.Join(c.ws, "repos.txt"), repo+"\n")
	mustWrite(t, filepath.Join(c.ws, "cicdllm.toml"), fmt.Sprintf("[llm]\nbase_url = %q\n[generation]\nquestions_per_chunk = 1\nmax_tokens = 64\nnear_duplicate_threshold = 0\n[battery]\nenabled = false\n", c.llm.url)+toml)
	if r := runCLI(t, nil, "--workdir", c.ws, "scrape"); r.code != 0 {
		t.Fatalf("scrape: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// ---- checks -----------------------------------------------------------------

// badSkipped checks that each file was recorded as skipped for its reason,
// main.go was processed, and no request carried any of the markers.
func badSkipped(want map[string]string, markers ...string) func(*testing.T, *badCase, result) {
	return func(t *testing.T, c *badCase, r result) {
		files := badFileStates(t, c.ws)
		for path, reason := range want {
			f, ok := files[path]
			if !ok || f.Status != store.FileStatusSkipped || f.SkipReason != reason {
				t.Errorf("%q: status %q reason %q, want skipped %q (recorded: %v)", printable(path), f.Status, f.SkipReason, reason, badFileList(files))
			}
		}
		if f := files["main.go"]; f.Status != store.FileStatusDone {
			t.Errorf("main.go is %q, want done", f.Status)
		}
		bodies := c.llm.chats()
		if !strings.Contains(strings.Join(bodies, "\n"), "MARK_good") {
			t.Errorf("the ordinary file never reached the LLM (%d requests)", len(bodies))
		}
		badNoMarkers(t, bodies, markers...)
	}
}

// badDone checks that the files were processed and that the LLM saw want,
// never a replacement character.
func badDone(paths []string, want string) func(*testing.T, *badCase, result) {
	return func(t *testing.T, c *badCase, r result) {
		files := badFileStates(t, c.ws)
		for _, p := range paths {
			if f := files[p]; f.Status != store.FileStatusDone {
				t.Errorf("%s: status %q reason %q, want done", p, f.Status, f.SkipReason)
			}
		}
		all := strings.Join(c.llm.chats(), "\n")
		if !strings.Contains(all, want) {
			t.Errorf("no request carries %q", want)
		}
		badNoMarkers(t, c.llm.chats(), "\ufeff")
	}
}

// badAnd runs every check.
func badAnd(checks ...func(*testing.T, *badCase, result)) func(*testing.T, *badCase, result) {
	return func(t *testing.T, c *badCase, r result) {
		for _, check := range checks {
			check(t, c, r)
		}
	}
}

// badRerun runs another command in the workspace; it must succeed and
// print want.
func badRerun(args []string, want string) func(*testing.T, *badCase, result) {
	return func(t *testing.T, c *badCase, _ result) {
		r := runCLI(t, nil, append([]string{"--workdir", c.ws}, args...)...)
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("%v: exit %d, stdout lacks %q:\n%s\n%s", args, r.code, want, r.stdout, r.stderr)
		}
	}
}

// badDBUntouched: a command that takes the workspace lock creates
// data/cicdllm.lock (by design: deleting it would race another process),
// and changes nothing else; the LLM is not called.
func badDBUntouched(t *testing.T, c *badCase, r result) {
	after := badSnapshot(t, c.ws)
	delete(after, "data/cicdllm.lock")
	if !maps.Equal(c.before, after) {
		t.Errorf("the workspace changed:\nbefore %v\nafter  %v", badKeys(c.before), badKeys(after))
	}
	if n := c.llm.requests(); n != 0 {
		t.Errorf("%d requests reached the LLM", n)
	}
}

// badNoMarkers: no request carries a marker, a replacement character
// (a silently mangled byte) or a BOM.
func badNoMarkers(t *testing.T, bodies []string, markers ...string) {
	t.Helper()
	for _, b := range bodies {
		for _, m := range append(markers, "\ufffd", `\ufffd`, "\ufeff", `\ufeff`) {
			if strings.Contains(b, m) {
				t.Errorf("a request to the LLM carries %q", m)
			}
		}
	}
}

// badEscapes: a file named with a newline and escape sequences is
// processed, and no escape byte from its name reaches any output or log.
func badEscapes(t *testing.T, c *badCase, r result) {
	name := "evil\x1b[2J\x1b]0;pwned\x07\nname.sh"
	if f := badFileStates(t, c.ws)[name]; f.Status != store.FileStatusDone {
		t.Errorf("the oddly named file is %q %q, want done", f.Status, f.SkipReason)
	}
	if !strings.Contains(r.stdout, `evil\x1b[2J\x1b]0;pwned\a\nname.sh`) {
		t.Errorf("stdout does not show the name escaped:\n%s", r.stdout)
	}
	for _, args := range [][]string{{"status"}, {"stats"}, {"stats", "--format", "json"}, {"prepare", "--dry-run"}, {"scrape", "--dry-run"}} {
		r := runCLI(t, nil, append([]string{"--workdir", c.ws}, args...)...)
		if r.code != 0 || strings.ContainsAny(r.stdout+r.stderr, "\x1b\x07") {
			t.Errorf("%v: exit %d, or a control byte in %q %q", args, r.code, r.stdout, r.stderr)
		}
	}
	if logs := badLogs(t, c.ws); strings.ContainsAny(logs, "\x1b\x07") {
		t.Error("a control byte from a file name reached the log")
	}
}

func badFileStates(t *testing.T, ws string) map[string]store.FileHash {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(ws, "data", "pipeline.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	repos, err := st.Repos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.FileHash{}
	for _, r := range repos {
		hs, err := st.FileHashes(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hs {
			out[h.FilePath] = h
		}
	}
	return out
}

func badFileList(files map[string]store.FileHash) []string {
	var out []string
	for p, f := range files {
		out = append(out, printable(p)+"="+f.Status+":"+f.SkipReason)
	}
	sort.Strings(out)
	return out
}

// ---- file fixtures --------------------------------------------------------------

func badUTF16LE(s string) string {
	b := []byte{0xFF, 0xFE}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return string(b)
}

func badLockFileNames() []string {
	return []string{"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "go.sum", "Cargo.lock", "poetry.lock",
		"Pipfile.lock", "composer.lock", "Gemfile.lock", "web/package-lock.json"}
}

func badLockFiles() map[string]string {
	out := map[string]string{}
	for _, n := range badLockFileNames() {
		out[n] = "# MARK_lock " + n + "\nsome-dependency 1.2.3 sha512-abcdef\n"
	}
	return out
}

func badLockReasons() map[string]string {
	out := map[string]string{}
	for _, n := range badLockFileNames() {
		out[n] = "lock_file"
	}
	return out
}

// ---- git objects ------------------------------------------------------------------

// badSymlinkPrefix marks a fixture entry as a symbolic link to the rest.
const badSymlinkPrefix = "\x00symlink\x00"

// badRepo makes a bare repository whose HEAD (main) holds files, written
// as git objects directly, so paths no file system accepts are possible.
func badRepo(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	mem := memory.NewStorage()
	badPack(t, dir, mem, badCommit(t, mem, badWriteDir(t, mem, files)))
}

// badPack makes a bare repository at dir holding mem's objects in one
// pack (thousands of loose objects are slow to write), main at commit.
func badPack(t *testing.T, dir string, mem *memory.Storage, commit plumbing.Hash) *git.Repository {
	t.Helper()
	repo, err := git.PlainInit(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	pw, ok := repo.Storer.(storer.PackfileWriter)
	if !ok {
		t.Fatal("the repository cannot take a pack")
	}
	w, err := pw.PackfileWriter()
	if err != nil {
		t.Fatal(err)
	}
	hashes := make([]plumbing.Hash, 0, len(mem.ObjectStorage.Objects))
	for h := range mem.ObjectStorage.Objects {
		hashes = append(hashes, h)
	}
	if _, err := packfile.NewEncoder(w, mem, false).Encode(hashes, 0); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	badSetHead(t, repo, commit)
	return repo
}

func badSetHead(t *testing.T, repo *git.Repository, commit plumbing.Hash) {
	t.Helper()
	if err := repo.Storer.SetReference(plumbing.NewHashReference("refs/heads/main", commit)); err != nil {
		t.Fatal(err)
	}
	if err := repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, "refs/heads/main")); err != nil {
		t.Fatal(err)
	}
}

// badWriteDir writes the tree of files (paths relative to it).
func badWriteDir(t *testing.T, st storer.EncodedObjectStorer, files map[string]string) plumbing.Hash {
	t.Helper()
	subdirs := map[string]map[string]string{}
	var entries []object.TreeEntry
	for p, body := range files {
		if dir, rest, ok := strings.Cut(p, "/"); ok {
			if subdirs[dir] == nil {
				subdirs[dir] = map[string]string{}
			}
			subdirs[dir][rest] = body
			continue
		}
		mode := filemode.Regular
		if target, ok := strings.CutPrefix(body, badSymlinkPrefix); ok {
			mode, body = filemode.Symlink, target
		}
		entries = append(entries, object.TreeEntry{Name: p, Mode: mode, Hash: badBlob(t, st, body)})
	}
	for dir, sub := range subdirs {
		entries = append(entries, object.TreeEntry{Name: dir, Mode: filemode.Dir, Hash: badWriteDir(t, st, sub)})
	}
	return badTreeObject(t, st, entries)
}

func badBlob(t *testing.T, st storer.EncodedObjectStorer, body string) plumbing.Hash {
	t.Helper()
	obj := st.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	w, err := obj.Writer()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, body); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := st.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// badTreeObject writes a tree, its entries in git's order (a directory
// sorts as if its name ended in '/').
func badTreeObject(t *testing.T, st storer.EncodedObjectStorer, entries []object.TreeEntry) plumbing.Hash {
	t.Helper()
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
	obj := st.NewEncodedObject()
	if err := (&object.Tree{Entries: entries}).Encode(obj); err != nil {
		t.Fatal(err)
	}
	h, err := st.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func badCommit(t *testing.T, st storer.EncodedObjectStorer, tree plumbing.Hash) plumbing.Hash {
	t.Helper()
	sig := object.Signature{Name: "t", Email: "t@example.com", When: time.Unix(1_700_000_000, 0)}
	obj := st.NewEncodedObject()
	if err := (&object.Commit{Author: sig, Committer: sig, Message: "init\n", TreeHash: tree}).Encode(obj); err != nil {
		t.Fatal(err)
	}
	h, err := st.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// ---- the LLM ------------------------------------------------------------------------

// badLLM is the simulator behind a recorder of every request it gets.
type badLLM struct {
	url    string
	mu     sync.Mutex
	all    int
	bodies []string // chat requests
}

func badSim(t *testing.T) *badLLM {
	t.Helper()
	s := sim.New(sim.Config{Slots: 2})
	b := &badLLM{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		b.mu.Lock()
		b.all++
		if strings.HasSuffix(r.URL.Path, "/chat/completions") {
			b.bodies = append(b.bodies, string(body))
		}
		b.mu.Unlock()
		s.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { s.Close() }) // first: it releases requests still held
	b.url = srv.URL
	return b
}

func (b *badLLM) requests() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.all
}

func (b *badLLM) chats() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.bodies...)
}
