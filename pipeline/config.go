package pipeline

import (
	"strings"
	"time"
)

// Config is the effective configuration of a cicdllm workspace: built-in
// defaults, overlaid by the config file, then CICDLLM_* environment
// variables, then command-line flags (see LoadConfig).
//
// Every leaf field carries a `doc` tag; config.example.toml is generated from
// these tags (ExampleTOML) and a test keeps the committed file in step, so a
// key cannot exist without documentation.
type Config struct {
	LLM        LLMConfig        `toml:"llm" doc:"The LLM server that writes questions and answers."`
	MLX        MLXConfig        `toml:"mlx" doc:"The managed mlx_lm.server backend (llm.backend = \"mlx\", macOS on Apple Silicon)."`
	Generation GenerationConfig `toml:"generation" doc:"How questions and answers are generated."`
	Files      FilesConfig      `toml:"files" doc:"Which files of each repository are used."`
	Scrape     ScrapeConfig     `toml:"scrape" doc:"Cloning the repositories listed in repos.txt."`
	Battery    BatteryConfig    `toml:"battery" doc:"Pausing on battery power."`
	Safety     SafetyConfig     `toml:"safety" doc:"Secrets and licences."`
	Export     ExportConfig     `toml:"export" doc:"Defaults for cicdllm export."`
	Logging    LoggingConfig    `toml:"logging" doc:"Log files under logs/."`
}

// LLMConfig says which server to talk to and how patiently.
type LLMConfig struct {
	Backend           string   `toml:"backend" doc:"\"openai\" for any OpenAI-compatible server (llama-server, Ollama, vLLM, LM Studio, OpenAI), or \"mlx\" to start mlx_lm.server."`
	BaseURL           string   `toml:"base_url" doc:"Server address; the default is llama-server's port. Ollama: http://127.0.0.1:11434, vLLM: http://127.0.0.1:8000."`
	Model             string   `toml:"model" doc:"Model name as the server lists it; empty uses the first model the server lists."`
	APIKeyEnv         string   `toml:"api_key_env" doc:"Name of the environment variable holding the API key (e.g. \"OPENAI_API_KEY\"); never the key itself. Empty sends no key."`
	Concurrency       int      `toml:"concurrency" doc:"Requests in flight at once; 0 asks the server (llama.cpp slots), else 4. Range 0-256."`
	StructuredOutput  string   `toml:"structured_output" doc:"JSON output mode: \"auto\" finds what the server supports; or \"json_schema\", \"json_object\", \"off\"."`
	ContextSize       int      `toml:"context_size" doc:"Context window per request in tokens; 0 asks the server."`
	ConnectTimeout    Duration `toml:"connect_timeout" doc:"Time allowed to connect to the server."`
	FirstTokenTimeout Duration `toml:"first_token_timeout" doc:"Time allowed before the first token arrives (long prompts take a while to process)."`
	IdleTimeout       Duration `toml:"idle_timeout" doc:"Longest silence allowed between two tokens of a stream."`
	RequestTimeout    Duration `toml:"request_timeout" doc:"Longest time one request may take in total."`
	MaxRetries        int      `toml:"max_retries" doc:"Retries of one request after a connection error, 408/409/429/5xx or a truncated stream."`
	RetryMaxDelay     Duration `toml:"retry_max_delay" doc:"Upper bound of the exponential backoff between retries."`
	MaxRetryAfter     Duration `toml:"max_retry_after" doc:"Longest Retry-After wait honoured before the pipeline pauses instead."`
	BreakerThreshold  int      `toml:"breaker_threshold" doc:"Consecutive server failures after which all requests wait for the server to come back."`
	BreakerCooldown   Duration `toml:"breaker_cooldown" doc:"First wait before probing an unreachable server again (doubles up to 5m)."`
}

// MLXConfig configures the mlx_lm.server child process.
type MLXConfig struct {
	Model          string   `toml:"model" doc:"Hugging Face model id served by mlx_lm.server (see cicdllm mlx list)."`
	Python         string   `toml:"python" doc:"Python interpreter that has mlx-lm installed."`
	Port           int      `toml:"port" doc:"Loopback port for mlx_lm.server; 0 picks a free one."`
	ExtraArgs      []string `toml:"extra_args" doc:"Extra arguments passed to mlx_lm.server."`
	StartupTimeout Duration `toml:"startup_timeout" doc:"Time allowed for mlx_lm.server to load the model."`
}

// GenerationConfig shapes the two-stage question and answer generation.
type GenerationConfig struct {
	Theme                  string  `toml:"theme" doc:"Prompt theme: \"code\", \"devops\", or a folder name under prompts/."`
	QuestionsPerChunk      int     `toml:"questions_per_chunk" doc:"Questions asked about each chunk of a file."`
	MaxTokens              int     `toml:"max_tokens" doc:"Token budget of one answer (prepare --max-tokens)."`
	QuestionMaxTokens      int     `toml:"question_max_tokens" doc:"Token budget of one list of questions."`
	Temperature            float64 `toml:"temperature" doc:"Sampling temperature, 0 to 2 (prepare --temperature)."`
	Turns                  int     `toml:"turns" doc:"Conversation turns per sample; above 1, follow-up questions are asked."`
	Score                  bool    `toml:"score" doc:"Let the model score every new sample as part of prepare."`
	MaxFileAttempts        int     `toml:"max_file_attempts" doc:"Attempts per file before it is recorded as failed (see cicdllm retry)."`
	ChunkOverlapLines      int     `toml:"chunk_overlap_lines" doc:"Lines repeated between neighbouring chunks when a file is split into line windows."`
	MinChunkTokens         int     `toml:"min_chunk_tokens" doc:"Smallest chunk a too-long chunk is split into before the file is recorded as failed."`
	NearDuplicateThreshold float64 `toml:"near_duplicate_threshold" doc:"Drop a new question, before it is answered, when it is this similar (Jaccard index of word pairs, 0-1) to one already stored for the repository; 0 turns it off."`
}

// FilesConfig selects the files of each repository.
type FilesConfig struct {
	MaxFileSize        Size     `toml:"max_file_size" doc:"Larger files are skipped (prepare --max-file-size). Sizes take B, KB/KiB, MB/MiB, GB/GiB (all 1024-based)."`
	MinFileSize        Size     `toml:"min_file_size" doc:"Smaller files are skipped as too_small: a few bytes (a version pin, a one-line script) make no useful question. 0 keeps them."`
	Include            []string `toml:"include" doc:"Glob patterns (path.Match, on repository-relative paths or base names) always processed, even if a rule would skip them."`
	Exclude            []string `toml:"exclude" doc:"Glob patterns never processed."`
	ExcludedExtensions []string `toml:"excluded_extensions" doc:"File endings never processed (case-insensitive)."`
	SkipVendored       bool     `toml:"skip_vendored" doc:"Skip vendored and third-party code (linguist rules)."`
	SkipGenerated      bool     `toml:"skip_generated" doc:"Skip generated code (linguist rules)."`
	SkipDocumentation  bool     `toml:"skip_documentation" doc:"Skip documentation files (linguist rules)."`
	MaxAvgLineLength   int      `toml:"max_avg_line_length" doc:"Files whose average line is longer than this are treated as minified and skipped."`
	MaxFilesPerRepo    int      `toml:"max_files_per_repo" doc:"At most this many files are taken from one repository."`
	NonUTF8            string   `toml:"non_utf8" doc:"Files that are not UTF-8: \"skip\" them, or \"decode\" UTF-16 and Latin-1 to UTF-8."`
}

// ScrapeConfig controls cloning.
type ScrapeConfig struct {
	Concurrency     int      `toml:"concurrency" doc:"Repositories cloned at once (scrape --concurrency)."`
	Depth           int      `toml:"depth" doc:"Commits of history fetched; 0 fetches all (scrape --depth)."`
	Timeout         Duration `toml:"timeout" doc:"Longest time one clone or update may take."`
	MaxRepoSize     Size     `toml:"max_repo_size" doc:"A clone that downloads more than this is stopped and recorded as failed."`
	IncludeForks    bool     `toml:"include_forks" doc:"Keep forks when expanding an organisation, user or group."`
	IncludeArchived bool     `toml:"include_archived" doc:"Keep archived repositories when expanding an organisation, user or group."`
	MaxOrgRepos     int      `toml:"max_org_repos" doc:"At most this many repositories are taken from one organisation, user or group."`
	GitHubAPIURL    string   `toml:"github_api_url" doc:"GitHub REST API (change it for GitHub Enterprise)."`
	GitHubTokenEnv  string   `toml:"github_token_env" doc:"Name of the environment variable holding a GitHub token (optional; raises rate limits, reaches private repositories)."`
	GitLabAPIURL    string   `toml:"gitlab_api_url" doc:"GitLab REST API (change it for self-hosted GitLab)."`
	GitLabTokenEnv  string   `toml:"gitlab_token_env" doc:"Name of the environment variable holding a GitLab token (optional)."`
	AllowHTTP       bool     `toml:"allow_http" doc:"Accept plain http:// repository URLs (unencrypted; for servers on a trusted network)."`
}

// BatteryConfig pauses the pipeline on a draining laptop.
type BatteryConfig struct {
	Enabled       bool     `toml:"enabled" doc:"Pause generation on low battery."`
	Low           int      `toml:"low" doc:"Pause below this charge (percent) while discharging."`
	High          int      `toml:"high" doc:"Resume at this charge (percent), or as soon as the charger is connected."`
	CheckInterval Duration `toml:"check_interval" doc:"How often the battery is read."`
}

// SafetyConfig keeps secrets out of prompts and datasets.
type SafetyConfig struct {
	RedactSecrets       bool     `toml:"redact_secrets" doc:"Replace secrets with <REDACTED:kind> before anything is sent to the LLM or exported."`
	RedactEmails        bool     `toml:"redact_emails" doc:"Also replace e-mail addresses."`
	SkipCredentialFiles bool     `toml:"skip_credential_files" doc:"Never read files that are credentials by nature (.env, private keys, .npmrc, kubeconfigs...)."`
	AllowedLicenses     []string `toml:"allowed_licenses" doc:"SPDX ids of repository licences to process; empty processes every repository."`
	SkipUnlicensed      bool     `toml:"skip_unlicensed" doc:"Skip repositories without a detectable licence."`
}

// ExportConfig holds defaults for cicdllm export flags.
type ExportConfig struct {
	Template               string  `toml:"template" doc:"Output format (export --template); see cicdllm export -h for the list."`
	SystemPrompt           string  `toml:"system_prompt" doc:"System prompt added to every exported conversation (export --system); empty adds none."`
	Split                  string  `toml:"split" doc:"Split fractions, e.g. \"train=0.9,valid=0.05,test=0.05\"; empty writes one file."`
	Seed                   int     `toml:"seed" doc:"Seed of the deterministic split and shuffle."`
	Dedup                  string  `toml:"dedup" doc:"Duplicate removal: \"off\", \"exact\" or \"near\"."`
	NearDuplicateThreshold float64 `toml:"near_duplicate_threshold" doc:"Jaccard similarity above which --dedup near drops a sample (0-1)."`
	WithMetadata           bool    `toml:"with_metadata" doc:"Add provenance (repository, path, commit, lines, model) to every record."`
	BOS                    bool    `toml:"bos" doc:"Write the BOS token in text templates; trainers usually add it themselves."`
	MinScore               float64 `toml:"min_score" doc:"Leave out samples scored below this (0 keeps all)."`
}

// LoggingConfig controls the log files in logs/.
type LoggingConfig struct {
	Level       string `toml:"level" doc:"\"debug\", \"info\", \"warn\" or \"error\" (-v sets debug)."`
	MaxLogFiles int    `toml:"max_log_files" doc:"Log files kept in logs/; older ones are deleted (--max-log-files)."`
}

// DefaultConfig returns the built-in defaults.
func DefaultConfig() Config {
	return Config{
		LLM: LLMConfig{
			Backend:           "openai",
			BaseURL:           "http://127.0.0.1:8080",
			StructuredOutput:  "auto",
			ConnectTimeout:    Duration(10 * time.Second),
			FirstTokenTimeout: Duration(120 * time.Second),
			IdleTimeout:       Duration(60 * time.Second),
			RequestTimeout:    Duration(10 * time.Minute),
			MaxRetries:        5,
			RetryMaxDelay:     Duration(60 * time.Second),
			MaxRetryAfter:     Duration(10 * time.Minute),
			BreakerThreshold:  5,
			BreakerCooldown:   Duration(30 * time.Second),
		},
		MLX: MLXConfig{
			Model:          "mlx-community/Qwen2.5-Coder-14B-Instruct-4bit",
			Python:         "python3",
			ExtraArgs:      []string{},
			StartupTimeout: Duration(5 * time.Minute),
		},
		Generation: GenerationConfig{
			Theme:                  "code",
			QuestionsPerChunk:      5,
			MaxTokens:              1024,
			QuestionMaxTokens:      512,
			Temperature:            0.7,
			Turns:                  1,
			MaxFileAttempts:        3,
			ChunkOverlapLines:      4,
			MinChunkTokens:         256,
			NearDuplicateThreshold: 0.8,
		},
		Files: FilesConfig{
			MaxFileSize: 5 * MiB,
			MinFileSize: 16,
			Include:     []string{},
			Exclude:     []string{},
			// The prototype's deny-list, matched case-insensitively here.
			ExcludedExtensions: []string{".png", ".jpg", ".jpeg", ".gif", ".bin", ".zip", ".tar", ".gz",
				".svg", ".idx", ".rev", ".pack", ".DS_Store", ".pdf", ".pptx"},
			SkipVendored:     true,
			SkipGenerated:    true,
			MaxAvgLineLength: 200,
			MaxFilesPerRepo:  50000,
			NonUTF8:          "skip",
		},
		Scrape: ScrapeConfig{
			Concurrency:    2,
			Depth:          1,
			Timeout:        Duration(10 * time.Minute),
			MaxRepoSize:    2 * GiB,
			MaxOrgRepos:    1000,
			GitHubAPIURL:   "https://api.github.com",
			GitHubTokenEnv: "GITHUB_TOKEN",
			GitLabAPIURL:   "https://gitlab.com/api/v4",
			GitLabTokenEnv: "GITLAB_TOKEN",
		},
		Battery: BatteryConfig{
			Enabled:       true,
			Low:           15,
			High:          90,
			CheckInterval: Duration(60 * time.Second),
		},
		Safety: SafetyConfig{
			RedactSecrets:       true,
			SkipCredentialFiles: true,
			AllowedLicenses:     []string{},
		},
		Export: ExportConfig{
			Template:               "chatml-jsonl",
			Seed:                   42,
			Dedup:                  "exact",
			NearDuplicateThreshold: 0.8,
		},
		Logging: LoggingConfig{
			Level:       "info",
			MaxLogFiles: 5,
		},
	}
}

// SecretValues returns the values held by the environment variables that
// the config names in its *_env keys, plus the Hugging Face token, so the
// logger can keep them out of every log line.
func (c *Config) SecretValues(lookupEnv func(string) (string, bool)) []string {
	names := []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "GH_TOKEN"}
	for _, f := range configFields() {
		if strings.HasSuffix(f.Name, "_env") {
			names = append(names, f.value(c).String())
		}
	}
	var out []string
	for _, n := range names {
		if n == "" {
			continue
		}
		if v, ok := lookupEnv(n); ok && v != "" {
			out = append(out, v)
		}
	}
	return out
}
