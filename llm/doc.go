// Package llm talks to the LLM server: an OpenAI-compatible chat client with
// SSE streaming, structured output, retries, timeouts and a circuit breaker;
// server discovery (models, context size, slots); the mlx_lm.server process
// manager; and the Hugging Face cache behind `cicdllm mlx`. It knows nothing
// of files or samples, and imports nothing of ours.
//
// The client and the simulator (llm/sim) land with issue 3, MLX with issue 8.
package llm
