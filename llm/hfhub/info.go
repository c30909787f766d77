package hfhub

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ModelInfo is what `mlx info` shows about one model.
type ModelInfo struct {
	CachedModel
	Cached         bool     // false: only ID and Dir (where it would be) are set
	Path           string   // the snapshot folder, what mlx-lm loads
	Architecture   string   // config.json architectures[0], else model_type
	Parameters     int64    // logical parameter count: packed quantised weights unpacked, scales/biases left out
	HeaderElements int64    // tensor elements exactly as the safetensors headers list them
	QuantBits      int      // config.json quantization.bits; 0 when not quantised
	QuantGroupSize int      // config.json quantization.group_size
	ContextLength  int      // max_position_embeddings, else max_sequence_length / n_positions / seq_length
	WeightBytes    int64    // size of the *.safetensors files
	RAMGB          int      // WeightBytes × 1.2, rounded up, in GB
	Recommendation string   // e.g. "needs about 9 GB: a Mac with 16 GB or more"
	FilesList      []string // snapshot files, slash paths, sorted
}

// maxHeaderBytes is the safetensors format's own limit on the JSON header;
// a bigger length means the file is not safetensors (or is damaged).
const maxHeaderBytes = 100 << 20

// Info describes a model from the cache only (no network). A model that is
// not cached gives Cached=false and no error. Weight files are never read
// beyond their headers.
func (c Cache) Info(id string) (ModelInfo, error) {
	model, ok, err := c.Lookup(id)
	if err != nil {
		return ModelInfo{}, err
	}
	if !ok {
		return ModelInfo{CachedModel: CachedModel{ID: id, Dir: filepath.Join(c.Dir, RepoFolderName(id))}}, nil
	}
	info := ModelInfo{CachedModel: model, Cached: true}
	if model.Revision == "" {
		return info, nil
	}
	info.Path = filepath.Join(model.Dir, "snapshots", model.Revision)
	info.FilesList, _, _ = snapshotFiles(info.Path) // errors are already in Problems

	config, err := readConfig(filepath.Join(info.Path, "config.json"))
	if err != nil {
		info.Problems = append(info.Problems, err.Error())
	}
	info.Architecture = config.architecture()
	info.ContextLength = config.contextLength()
	quant := config.quantization()
	info.QuantBits, info.QuantGroupSize = quant.bits, quant.groupSize

	tensors := map[string]tensorHeader{}
	for _, name := range info.FilesList {
		if !strings.HasSuffix(name, ".safetensors") {
			continue
		}
		file := filepath.Join(info.Path, filepath.FromSlash(name))
		stat, err := os.Stat(file)
		if err != nil {
			continue // a broken link, already a problem
		}
		info.WeightBytes += stat.Size()
		header, err := readSafetensorsHeader(file)
		if err != nil {
			info.Problems = append(info.Problems, err.Error())
			continue
		}
		for tensor, h := range header {
			tensors[tensor] = h
		}
	}
	info.Parameters, info.HeaderElements = countParameters(tensors, quant)
	info.RAMGB = ramGB(info.WeightBytes)
	info.Recommendation = recommendation(info.RAMGB)
	return info, nil
}

// modelConfig is config.json, kept raw because models disagree on types
// (ints written as floats, nested text_config for multimodal models).
type modelConfig map[string]json.RawMessage

func readConfig(path string) (modelConfig, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", ProblemUnreadable, path, err)
	}
	var config modelConfig
	if err := json.Unmarshal(data, &config); err != nil {
		return nil, fmt.Errorf("config.json at %s is not valid JSON: %v", path, err)
	}
	return config, nil
}

func (c modelConfig) architecture() string {
	var architectures []string
	if json.Unmarshal(c["architectures"], &architectures) == nil && len(architectures) > 0 && architectures[0] != "" {
		return architectures[0]
	}
	var modelType string
	if json.Unmarshal(c["model_type"], &modelType) == nil && modelType != "" {
		return modelType
	}
	if text := c.textConfig(); text != nil {
		return text.architecture()
	}
	return ""
}

func (c modelConfig) contextLength() int {
	for _, key := range []string{"max_position_embeddings", "max_sequence_length", "n_positions", "seq_length"} {
		if n := c.number(key); n > 0 {
			return int(n)
		}
	}
	// Vision-language models keep the language model's settings apart.
	if text := c.textConfig(); text != nil {
		return text.contextLength()
	}
	return 0
}

func (c modelConfig) textConfig() modelConfig {
	var text modelConfig
	if json.Unmarshal(c["text_config"], &text) != nil || len(text) == 0 {
		return nil
	}
	return text
}

func (c modelConfig) number(key string) float64 {
	var n float64
	if json.Unmarshal(c[key], &n) != nil {
		return 0
	}
	return n
}

// quantSettings is mlx-lm's "quantization" block: default bits and group
// size, plus per-module overrides for mixed-precision conversions
// ("lm_head": {"bits": 8, "group_size": 64}).
type quantSettings struct {
	bits, groupSize int
	overrides       map[string]int // module path → bits
}

func (c modelConfig) quantization() quantSettings {
	for _, key := range []string{"quantization", "quantization_config"} {
		var block map[string]json.RawMessage
		if json.Unmarshal(c[key], &block) != nil {
			continue
		}
		settings := modelConfig(block)
		q := quantSettings{bits: int(settings.number("bits")), groupSize: int(settings.number("group_size"))}
		if q.bits <= 0 {
			continue
		}
		for module, raw := range block {
			var override modelConfig
			if json.Unmarshal(raw, &override) == nil {
				if bits := int(override.number("bits")); bits > 0 {
					if q.overrides == nil {
						q.overrides = map[string]int{}
					}
					q.overrides[module] = bits
				}
			}
		}
		return q
	}
	return quantSettings{}
}

func (q quantSettings) bitsFor(module string) int {
	if bits, ok := q.overrides[module]; ok {
		return bits
	}
	return q.bits
}

type tensorHeader struct {
	Dtype string  `json:"dtype"`
	Shape []int64 `json:"shape"`
}

func (t tensorHeader) elements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		if d < 0 {
			return 0
		}
		n *= d
	}
	return n
}

// readSafetensorsHeader reads only the header: an 8-byte little-endian
// length, then that many bytes of JSON mapping tensor names to dtype,
// shape and data offsets ("__metadata__" aside).
func readSafetensorsHeader(path string) (map[string]tensorHeader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", ProblemUnreadable, path, err)
	}
	defer f.Close()
	var lengthBytes [8]byte
	if _, err := io.ReadFull(f, lengthBytes[:]); err != nil {
		return nil, fmt.Errorf("%s is not a safetensors file (too short): %v", path, err)
	}
	length := binary.LittleEndian.Uint64(lengthBytes[:])
	if length == 0 || length > maxHeaderBytes {
		return nil, fmt.Errorf("%s is not a safetensors file (header length %d)", path, length)
	}
	raw := make([]byte, length)
	if _, err := io.ReadFull(f, raw); err != nil {
		return nil, fmt.Errorf("%s is cut short inside its safetensors header (download again): %v", path, err)
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("%s has a damaged safetensors header: %v", path, err)
	}
	tensors := make(map[string]tensorHeader, len(entries))
	for name, entry := range entries {
		if name == "__metadata__" {
			continue
		}
		var t tensorHeader
		if err := json.Unmarshal(entry, &t); err != nil {
			return nil, fmt.Errorf("%s has a damaged safetensors header (tensor %s): %v", path, name, err)
		}
		tensors[name] = t
	}
	return tensors, nil
}

// countParameters returns the logical parameter count and the raw element
// count. mlx-lm packs quantised weights into uint32 words (32/bits values
// each) and stores "<module>.scales" and "<module>.biases" beside
// "<module>.weight"; those two are quantisation data, not parameters.
func countParameters(tensors map[string]tensorHeader, quant quantSettings) (logical, stored int64) {
	for name, t := range tensors {
		n := t.elements()
		stored += n
		if quant.bits <= 0 {
			logical += n
			continue
		}
		if module, ok := quantCompanionOf(name); ok {
			if w, ok := tensors[module+".weight"]; ok && w.Dtype == "U32" {
				continue
			}
		}
		if t.Dtype == "U32" {
			module := strings.TrimSuffix(name, ".weight")
			logical += n * 32 / int64(quant.bitsFor(module))
			continue
		}
		logical += n
	}
	return logical, stored
}

func quantCompanionOf(name string) (module string, ok bool) {
	if module, ok := strings.CutSuffix(name, ".scales"); ok {
		return module, true
	}
	return strings.CutSuffix(name, ".biases")
}

// ramGB is the weights plus 20% for the KV cache and runtime, in decimal
// GB rounded up (decimal overestimates a little against the GiB Macs are
// sold with, which errs on the safe side).
func ramGB(weightBytes int64) int {
	if weightBytes <= 0 {
		return 0
	}
	const tenGB = 10 * 1_000_000_000
	return int((weightBytes*12 + tenGB - 1) / tenGB)
}

// recommendation names the smallest Mac memory size that covers needGB.
// The tiers are the prototype's table (8 GB → 1–3B models, 16 GB → 3–7B,
// 24 GB → 7–14B, 32 GB and up → 14B+), continued with the larger sizes
// Macs are sold with.
func recommendation(needGB int) string {
	if needGB <= 0 {
		return ""
	}
	for _, tier := range []int{8, 16, 24, 32, 36, 48, 64, 96, 128, 192, 256, 512} {
		if needGB <= tier {
			return fmt.Sprintf("needs about %d GB: a Mac with %d GB or more", needGB, tier)
		}
	}
	return fmt.Sprintf("needs about %d GB: more memory than any Mac has; choose a smaller or more strongly quantised model", needGB)
}
