package hfhub

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// testTensor is one tensor of a fixture safetensors file.
type testTensor struct {
	name  string
	dtype string
	shape []int64
}

// safetensorsFile builds a real safetensors file: 8-byte little-endian
// header length, JSON header, zeroed data.
func safetensorsFile(t *testing.T, tensors []testTensor) []byte {
	t.Helper()
	dtypeSize := map[string]int64{"U32": 4, "F32": 4, "F16": 2, "BF16": 2}
	header := map[string]any{"__metadata__": map[string]string{"format": "mlx"}}
	var offset int64
	for _, tensor := range tensors {
		n := dtypeSize[tensor.dtype]
		for _, d := range tensor.shape {
			n *= d
		}
		header[tensor.name] = map[string]any{"dtype": tensor.dtype, "shape": tensor.shape, "data_offsets": []int64{offset, offset + n}}
		offset += n
	}
	headerJSON, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(headerJSON)))
	out = append(out, headerJSON...)
	return append(out, make([]byte, offset)...)
}

// cacheBuilder writes models in huggingface_hub's layout.
type cacheBuilder struct {
	t   *testing.T
	dir string
}

func (b cacheBuilder) modelDir(id string) string { return filepath.Join(b.dir, RepoFolderName(id)) }

func (b cacheBuilder) write(path string, content []byte) {
	b.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, content, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// linked stores content as a blob and links snapshots/<commit>/<name> to it.
func (b cacheBuilder) linked(id, commit, name string, content []byte) {
	b.t.Helper()
	etag := gitBlobSHA1(content)
	if strings.HasSuffix(name, ".safetensors") {
		etag = sha256Hex(content)
	}
	b.write(filepath.Join(b.modelDir(id), "blobs", etag), content)
	b.link(id, commit, name, etag)
}

func (b cacheBuilder) link(id, commit, name, etag string) {
	b.t.Helper()
	link := filepath.Join(b.modelDir(id), "snapshots", commit, filepath.FromSlash(name))
	os.MkdirAll(filepath.Dir(link), 0o755)
	target, _ := filepath.Rel(filepath.Dir(link), filepath.Join(b.modelDir(id), "blobs", etag))
	if err := os.Symlink(target, link); err != nil {
		b.t.Fatal(err)
	}
}

func (b cacheBuilder) ref(id, name, commit string) {
	b.write(filepath.Join(b.modelDir(id), "refs", name), []byte(commit))
}

const (
	commitA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	commitB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	commitC = "cccccccccccccccccccccccccccccccccccccccc"
)

// Fixture contents, sized so the expected numbers below can be checked by hand.
const mlxConfig = `{"architectures": ["LlamaForCausalLM"], "model_type": "llama",
 "max_position_embeddings": 131072,
 "quantization": {"group_size": 64, "bits": 4, "lm_head": {"group_size": 64, "bits": 8}},
 "quantization_config": {"group_size": 64, "bits": 4}}`

// The MLX fixture's tensors, split over two shards as mlx-lm saves them.
// Logical parameters: embed 1000×512 (U32 1000×64 at 4 bits) + q_proj
// 512×512 (U32 512×64) + norm 512 + lm_head 1000×512 (U32 1000×128 at 8
// bits) = 512000 + 262144 + 512 + 512000 = 1286656. Header elements:
// 64000+8000+8000 + 32768+4096+4096 + 512 + 128000+8000+8000 = 265472.
func mlxShards(t *testing.T) (shard1, shard2 []byte) {
	shard1 = safetensorsFile(t, []testTensor{
		{"model.embed_tokens.weight", "U32", []int64{1000, 64}},
		{"model.embed_tokens.scales", "F16", []int64{1000, 8}},
		{"model.embed_tokens.biases", "F16", []int64{1000, 8}},
		{"model.layers.0.self_attn.q_proj.weight", "U32", []int64{512, 64}},
		{"model.layers.0.self_attn.q_proj.scales", "F16", []int64{512, 8}},
		{"model.layers.0.self_attn.q_proj.biases", "F16", []int64{512, 8}},
		{"model.norm.weight", "F16", []int64{512}},
	})
	shard2 = safetensorsFile(t, []testTensor{
		{"lm_head.weight", "U32", []int64{1000, 128}},
		{"lm_head.scales", "F16", []int64{1000, 8}},
		{"lm_head.biases", "F16", []int64{1000, 8}},
	})
	return shard1, shard2
}

type fixture struct {
	dir                       string
	mlxSize, gpt2Size         int64
	outsideFile, locksForGPT2 string
}

// buildCache makes a cache with: an MLX model (servable), a non-MLX model
// with copied (not linked) files and a lock folder, a model with a
// dangling symlink, a model with a partial blob and a ref to a missing
// snapshot, a dataset, and stray root entries.
func buildCache(t *testing.T) fixture {
	dir := filepath.Join(t.TempDir(), "hub")
	b := cacheBuilder{t, dir}
	f := fixture{dir: dir}

	// mlx-community/Tiny-4bit: servable MLX model.
	shard1, shard2 := mlxShards(t)
	mlx := "mlx-community/Tiny-4bit"
	mlxFiles := map[string][]byte{
		"config.json":                      []byte(mlxConfig),
		"tokenizer_config.json":            []byte(`{}`),
		"model.safetensors.index.json":     []byte(`{"weight_map": {}}`),
		"model-00001-of-00002.safetensors": shard1,
		"model-00002-of-00002.safetensors": shard2,
		"tokenizer.json":                   []byte(`{"version": "1.0"}`),
		"special_tokens_map.json":          []byte(`{}`), // same content as tokenizer_config.json: one blob
	}
	for name, content := range mlxFiles {
		b.linked(mlx, commitA, name, content)
	}
	b.ref(mlx, "main", commitA)
	f.mlxSize = int64(len(mlxConfig)+len(`{}`)+len(`{"weight_map": {}}`)+len(shard1)+len(shard2)+len(`{"version": "1.0"}`)) + 40

	// openai-community/gpt2-tiny: plain model, files copied into the snapshot.
	gpt2 := "openai-community/gpt2-tiny"
	gpt2Weights := safetensorsFile(t, []testTensor{
		{"wte.weight", "F32", []int64{100, 16}},
		{"h.0.attn.c_attn.bias", "F32", []int64{48}},
	})
	gpt2Config := `{"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_positions": 1024}`
	snap := filepath.Join(b.modelDir(gpt2), "snapshots", commitB)
	b.write(filepath.Join(snap, "config.json"), []byte(gpt2Config))
	b.write(filepath.Join(snap, "model.safetensors"), gpt2Weights)
	b.write(filepath.Join(snap, "tokenizer_config.json"), []byte(`{"a": 1}`))
	os.MkdirAll(filepath.Join(b.modelDir(gpt2), "blobs"), 0o755)
	b.ref(gpt2, "main", commitB)
	f.gpt2Size = int64(len(gpt2Config)+len(gpt2Weights)+len(`{"a": 1}`)) + 40
	f.locksForGPT2 = filepath.Join(dir, ".locks", RepoFolderName(gpt2))
	b.write(filepath.Join(f.locksForGPT2, "abc.lock"), nil)

	// org/broken: tokenizer_config.json links to a blob that is gone.
	b.linked("org/broken", commitA, "config.json", []byte(`{"model_type": "mistral"}`))
	b.link("org/broken", commitA, "tokenizer_config.json", strings.Repeat("d", 40))
	b.ref("org/broken", "main", commitA)

	// org/partial: refs/main names a snapshot that does not exist, another
	// snapshot exists, and a download was interrupted.
	b.linked("org/partial", commitC, "config.json", []byte(`{"max_sequence_length": 4096}`))
	b.ref("org/partial", "main", commitA)
	b.write(filepath.Join(b.modelDir("org/partial"), "blobs", strings.Repeat("e", 64)+".incomplete"), []byte("half"))

	// Not models, or not repos at all: all ignored.
	b.linked2dataset()
	b.write(filepath.Join(dir, "notes.txt"), []byte("stray"))
	b.write(filepath.Join(dir, "CACHEDIR.TAG"), []byte("Signature: 8a477f597d28d172789f06886806bc55"))
	b.write(filepath.Join(dir, ".DS_Store"), nil)
	b.write(filepath.Join(dir, "models--"), nil)

	f.outsideFile = filepath.Join(t.TempDir(), "outside", "keep.txt")
	b.write(f.outsideFile, []byte("must survive"))
	return f
}

func (b cacheBuilder) linked2dataset() {
	dataset := filepath.Join(b.dir, "datasets--org--data")
	b.write(filepath.Join(dataset, "snapshots", commitA, "train.jsonl"), []byte("{}\n"))
	b.write(filepath.Join(dataset, "refs", "main"), []byte(commitA))
}

func TestList(t *testing.T) {
	f := buildCache(t)
	models, err := Cache{Dir: f.dir}.List()
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		ID, Revision    string
		Files           int
		Size            int64
		MLX, Servable   bool
		ProblemPrefixes []string
	}
	var got []row
	for _, m := range models {
		r := row{m.ID, m.Revision, m.Files, m.Size, m.MLX, m.Servable, nil}
		for _, p := range m.Problems {
			prefix, _, _ := strings.Cut(p, ":")
			r.ProblemPrefixes = append(r.ProblemPrefixes, prefix)
		}
		got = append(got, r)
		if m.Dir != filepath.Join(f.dir, RepoFolderName(m.ID)) || m.Modified.IsZero() {
			t.Errorf("%s: Dir %q, Modified %v", m.ID, m.Dir, m.Modified)
		}
	}
	brokenSize := int64(len(`{"model_type": "mistral"}`) + 40)
	partialSize := int64(len(`{"max_sequence_length": 4096}`) + len("half") + 40)
	want := []row{
		{"mlx-community/Tiny-4bit", commitA, 7, f.mlxSize, true, true, nil},
		{"openai-community/gpt2-tiny", commitB, 3, f.gpt2Size, false, false, nil},
		{"org/broken", commitA, 2, brokenSize, false, false, []string{ProblemBrokenSymlink}},
		{"org/partial", commitC, 1, partialSize, false, false, []string{ProblemMissingCommit, ProblemIncomplete}},
	}
	if !slices.EqualFunc(got, want, func(a, b row) bool {
		return a.ID == b.ID && a.Revision == b.Revision && a.Files == b.Files && a.Size == b.Size &&
			a.MLX == b.MLX && a.Servable == b.Servable && slices.Equal(a.ProblemPrefixes, b.ProblemPrefixes)
	}) {
		t.Errorf("List =\n%+v\nwant\n%+v", got, want)
	}
	for _, m := range models {
		t.Logf("%s problems: %q", m.ID, m.Problems)
	}
	if p := models[2].Problems[0]; p != ProblemBrokenSymlink+": snapshots/"+commitA+"/tokenizer_config.json" {
		t.Errorf("broken symlink problem = %q", p)
	}
}

func TestListMissingCacheIsEmpty(t *testing.T) {
	models, err := Cache{Dir: filepath.Join(t.TempDir(), "nothing")}.List()
	if err != nil || len(models) != 0 {
		t.Errorf("List of a missing cache = %v, %v", models, err)
	}
	if _, err := (Cache{}).List(); err == nil {
		t.Error("List with no dir: want an error")
	}
}

func TestInfo(t *testing.T) {
	f := buildCache(t)
	cache := Cache{Dir: f.dir}

	info, err := cache.Info("mlx-community/Tiny-4bit")
	if err != nil {
		t.Fatal(err)
	}
	shard1, shard2 := mlxShards(t)
	want := struct {
		Cached                     bool
		Path, Architecture         string
		Parameters, HeaderElements int64
		Bits, Group, Context, RAM  int
		WeightBytes                int64
		Recommendation             string
	}{true, filepath.Join(f.dir, "models--mlx-community--Tiny-4bit", "snapshots", commitA), "LlamaForCausalLM",
		1_286_656, 265_472, 4, 64, 131072, 1, int64(len(shard1) + len(shard2)), "needs about 1 GB: a Mac with 8 GB or more"}
	got := want
	got.Cached, got.Path, got.Architecture = info.Cached, info.Path, info.Architecture
	got.Parameters, got.HeaderElements = info.Parameters, info.HeaderElements
	got.Bits, got.Group, got.Context, got.RAM = info.QuantBits, info.QuantGroupSize, info.ContextLength, info.RAMGB
	got.WeightBytes, got.Recommendation = info.WeightBytes, info.Recommendation
	if got != want {
		t.Errorf("Info =\n%+v\nwant\n%+v", got, want)
	}
	wantFiles := []string{"config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
		"model.safetensors.index.json", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"}
	if !slices.Equal(info.FilesList, wantFiles) || info.Files != 7 || info.Size != f.mlxSize || !info.MLX || !info.Servable {
		t.Errorf("Info files %q, Files %d, Size %d, MLX %v, Servable %v", info.FilesList, info.Files, info.Size, info.MLX, info.Servable)
	}

	gpt2, err := cache.Info("openai-community/gpt2-tiny")
	if err != nil {
		t.Fatal(err)
	}
	if gpt2.Architecture != "GPT2LMHeadModel" || gpt2.Parameters != 1648 || gpt2.HeaderElements != 1648 ||
		gpt2.QuantBits != 0 || gpt2.ContextLength != 1024 || gpt2.MLX {
		t.Errorf("gpt2 Info = %+v", gpt2)
	}

	partial, err := cache.Info("org/partial")
	if err != nil {
		t.Fatal(err)
	}
	if partial.ContextLength != 4096 || partial.Revision != commitC || partial.RAMGB != 0 || partial.Recommendation != "" {
		t.Errorf("partial Info = %+v", partial)
	}

	missing, err := cache.Info("org/absent")
	if err != nil || missing.Cached || missing.ID != "org/absent" || missing.Dir != filepath.Join(f.dir, "models--org--absent") {
		t.Errorf("Info of an uncached model = %+v, %v", missing, err)
	}
	if _, err := cache.Info("../escape"); err == nil {
		t.Error("Info with a bad id: want an error")
	}
}

func TestRecommendation(t *testing.T) {
	tests := []struct {
		weightBytes int64
		ram         int
		want        string
	}{
		{0, 0, ""},
		{1, 1, "needs about 1 GB: a Mac with 8 GB or more"},
		{6_666_666_666, 8, "needs about 8 GB: a Mac with 8 GB or more"},
		{6_666_666_667, 9, "needs about 9 GB: a Mac with 16 GB or more"},
		{7_500_000_000, 9, "needs about 9 GB: a Mac with 16 GB or more"},
		{15_000_000_000, 18, "needs about 18 GB: a Mac with 24 GB or more"},
		{25_000_000_000, 30, "needs about 30 GB: a Mac with 32 GB or more"},
		{40_000_000_000, 48, "needs about 48 GB: a Mac with 48 GB or more"},
		{500_000_000_000, 600, "needs about 600 GB: more memory than any Mac has; choose a smaller or more strongly quantised model"},
	}
	for _, tt := range tests {
		ram := ramGB(tt.weightBytes)
		if ram != tt.ram || recommendation(ram) != tt.want {
			t.Errorf("%d bytes: ramGB %d (want %d), %q (want %q)", tt.weightBytes, ram, tt.ram, recommendation(ram), tt.want)
		}
	}
}

func TestRemove(t *testing.T) {
	f := buildCache(t)
	cache := Cache{Dir: f.dir}
	id := "openai-community/gpt2-tiny"
	modelDir := filepath.Join(f.dir, RepoFolderName(id))
	// A link inside the model folder to a file outside the cache.
	if err := os.Symlink(f.outsideFile, filepath.Join(modelDir, "snapshots", commitB, "escape.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(f.outsideFile), filepath.Join(modelDir, "escape-dir")); err != nil {
		t.Fatal(err)
	}

	plan, err := cache.PlanRemove(id)
	if err != nil {
		t.Fatal(err)
	}
	want := RemovePlan{ID: id, Path: modelDir, Size: f.gpt2Size, Locks: f.locksForGPT2}
	if plan != want {
		t.Errorf("plan = %+v\nwant %+v", plan, want)
	}
	if err := cache.Remove(plan); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{modelDir, f.locksForGPT2} {
		if _, err := os.Lstat(gone); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still exists (err %v)", gone, err)
		}
	}
	if data, err := os.ReadFile(f.outsideFile); err != nil || string(data) != "must survive" {
		t.Errorf("the file outside the cache did not survive: %q, %v", data, err)
	}
	models, _ := cache.List()
	var ids []string
	for _, m := range models {
		ids = append(ids, m.ID)
	}
	if want := []string{"mlx-community/Tiny-4bit", "org/broken", "org/partial"}; !slices.Equal(ids, want) {
		t.Errorf("after remove, List = %q, want %q", ids, want)
	}
	for _, keep := range []string{"datasets--org--data", "notes.txt", ".locks", "CACHEDIR.TAG"} {
		if _, err := os.Lstat(filepath.Join(f.dir, keep)); err != nil {
			t.Errorf("%s was removed: %v", keep, err)
		}
	}
	// Removing twice says it is gone.
	if err := cache.Remove(plan); err == nil || !strings.Contains(err.Error(), "is not in the cache") {
		t.Errorf("second Remove: %v", err)
	}
}

func TestRemoveRefusals(t *testing.T) {
	f := buildCache(t)
	cache := Cache{Dir: f.dir}

	for _, id := range []string{"../etc", "org/..", "org/a..b", "..", "org/name/extra", "/abs", "org\\name", ""} {
		if _, err := cache.PlanRemove(id); err == nil {
			t.Errorf("PlanRemove(%q): want an error", id)
		}
	}
	if _, err := cache.PlanRemove("org/absent"); err == nil || err.Error() != "org/absent is not in the cache ("+f.dir+")" {
		t.Errorf("PlanRemove of an uncached model: %v", err)
	}

	// A model folder that is itself a symlink out of the cache.
	outsideModel := filepath.Join(t.TempDir(), "real-model")
	os.MkdirAll(filepath.Join(outsideModel, "snapshots"), 0o755)
	os.WriteFile(filepath.Join(outsideModel, "weights"), []byte("keep"), 0o644)
	os.Symlink(outsideModel, filepath.Join(f.dir, "models--org--linked"))
	if _, err := cache.PlanRemove("org/linked"); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("PlanRemove of a symlinked folder: %v", err)
	}
	if err := cache.Remove(RemovePlan{ID: "org/linked", Path: filepath.Join(f.dir, "models--org--linked")}); err == nil {
		t.Error("Remove of a symlinked folder: want an error")
	}
	if _, err := os.Stat(filepath.Join(outsideModel, "weights")); err != nil {
		t.Errorf("the symlinked folder's target was touched: %v", err)
	}

	// A plan pointing elsewhere is refused.
	for _, plan := range []RemovePlan{
		{ID: "org/broken", Path: filepath.Dir(f.outsideFile)},
		{ID: "org/broken", Path: f.dir},
		{ID: "org/broken", Path: filepath.Join(f.dir, "models--org--broken"), Locks: filepath.Dir(f.outsideFile)},
	} {
		err := cache.Remove(plan)
		if err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Errorf("Remove(%+v) = %v, want a refusal", plan, err)
		}
	}
	if _, err := os.Stat(f.outsideFile); err != nil {
		t.Errorf("outside file touched: %v", err)
	}
}

func TestValidateModelID(t *testing.T) {
	valid := []string{"mlx-community/Llama-3.2-3B-Instruct-4bit", "a/b", "Org_1/name.v2", "org/_x_"}
	for _, id := range valid {
		if err := ValidateModelID(id); err != nil {
			t.Errorf("ValidateModelID(%q) = %v", id, err)
		}
	}
	invalid := map[string]string{
		"":                               "is empty",
		"gpt2":                           "not of the form org/name",
		"a/b/c":                          "not of the form org/name",
		"/b":                             "empty part",
		"a/":                             "empty part",
		"org/..":                         `contains ".."`,
		"../x":                           `contains ".."`,
		"org/a..b":                       `contains ".."`,
		"org/a--b":                       `contains "--"`,
		"org/-x":                         "start and end",
		"org/x.":                         "start and end",
		"org/na me":                      `contains ' '`,
		"org/näme":                       `contains 'ä'`,
		"org\\x/y":                       `contains '\\'`,
		"org/x.git":                      `ends with ".git"`,
		"org/" + strings.Repeat("x", 97): "at most 96",
	}
	for id, want := range invalid {
		err := ValidateModelID(id)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateModelID(%q) = %v, want it to mention %q", id, err, want)
		}
	}
	if got := RepoFolderName("mlx-community/Llama-3.2-3B-Instruct-4bit"); got != "models--mlx-community--Llama-3.2-3B-Instruct-4bit" {
		t.Errorf("RepoFolderName = %q", got)
	}
}

func TestWantedFiles(t *testing.T) {
	want := []string{"config.json", "sub/x.json", "model.safetensors", "model-00001-of-00002.safetensors",
		"consolidated.safetensors", "adapters/a.safetensors", "modeling_x.py", "tokenizer.model", "spm.model",
		"o200k.tiktoken", "tiktoken.model", "merges.txt", "data.jsonl", "chat_template.jinja"}
	skip := []string{"README.md", ".gitattributes", "model.gguf", "pytorch_model.bin", "original/consolidated.pth",
		"model.safetensors.bak", "image.png", "json"}
	for _, name := range want {
		if !wanted(name) {
			t.Errorf("%s should be downloaded", name)
		}
	}
	for _, name := range skip {
		if wanted(name) {
			t.Errorf("%s should not be downloaded", name)
		}
	}
}

func TestNormalizeETagAndRetryAfter(t *testing.T) {
	for in, want := range map[string]string{`"abc"`: "abc", `W/"abc"`: "abc", "abc": "abc", "": ""} {
		if got := normalizeETag(in); got != want {
			t.Errorf("normalizeETag(%q) = %q", in, got)
		}
	}
	header := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if got := retryAfter(header("Retry-After", now.Add(7*time.Second).Format(http.TimeFormat)), now); got != 7*time.Second {
		t.Errorf("Retry-After as a date = %v", got)
	}
	if got := retryAfter(header("Retry-After", "3"), now); got.Seconds() != 3 {
		t.Errorf("Retry-After 3 = %v", got)
	}
	if got := retryAfter(header("Ratelimit", `"resolvers";r=0;t=42`, "Retry-After", "3"), now); got.Seconds() != 42 {
		t.Errorf("RateLimit t=42 = %v", got)
	}
	if got := retryAfter(header("Ratelimit", `"resolvers";r=5;t=42`), now); got != 0 {
		t.Errorf("RateLimit with requests left = %v", got)
	}
}
