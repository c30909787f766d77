// Package llm talks to the LLM server. It knows nothing of files or
// samples, and imports nothing of ours.
//
//   - Client: OpenAI-compatible chat completions over net/http, streaming
//     (SSE) or not, for llama.cpp llama-server, Ollama, vLLM, LM Studio,
//     mlx_lm.server and OpenAI. It retries what can succeed on a second try
//     (connection errors, 408/409/429/5xx, timeouts, truncated streams) with
//     full-jitter backoff that honours Retry-After, never continues a
//     partial stream, and shares one circuit breaker across requests so
//     callers wait while the server is down instead of failing.
//   - Structured output: json_schema, falling back to json_object and then
//     plain text when a server refuses (remembered per client); ParseJSON
//     reads JSON out of whatever text a model wraps around it.
//   - Probe: reachability, models, context per request, parallel slots and
//     the structured output mode that works.
//
// llm/sim is the simulated server every test, benchmark and demo uses.
package llm
