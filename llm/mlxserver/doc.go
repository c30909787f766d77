// Package mlxserver runs mlx_lm.server (Apple's MLX text generation server,
// from the mlx-lm Python package) as a child process for llm.backend = "mlx",
// and keeps it running while the pipeline talks to it over its
// OpenAI-compatible HTTP API.
//
// Start checks the platform (MLX needs macOS on Apple Silicon), finds the
// Python interpreter, picks a loopback port, runs
//
//	python -m mlx_lm server --model M --host 127.0.0.1 --port P [extra args]
//
// in a process group of its own and waits until GET /v1/models (or /health)
// answers 200, which for a large model loaded from disk takes minutes.
// Progress is reported through Options.OnEvent. The child's output is kept
// (the last 50 lines, 8 KB at most) for error messages and logged at debug
// level.
//
// Once ready, the Server is supervised: if mlx_lm.server dies (the Metal
// allocator running out of memory is the usual cause) it is restarted once on
// the same port, so the URL stays valid and the HTTP client's retries carry
// the requests that were in flight. A second death ends the Server: Done is
// closed and Err says why.
//
// # Stopping
//
// A model server left behind holds many gigabytes of memory and the port,
// so callers must stop the Server on every way out of the program:
//
//	s, err := mlxserver.Start(ctx, opts)
//	if err != nil {
//		return err
//	}
//	defer s.Stop()
//
// and also call s.Stop from the signal handling (SIGINT, SIGTERM) and from
// panic recovery, because os.Exit, log.Fatal and an unrecovered panic skip
// deferred calls. The child runs in its own process group, so a Ctrl-C in the
// terminal reaches us and not it: stopping it is our job. Stop is idempotent
// and safe to call from any goroutine; it sends SIGTERM to the process group,
// waits up to 5 s, then sends SIGKILL, and returns only when the process is
// gone. On Linux the child is also killed by the kernel if we die without
// stopping it (Pdeathsig); on macOS nothing does that, hence the rules above.
package mlxserver
