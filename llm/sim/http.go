package sim

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"io"
	"net/http"
	"strconv"
)

const (
	systemFingerprint = "b0-sim"
	maxBodyBytes      = 64 << 20
	chatMLTemplate    = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	post := r.Method == http.MethodPost
	switch r.URL.Path {
	case "/health", "/v1/health":
		if get {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
			return
		}
	case "/v1/models", "/models":
		if get {
			writeJSON(w, http.StatusOK, s.models())
			return
		}
	case "/props":
		if get {
			writeJSON(w, http.StatusOK, s.props())
			return
		}
	case "/slots":
		if get {
			writeJSON(w, http.StatusOK, s.slotViews())
			return
		}
	case "/metrics":
		if get {
			writeError(w, http.StatusNotImplemented, "This server does not support metrics endpoint. Start it with `--metrics`", "not_supported_error")
			return
		}
	case "/tokenize":
		if post {
			s.handleTokenize(w, r)
			return
		}
	case "/v1/chat/completions", "/chat/completions":
		if post {
			s.handleChat(w, r)
			return
		}
	}
	writeError(w, http.StatusNotFound, "File Not Found", "not_found_error")
}

// --- errors -----------------------------------------------------------------

type apiError struct {
	Code          int    `json:"code"`
	Message       string `json:"message"`
	Type          string `json:"type"`
	NPromptTokens *int   `json:"n_prompt_tokens,omitempty"`
	NCtx          *int   `json:"n_ctx,omitempty"`
}

type errorBody struct {
	Error apiError `json:"error"`
}

func errBody(code int, msg, typ string) errorBody {
	return errorBody{Error: apiError{Code: code, Message: msg, Type: typ}}
}

// ctxOverflowMessage is llama-server's text for a prompt that does not fit.
const ctxOverflowMessage = "the request exceeds the available context size. try increasing the context size or enable context shift"

func ctxOverflowBody(nPrompt, nCtx int) errorBody {
	b := errBody(http.StatusBadRequest, ctxOverflowMessage, "exceed_context_size_error")
	b.Error.NPromptTokens = &nPrompt
	b.Error.NCtx = &nCtx
	return b
}

func writeError(w http.ResponseWriter, code int, msg, typ string) {
	writeJSON(w, code, errBody(code, msg, typ))
}

// --- encoding ---------------------------------------------------------------

// marshal encodes v compactly without HTML escaping (like nlohmann::json).
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte(`{"error":{"code":500,"message":"sim: encoding failed","type":"server_error"}}`)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func setJSONHeaders(w http.ResponseWriter, n int) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(n))
	h.Set("Server", "llama.cpp")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	body := marshal(v)
	setJSONHeaders(w, len(body))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// --- info endpoints -----------------------------------------------------------

type modelsResp struct {
	Models []ollamaModel `json:"models"`
	Object string        `json:"object"`
	Data   []oaiModel    `json:"data"`
}

type ollamaModel struct {
	Name         string        `json:"name"`
	Model        string        `json:"model"`
	ModifiedAt   string        `json:"modified_at"`
	Size         string        `json:"size"`
	Digest       string        `json:"digest"`
	Type         string        `json:"type"`
	Description  string        `json:"description"`
	Tags         []string      `json:"tags"`
	Capabilities []string      `json:"capabilities"`
	Parameters   string        `json:"parameters"`
	Details      ollamaDetails `json:"details"`
}

type ollamaDetails struct {
	ParentModel       string   `json:"parent_model"`
	Format            string   `json:"format"`
	Family            string   `json:"family"`
	Families          []string `json:"families"`
	ParameterSize     string   `json:"parameter_size"`
	QuantizationLevel string   `json:"quantization_level"`
}

type oaiModel struct {
	ID      string    `json:"id"`
	Object  string    `json:"object"`
	Created int64     `json:"created"`
	OwnedBy string    `json:"owned_by"`
	Meta    modelMeta `json:"meta"`
}

type modelMeta struct {
	VocabType int   `json:"vocab_type"`
	NVocab    int   `json:"n_vocab"`
	NCtxTrain int   `json:"n_ctx_train"`
	NEmbd     int   `json:"n_embd"`
	NParams   int64 `json:"n_params"`
	Size      int64 `json:"size"`
}

func (s *Server) models() modelsResp {
	m := s.cfg.Model
	return modelsResp{
		Models: []ollamaModel{{
			Name: m, Model: m, Type: "model", Tags: []string{""}, Capabilities: []string{"completion"},
			Details: ollamaDetails{Format: "gguf", Families: []string{""}},
		}},
		Object: "list",
		Data: []oaiModel{{
			ID: m, Object: "model", Created: s.created, OwnedBy: "llamacpp",
			Meta: modelMeta{
				VocabType: 2, NVocab: 32000, NCtxTrain: s.cfg.ContextSize * s.cfg.Slots,
				NEmbd: 4096, NParams: 7_241_732_096, Size: 4_368_439_296,
			},
		}},
	}
}

type propsResp struct {
	DefaultGenerationSettings genSettings     `json:"default_generation_settings"`
	TotalSlots                int             `json:"total_slots"`
	ModelPath                 string          `json:"model_path"`
	ChatTemplate              string          `json:"chat_template"`
	Modalities                map[string]bool `json:"modalities"`
	BuildInfo                 string          `json:"build_info"`
	IsSleeping                bool            `json:"is_sleeping"`
}

type genSettings struct {
	NCtx   int            `json:"n_ctx"`
	Params generationDefs `json:"params"`
}

type generationDefs struct {
	NPredict    int     `json:"n_predict"`
	Seed        int64   `json:"seed"`
	Temperature float64 `json:"temperature"`
	TopK        int     `json:"top_k"`
	TopP        float64 `json:"top_p"`
	MinP        float64 `json:"min_p"`
	Stream      bool    `json:"stream"`
	CachePrompt bool    `json:"cache_prompt"`
}

func (s *Server) props() propsResp {
	nCtx := s.cfg.ContextSize
	if !s.cfg.PropsNCtxPerSlot {
		nCtx *= s.cfg.Slots
	}
	return propsResp{
		DefaultGenerationSettings: genSettings{
			NCtx: nCtx,
			Params: generationDefs{
				NPredict: -1, Seed: -1, Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05,
				Stream: true, CachePrompt: true,
			},
		},
		TotalSlots:   s.cfg.Slots,
		ModelPath:    s.cfg.Model,
		ChatTemplate: chatMLTemplate,
		Modalities:   map[string]bool{"vision": false, "audio": false},
		BuildInfo:    "sim",
	}
}

// handleTokenize answers POST /tokenize {"content": "..."} with
// {"tokens": [...]}: CountTokens(content) fake token ids.
func (s *Server) handleTokenize(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "invalid_request_error")
		return
	}
	var req struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusInternalServerError, parseErrorMessage(body, err), "server_error")
		return
	}
	ids := make([]int, 0, CountTokens(req.Content))
	for i := 0; i < len(req.Content); i += bytesPerToken {
		h := fnv.New32a()
		_, _ = h.Write([]byte(req.Content[i:min(i+bytesPerToken, len(req.Content))]))
		ids = append(ids, int(h.Sum32()%32000))
	}
	writeJSON(w, http.StatusOK, map[string][]int{"tokens": ids})
}
