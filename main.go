// Command cicdllm turns Git repositories into question-and-answer
// fine-tuning data for code LLMs. Run `cicdllm help` for the commands.
//
// main.go parses flags, wires the packages together and maps errors to exit
// codes; the work itself lives in pipeline, store, llm and ui.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode"

	"golang.org/x/term"

	"cicdllm/llm"
	"cicdllm/llm/hfhub"
	"cicdllm/llm/mlxserver"
	"cicdllm/llm/sim"
	"cicdllm/pipeline"
	"cicdllm/pipeline/demo"
	"cicdllm/pipeline/export"
	"cicdllm/store"
	"cicdllm/ui"
	"cicdllm/ui/common"
)

// Exit codes, documented in the README.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2 // bad flags, bad configuration
	exitLocked      = 3 // another cicdllm holds the workspace
	exitInterrupted = 130
)

func main() {
	os.Exit(runMain(newApp()))
}

// newApp is the process's own invocation: real streams and environment.
func newApp() *app {
	return &app{
		stdin:     os.Stdin,
		stdout:    os.Stdout,
		stderr:    os.Stderr,
		lookupEnv: os.LookupEnv,
		environ:   os.Environ,
		interactive: func() bool {
			// A dumb terminal cannot draw the UI, and CI logs want plain
			// lines even when the runner allocates a pseudo-terminal.
			if os.Getenv("TERM") == "dumb" || ciEnv(os.Getenv("CI")) {
				return false
			}
			return term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd()))
		},
	}
}

// ciEnv reports whether the CI variable says we run under CI.
func ciEnv(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	return v != "" && v != "0" && v != "false" && v != "no"
}

// runMain runs a with the process's arguments and signals and returns the
// exit code.
func runMain(a *app) int {
	pipeline.InstallGitTransport()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return a.run(ctx, os.Args[1:])
}

// app is one invocation of the binary; tests build it with their own
// streams and environment.
type app struct {
	stdin       io.Reader
	stdout      io.Writer
	stderr      io.Writer
	lookupEnv   func(string) (string, bool)
	environ     func() []string
	interactive func() bool // stdin and stdout are terminals

	// Fault injection for the crash and robustness suites; a normal
	// process never sets these.
	beforeTask func(repo, path string) // reaches pipeline.Runner.BeforeTask
	maxDBPages int                     // reaches store.Options.MaxPageCount
}

// globals are the flags every command accepts, before or after its name.
type globals struct {
	workdir     string
	dataDir     string
	config      string
	maxLogFiles int
	verbose     bool
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.workdir, "workdir", g.workdir, "workspace directory")
	fs.StringVar(&g.dataDir, "data-dir", g.dataDir, "data directory, relative to the workspace")
	fs.StringVar(&g.config, "config", g.config, "config file")
	fs.IntVar(&g.maxLogFiles, "max-log-files", g.maxLogFiles, "log files kept")
	fs.BoolVar(&g.verbose, "v", g.verbose, "verbose")
	fs.BoolVar(&g.verbose, "verbose", g.verbose, "verbose")
}

// globalFlagKeys maps global flags onto config keys, so they show up as the
// "flag" source in `config show` and pass through validation.
func globalFlagKeys() map[string]string {
	return map[string]string{"max-log-files": "logging.max_log_files"}
}

const globalUsage = `Global flags (before or after the command):
  --workdir DIR         workspace directory (default ".")
  --data-dir DIR        data directory, relative to the workspace (default "data")
  --config FILE         config file (default: $CICDLLM_CONFIG, ./cicdllm.toml,
                        $XDG_CONFIG_HOME/cicdllm/config.toml)
  --max-log-files N     log files kept in logs/ (default 5)
  -v, --verbose         debug logging, also copied to stderr
  -h, --help            help for the command`

// command is one subcommand.
type command struct {
	name     string
	args     string // synopsis after the name
	summary  string
	help     string                 // description and examples for `CMD -h`
	flags    func(fs *flag.FlagSet) // registers the command's own flags
	flagKeys map[string]string      // command flag -> config key
	run      func(ctx context.Context, env *cmdEnv, args []string) error
	needsEnv bool
	hidden   bool // left out of the overview (developer tools)
}

// cmdEnv is what a command gets: the globals and flag overrides always;
// the workspace, configuration and log when the command has needsEnv.
type cmdEnv struct {
	*app
	g         globals
	overrides []pipeline.Override
	ws        pipeline.Workspace
	cfg       *pipeline.Loaded
	log       *pipeline.Log
	logger    *slog.Logger
}

func (a *app) commands() []*command {
	return []*command{
		a.tuiCommand(),
		a.scrapeCommand(),
		a.prepareCommand(false),
		a.prepareCommand(true),
		a.scoreCommand(),
		a.promptsCommand(),
		a.exportCommand(),
		a.mlxCommand(),
		a.statusCommand(),
		a.statsCommand(),
		a.configCommand(),
		a.resetCommand(),
		a.demoCommand(),
		a.simCommand(),
		{name: "version", summary: "print the version", run: a.runVersion,
			help: "Prints the version, commit and Go toolchain.\n\nExamples:\n  cicdllm version"},
		{name: "help", args: "[COMMAND]", summary: "show help for cicdllm or a command", run: a.runHelp,
			help: "Examples:\n  cicdllm help\n  cicdllm help reset"},
	}
}

func (a *app) findCommand(name string) *command {
	for _, c := range a.commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// exitError carries an exit code with the message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// run executes one invocation and returns its exit code.
func (a *app) run(ctx context.Context, args []string) int {
	g := globals{workdir: ".", dataDir: "data", maxLogFiles: 5}
	gfs := flag.NewFlagSet("cicdllm", flag.ContinueOnError)
	gfs.SetOutput(io.Discard)
	g.register(gfs)
	if err := gfs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.printOverview(a.stdout)
			return exitOK
		}
		fmt.Fprintf(a.stderr, "cicdllm: %s; run 'cicdllm help' for usage\n", flagProblem(gfs, err))
		return exitUsage
	}
	setBefore := visited(gfs)
	rest := gfs.Args()
	if len(rest) == 0 {
		if a.interactive() {
			rest = []string{"tui"}
		} else {
			a.printOverview(a.stderr)
			return exitUsage
		}
	}
	cmd := a.findCommand(rest[0])
	if cmd == nil {
		var names []string
		for _, c := range a.commands() {
			names = append(names, c.name)
		}
		fmt.Fprintf(a.stderr, "cicdllm: unknown command %q%s; run 'cicdllm help' for the list of commands\n", printable(rest[0]), pipeline.Suggest(rest[0], names))
		return exitUsage
	}
	fs := flag.NewFlagSet("cicdllm "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g.register(fs)
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	positional, err := parseInterspersed(fs, rest[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.printCommandHelp(a.stdout, cmd)
			return exitOK
		}
		fmt.Fprintf(a.stderr, "cicdllm %s: %s; run 'cicdllm %s -h' for its flags\n", cmd.name, flagProblem(fs, err), cmd.name)
		return exitUsage
	}
	set := visited(fs)
	for k := range setBefore {
		set[k] = true
	}
	env := &cmdEnv{app: a, g: g, overrides: flagOverrides(g, cmd, fs, set), logger: slog.New(slog.DiscardHandler)}
	if cmd.needsEnv {
		closeEnv, err := env.setup(cmd)
		if err != nil {
			return a.report(ctx, cmd.name, err)
		}
		defer closeEnv()
		env.logger.Info("command started", "command", cmd.name, "args", strings.Join(positional, " "),
			"workspace", env.ws.Dir, "config", env.cfg.File, "version", versionString())
	}
	err = cmd.run(ctx, env, positional)
	if cmd.needsEnv {
		err = env.explainDB(err)
		if err != nil {
			env.logger.Error("command failed", "command", cmd.name, "err", err)
		} else {
			env.logger.Info("command finished", "command", cmd.name)
		}
	}
	return a.report(ctx, cmd.name, err)
}

// report prints err (one line per problem) and maps it to an exit code.
func (a *app) report(ctx context.Context, name string, err error) int {
	if err == nil {
		return exitOK
	}
	code := exitFailure
	var ee *exitError
	var ce *pipeline.ConfigError
	switch {
	case errors.As(err, &ce):
		for _, p := range ce.Problems {
			fmt.Fprintf(a.stderr, "cicdllm %s: %s\n", name, p)
		}
		return exitUsage
	case store.IsLocked(err):
		code = exitLocked
	case errors.As(err, &ee):
		code = ee.code
	case ctx.Err() != nil:
		code = exitInterrupted
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(a.stderr, "cicdllm %s: %s\n", name, line)
	}
	return code
}

// flagOverrides turns the flags the user set into config overrides, so
// they show up as the "flag" source in `config show` and pass through
// validation like any other value.
func flagOverrides(g globals, cmd *command, fs *flag.FlagSet, set map[string]bool) []pipeline.Override {
	keys := globalFlagKeys()
	for k, v := range cmd.flagKeys {
		keys[k] = v
	}
	var out []pipeline.Override
	fs.VisitAll(func(f *flag.Flag) {
		if key, ok := keys[f.Name]; ok && set[f.Name] {
			out = append(out, pipeline.Override{Key: key, Value: f.Value.String(), Flag: "--" + f.Name})
		}
	})
	if g.verbose {
		out = append(out, pipeline.Override{Key: "logging.level", Value: "debug", Flag: "-v"})
	}
	return out
}

// loadConfig resolves the workspace and loads its configuration.
func (e *cmdEnv) loadConfig() error {
	ws, err := pipeline.NewWorkspace(e.g.workdir, e.g.dataDir)
	if err != nil {
		return usageError("%v", err)
	}
	cfg, err := pipeline.LoadConfig(pipeline.LoadOptions{
		Workdir: ws.Dir, Path: e.g.config, LookupEnv: e.lookupEnv, Environ: e.environ, Overrides: e.overrides,
	})
	if err != nil {
		return err
	}
	e.ws, e.cfg = ws, cfg
	return nil
}

// setup loads the configuration and opens the run's log file.
func (e *cmdEnv) setup(cmd *command) (func(), error) {
	if err := e.loadConfig(); err != nil {
		return nil, err
	}
	var mirror io.Writer
	if e.g.verbose && cmd.name != "tui" { // never write to the terminal under the UI
		mirror = e.stderr
	}
	c := e.cfg.Config
	log, err := pipeline.OpenLog(pipeline.LogOptions{
		Dir:      e.ws.LogsDir,
		MaxFiles: c.Logging.MaxLogFiles,
		Level:    logLevel(c.Logging.Level),
		Secrets:  c.SecretValues(e.lookupEnv),
		Mirror:   mirror,
	})
	if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EROFS) {
		return nil, fmt.Errorf("cannot write to the workspace %s (%v); make it writable or pass another --workdir", e.ws.Dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open the log in %s: %w", e.ws.LogsDir, err)
	}
	e.log, e.logger = log, log.Logger
	return func() { _ = log.Close() }, nil
}

// home is the user's home directory (for ~ in repos.txt and Hugging Face
// paths), from the command's environment first.
func (e *cmdEnv) home() string {
	if h, ok := e.lookupEnv("HOME"); ok && h != "" {
		return h
	}
	h, _ := os.UserHomeDir()
	return h
}

func logLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// openStore opens the workspace database. Writers take the workspace lock;
// readers (status, stats) do not, so they work while prepare runs.
func (e *cmdEnv) openStore(ctx context.Context, write bool) (*store.Store, error) {
	return store.Open(ctx, e.ws.DBPath, store.Options{Lock: write, MaxPageCount: e.maxDBPages})
}

// explainDB words a database that cannot be used: which file, what is
// wrong with it and what to do, on one line. Nothing here changes the
// file: it may be the only copy of someone's curated samples.
func (e *cmdEnv) explainDB(err error) error {
	db := e.ws.Rel(e.ws.DBPath)
	const left = "it was left as it is"
	var foreign *store.ForeignError
	switch {
	case errors.Is(err, store.ErrNotDatabase):
		return fmt.Errorf("%s is not a cicdllm database (not an SQLite file); %s: move it aside, or delete it with `cicdllm reset db --yes`, then run again to start a new one", db, left)
	case errors.Is(err, store.ErrDamaged):
		return fmt.Errorf("%s is damaged (database disk image is malformed); %s: restore a backup, recover what is left with `sqlite3 %s .recover`, or move it aside to start a new one", db, left, db)
	case errors.As(err, &foreign):
		return fmt.Errorf("%s is not a cicdllm database: %s; %s: move it aside or pass another --data-dir", db, foreign.Why, left)
	case errors.Is(err, store.ErrIsDirectory):
		return fmt.Errorf("%s is a directory, not a database file; move it aside or pass another --data-dir", db)
	}
	return err
}

// parseInterspersed parses flags anywhere among positional arguments, so
// `reset db --yes` and `reset --yes db` both work; "--" ends flag parsing.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		consumed := args[:len(args)-len(rest)]
		if len(consumed) > 0 && consumed[len(consumed)-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// flagProblem words a flag package error on one line, for people: the
// flag as they type it (--name), what its value should have been instead
// of "parse error", and the flag they probably meant. Other text is kept.
func flagProblem(fs *flag.FlagSet, err error) string {
	// Compiled here, not in package variables: this runs once, on an error.
	flagValueRe := regexp.MustCompile(`^invalid (?:boolean )?value (".*") for (?:flag )?-([\w-]+): (.*)$`)
	flagUnknownRe := regexp.MustCompile(`^flag provided but not defined: -+([\w-]+)$`)
	msg := printable(err.Error())
	if m := flagUnknownRe.FindStringSubmatch(msg); m != nil {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		if sug := pipeline.Suggest(m[1], names); sug != "" {
			msg += strings.Replace(strings.ReplaceAll(sug, `"`, ""), "mean ", "mean --", 1)
		}
		return msg
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return fmt.Sprintf("flag --%s needs a value", strings.TrimLeft(name, "-"))
	}
	m := flagValueRe.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	value, name, why := m[1], m[2], m[3]
	if why == "parse error" || why == "value out of range" {
		why = "not a value this flag takes"
		if f := fs.Lookup(name); f != nil {
			if g, ok := f.Value.(flag.Getter); ok {
				switch g.Get().(type) {
				case int, int64, uint, uint64:
					why = "not a whole number"
				case float64:
					why = "not a number"
				case bool:
					why = "use true or false"
				case time.Duration:
					why = "not a duration such as 30s or 5m"
				}
			}
		}
	}
	return fmt.Sprintf("invalid value %s for flag --%s: %s", value, name, why)
}

func visited(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// ---- help and version ------------------------------------------------------

func (a *app) printOverview(w io.Writer) {
	fmt.Fprint(w, `cicdllm turns Git repositories into question-and-answer fine-tuning data for
code LLMs, using a local LLM server (llama-server, Ollama, vLLM, LM Studio,
any OpenAI-compatible API) or MLX on Apple Silicon.

Usage:
  cicdllm [global flags] <command> [flags] [arguments]

Commands:
`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range a.commands() {
		if c.hidden {
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\n%s\n", globalUsage)
	fmt.Fprint(w, `
Typical session:
  cicdllm status                       what is in this workspace, what to do next
  cicdllm scrape                       clone the repositories in repos.txt
  cicdllm prepare                      generate questions and answers
  cicdllm export --template chatml-jsonl --output-file dataset.jsonl

Run 'cicdllm help <command>' or 'cicdllm <command> -h' for a command's flags.
`)
}

func (a *app) printCommandHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "Usage: cicdllm %s", c.name)
	if c.args != "" {
		fmt.Fprintf(w, " %s", c.args)
	}
	fmt.Fprintf(w, "\n\n%s.\n", upperFirst(c.summary))
	if c.flags != nil {
		fmt.Fprintf(w, "\nFlags:\n")
		own := flag.NewFlagSet("", flag.ContinueOnError)
		c.flags(own)
		own.SetOutput(w)
		own.PrintDefaults()
	}
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", c.help)
	}
	fmt.Fprintf(w, "\n%s\n", globalUsage)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

func (a *app) runHelp(_ context.Context, _ *cmdEnv, args []string) error {
	if len(args) == 0 {
		a.printOverview(a.stdout)
		return nil
	}
	c := a.findCommand(args[0])
	if c == nil {
		return usageError("unknown command %q; run 'cicdllm help' for the list", args[0])
	}
	a.printCommandHelp(a.stdout, c)
	return nil
}

// Release builds stamp these with
//
//	go build -ldflags "-X main.version=v1.2.0 -X main.commit=$(git rev-parse HEAD) -X main.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
//
// They are package variables only because the linker can set nothing
// else; empty means "ask the build info".
var version, commit, date string

// versionString describes the build: the -ldflags stamps first, then the
// module version and VCS data the Go toolchain embeds (go install
// module@version records the version; a build in a clone records the
// commit and its time).
func versionString() string {
	return describeBuild(version, commit, date, readBuildInfo())
}

func readBuildInfo() *debug.BuildInfo {
	bi, _ := debug.ReadBuildInfo()
	return bi
}

func describeBuild(stampVersion, stampCommit, stampDate string, bi *debug.BuildInfo) string {
	ver, rev, when, dirty := "(devel)", "", "", false
	whenLabel := "committed" // vcs.time is the commit's time, not the build's
	if bi != nil {
		if bi.Main.Version != "" {
			ver = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if stampVersion != "" {
		ver = stampVersion
	}
	if stampCommit != "" {
		rev, dirty = stampCommit, false
	}
	if stampDate != "" {
		when, whenLabel = stampDate, "built"
	}
	out := "cicdllm " + ver
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "-dirty"
		}
		out += ", commit " + rev
	}
	if when != "" {
		out += ", " + whenLabel + " " + when
	}
	return out + ", " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}

func (a *app) runVersion(context.Context, *cmdEnv, []string) error {
	fmt.Fprintln(a.stdout, versionString())
	return nil
}

// ---- scrape ------------------------------------------------------------------

func (a *app) scrapeCommand() *command {
	var opts pipeline.ScrapeOptions
	return &command{
		name: "scrape", args: "[--concurrency N] [--depth N] [--dry-run]", needsEnv: true,
		summary: "clone or update the repositories listed in repos.txt",
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&opts.Concurrency, "concurrency", 0, "repositories cloned at once (default scrape.concurrency, 2)")
			fs.IntVar(&opts.Depth, "depth", 0, "commits of history to fetch, 0 = all (default scrape.depth, 1)")
			fs.BoolVar(&opts.DryRun, "dry-run", false, "list what would be cloned, updated or read, after expanding organisations")
		},
		flagKeys: map[string]string{"concurrency": "scrape.concurrency", "depth": "scrape.depth"},
		help: `repos.txt holds one entry per line: an https:// or git@/ssh:// repository URL,
a GitHub organisation or user URL (https://github.com/kubernetes) or GitLab
group URL, which is expanded through the API, or a local path (read in place).
Blank lines and # comments are ignored; every rejected line is reported with
its number and the reason. Remote repositories become bare clones in
repos/<host>/<owner>/<name>.git (no working tree is ever checked out); a
repository already there is updated to its default branch. Tokens come from
the variables named by scrape.github_token_env and scrape.gitlab_token_env.
Exits 1 if a line was rejected or a repository failed, after doing the rest.

Examples:
  cicdllm scrape
  cicdllm scrape --dry-run
  GITHUB_TOKEN=ghp_... cicdllm scrape --concurrency 4 --depth 1`,
		run: a.runScrape(&opts),
	}
}

func (a *app) runScrape(opts *pipeline.ScrapeOptions) func(context.Context, *cmdEnv, []string) error {
	return func(ctx context.Context, e *cmdEnv, args []string) error {
		if len(args) > 0 {
			return usageError("scrape takes no arguments, got %q", args[0])
		}
		c := e.cfg.Config
		opts.Concurrency, opts.Depth = c.Scrape.Concurrency, c.Scrape.Depth
		s := &pipeline.Scraper{WS: e.ws, Config: c, LookupEnv: e.lookupEnv, Home: e.home(), Logger: e.logger}
		// A missing repos.txt, or one whose every line is rejected, leaves
		// nothing to record: no database is created for it.
		if entries, _, err := s.RepoList(); !opts.DryRun && err == nil && len(entries) > 0 {
			st, err := e.openStore(ctx, true)
			if err != nil {
				return err
			}
			defer st.Close()
			s.Store = st
		}
		p := newEventPrinter(e.stdout, e.interactive())
		s.OnEvent = p.scrapeEvent
		rep, err := s.Run(ctx, *opts)
		p.clear()
		if errors.Is(err, pipeline.ErrNoReposFile) {
			return usageError("%v", err)
		}
		if err != nil {
			return err
		}
		return e.scrapeSummary(rep, opts.DryRun)
	}
}

func (e *cmdEnv) scrapeSummary(rep pipeline.ScrapeReport, dryRun bool) error {
	w := e.stdout
	if dryRun {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "ACTION\tREPOSITORY\tWHERE\n")
		for _, p := range rep.Planned {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Action, printable(p.Entry.DisplayName()), e.ws.Rel(p.Dir))
		}
		_ = tw.Flush()
		fmt.Fprintf(w, "%s (dry run: nothing was cloned)\n", count(len(rep.Planned), "repository", "repositories"))
	} else {
		fmt.Fprintf(w, "%s ready: %d cloned, %d updated, %d unchanged, %d local\n",
			count(len(rep.Results), "repository", "repositories"), rep.Count(pipeline.ActionCloned), rep.Count(pipeline.ActionUpdated),
			rep.Count(pipeline.ActionUnchanged), rep.Count(pipeline.ActionLocal))
	}
	for _, r := range rep.Rejected {
		fmt.Fprintf(w, "repos.txt:%d: rejected %q: %s\n", r.Line, printable(r.Text), r.Reason)
	}
	for _, f := range rep.Failed {
		where := ""
		if f.Line > 0 {
			where = fmt.Sprintf("repos.txt:%d: ", f.Line)
		}
		fmt.Fprintf(w, "%sfailed %s: %s\n", where, printable(f.Name), printable(f.Err.Error()))
	}
	if rep.OK() {
		return nil
	}
	var what []string
	if len(rep.Rejected) > 0 {
		what = append(what, count(len(rep.Rejected), "line", "lines")+" of repos.txt rejected")
	}
	if len(rep.Failed) > 0 {
		what = append(what, count(len(rep.Failed), "repository or organisation", "repositories or organisations")+" failed")
	}
	return fmt.Errorf("%s (details above and in %s); fix repos.txt or the repositories and run scrape again",
		strings.Join(what, ", "), e.ws.Rel(e.log.Path))
}

// eventPrinter shows pipeline events. Without a terminal it prints one
// plain line per event (no escape codes, fit for logs and CI); on a
// terminal, progress replaces a single status line instead of scrolling.
type eventPrinter struct {
	mu     sync.Mutex
	w      io.Writer
	tty    bool
	status string
	last   map[string]string
	// reposFailed counts repositories a prepare could not read at all
	// (EventRepoFailed).
	reposFailed int
}

func newEventPrinter(w io.Writer, tty bool) *eventPrinter {
	return &eventPrinter{w: w, tty: tty, last: map[string]string{}}
}

func (p *eventPrinter) line(format string, args ...any) {
	p.clearLocked()
	fmt.Fprintf(p.w, format+"\n", args...)
	p.redrawLocked()
}

func (p *eventPrinter) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	p.status = ""
}

func (p *eventPrinter) clearLocked() {
	if p.tty && p.status != "" {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

func (p *eventPrinter) redrawLocked() {
	if p.tty && p.status != "" {
		fmt.Fprint(p.w, p.status)
	}
}

func (p *eventPrinter) scrapeEvent(ev pipeline.ScrapeEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pos := ""
	if ev.Total > 0 {
		pos = fmt.Sprintf("[%d/%d] ", ev.Index, ev.Total)
	}
	name := printable(ev.Name)
	switch ev.Kind {
	case pipeline.ScrapeRejected:
		p.line("repos.txt:%d: rejected: %s", ev.Line, ev.Message)
	case pipeline.ScrapeExpanding, pipeline.ScrapeWaiting:
		p.line("%s: %s", name, ev.Message)
	case pipeline.ScrapeExpanded:
		p.line("%s: found %s", name, ev.Message)
	case pipeline.ScrapeStarted:
		if !p.tty {
			p.line("%sstarting %s", pos, name)
		}
	case pipeline.ScrapeProgress:
		text := ev.Progress.Phase
		if ev.Progress.Percent >= 0 {
			text += fmt.Sprintf(" %d%%", ev.Progress.Percent)
		}
		if ev.Progress.Bytes > 0 {
			text += ", " + common.HumanBytes(ev.Progress.Bytes)
		}
		if p.tty {
			p.clearLocked()
			p.status = truncate(fmt.Sprintf("%s%s: %s", pos, name, text), 100)
			p.redrawLocked()
		} else if phase := ev.Progress.Phase; p.last[ev.Name] != phase {
			// Without a terminal, one line per phase rather than per percent.
			p.last[ev.Name] = phase
			p.line("%s%s: %s", pos, name, phase)
		}
	case pipeline.ScrapeDone:
		r := ev.Result
		p.line("%s%s %s (%s, %s)", pos, r.Action, name, r.DefaultBranch, shortHash(r.HeadCommit))
	case pipeline.ScrapeFailed:
		p.line("%sfailed %s: %s", pos, name, printable(ev.Err.Error()))
	}
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// ---- prepare and retry --------------------------------------------------------

type prepareFlags struct {
	repo, file  string
	dryRun      bool
	allowRemote bool
	// Bound only so -h documents them; their values reach the config as
	// overrides (flagKeys).
	maxTokens, concurrency int
	temperature            float64
	maxFileSize, theme     string
}

func (a *app) prepareCommand(retry bool) *command {
	var f prepareFlags
	c := &command{
		name: "prepare", needsEnv: true,
		args:    "[--repo NAME] [--max-tokens N] [--temperature T] [--max-file-size S] [--concurrency N] [--theme T] [--dry-run]",
		summary: "generate questions and answers for every selected file",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&f.repo, "repo", "", "only repositories whose name contains `NAME`")
			fs.IntVar(&f.maxTokens, "max-tokens", 0, "token budget of one answer (default generation.max_tokens, 1024)")
			fs.Float64Var(&f.temperature, "temperature", 0, "sampling temperature 0-2 (default generation.temperature, 0.7)")
			fs.StringVar(&f.maxFileSize, "max-file-size", "", "skip larger files, e.g. 2MiB (default files.max_file_size, 5MiB)")
			fs.IntVar(&f.concurrency, "concurrency", 0, "requests in flight (default: the server's slots)")
			fs.StringVar(&f.theme, "theme", "", "prompt theme: code, devops or a folder under prompts/")
			fs.BoolVar(&f.dryRun, "dry-run", false, "list files, chunks and an estimate of requests and tokens; call no LLM")
			fs.BoolVar(&f.allowRemote, "allow-remote-unredacted", false, "send code to a server on another machine even though safety.redact_secrets is off")
		},
		flagKeys: map[string]string{"max-tokens": "generation.max_tokens", "temperature": "generation.temperature",
			"max-file-size": "files.max_file_size", "concurrency": "llm.concurrency", "theme": "generation.theme"},
		help: `Walks the HEAD tree of every scraped repository, selects source files,
splits each into chunks that fit the model, asks for questions about each
chunk, then for an answer to each question. Every answer is committed as it
arrives; unchanged files are skipped on the next run, changed ones are
regenerated (their old samples become stale). Ctrl-C stops gracefully after
the requests in flight; a second Ctrl-C stops at once. Either way, running
prepare again resumes.

Examples:
  cicdllm prepare
  cicdllm prepare --repo kubernetes --max-tokens 2048 --theme devops
  cicdllm prepare --dry-run`,
	}
	if retry {
		c.name, c.summary = "retry", "reprocess the files that failed"
		c.args = "[--file PATH] [--max-tokens N] [--temperature T] [--concurrency N]"
		inner := c.flags
		c.flags = func(fs *flag.FlagSet) {
			inner(fs)
			fs.StringVar(&f.file, "file", "", "only this failed file (repository-relative `PATH`)")
		}
		c.help = "Reprocesses exactly the files listed as failed (answering their pending\nquestions first) and clears each on success.\n\nExamples:\n  cicdllm retry\n  cicdllm retry --file deploy/helm/values.yaml"
	}
	c.run = func(ctx context.Context, e *cmdEnv, args []string) error {
		if len(args) > 0 {
			return usageError("%s takes no arguments, got %q", c.name, args[0])
		}
		return e.runPrepare(ctx, f, retry)
	}
	return c
}

func (e *cmdEnv) runPrepare(ctx context.Context, f prepareFlags, retry bool) error {
	cfg := e.cfg.Config
	theme, err := pipeline.LoadTheme(e.ws.PromptsDir, cfg.Generation.Theme)
	if err != nil {
		return usageError("%v", err)
	}
	st, err := e.openStore(ctx, !f.dryRun)
	if err != nil {
		return err
	}
	defer st.Close()
	r := &pipeline.Runner{WS: e.ws, Config: cfg, Store: st, Theme: theme, RepoFilter: f.repo, Logger: e.logger, BeforeTask: e.beforeTask}
	if retry {
		if r.Only, err = pipeline.RetrySet(ctx, st, f.file); err != nil {
			return err
		}
		if len(r.Only) == 0 {
			if f.file != "" {
				return usageError("%s is not among the failed files; see `cicdllm stats`", f.file)
			}
			fmt.Fprintln(e.stdout, "no failed files to retry")
			return nil
		}
	}
	if f.dryRun {
		return e.dryRunPrepare(ctx, r)
	}

	if _, err := cfg.LLMOptions(e.lookupEnv, e.logger, nil); err != nil {
		return usageError("%v", err)
	}
	conn, err := pipeline.Connect(ctx, cfg, pipeline.ConnectOptions{LookupEnv: e.lookupEnv, Home: e.home(), Logger: e.logger,
		AllowRemoteUnredacted: f.allowRemote,
		OnBreaker: func(ev llm.BreakerEvent) {
			if ev.State == llm.BreakerOpen {
				fmt.Fprintf(e.stderr, "LLM server unreachable; retrying in %s (%v)\n", ev.RetryIn.Round(time.Second), ev.Err)
			} else if ev.State == llm.BreakerClosed {
				fmt.Fprintln(e.stderr, "LLM server is back")
			}
		},
		OnMLX: e.mlxEventPrinter()})
	if errors.Is(err, pipeline.ErrRemoteUnredacted) {
		return usageError("%v", err)
	}
	if err != nil {
		return err
	}
	// The managed mlx_lm.server must not outlive us: stopped on every
	// return, Ctrl-C (ctx) and panic (deferred calls run while panicking).
	defer conn.Close()
	client, info := conn.Client, conn.Info
	r.Client, r.Slots, r.ContextSize, r.Model = client, info.Slots, info.ContextSize, info.Model
	fmt.Fprintf(e.stdout, "LLM: %s at %s, model %s, %d tokens per request, %d slots, structured output %s\n",
		info.Kind, info.URL, info.Model, info.ContextSize, info.Slots, info.StructuredOutput)

	// First Ctrl-C: stop dispatching and let the requests in flight
	// commit. Second: abandon them. Either way the database stays
	// consistent and the next run resumes.
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		n := 0
		for {
			select {
			case <-runCtx.Done():
				return
			case <-sigs:
				n++
				if n == 1 {
					fmt.Fprintln(e.stderr, "stopping after the requests in flight (Ctrl-C again to stop now)")
					r.Stop()
				} else {
					cancelRun()
				}
			}
		}
	}()
	go pipeline.WatchBattery(runCtx, cfg.Battery, pipeline.ReadPower, r, e.logger, func(p pipeline.PowerState, paused bool) {
		if paused {
			fmt.Fprintf(e.stderr, "paused: battery %s < %d%%\n", p, cfg.Battery.Low)
		} else {
			fmt.Fprintln(e.stderr, "resumed: battery recovered")
		}
	})
	p := newEventPrinter(e.stdout, e.interactive())
	r.OnEvent = p.runnerEvent
	start := time.Now()
	stopTicker := p.tickProgress(r.Progress(), r.Slots, start)
	err = r.Run(runCtx)
	stopTicker()
	p.clear()
	e.prepareSummary(r.Progress(), time.Since(start))
	if reasons := r.SkipReasons(); len(reasons) > 0 {
		fmt.Fprintf(e.stdout, "skipped: %s\n", skipSummary(reasons))
	}
	e.serverReport(client.Stats(), r.Slots, time.Since(start))
	if err == nil && runCtx.Err() == nil && cfg.Generation.Score {
		// generation.score: judge the new samples with the same server.
		sc := &pipeline.Scorer{WS: e.ws, Config: cfg, Store: st, Client: client, Slots: info.Slots, Model: info.Model, Logger: e.logger}
		rep, serr := sc.Run(runCtx)
		if serr == nil {
			fmt.Fprintf(e.stdout, "scored %s (mean %.2f), %d failed\n", count(rep.Scored, "sample", "samples"), rep.Mean, rep.Failed)
		}
		err = serr
	}
	interrupted := ctx.Err() != nil || runCtx.Err() != nil
	if err != nil && !interrupted {
		return err
	}
	if interrupted {
		return &exitError{code: exitInterrupted, err: errors.New("interrupted; run the same command again to resume")}
	}
	if n := r.Progress().FilesFailed.Load(); n > 0 {
		return fmt.Errorf("%s failed (reasons above and in `cicdllm stats`); run `cicdllm retry` to try again", count(int(n), "file", "files"))
	}
	return p.unreadable()
}

// unreadable reports the repositories a run could not read: a clone or
// local repository gone or broken since the scrape.
func (p *eventPrinter) unreadable() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reposFailed == 0 {
		return nil
	}
	return fmt.Errorf("%s could not be read (reasons above); run `cicdllm scrape` to fetch again, or remove it from repos.txt",
		count(p.reposFailed, "repository", "repositories"))
}

func (e *cmdEnv) dryRunPrepare(ctx context.Context, r *pipeline.Runner) error {
	cfg := e.cfg.Config
	ctxSize := cfg.LLM.ContextSize
	if ctxSize == 0 {
		ctxSize = llm.DefaultContext
		fmt.Fprintf(e.stdout, "assuming %d tokens per request (set llm.context_size, or run without --dry-run to ask the server)\n", ctxSize)
	}
	r.ContextSize, r.Dry = ctxSize, pipeline.NewDryRun()
	p := newEventPrinter(e.stdout, false)
	r.OnEvent = func(ev pipeline.Event) {
		if ev.Kind == pipeline.EventRepoFailed || ev.Kind == pipeline.EventRepoSkipped {
			p.runnerEvent(ev)
		}
	}
	if err := r.Run(ctx); err != nil {
		return err
	}
	d := r.Dry
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tFILE\tLANGUAGE\tLINES\tCHUNKS")
	for _, f := range d.Files {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", printable(f.Repo), printable(f.Path), f.Language, f.Lines, f.Chunks)
	}
	_ = tw.Flush()
	fmt.Fprintf(e.stdout, "%d files to process, %d unchanged, skipped: %s\n", len(d.Files), r.Progress().FilesUnchanged.Load(), skipSummary(d.Skipped))
	fmt.Fprintf(e.stdout, "estimate: %d requests, ~%d prompt tokens, ~%d generated tokens (dry run: no LLM was called)\n",
		d.Requests, d.PromptTokens, d.CompletionTokens)
	return p.unreadable()
}

// skipSummary lists skip reasons, most frequent first: "binary 3, lock_file 1".
func skipSummary[N int | int64](reasons map[string]N) string {
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if reasons[keys[i]] != reasons[keys[j]] {
			return reasons[keys[i]] > reasons[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, reasons[k])
	}
	return strings.Join(parts, ", ")
}

// serverReport says how the run used the server: retries and breaker
// openings show a flaky or absent server, and the slot utilisation (time
// requests were in flight over slots × wall time) how much of its capacity
// the run kept busy.
func (e *cmdEnv) serverReport(s llm.Stats, slots int, took time.Duration) {
	if s.Attempts == 0 {
		return
	}
	util := 0.0
	if took > 0 && slots > 0 {
		util = 100 * s.Busy.Seconds() / (float64(slots) * took.Seconds())
	}
	fmt.Fprintf(e.stdout, "server: %s sent (%s), breaker opened %s, slots busy %.0f%% of the run (%d slots)\n",
		count(int(s.Attempts), "request", "requests"), count(int(s.Retries), "retry", "retries"),
		count(int(s.BreakerOpenings), "time", "times"), min(util, 100), slots)
}

func (e *cmdEnv) prepareSummary(s *pipeline.Snapshot, took time.Duration) {
	prompt, cached := s.PromptTokens.Load(), s.CachedTokens.Load()
	cachedPct := 0.0
	if prompt > 0 {
		cachedPct = 100 * float64(cached) / float64(prompt)
	}
	fmt.Fprintf(e.stdout, "%d files done, %d failed, %d skipped, %d unchanged; %d questions, %d answers (%d truncated); %d requests, %d tokens generated, %.0f%% of prompt tokens cached; %s\n",
		s.FilesDone.Load(), s.FilesFailed.Load(), s.FilesSkipped.Load(), s.FilesUnchanged.Load(),
		s.Questions.Load(), s.Answers.Load(), s.Truncated.Load(), s.Requests.Load(), s.CompletionTokens.Load(), cachedPct, took.Round(time.Second))
	if n := s.QuestionsDropped.Load(); n > 0 {
		fmt.Fprintf(e.stdout, "%s dropped before answering: too similar to one already stored (generation.near_duplicate_threshold)\n",
			count(int(n), "near-duplicate question", "near-duplicate questions"))
	}
	if n, f := s.Redacted.Load(), s.SecretFiles.Load(); n > 0 || f > 0 {
		fmt.Fprintf(e.stdout, "safety: %s redacted, %s skipped as credentials (per rule: cicdllm stats)\n",
			count(int(n), "secret", "secrets"), count(int(f), "file", "files"))
	}
}

func (p *eventPrinter) runnerEvent(ev pipeline.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	file := printable(ev.Repo + "/" + ev.Path)
	switch ev.Kind {
	case pipeline.EventFileDone:
		p.line("done %s", file)
	case pipeline.EventFileFailed:
		p.line("failed %s: %s", file, printable(ev.Text))
	case pipeline.EventRepoFailed:
		p.reposFailed++
		p.line("failed %s: %s", printable(ev.Repo), printable(ev.Text))
	case pipeline.EventRepoSkipped:
		p.line("skipped %s: %s", printable(ev.Repo), printable(ev.Text))
	case pipeline.EventPaused:
		p.line("paused")
	case pipeline.EventResumed:
		p.line("resumed")
	case pipeline.EventQuestions:
		if !p.tty {
			p.line("asked %s (chunk %d): %d questions", file, ev.Chunk, ev.Count)
		}
	}
}

// tickProgress redraws the status line every half second on a terminal.
func (p *eventPrinter) tickProgress(s *pipeline.Snapshot, slots int, start time.Time) func() {
	if !p.tty {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				line := progressLine(s, slots, time.Since(start))
				p.mu.Lock()
				p.clearLocked()
				p.status = line
				p.redrawLocked()
				p.mu.Unlock()
			}
		}
	}()
	return func() { close(done) }
}

// progressLine summarises a running prepare: files finished out of those
// planned so far, requests in flight against the server's slots, the
// generation rate and, once files finish, an estimate of the time left.
func progressLine(s *pipeline.Snapshot, slots int, elapsed time.Duration) string {
	finished := s.FilesDone.Load() + s.FilesFailed.Load()
	planned := s.FilesPlanned.Load()
	eta := "ETA …"
	if finished > 0 && planned > finished {
		left := time.Duration(float64(elapsed) / float64(finished) * float64(planned-finished))
		eta = "ETA " + left.Round(time.Second).String()
	}
	rate := float64(s.CompletionTokens.Load()) / max(elapsed.Seconds(), 1)
	return fmt.Sprintf("files %d/%d (%d failed) · %d answers · %d/%d in flight · %.0f tok/s · %s · %s",
		finished, planned, s.FilesFailed.Load(), s.Answers.Load(), s.InFlight.Load(), slots, rate,
		elapsed.Round(time.Second), eta)
}

// ---- export --------------------------------------------------------------------

// exportFlags: template, system, dedup, near-threshold, split, seed,
// with-metadata, bos and min-score are bound only so -h documents them;
// their values reach the config as overrides (flagKeys), and runExport
// reads the merged config.
type exportFlags struct {
	template, output, system, llamaDate, repo, language, since, dedup, split string
	force, bos, withMetadata, shuffle, redact, requireValidCode              bool
	licenses                                                                 []string
	includeStale, includeDeleted, includePending, includeTruncated           bool
	minScore, nearThreshold                                                  float64
	seed, limit                                                              int
}

func (a *app) exportCommand() *command {
	var f exportFlags
	return &command{
		name: "export", needsEnv: true,
		args:    "--template T --output-file PATH [--force] [filters] [--dedup M] [--split S] [--shuffle]",
		summary: "write a training set (CSV, Alpaca, ChatML, ShareGPT, Llama 3, Mistral, Gemma, Qwen, mlx-lm, HF, ...)",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&f.template, "template", "", "output format (default export.template, chatml-jsonl); see the list below")
			fs.StringVar(&f.output, "output-file", "", "output file, or directory for mlx-lm, hf and llamafactory")
			fs.BoolVar(&f.force, "force", false, "replace an existing output")
			fs.StringVar(&f.system, "system", "", "system prompt for every conversation (default export.system_prompt)")
			fs.BoolVar(&f.bos, "bos", false, "text templates: write the BOS token (trainers add it themselves when tokenising)")
			fs.StringVar(&f.llamaDate, "llama-date", "", "llama3: add the Llama 3.1 date header with this date, e.g. \"26 Jul 2024\"")
			fs.BoolVar(&f.withMetadata, "with-metadata", false, "add provenance (repository, path, commit, lines, model, theme, score, sample id)")
			fs.StringVar(&f.repo, "repo", "", "only repositories whose name contains `NAME`")
			fs.StringVar(&f.language, "language", "", "only these languages, comma-separated (e.g. Go,Python)")
			fs.Float64Var(&f.minScore, "min-score", 0, "only samples scored at least this (a human rating counts first)")
			fs.StringVar(&f.since, "since", "", "only samples created on or after this date (YYYY-MM-DD)")
			fs.BoolVar(&f.includeStale, "include-stale", false, "also export stale samples (from changed files)")
			fs.BoolVar(&f.includeDeleted, "include-deleted", false, "also export deleted samples")
			fs.BoolVar(&f.includePending, "include-pending", false, "also export unanswered questions (most formats skip them)")
			fs.BoolVar(&f.includeTruncated, "include-truncated", false, "also export answers cut off by the token budget")
			fs.StringVar(&f.dedup, "dedup", "", "duplicate removal: off, exact or near (default export.dedup, exact)")
			fs.Float64Var(&f.nearThreshold, "near-threshold", 0, "Jaccard similarity for --dedup near (default export.near_duplicate_threshold, 0.8)")
			fs.StringVar(&f.split, "split", "", "e.g. train=0.9,valid=0.05,test=0.05 (default export.split)")
			fs.IntVar(&f.seed, "seed", 0, "seed of the split and shuffle (default export.seed, 42)")
			fs.IntVar(&f.limit, "limit", 0, "write at most this many records")
			fs.BoolVar(&f.shuffle, "shuffle", false, "write in a seeded random order instead of by sample id")
			fs.Func("license", "only repositories under these licences, comma-separated SPDX ids (e.g. MIT,Apache-2.0); repeatable", func(v string) error {
				f.licenses = append(f.licenses, v)
				return nil
			})
			fs.BoolVar(&f.redact, "redact", false, "redact secrets still found in samples instead of leaving those samples out")
			fs.BoolVar(&f.requireValidCode, "require-valid-code", false, "leave out samples whose Go, JSON, YAML or TOML code blocks do not parse")
		},
		flagKeys: map[string]string{"template": "export.template", "system": "export.system_prompt", "dedup": "export.dedup",
			"near-threshold": "export.near_duplicate_threshold", "split": "export.split", "seed": "export.seed",
			"with-metadata": "export.with_metadata", "bos": "export.bos", "min-score": "export.min_score"},
		help: exportHelp(),
		run: func(ctx context.Context, e *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usageError("export takes no arguments, got %q", args[0])
			}
			return e.runExport(ctx, f)
		},
	}
}

func exportHelp() string {
	var b strings.Builder
	b.WriteString("Formats:\n")
	for _, name := range export.Names() {
		ft, _ := export.Lookup(name)
		fmt.Fprintf(&b, "  %-24s %s\n", name, ft.Summary)
	}
	b.WriteString(`
By default active samples are exported: not pending, deleted, stale or
truncated. The output is written to a temporary file beside the target and
renamed into place, so an interrupted export leaves the previous file or
none; an existing output is only replaced with --force. Two exports of the
same data are byte-identical.

Examples:
  cicdllm export --template chatml-jsonl --output-file dataset.jsonl
  cicdllm export --template mlx-lm --output-file data/ --split train=0.9,valid=0.05,test=0.05
  cicdllm export --template llama3 --output-file llama.jsonl --system "You are a DevOps expert." --dedup near
  cicdllm export --template hf --output-file hf-dataset --with-metadata --language Go,YAML`)
	return b.String()
}

func (e *cmdEnv) runExport(ctx context.Context, f exportFlags) error {
	if f.output == "" {
		return usageError("--output-file is required; e.g. --output-file dataset.jsonl")
	}
	var since time.Time
	if f.since != "" {
		t, err := time.ParseInLocation("2006-01-02", f.since, time.Local)
		if err != nil {
			return usageError("--since %q is not a date; write YYYY-MM-DD", f.since)
		}
		since = t
	}
	statuses := []string{store.StatusActive}
	for _, inc := range []struct {
		on     bool
		status string
	}{{f.includeStale, store.StatusStale}, {f.includeDeleted, store.StatusDeleted}, {f.includePending, store.StatusPending}} {
		if inc.on {
			statuses = append(statuses, inc.status)
		}
	}
	spec := pipeline.ExportSpec{
		Output: f.output, Force: f.force, Statuses: statuses, IncludeTruncated: f.includeTruncated,
		RepoMatch: f.repo, Languages: []string{f.language}, Since: since, Licenses: f.licenses, Redact: f.redact, RequireValidCode: f.requireValidCode,
		Limit: f.limit, Shuffle: f.shuffle, LlamaDate: f.llamaDate}
	// Mistakes in the request are reported before the database is opened,
	// which would create it; only the repository filter needs the data.
	// (The secret scanner is left out of this trial: it takes a while to
	// build and has nothing to check.)
	trial, trialCfg := spec, e.cfg.Config
	trial.RepoMatch, trial.Redact, trialCfg.Safety.RedactSecrets = "", false, false
	var specErr *pipeline.ExportSpecError
	if _, err := pipeline.NewExportJob(trialCfg, nil, trial); errors.As(err, &specErr) {
		return usageError("%v", err)
	}
	st, err := e.openStore(ctx, false)
	if err != nil {
		return err
	}
	defer st.Close()
	// The CLI and the UI's export dialog build the job the same way.
	job, err := pipeline.NewExportJob(e.cfg.Config, st, spec)
	if errors.As(err, &specErr) {
		return usageError("%v", err)
	}
	if err != nil {
		return err
	}
	ft, output := job.Format, job.Output
	p := newEventPrinter(e.stdout, e.interactive())
	job.Progress = func(n int) {
		if p.tty {
			p.mu.Lock()
			p.clearLocked()
			p.status = fmt.Sprintf("exporting: %d samples read", n)
			p.redrawLocked()
			p.mu.Unlock()
		}
	}
	res, err := export.Run(ctx, job)
	p.clear()
	if errors.Is(err, export.ErrExists) {
		return usageError("%v", err)
	}
	if err != nil {
		return err
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(res.Records)) {
		parts = append(parts, fmt.Sprintf("%s %d", name, res.Records[name]))
	}
	fmt.Fprintf(e.stdout, "wrote %d records (%s) as %s to %s, %s\n", res.Total(), strings.Join(parts, ", "), ft.Name, e.ws.Rel(output), common.HumanBytes(res.Bytes))
	if n := sumValues(res.Redacted); n > 0 {
		fmt.Fprintf(e.stdout, "redacted %s still found in samples (--redact)\n", count(n, "secret", "secrets"))
	}
	if len(res.Skipped) > 0 {
		var skipped []string
		for _, r := range slices.Sorted(maps.Keys(res.Skipped)) {
			skipped = append(skipped, fmt.Sprintf("%s %d", r, res.Skipped[r]))
		}
		fmt.Fprintf(e.stdout, "skipped: %s\n", strings.Join(skipped, ", "))
	}
	return nil
}

// ---- prompts -------------------------------------------------------------------

func (a *app) promptsCommand() *command {
	var force bool
	return &command{
		name: "prompts", args: "list | export THEME [--force]", needsEnv: true,
		summary: "list prompt themes or write a built-in one to prompts/ to customise it",
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&force, "force", false, "export: overwrite existing files")
		},
		help: "A theme is four text/template files in prompts/<theme>/: question_system.txt,\nquestion_user.txt, answer_system.txt, answer_user.txt, with the fields {{.Code}},\n{{.Path}}, {{.Repo}}, {{.Language}}, {{.Lines}}, {{.Question}} and {{.Count}}.\n\nExamples:\n  cicdllm prompts list\n  cicdllm prompts export code\n  cicdllm prepare --theme code",
		run: func(ctx context.Context, e *cmdEnv, args []string) error {
			switch {
			case len(args) == 1 && args[0] == "list":
				for _, name := range pipeline.BuiltinThemes() {
					fmt.Fprintf(e.stdout, "%s (built in)\n", name)
				}
				entries, _ := os.ReadDir(e.ws.PromptsDir)
				for _, d := range entries {
					if d.IsDir() {
						fmt.Fprintf(e.stdout, "%s (%s)\n", d.Name(), e.ws.Rel(filepath.Join(e.ws.PromptsDir, d.Name())))
					}
				}
				return nil
			case len(args) == 2 && args[0] == "export":
				files, err := pipeline.ExportTheme(e.ws.PromptsDir, args[1], force)
				if err != nil {
					return usageError("%v", err)
				}
				for _, f := range files {
					fmt.Fprintf(e.stdout, "wrote %s\n", e.ws.Rel(f))
				}
				return nil
			}
			return usageError("prompts needs `list` or `export THEME`")
		},
	}
}

// ---- sim ---------------------------------------------------------------------

func (a *app) simCommand() *command {
	var (
		addr       string
		cfg        sim.Config
		faultRate  float64
		faultKinds string
		retryAfter time.Duration
	)
	return &command{
		name: "sim", summary: "serve the built-in LLM simulator (llama-server wire format) for tests and demos", hidden: true,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&addr, "addr", "127.0.0.1:8080", "listen `address`")
			fs.IntVar(&cfg.Slots, "slots", 4, "parallel slots")
			fs.IntVar(&cfg.ContextSize, "ctx", 4096, "context per slot, in tokens")
			fs.Float64Var(&cfg.TokensPerSecond, "tps", 20, "tokens per second per slot (0 = unpaced)")
			fs.Float64Var(&cfg.PromptTokensPerSecond, "prompt-tps", 500, "prompt tokens processed per second per slot (0 = free)")
			fs.IntVar(&cfg.AnswerTokens, "answer-tokens", 96, "length of an answer, in tokens")
			fs.StringVar(&cfg.Model, "model", "sim", "model id to list")
			fs.Float64Var(&faultRate, "fault-rate", 0, "share of requests that get a fault (0-1)")
			fs.StringVar(&faultKinds, "faults", "", "comma-separated fault kinds (default all): refuse,429,500,503,hang,stall,truncate,malformed,ctx,empty,length,stream_error")
			fs.DurationVar(&retryAfter, "retry-after", time.Second, "Retry-After of simulated 429s")
		},
		help: "Point llm.base_url at it to run cicdllm without a model. Not a model: answers\nare plausible, deterministic text built from the prompt.\n\nExamples:\n  cicdllm sim --addr 127.0.0.1:8080 --slots 4 --tps 30\n  cicdllm sim --fault-rate 0.2 --faults 500,truncate,stall",
		run: func(ctx context.Context, _ *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usageError("sim takes no arguments, got %q", args[0])
			}
			if faultRate < 0 || faultRate > 1 {
				return usageError("--fault-rate %v is out of range; allowed 0 to 1", faultRate)
			}
			cfg.Faults = sim.FaultConfig{Rate: faultRate, RetryAfter: retryAfter}
			for _, k := range strings.Split(faultKinds, ",") {
				if k = strings.TrimSpace(k); k != "" {
					cfg.Faults.Kinds = append(cfg.Faults.Kinds, sim.Fault(k))
				}
			}
			s := sim.New(cfg)
			url, err := s.Start(addr)
			if err != nil {
				return fmt.Errorf("start the simulator on %s: %w", addr, err)
			}
			fmt.Fprintf(a.stdout, "LLM simulator listening on %s (%d slots, %g tokens/s per slot); Ctrl-C stops it\n", url, cfg.Slots, cfg.TokensPerSecond)
			<-ctx.Done()
			st := s.Stats()
			fmt.Fprintf(a.stdout, "served %d requests (%d completed), utilisation %.2f\n", st.Requests, st.Completed, st.Utilisation)
			return s.Close()
		},
	}
}

// ---- status and stats ------------------------------------------------------

func (a *app) statusCommand() *command {
	return &command{
		name: "status", summary: "show what is in the workspace and what to do next", needsEnv: true,
		help: "Counts repositories, files and samples, shows the database size, free disk\nspace and battery, and suggests the next command.\n\nExamples:\n  cicdllm status\n  cicdllm --workdir ~/datasets/k8s status",
		run: func(ctx context.Context, e *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usageError("status takes no arguments, got %q", args[0])
			}
			st, err := e.openStore(ctx, false)
			if err != nil {
				return err
			}
			defer st.Close()
			s, err := pipeline.ReadStatus(ctx, e.ws, st, e.home())
			if err != nil {
				return err
			}
			if s.PowerErr != nil {
				e.logger.Warn("battery unreadable", "err", s.PowerErr)
			}
			e.printStatus(s)
			return nil
		},
	}
}

func (e *cmdEnv) printStatus(s pipeline.Status) {
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	last := "never"
	if !s.LastActivity.IsZero() {
		last = s.LastActivity.Local().Format("2006-01-02 15:04:05")
	}
	fmt.Fprintf(w, "Workspace\t%s\n", e.ws.Dir)
	rejected := ""
	if s.ReposRejected > 0 {
		rejected = fmt.Sprintf(" (%s rejected: see `cicdllm scrape --dry-run`)", count(s.ReposRejected, "line", "lines"))
	}
	fmt.Fprintf(w, "Repositories\t%d listed in repos.txt%s, %d cloned\n", s.ReposListed, rejected, s.ReposCloned)
	if lic := s.LicenseSummary(); lic != "" {
		fmt.Fprintf(w, "Licences\t%s\n", lic)
	}
	fmt.Fprintf(w, "Files\t%d done, %d skipped, %d failed\n", s.FilesDone, s.FilesSkipped, s.FilesFailed)
	fmt.Fprintf(w, "Samples\t%d active, %d pending, %d stale, %d deleted (%d conversation turns)\n",
		s.Samples["active"], s.Samples["pending"], s.Samples["stale"], s.Samples["deleted"], s.Turns)
	fmt.Fprintf(w, "Database\t%s, %s\n", e.ws.Rel(e.ws.DBPath), common.HumanBytes(s.DBSize))
	if s.DiskFree > 0 {
		fmt.Fprintf(w, "Disk free\t%s\n", common.HumanBytes(int64(s.DiskFree)))
	}
	power := s.Power.String()
	if s.PowerErr != nil {
		power = "unknown (" + s.PowerErr.Error() + ")"
	}
	fmt.Fprintf(w, "Battery\t%s\n", power)
	fmt.Fprintf(w, "Last activity\t%s\n", last)
	_ = w.Flush()
	fmt.Fprintf(e.stdout, "\nNext step: %s\n", s.NextStep)
}

func (a *app) statsCommand() *command {
	var format string
	return &command{
		name: "stats", args: "[--format table|json]", summary: "show samples per repository, scores and recent failures", needsEnv: true,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&format, "format", "table", "output `format`: table or json")
		},
		help: "Examples:\n  cicdllm stats\n  cicdllm stats --format json | jq '.repositories[0]'",
		run: func(ctx context.Context, e *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usageError("stats takes no arguments, got %q", args[0])
			}
			if format != "table" && format != "json" {
				return usageError("--format %q is not supported; use table or json", format)
			}
			st, err := e.openStore(ctx, false)
			if err != nil {
				return err
			}
			defer st.Close()
			s, err := pipeline.ReadStatistics(ctx, st, 10)
			if err != nil {
				return err
			}
			red, err := st.Redactions(ctx)
			if err != nil {
				return err
			}
			overview, err := pipeline.ReadQualityOverview(ctx, st)
			if err != nil {
				return err
			}
			if format == "json" {
				return e.printStatsJSON(s, red, overview)
			}
			e.printStatsTable(s)
			printRedactions(e.stdout, red)
			printOverview(e.stdout, overview)
			return nil
		},
	}
}

// statsJSON keeps the prototype's keys (repositories, quality_distribution,
// failed_files) so existing scripts keep working.
type statsJSON struct {
	Repositories []repoJSON    `json:"repositories"`
	Quality      []scoreJSON   `json:"quality_distribution"`
	Failures     []failureJSON `json:"failed_files"`
	// Redactions: stage (prompt, output) → rule → count.
	Redactions map[string]map[string]int64 `json:"redactions"`
	// NearDuplicates: questions dropped at generation as near-duplicates.
	NearDuplicates int64            `json:"near_duplicate_questions_dropped"`
	QualityFlags   map[string]int64 `json:"quality_flags"`
	QuestionTypes  map[string]int64 `json:"question_types"`
	Languages      map[string]int64 `json:"samples_per_language"`
}

type repoJSON struct {
	Repo      string `json:"repo"`
	Samples   int64  `json:"samples"`
	Active    int64  `json:"active"`
	Turns     int64  `json:"turns"`
	FilesDone int64  `json:"files_done"`
	Failed    int64  `json:"failed_files"`
}

type scoreJSON struct {
	Score float64 `json:"score"`
	Count int64   `json:"count"`
}

type failureJSON struct {
	Repo     string    `json:"repo"`
	File     string    `json:"file"`
	Reason   string    `json:"reason"`
	Attempts int       `json:"attempts"`
	FailedAt time.Time `json:"failed_at"`
}

func (e *cmdEnv) printStatsJSON(s pipeline.Statistics, red []store.RedactionCount, o pipeline.QualityOverview) error {
	out := statsJSON{Repositories: []repoJSON{}, Quality: []scoreJSON{}, Failures: []failureJSON{},
		Redactions: map[string]map[string]int64{}, NearDuplicates: o.NearDuplicates, QualityFlags: o.Flags,
		QuestionTypes: o.QuestionTypes, Languages: o.Languages}
	for _, r := range red {
		if out.Redactions[r.Stage] == nil {
			out.Redactions[r.Stage] = map[string]int64{}
		}
		out.Redactions[r.Stage][r.Rule] = r.Count
	}
	for _, r := range s.Repositories {
		out.Repositories = append(out.Repositories, repoJSON{r.Name, r.Samples, r.Active, r.Turns, r.FilesDone, r.Failed})
	}
	for _, b := range s.Scores {
		out.Quality = append(out.Quality, scoreJSON{b.Score, b.Count})
	}
	for _, f := range s.Failures {
		out.Failures = append(out.Failures, failureJSON{f.RepoName, f.FilePath, f.Reason, f.Attempts, f.FailedAt})
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func (e *cmdEnv) printStatsTable(s pipeline.Statistics) {
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "Samples per repository")
	if len(s.Repositories) == 0 {
		fmt.Fprintln(w, "  none yet: run `cicdllm scrape`, then `cicdllm prepare`")
	} else {
		fmt.Fprintln(w, "  REPOSITORY\tSAMPLES\tACTIVE\tTURNS\tFILES DONE\tFAILED")
		for _, r := range s.Repositories {
			fmt.Fprintf(w, "  %s\t%d\t%d\t%d\t%d\t%d\n", printable(r.Name), r.Samples, r.Active, r.Turns, r.FilesDone, r.Failed)
		}
	}
	fmt.Fprintln(w, "\nQuality score distribution")
	if len(s.Scores) == 0 {
		fmt.Fprintln(w, "  no sample has a score yet")
	} else {
		var most int64
		for _, b := range s.Scores {
			most = max(most, b.Count)
		}
		fmt.Fprintln(w, "  SCORE\tCOUNT\t")
		for _, b := range s.Scores {
			bar := strings.Repeat("#", int(1+39*b.Count/max(most, 1)))
			fmt.Fprintf(w, "  %.1f\t%d\t%s\n", b.Score, b.Count, bar)
		}
	}
	fmt.Fprintln(w, "\nRecent failures")
	if len(s.Failures) == 0 {
		fmt.Fprintln(w, "  none")
	} else {
		fmt.Fprintln(w, "  WHEN\tREPOSITORY\tFILE\tATTEMPTS\tREASON")
		for _, f := range s.Failures {
			fmt.Fprintf(w, "  %s\t%s\t%s\t%d\t%s\n", f.FailedAt.Local().Format("01-02 15:04"),
				printable(f.RepoName), truncate(printable(f.FilePath), 48), f.Attempts, truncate(printable(f.Reason), 60))
		}
	}
	_ = w.Flush()
}

// printable escapes control characters, so a file name or error text from
// a repository cannot move the cursor or recolour the terminal.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) }) < 0 {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}

// count writes "1 file" or "3 files".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// ---- config ----------------------------------------------------------------

func (a *app) configCommand() *command {
	var force bool
	return &command{
		name: "config", args: "show|validate|init [--force]", summary: "show, check or create the configuration",
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&force, "force", false, "init: overwrite an existing file")
		},
		help: `  show      print the effective configuration with the source of every value
            (default, file:line, environment variable or flag)
  validate  check the configuration; exits 0, or 2 after listing every problem
  init      write a commented cicdllm.toml with every key and its default
            (to --config FILE if given); refuses to overwrite without --force

Examples:
  cicdllm config init
  CICDLLM_LLM_BASE_URL=http://127.0.0.1:11434 cicdllm config show
  cicdllm config validate --config ci.toml`,
		// config does not use needsEnv: init must work when the existing
		// file is broken, and show/validate create no log.
		run: func(ctx context.Context, e *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usageError("config needs one of show, validate, init")
			}
			switch args[0] {
			case "init":
				return e.configInit(force)
			case "show", "validate":
			default:
				return usageError("unknown config action %q; use show, validate or init", args[0])
			}
			if err := e.loadConfig(); err != nil {
				return err
			}
			if args[0] == "show" {
				fmt.Fprint(e.stdout, e.cfg.ShowTOML())
				return nil
			}
			src := "built-in defaults (no config file found)"
			if e.cfg.File != "" {
				src = e.cfg.File
			}
			fmt.Fprintf(e.stdout, "configuration is valid: %s\n", src)
			return nil
		},
	}
}

func (e *cmdEnv) configInit(force bool) error {
	target := e.g.config
	if target == "" {
		ws, err := pipeline.NewWorkspace(e.g.workdir, e.g.dataDir)
		if err != nil {
			return usageError("%v", err)
		}
		target = filepath.Join(ws.Dir, pipeline.ConfigFileName)
	}
	if _, err := os.Lstat(target); err == nil && !force {
		return usageError("%s already exists; pass --force to overwrite it", target)
	}
	if err := pipeline.WriteFileAtomic(target, pipeline.ExampleTOML(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	fmt.Fprintf(e.stdout, "wrote %s\n", target)
	return nil
}

// ---- reset -----------------------------------------------------------------

func (a *app) resetCommand() *command {
	var yes bool
	return &command{
		name: "reset", args: "db|logs|repos|all [--yes]", summary: "delete the database, logs or clones of the workspace", needsEnv: true,
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&yes, "yes", false, "do not ask for confirmation (required without a terminal)")
		},
		help: `  db     data/pipeline.db and its WAL files (all samples, curation, failures)
  logs   the log files in logs/ (except this run's)
  repos  the clones in repos/
  all    all three

Only paths inside the workspace are deleted. On a terminal reset asks first;
without one it needs --yes.

Examples:
  cicdllm reset logs
  cicdllm reset all --yes`,
		run: func(ctx context.Context, e *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usageError("reset needs one of %s", strings.Join(pipeline.ResetTargets(), ", "))
			}
			keep := ""
			if e.log != nil {
				keep = e.log.Path
			}
			plan, err := pipeline.PlanReset(e.ws, args[0], keep)
			if err != nil {
				return usageError("%v", err)
			}
			if len(plan.Items) == 0 {
				fmt.Fprintf(e.stdout, "nothing to delete for %q\n", args[0])
				return nil
			}
			var list []string
			for _, it := range plan.Items {
				list = append(list, e.ws.Rel(it.Path))
			}
			summary := fmt.Sprintf("%s (%s)", strings.Join(list, ", "), common.HumanBytes(plan.Bytes()))
			if !yes {
				if !e.interactive() {
					return usageError("reset %s would delete %s; pass --yes to confirm when not running on a terminal", args[0], summary)
				}
				ok, err := e.confirm(fmt.Sprintf("Delete %s? [y/N] ", summary))
				if err != nil {
					return err
				}
				if !ok {
					fmt.Fprintln(e.stdout, "nothing deleted")
					return nil
				}
			}
			if err := plan.Execute(); err != nil {
				return err
			}
			e.logger.Info("reset", "target", args[0], "deleted", strings.Join(list, ","))
			fmt.Fprintf(e.stdout, "deleted %s\n", summary)
			return nil
		},
	}
}

func (a *app) confirm(prompt string) (bool, error) {
	fmt.Fprint(a.stdout, prompt)
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read the answer: %w", err)
	}
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes", nil
}

// ---- terminal UI and demo ---------------------------------------------------------

func (a *app) tuiCommand() *command {
	var allowRemote bool
	return &command{
		name: "tui", summary: "open the terminal UI (the default with no arguments on a terminal)", needsEnv: true,
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&allowRemote, "allow-remote-unredacted", false, "let prepare send code to a server on another machine even though safety.redact_secrets is off")
		},
		help: "Watch generation live, pause, skip, retry, curate samples and export.\nWith no repos.txt yet it opens the setup screen. Press ? inside for every key.\n\nExamples:\n  cicdllm\n  cicdllm tui --workdir ~/datasets/k8s",
		run: func(ctx context.Context, e *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usageError("tui takes no arguments, got %q", args[0])
			}
			if !a.interactive() {
				return usageError("the terminal UI needs a terminal (and TERM other than dumb, CI unset); in scripts and CI use the subcommands (cicdllm scrape, prepare, export; see cicdllm help)")
			}
			return e.openUI(ctx, false, allowRemote)
		},
	}
}

// openUI runs the terminal UI on the workspace until the user quits.
func (e *cmdEnv) openUI(ctx context.Context, demo, allowRemote bool) error {
	st, err := e.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	sess := pipeline.NewSession(pipeline.SessionOptions{Workspace: e.ws, Config: e.cfg.Config, Store: st,
		LookupEnv: e.lookupEnv, Home: e.home(), Logger: e.logger, AllowRemoteUnredacted: allowRemote, BeforeTask: e.beforeTask})
	// Whatever ends the UI, the job stops and its goroutines finish before
	// the store closes: committed work stays committed.
	defer sess.Close()
	configPath := e.cfg.File
	if configPath == "" {
		configPath = filepath.Join(e.ws.Dir, "cicdllm.toml")
	}
	c := &common.Context{Store: st, WS: e.ws, Config: e.cfg.Config, ConfigPath: configPath,
		Styles: common.DefaultStyles(), Keys: common.DefaultKeys(), Now: time.Now, Demo: demo,
		Session: sess, LogPath: e.log.Path}
	_, noRepos := os.Stat(e.ws.ReposFile)
	m := ui.New(c, ui.Options{Setup: noRepos != nil && !demo, Autostart: demo, CheckServer: !demo})
	return ui.Run(ctx, m, e.stdin, e.stdout)
}

func (a *app) demoCommand() *command {
	var dir string
	return &command{
		name: "demo", args: "[--dir DIR]", summary: "try cicdllm offline on a sample repository with a simulated LLM",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&dir, "dir", "", "create the demo workspace in `DIR` (must be new or empty; default a new temporary folder)")
		},
		help: `Creates a workspace with a small built-in sample repository, starts the
built-in LLM simulator (4 slots, no model needed, nothing downloaded) and
opens the UI on it, running scrape and prepare so generation streams live.
Without a terminal it runs scrape, prepare and export headless, prints a
summary and the path of the dataset, and exits. The workspace is kept, so
you can open it again with cicdllm --workdir DIR.

Examples:
  cicdllm demo
  cicdllm demo --dir /tmp/try-cicdllm
  cicdllm demo > demo.log   # headless`,
		run: func(ctx context.Context, e *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usageError("demo takes no arguments, got %q", args[0])
			}
			return a.runDemo(ctx, e.g, dir)
		},
	}
}

func (a *app) runDemo(ctx context.Context, g globals, dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "cicdllm-demo-")
		if err != nil {
			return fmt.Errorf("create the demo workspace: %w", err)
		}
		dir = d
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	headless := !a.interactive()
	srv := sim.New(demo.SimConfig(headless))
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start the LLM simulator: %w", err)
	}
	defer srv.Close()
	if err := demo.Create(dir, url); err != nil {
		return usageError("%v", err)
	}
	if headless {
		return a.runDemoHeadless(ctx, dir, url)
	}
	e := &cmdEnv{app: a, g: globals{workdir: dir, dataDir: "data", maxLogFiles: g.maxLogFiles}, logger: slog.New(slog.DiscardHandler)}
	closeEnv, err := e.setup(&command{name: "tui"})
	if err != nil {
		return err
	}
	defer closeEnv()
	if err := e.openUI(ctx, true, false); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "demo workspace kept in %s; open it again with: cicdllm --workdir %s\n", dir, dir)
	return nil
}

// runDemoHeadless runs the real subcommands one after the other, exactly
// as a script would.
func (a *app) runDemoHeadless(ctx context.Context, dir, url string) error {
	fmt.Fprintf(a.stdout, "demo workspace: %s (SIMULATED LLM at %s — demo data)\n", dir, url)
	out := filepath.Join(dir, "exports", "demo-chatml.jsonl")
	steps := [][]string{{"scrape"}, {"prepare"}, {"export", "--template", "chatml-jsonl", "--output-file", out}}
	for _, step := range steps {
		fmt.Fprintf(a.stdout, "$ cicdllm %s\n", strings.Join(step, " "))
		if code := a.run(ctx, append([]string{"--workdir", dir}, step...)); code != exitOK {
			return &exitError{code: code, err: fmt.Errorf("demo: %s failed (see above and %s)", step[0], filepath.Join(dir, "logs"))}
		}
	}
	fmt.Fprintf(a.stdout, "dataset: %s\ncurate it in the terminal UI with: cicdllm --workdir %s (the simulator stopped with the demo)\n", out, dir)
	return nil
}

// ---- mlx -----------------------------------------------------------------------------

// mlxEventPrinter reports the managed mlx_lm.server's life on stderr
// (loading a large model takes minutes; silence would look like a hang).
func (e *cmdEnv) mlxEventPrinter() func(mlxserver.Event) {
	var mu sync.Mutex
	var lastLoading time.Duration
	return func(ev mlxserver.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch ev.Kind {
		case mlxserver.EventStarting:
			fmt.Fprintf(e.stderr, "starting mlx_lm.server for %s\n", e.cfg.Config.MLX.Model)
		case mlxserver.EventLoading:
			if ev.Elapsed-lastLoading >= 10*time.Second {
				lastLoading = ev.Elapsed
				fmt.Fprintf(e.stderr, "loading model… %s\n", ev.Elapsed.Round(time.Second))
			}
		case mlxserver.EventReady:
			fmt.Fprintf(e.stderr, "mlx_lm.server ready (pid %d)\n", ev.PID)
		case mlxserver.EventExited:
			fmt.Fprintf(e.stderr, "mlx_lm.server exited unexpectedly: %s\n", printable(ev.Message))
		case mlxserver.EventRestarting:
			fmt.Fprintln(e.stderr, "restarting mlx_lm.server once; requests in flight are retried")
		}
	}
}

type mlxFlags struct {
	all, asJSON, yes bool
	revision         string
}

func (a *app) mlxCommand() *command {
	var f mlxFlags
	return &command{
		name: "mlx", args: "list [--all] [--json] | download MODEL [--revision R] | info MODEL [--json] | remove MODEL [--yes]",
		summary: "manage MLX models in the Hugging Face cache",
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&f.all, "all", false, "list: include models that do not look like MLX models")
			fs.BoolVar(&f.asJSON, "json", false, "list, info: print JSON for scripts")
			fs.StringVar(&f.revision, "revision", "main", "download: branch, tag or commit")
			fs.BoolVar(&f.yes, "yes", false, "remove: do not ask (required without a terminal)")
		},
		help: `Models live in the standard Hugging Face cache ($HF_HUB_CACHE, else
$HF_HOME/hub, else ~/.cache/huggingface/hub), shared with mlx-lm and
huggingface-cli. HF_TOKEN (gated and private models), HF_ENDPOINT and
HF_HUB_OFFLINE are honoured. A download fetches what mlx-lm needs (*.json,
*.safetensors, tokenizer files, *.txt, *.jinja), several files at a time,
verifies each against its hash, resumes after an interruption, and only
then links it into the cache, so a half download never looks complete.
With llm.backend = "mlx" (macOS on Apple Silicon), prepare starts
mlx_lm.server on the model in mlx.model.

Examples:
  cicdllm mlx list
  cicdllm mlx download mlx-community/Qwen2.5-Coder-7B-Instruct-4bit
  cicdllm mlx info mlx-community/Qwen2.5-Coder-7B-Instruct-4bit
  cicdllm mlx remove mlx-community/Qwen2.5-Coder-7B-Instruct-4bit --yes`,
		run: func(ctx context.Context, e *cmdEnv, args []string) error {
			if len(args) == 0 {
				return usageError("mlx needs a subcommand: list, download, info or remove")
			}
			env := hfhub.LoadEnv(e.lookupEnv, e.home())
			cache := hfhub.Cache{Dir: env.CacheDir}
			sub, rest := args[0], args[1:]
			model := ""
			switch sub {
			case "list":
				if len(rest) > 0 {
					return usageError("mlx list takes no model, got %q", rest[0])
				}
				return e.mlxList(cache, f)
			case "download", "info", "remove":
				if len(rest) != 1 {
					return usageError("mlx %s needs exactly one model id, e.g. mlx-community/Qwen2.5-Coder-7B-Instruct-4bit", sub)
				}
				model = rest[0]
				if err := hfhub.ValidateModelID(model); err != nil {
					return usageError("%v", err)
				}
			default:
				return usageError("unknown mlx subcommand %q%s; use list, download, info or remove", sub,
					pipeline.Suggest(sub, []string{"list", "download", "info", "remove"}))
			}
			switch sub {
			case "download":
				return e.mlxDownload(ctx, env, cache, model, f.revision)
			case "info":
				return e.mlxInfo(cache, model, f.asJSON)
			}
			return e.mlxRemove(cache, model, f.yes)
		},
	}
}

func (e *cmdEnv) mlxList(cache hfhub.Cache, f mlxFlags) error {
	models, err := cache.List()
	if err != nil {
		return err
	}
	shown := models[:0:0]
	hidden := 0
	for _, m := range models {
		if f.all || m.MLX {
			shown = append(shown, m)
		} else {
			hidden++
		}
	}
	if f.asJSON {
		type row struct {
			ID       string   `json:"id"`
			Path     string   `json:"path"`
			Revision string   `json:"revision"`
			Files    int      `json:"files"`
			Bytes    int64    `json:"size_bytes"`
			MLX      bool     `json:"mlx"`
			Servable bool     `json:"servable"`
			Problems []string `json:"problems"`
		}
		rows := make([]row, 0, len(shown))
		for _, m := range shown {
			rows = append(rows, row{m.ID, m.Dir, m.Revision, m.Files, m.Size, m.MLX, m.Servable, append([]string{}, m.Problems...)})
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"cache": cache.Dir, "models": rows})
	}
	if len(shown) == 0 {
		fmt.Fprintf(e.stdout, "no MLX models in %s", cache.Dir)
		if hidden > 0 {
			fmt.Fprintf(e.stdout, " (%s not shown; --all lists them)", count(hidden, "other model", "other models"))
		}
		fmt.Fprintln(e.stdout, "\ndownload one: cicdllm mlx download mlx-community/Qwen2.5-Coder-7B-Instruct-4bit")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tSIZE\tFILES\tREVISION\tMLX")
	for _, m := range shown {
		kind := "yes"
		if !m.MLX {
			kind = "no"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", printable(m.ID), common.HumanBytes(m.Size), m.Files, shortHash(m.Revision), kind)
	}
	_ = tw.Flush()
	for _, m := range shown {
		for _, p := range m.Problems {
			fmt.Fprintf(e.stdout, "%s: %s\n", printable(m.ID), printable(p))
		}
	}
	fmt.Fprintf(e.stdout, "%s in %s", count(len(shown), "model", "models"), cache.Dir)
	if hidden > 0 {
		fmt.Fprintf(e.stdout, " (%d not MLX; --all lists them)", hidden)
	}
	fmt.Fprintln(e.stdout)
	return nil
}

func (e *cmdEnv) mlxDownload(ctx context.Context, env hfhub.Env, cache hfhub.Cache, model, revision string) error {
	client := hfhub.NewClient(env)
	p := newEventPrinter(e.stdout, e.interactive())
	start := time.Now()
	var mu sync.Mutex
	lastFiles := 0
	res, err := client.Download(ctx, cache, model, revision, func(pr hfhub.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.tty {
			line := downloadLine(pr, time.Since(start))
			p.mu.Lock()
			p.clearLocked()
			p.status = line
			p.redrawLocked()
			p.mu.Unlock()
		} else if pr.FilesDone > lastFiles {
			lastFiles = pr.FilesDone
			p.mu.Lock()
			p.line("%d/%d files, %s of %s", pr.FilesDone, pr.FilesTotal, common.HumanBytes(pr.Done), common.HumanBytes(pr.Total))
			p.mu.Unlock()
		}
	})
	p.clear()
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{code: exitInterrupted, err: errors.New("download interrupted; run the same command again to resume")}
		}
		return err
	}
	fmt.Fprintf(e.stdout, "downloaded %s at %s: %s, %s (%s fetched now) in %s\n", res.ID, shortHash(res.Commit),
		count(res.Files, "file", "files"), common.HumanBytes(res.Bytes), common.HumanBytes(res.Fetched), res.Path)
	fmt.Fprintf(e.stdout, "use it: set llm.backend = \"mlx\" and mlx.model = %q in cicdllm.toml\n", res.ID)
	return nil
}

// downloadLine is the download's status line: bytes, rate and time left.
func downloadLine(p hfhub.Progress, elapsed time.Duration) string {
	// The rate counts bytes received in this run only: resumed bytes came
	// from disk and would make the ETA a lie.
	rate := float64(p.Fetched) / max(elapsed.Seconds(), 0.001)
	eta := "…"
	if rate > 0 && p.Total > p.Done {
		eta = time.Duration(float64(p.Total-p.Done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	pct := 0.0
	if p.Total > 0 {
		pct = 100 * float64(p.Done) / float64(p.Total)
	}
	return fmt.Sprintf("downloading: %s / %s (%.0f%%) · %s/s · ETA %s · %d/%d files",
		common.HumanBytes(p.Done), common.HumanBytes(p.Total), pct, common.HumanBytes(int64(rate)), eta, p.FilesDone, p.FilesTotal)
}

func (e *cmdEnv) mlxInfo(cache hfhub.Cache, model string, asJSON bool) error {
	info, err := cache.Info(model)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, printable(v))
		}
	}
	if !info.Cached {
		row("Model", model)
		row("Cached", "no (cache: "+cache.Dir+")")
		row("Next", "cicdllm mlx download "+model)
		return tw.Flush()
	}
	row("Model", info.ID)
	row("Cached", "yes")
	row("Path", info.Path)
	row("Revision", info.Revision)
	row("Size", common.HumanBytes(info.Size))
	row("Files", strconv.Itoa(info.Files))
	row("Architecture", info.Architecture)
	if info.Parameters > 0 {
		row("Parameters", humanCount(info.Parameters))
	}
	if info.QuantBits > 0 {
		row("Quantization", fmt.Sprintf("%d-bit, group size %d", info.QuantBits, info.QuantGroupSize))
	}
	if info.ContextLength > 0 {
		row("Context", fmt.Sprintf("%d tokens", info.ContextLength))
	}
	if info.RAMGB > 0 {
		row("Memory", fmt.Sprintf("about %d GB", info.RAMGB))
	}
	row("Recommendation", info.Recommendation)
	if !info.MLX {
		row("Note", "does not look like an MLX model (no quantization in config.json, not from mlx-community)")
	}
	for _, p := range info.Problems {
		row("Problem", p)
	}
	return tw.Flush()
}

// humanCount writes 7615616512 as "7.6B".
func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.0fM", float64(n)/1e6)
	}
	return strconv.FormatInt(n, 10)
}

func (e *cmdEnv) mlxRemove(cache hfhub.Cache, model string, yes bool) error {
	plan, err := cache.PlanRemove(model)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Model: %s\nPath:  %s\nSize:  %s\n", plan.ID, plan.Path, common.HumanBytes(plan.Size))
	if !yes {
		if !e.interactive() {
			return usageError("mlx remove would delete %s (%s); pass --yes to confirm when not running on a terminal", plan.Path, common.HumanBytes(plan.Size))
		}
		ok, err := e.confirm(fmt.Sprintf("Delete %s? (y/n) ", plan.ID))
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(e.stdout, "nothing deleted")
			return nil
		}
	}
	if err := cache.Remove(plan); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "removed %s (%s freed)\n", plan.ID, common.HumanBytes(plan.Size))
	return nil
}

// printRedactions lists what safety redaction removed, per rule, with a
// column per stage.
func printRedactions(w io.Writer, red []store.RedactionCount) {
	fmt.Fprintln(w, "\nRedacted secrets")
	if len(red) == 0 {
		fmt.Fprintln(w, "  none")
		return
	}
	byRule := map[string]map[string]int64{}
	for _, r := range red {
		if byRule[r.Rule] == nil {
			byRule[r.Rule] = map[string]int64{}
		}
		byRule[r.Rule][r.Stage] += r.Count
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  RULE\tIN CODE SENT\tIN LLM OUTPUT")
	for _, rule := range slices.Sorted(maps.Keys(byRule)) {
		c := byRule[rule]
		fmt.Fprintf(tw, "  %s\t%d\t%d\n", rule, c[store.RedactPrompt], c[store.RedactOutput])
	}
	_ = tw.Flush()
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// printOverview prints where a curator should look: flags by kind,
// near-duplicates dropped, question types and languages.
func printOverview(w io.Writer, o pipeline.QualityOverview) {
	section := func(title string, m map[string]int64) {
		fmt.Fprintf(w, "\n%s\n", title)
		if len(m) == 0 {
			fmt.Fprintln(w, "  none")
			return
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			fmt.Fprintf(tw, "  %s\t%d\n", k, m[k])
		}
		_ = tw.Flush()
	}
	section("Quality flags (answers flagged at generation)", o.Flags)
	fmt.Fprintf(w, "\nNear-duplicate questions dropped before answering: %d\n", o.NearDuplicates)
	section(fmt.Sprintf("Question types (%d active samples)", o.Samples), o.QuestionTypes)
	section("Samples per language", o.Languages)
}

// ---- score ---------------------------------------------------------------------------

func (a *app) scoreCommand() *command {
	var rescore, allowRemote bool
	return &command{
		name: "score", args: "[--rescore]", summary: "let the model rate every sample (groundedness, correctness, usefulness)", needsEnv: true,
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&rescore, "rescore", false, "score samples that already have a judge score again")
			fs.BoolVar(&allowRemote, "allow-remote-unredacted", false, "send code to a server on another machine even though safety.redact_secrets is off")
		},
		help: `Asks the model to rate each active sample 1-5 for groundedness in its
source lines, correctness and usefulness, with a one-sentence reason. The
mean becomes the sample's score (export --min-score), the parts and reason
go into its metadata. Every judgement is committed as it arrives, so an
interrupted run resumes with the samples left. A rating you gave in the UI
is kept apart and never overwritten.

Examples:
  cicdllm score
  cicdllm score --rescore`,
		run: func(ctx context.Context, e *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usageError("score takes no arguments, got %q", args[0])
			}
			st, err := e.openStore(ctx, true)
			if err != nil {
				return err
			}
			defer st.Close()
			conn, err := pipeline.Connect(ctx, e.cfg.Config, pipeline.ConnectOptions{LookupEnv: e.lookupEnv, Home: e.home(),
				Logger: e.logger, AllowRemoteUnredacted: allowRemote, OnMLX: e.mlxEventPrinter()})
			if errors.Is(err, pipeline.ErrRemoteUnredacted) {
				return usageError("%v", err)
			}
			if err != nil {
				return err
			}
			defer conn.Close()
			p := newEventPrinter(e.stdout, e.interactive())
			var scored atomic.Int64
			sc := &pipeline.Scorer{WS: e.ws, Config: e.cfg.Config, Store: st, Client: conn.Client, Slots: conn.Info.Slots,
				Model: conn.Info.Model, Logger: e.logger, Rescore: rescore,
				OnScored: func(id int64, score float64) {
					n := scored.Add(1)
					if p.tty {
						p.mu.Lock()
						p.clearLocked()
						p.status = fmt.Sprintf("scoring: %d samples scored", n)
						p.redrawLocked()
						p.mu.Unlock()
					}
				}}
			rep, err := sc.Run(ctx)
			p.clear()
			if ctx.Err() != nil {
				return &exitError{code: exitInterrupted, err: errors.New("interrupted; run cicdllm score again to score the rest")}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "scored %s (mean %.2f), %d failed, %d skipped\n", count(rep.Scored, "sample", "samples"), rep.Mean, rep.Failed, rep.Skipped)
			if rep.Failed > 0 {
				return fmt.Errorf("%s could not be scored (see %s); run cicdllm score again to retry them", count(rep.Failed, "sample", "samples"), e.ws.Rel(e.log.Path))
			}
			return nil
		},
	}
}
