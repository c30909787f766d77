// Package hfhub reads, fills and prunes the Hugging Face hub cache that
// huggingface_hub, transformers and mlx-lm share, so `cicdllm mlx
// list|download|info|remove` can work without Python.
//
// Everything it writes follows huggingface_hub's cache layout byte for byte
// (models--org--name/{blobs,snapshots/<commit>,refs/<revision>}, relative
// symlinks, refs without a newline), so a model downloaded here is found by
// mlx_lm.server and huggingface_hub, and the other way round.
//
//   - LoadEnv resolves the cache dir, endpoint, token and offline mode from
//     the same environment variables huggingface_hub reads.
//   - Cache lists, inspects and removes cached models.
//   - Client downloads the files mlx-lm needs, resumably and verified.
//
// It imports nothing of ours and uses only the standard library.
package hfhub
