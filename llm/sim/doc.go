// Package sim is a deterministic, in-process simulator of an OpenAI-compatible
// LLM server that speaks the llama.cpp llama-server wire format. Every test,
// benchmark and the offline demo of cicdllm run against it instead of a model.
//
// What it simulates:
//
//   - The HTTP surface of llama-server: /health, /v1/health, /v1/models,
//     /models, /props, /slots, /tokenize, /metrics (disabled, 501 like a
//     server started without --metrics) and POST /v1/chat/completions (also
//     /chat/completions), with llama-server's JSON shapes, status codes and
//     error objects, including its HTTP 500 answers to bad requests
//     (unsupported response_format type, missing messages, malformed JSON,
//     n > 1) and the exceed_context_size_error (HTTP 400, or HTTP 200 followed
//     by an error event when streaming).
//   - Server-sent events exactly as llama-server frames them: a role-only
//     first chunk with "content":null, one chunk per token, a final chunk
//     with finish_reason and timings, an optional usage chunk with
//     "choices":[] when stream_options.include_usage is set, then
//     "data: [DONE]". Long prompt processing emits ": keepalive" comments.
//   - N parallel slots with a FIFO queue, similarity-based slot selection and
//     a per-slot prefix cache (usage.prompt_tokens_details.cached_tokens,
//     timings.cache_n), prompt-processing and decoding pacing, the per-slot
//     context limit (prompt >= n_ctx is rejected; generation that fills the
//     context stops with finish_reason "length"), max_tokens and stop strings.
//   - Structured output with llama.cpp's response_format logic: json_schema
//     and json_object requests get JSON that is valid against the schema.
//   - Faults, scripted or drawn at a seeded rate: refused connections, 429,
//     500, 503, hangs, stalls, truncated and malformed streams, in-stream
//     errors, context overflow, empty and cut-short answers; and outages
//     (SetDown) during which the port refuses connections.
//   - Accounting: requests, faults, prompt/cached/completion tokens, slot
//     busy time, utilisation, peak concurrency and queue length.
//
// What it does not simulate: there is no model and no real tokenizer. A token
// is approximated as four bytes of the ChatML-rendered prompt (see
// RenderPrompt and CountTokens); generated text is plausible-looking prose,
// numbered questions or schema-valid JSON assembled deterministically from
// identifiers found in the last user message, seeded by the prompt and
// Config.Seed. Sampling parameters (temperature, top_p, seed, ...) are
// accepted and ignored, only one model is served, and tools, images, grammars,
// logprobs, embeddings and the native /completion endpoint are not
// implemented. Timings report simulated wall-clock time, not compute.
//
// The simulator never prints: it logs only through Config.Logf when set.
package sim
