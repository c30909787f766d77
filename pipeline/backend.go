package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"cicdllm/llm"
	"cicdllm/llm/hfhub"
	"cicdllm/llm/mlxserver"
)

// Connection is a ready LLM backend: a probed client and, for the mlx
// backend, the mlx_lm.server child process it talks to.
type Connection struct {
	Client *llm.Client
	Info   llm.ServerInfo
	mlx    *mlxserver.Server
}

// Close stops what Connect started (the mlx_lm.server child); safe to call
// more than once, and on a nil Connection.
func (c *Connection) Close() error {
	if c == nil || c.mlx == nil {
		return nil
	}
	return c.mlx.Stop()
}

// Alive reports whether the backend can still serve requests (a managed
// server that died twice cannot).
func (c *Connection) Alive() bool {
	if c == nil {
		return false
	}
	if c.mlx == nil {
		return true
	}
	select {
	case <-c.mlx.Done():
		return false
	default:
		return true
	}
}

// ConnectOptions carry what Connect needs besides the configuration.
type ConnectOptions struct {
	LookupEnv func(string) (string, bool)
	Home      string // for ~ in Hugging Face paths
	Logger    *slog.Logger
	OnBreaker func(llm.BreakerEvent)
	// OnMLX hears the managed server's life: starting, loading model…,
	// ready, exited, restarting.
	OnMLX func(mlxserver.Event)
	// Environ is the child's environment; nil = os.Environ().
	Environ []string
	// Platform is "GOOS/GOARCH" for the MLX platform check; "" = this
	// machine's (tests of the process management run on Linux).
	Platform string
	// AllowRemoteUnredacted lets code go unredacted to a server on another
	// machine (--allow-remote-unredacted).
	AllowRemoteUnredacted bool
}

// ErrRemoteUnredacted: redaction is off and the server is not local.
var ErrRemoteUnredacted = errors.New("refusing to send unredacted code to another machine")

// checkRemote refuses to send code to a server that is not on this machine
// while secret redaction is off: other people's secrets in the scraped
// code would leave the machine.
func checkRemote(cfg Config, allow bool) error {
	if cfg.Safety.RedactSecrets || allow || cfg.LLM.Backend == "mlx" || IsLoopback(cfg.LLM.BaseURL) {
		return nil
	}
	return fmt.Errorf("%w: llm.base_url %s is not on this machine and safety.redact_secrets is off; turn redaction on, or pass --allow-remote-unredacted if you accept the risk",
		ErrRemoteUnredacted, cfg.LLM.BaseURL)
}

// Connect builds the LLM client from the configuration and probes the
// server (models, context per request, slots, structured output). With
// llm.backend = "mlx" it first starts mlx_lm.server and waits for it to
// load the model; the caller must Close the Connection (defer it, and on
// every exit path: the child must not outlive cicdllm).
func Connect(ctx context.Context, cfg Config, o ConnectOptions) (*Connection, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := checkRemote(cfg, o.AllowRemoteUnredacted); err != nil {
		return nil, err
	}
	opts, err := cfg.LLMOptions(o.LookupEnv, o.Logger, o.OnBreaker)
	if err != nil {
		return nil, err
	}
	conn := &Connection{}
	if cfg.LLM.Backend == "mlx" {
		if err := checkMLX(cfg, o.LookupEnv, o.Home, o.Platform); err != nil {
			return nil, err
		}
		env := o.Environ
		if env == nil {
			env = os.Environ()
		}
		// The model is in the cache (checked above): keep the server from
		// reaching for the network at start-up.
		env = append(env[:len(env):len(env)], "HF_HUB_OFFLINE=1")
		srv, err := mlxserver.Start(ctx, mlxserver.Options{Python: cfg.MLX.Python, Model: cfg.MLX.Model, Port: cfg.MLX.Port,
			ExtraArgs: cfg.MLX.ExtraArgs, StartupTimeout: cfg.MLX.StartupTimeout.Std(), Env: env, Logger: o.Logger, OnEvent: o.OnMLX,
			Platform: o.Platform})
		if err != nil {
			return nil, err
		}
		conn.mlx = srv
		opts.BaseURL, opts.Model, opts.Backend = srv.URL(), cfg.MLX.Model, "mlx"
	}
	client, err := llm.New(opts)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	info, err := client.Probe(ctx, llm.ProbeOptions{ContextSize: cfg.LLM.ContextSize, Concurrency: cfg.LLM.Concurrency})
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	conn.Client, conn.Info = client, info
	return conn, nil
}

// CheckMLX says whether the mlx backend can start here, without starting
// it: the platform, and the model in the Hugging Face cache (or a local
// model folder).
func CheckMLX(cfg Config, lookupEnv func(string) (string, bool), home string) error {
	return checkMLX(cfg, lookupEnv, home, "")
}

func checkMLX(cfg Config, lookupEnv func(string) (string, bool), home, platform string) error {
	if err := mlxserver.CheckPlatform(platform); err != nil {
		return err
	}
	model := cfg.MLX.Model
	if isLocalModel(model) {
		return nil
	}
	env := hfhub.LoadEnv(lookupEnv, home)
	if err := hfhub.ValidateModelID(model); err != nil {
		return fmt.Errorf("mlx.model: %w", err)
	}
	_, ok, err := hfhub.Cache{Dir: env.CacheDir}.Lookup(model)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("model %s is not in the Hugging Face cache (%s); download it first: cicdllm mlx download %s", model, env.CacheDir, model)
	}
	return nil
}

// isLocalModel: mlx_lm.server also takes a path to a model folder.
func isLocalModel(model string) bool {
	if strings.HasPrefix(model, ".") || strings.HasPrefix(model, "~") || filepath.IsAbs(model) {
		return true
	}
	st, err := os.Stat(model)
	return err == nil && st.IsDir()
}
