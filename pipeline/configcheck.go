package pipeline

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"cicdllm/pipeline/export"
)

var (
	envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	themeRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

// Validate checks ranges, allowed values and keys that depend on each
// other. Each problem names its key; LoadConfig adds where the value came
// from.
func (c *Config) Validate() []Problem {
	var v validator

	v.oneOf("llm.backend", c.LLM.Backend, "openai", "mlx")
	v.httpURL("llm.base_url", c.LLM.BaseURL)
	v.envName("llm.api_key_env", c.LLM.APIKeyEnv)
	v.intRange("llm.concurrency", c.LLM.Concurrency, 0, 256, "0 asks the server")
	v.oneOf("llm.structured_output", c.LLM.StructuredOutput, "auto", "json_schema", "json_object", "off")
	v.intRange("llm.context_size", c.LLM.ContextSize, 0, 1<<24, "0 asks the server")
	v.positive("llm.connect_timeout", c.LLM.ConnectTimeout)
	v.positive("llm.first_token_timeout", c.LLM.FirstTokenTimeout)
	v.positive("llm.idle_timeout", c.LLM.IdleTimeout)
	v.positive("llm.request_timeout", c.LLM.RequestTimeout)
	v.intRange("llm.max_retries", c.LLM.MaxRetries, 0, 100, "")
	v.positive("llm.retry_max_delay", c.LLM.RetryMaxDelay)
	v.positive("llm.max_retry_after", c.LLM.MaxRetryAfter)
	v.intRange("llm.breaker_threshold", c.LLM.BreakerThreshold, 1, 1000, "")
	v.positive("llm.breaker_cooldown", c.LLM.BreakerCooldown)

	if c.LLM.Backend == "mlx" && strings.TrimSpace(c.MLX.Model) == "" {
		v.add("mlx.model", "is empty but llm.backend is \"mlx\"; set a model id such as \"mlx-community/Qwen2.5-Coder-7B-Instruct-4bit\"")
	}
	if strings.TrimSpace(c.MLX.Python) == "" {
		v.add("mlx.python", "is empty; set the Python interpreter, e.g. \"python3\"")
	}
	v.intRange("mlx.port", c.MLX.Port, 0, 65535, "0 picks a free port")
	v.positive("mlx.startup_timeout", c.MLX.StartupTimeout)

	if !themeRe.MatchString(c.Generation.Theme) {
		v.add("generation.theme", fmt.Sprintf("%q is not a theme name; use \"code\", \"devops\" or the name of a folder under prompts/", c.Generation.Theme))
	}
	v.intRange("generation.questions_per_chunk", c.Generation.QuestionsPerChunk, 1, 50, "")
	v.intRange("generation.max_tokens", c.Generation.MaxTokens, 16, 1<<20, "")
	v.intRange("generation.question_max_tokens", c.Generation.QuestionMaxTokens, 16, 1<<20, "")
	v.floatRange("generation.temperature", c.Generation.Temperature, 0, 2)
	v.intRange("generation.turns", c.Generation.Turns, 1, 20, "")
	v.intRange("generation.max_file_attempts", c.Generation.MaxFileAttempts, 1, 100, "")
	v.intRange("generation.chunk_overlap_lines", c.Generation.ChunkOverlapLines, 0, 200, "")
	v.intRange("generation.min_chunk_tokens", c.Generation.MinChunkTokens, 32, 1<<20, "")
	v.floatRange("generation.near_duplicate_threshold", c.Generation.NearDuplicateThreshold, 0, 1)
	if c.LLM.ContextSize > 0 && c.Generation.MaxTokens >= c.LLM.ContextSize {
		v.add("generation.max_tokens", fmt.Sprintf("%d leaves no room for the prompt in llm.context_size %d; lower it below the context size", c.Generation.MaxTokens, c.LLM.ContextSize))
	}

	if c.Files.MaxFileSize < KiB || c.Files.MaxFileSize > GiB {
		v.add("files.max_file_size", fmt.Sprintf("%s is out of range; allowed 1KiB to 1GiB", c.Files.MaxFileSize))
	}
	// Compared with max_file_size only when that is valid, so one mistake
	// is reported once.
	if c.Files.MinFileSize < 0 || c.Files.MaxFileSize >= KiB && c.Files.MinFileSize >= c.Files.MaxFileSize {
		v.add("files.min_file_size", fmt.Sprintf("%s is out of range; allowed 0 up to below files.max_file_size (%s)", c.Files.MinFileSize, c.Files.MaxFileSize))
	}
	v.globs("files.include", c.Files.Include)
	v.globs("files.exclude", c.Files.Exclude)
	for _, e := range c.Files.ExcludedExtensions {
		if !strings.HasPrefix(e, ".") || len(e) < 2 {
			v.add("files.excluded_extensions", fmt.Sprintf("%q must start with a dot, e.g. \".png\"", e))
		}
	}
	v.intRange("files.max_avg_line_length", c.Files.MaxAvgLineLength, 10, 1<<20, "")
	v.intRange("files.max_files_per_repo", c.Files.MaxFilesPerRepo, 1, 10_000_000, "")
	v.oneOf("files.non_utf8", c.Files.NonUTF8, "skip", "decode")

	v.intRange("scrape.concurrency", c.Scrape.Concurrency, 1, 32, "")
	v.intRange("scrape.depth", c.Scrape.Depth, 0, 1<<30, "0 fetches all history")
	v.positive("scrape.timeout", c.Scrape.Timeout)
	if c.Scrape.MaxRepoSize < MiB {
		v.add("scrape.max_repo_size", fmt.Sprintf("%s is too small; allowed 1MiB or more", c.Scrape.MaxRepoSize))
	}
	v.intRange("scrape.max_org_repos", c.Scrape.MaxOrgRepos, 1, 1_000_000, "")
	v.httpURL("scrape.github_api_url", c.Scrape.GitHubAPIURL)
	v.httpURL("scrape.gitlab_api_url", c.Scrape.GitLabAPIURL)
	v.envName("scrape.github_token_env", c.Scrape.GitHubTokenEnv)
	v.envName("scrape.gitlab_token_env", c.Scrape.GitLabTokenEnv)

	v.intRange("battery.low", c.Battery.Low, 0, 100, "")
	v.intRange("battery.high", c.Battery.High, 0, 100, "")
	if c.Battery.Low >= c.Battery.High {
		v.add("battery.low", fmt.Sprintf("%d must be below battery.high (%d), or the pipeline would never resume", c.Battery.Low, c.Battery.High))
	}
	if c.Battery.CheckInterval.Std() < time.Second {
		v.add("battery.check_interval", fmt.Sprintf("%s is too short; allowed 1s or more", c.Battery.CheckInterval))
	}

	for _, l := range c.Safety.AllowedLicenses {
		if strings.TrimSpace(l) == "" || strings.ContainsAny(l, " ,") {
			v.add("safety.allowed_licenses", fmt.Sprintf("%q is not an SPDX id; write ids such as \"MIT\", \"Apache-2.0\" as separate strings", l))
		}
	}

	v.oneOf("export.template", c.Export.Template, export.Names()...)
	if c.Export.Split != "" {
		if _, err := export.ParseSplits(c.Export.Split); err != nil {
			v.add("export.split", err.Error())
		}
	}
	v.oneOf("export.dedup", c.Export.Dedup, "off", "exact", "near")
	if c.Export.NearDuplicateThreshold <= 0 || c.Export.NearDuplicateThreshold > 1 {
		v.add("export.near_duplicate_threshold", fmt.Sprintf("%v is out of range; allowed above 0 up to 1", c.Export.NearDuplicateThreshold))
	}
	v.floatRange("export.min_score", c.Export.MinScore, 0, 5)

	v.oneOf("logging.level", c.Logging.Level, "debug", "info", "warn", "error")
	v.intRange("logging.max_log_files", c.Logging.MaxLogFiles, 1, 1000, "")
	return v.problems
}

type validator struct{ problems []Problem }

func (v *validator) add(key, msg string) {
	v.problems = append(v.problems, Problem{Key: key, Msg: msg})
}

func (v *validator) oneOf(key, got string, allowed ...string) {
	for _, a := range allowed {
		if got == a {
			return
		}
	}
	v.add(key, fmt.Sprintf("%q is not allowed%s; use one of %s", got, Suggest(got, allowed), quoteAll(allowed)))
}

func (v *validator) intRange(key string, got, lo, hi int, note string) {
	if got >= lo && got <= hi {
		return
	}
	msg := fmt.Sprintf("%d is out of range; allowed %d to %d", got, lo, hi)
	if note != "" {
		msg += " (" + note + ")"
	}
	v.add(key, msg)
}

func (v *validator) floatRange(key string, got, lo, hi float64) {
	if got >= lo && got <= hi {
		return
	}
	v.add(key, fmt.Sprintf("%v is out of range; allowed %v to %v", got, lo, hi))
}

func (v *validator) positive(key string, d Duration) {
	if d <= 0 {
		v.add(key, fmt.Sprintf("%s must be longer than zero, e.g. \"30s\"", d))
	}
}

func (v *validator) httpURL(key, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(key, fmt.Sprintf("%q is not an http:// or https:// URL with a host, e.g. \"http://127.0.0.1:8080\"", raw))
		return
	}
	if u.User != nil {
		v.add(key, "must not contain a user name or password; put secrets in an environment variable named by an *_env key")
	}
}

// envName checks keys that name an environment variable. A value that looks
// like a pasted secret gets a pointed message, since that is the usual
// mistake and the secret would otherwise sit in a file.
func (v *validator) envName(key, got string) {
	if got == "" || envNameRe.MatchString(got) {
		return
	}
	v.add(key, fmt.Sprintf("must name an environment variable (e.g. \"OPENAI_API_KEY\"), not hold a value; got %d characters that are not a variable name — move the secret into an environment variable", len(got)))
}

func (v *validator) globs(key string, patterns []string) {
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil || p == "" {
			v.add(key, fmt.Sprintf("%q is not a valid glob pattern (path.Match syntax: *, ?, [a-z])", p))
		}
	}
}

func quoteAll(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
