package llm

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeServer imitates one real server's discovery endpoints; routes not
// listed answer 404 like the real thing.
func fakeServer(t *testing.T, routes map[string]string, chat http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/chat/completions" && chat != nil {
			chat(w, r)
			return
		}
		body, ok := routes[r.Method+" "+r.URL.Path]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"code":404,"message":"File Not Found","type":"not_found_error"}}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func okChat(w http.ResponseWriter, r *http.Request) { jsonOK(`{"ok":true}`, "stop")(w, r) }

func llamaModels(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join("testdata", "llamacpp", "v1_models.json"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestProbeServers(t *testing.T) {
	cases := []struct {
		name    string
		routes  map[string]string
		backend string
		po      ProbeOptions
		want    ServerInfo
	}{
		{"llama.cpp", map[string]string{
			"GET /v1/models": llamaModels(t),
			"GET /props":     `{"default_generation_settings":{"n_ctx":8192},"total_slots":4,"model_path":"tiny.gguf"}`,
			"GET /slots":     `[{"id":0,"n_ctx":2048,"is_processing":false},{"id":1,"n_ctx":2048,"is_processing":false}]`,
			"GET /health":    `{"status":"ok"}`,
		}, "", ProbeOptions{}, ServerInfo{Kind: KindLlamaCpp, Model: "tiny", ContextSize: 2048, Slots: 4, StructuredOutput: ModeJSONSchema}},
		{"llama.cpp without /slots", map[string]string{
			"GET /v1/models": llamaModels(t),
			"GET /props":     `{"default_generation_settings":{"n_ctx":8192},"total_slots":4}`,
		}, "", ProbeOptions{}, ServerInfo{Kind: KindLlamaCpp, Model: "tiny", ContextSize: 2048, Slots: 4, StructuredOutput: ModeJSONSchema}},
		{"ollama", map[string]string{
			"GET /v1/models":   `{"object":"list","data":[{"id":"qwen2.5-coder:7b","object":"model","created":1,"owned_by":"library"},{"id":"llama3.2:latest","object":"model","created":1,"owned_by":"library"}]}`,
			"GET /api/version": `{"version":"0.12.3"}`,
			"POST /api/show":   `{"parameters":"num_ctx                        16384\nstop                           \"<|im_end|>\"","model_info":{"qwen2.context_length":32768}}`,
		}, "", ProbeOptions{}, ServerInfo{Kind: KindOllama, Model: "qwen2.5-coder:7b", ContextSize: 16384, Slots: DefaultSlots, StructuredOutput: ModeJSONSchema}},
		{"ollama without num_ctx", map[string]string{
			"GET /v1/models":   `{"object":"list","data":[{"id":"qwen2.5-coder:7b","object":"model","owned_by":"library"}]}`,
			"GET /api/version": `{"version":"0.12.3"}`,
			"POST /api/show":   `{"parameters":"stop \"<|im_end|>\""}`,
		}, "", ProbeOptions{}, ServerInfo{Kind: KindOllama, Model: "qwen2.5-coder:7b", ContextSize: DefaultContext, Slots: DefaultSlots, StructuredOutput: ModeJSONSchema}},
		{"vllm", map[string]string{
			"GET /v1/models": `{"object":"list","data":[{"id":"Qwen/Qwen2.5-Coder-7B-Instruct","object":"model","created":1,"owned_by":"vllm","root":"Qwen/Qwen2.5-Coder-7B-Instruct","max_model_len":32768}]}`,
			"GET /health":    ``,
		}, "", ProbeOptions{}, ServerInfo{Kind: KindVLLM, Model: "Qwen/Qwen2.5-Coder-7B-Instruct", ContextSize: 32768, Slots: DefaultSlots, StructuredOutput: ModeJSONSchema}},
		{"mlx_lm.server", map[string]string{
			"GET /v1/models": `{"object":"list","data":[{"id":"mlx-community/Qwen2.5-Coder-7B-Instruct-4bit","object":"model","created":1}]}`,
		}, "mlx", ProbeOptions{}, ServerInfo{Kind: KindMLX, Model: "mlx-community/Qwen2.5-Coder-7B-Instruct-4bit", ContextSize: DefaultContext, Slots: 1, StructuredOutput: ModeOff}},
		{"lm studio with overrides", map[string]string{
			"GET /v1/models": `{"object":"list","data":[{"id":"qwen2.5-coder-7b-instruct","object":"model","owned_by":"organization_owner"}]}`,
		}, "", ProbeOptions{ContextSize: 12000, Concurrency: 2}, ServerInfo{Kind: KindGeneric, Model: "qwen2.5-coder-7b-instruct", ContextSize: 12000, Slots: 2, StructuredOutput: ModeJSONSchema}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakeServer(t, tc.routes, okChat)
			c := testClient(t, srv.URL, func(o *Options) { o.Backend = tc.backend })
			got, err := c.Probe(context.Background(), tc.po)
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != tc.want.Kind || got.Model != tc.want.Model || got.ContextSize != tc.want.ContextSize ||
				got.Slots != tc.want.Slots || got.StructuredOutput != tc.want.StructuredOutput {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			if c.Model() != tc.want.Model {
				t.Errorf("client model %q", c.Model())
			}
		})
	}
}

func TestProbeFindsWorkingStructuredMode(t *testing.T) {
	var calls atomic.Int32
	srv := fakeServer(t, map[string]string{"GET /v1/models": `{"data":[{"id":"m"}]}`}, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var body struct {
			ResponseFormat struct{ Type string } `json:"response_format"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body.ResponseFormat.Type == "json_object" {
			okChat(w, r)
			return
		}
		w.WriteHeader(400)
		io.WriteString(w, `{"error":{"message":"'response_format.type' : value is not one of the allowed values ['json_object','text']","type":"invalid_request_error"}}`)
	})
	c := testClient(t, srv.URL)
	info, err := c.Probe(context.Background(), ProbeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.StructuredOutput != ModeJSONObject || c.StructuredMode() != ModeJSONObject || calls.Load() != 2 {
		t.Errorf("mode %s / client %s after %d calls", info.StructuredOutput, c.StructuredMode(), calls.Load())
	}
}

func TestProbeErrors(t *testing.T) {
	models := map[string]string{"GET /v1/models": `{"data":[{"id":"qwen"},{"id":"llama"}]}`}
	cases := []struct {
		name  string
		url   func() string
		model string
		want  []string
	}{
		{"missing model lists the available ones", func() string { return fakeServer(t, models, okChat).URL }, "gpt-9",
			[]string{`model "gpt-9" is not served by`, "available: qwen, llama", "llm.model"}},
		{"no models", func() string { return fakeServer(t, map[string]string{"GET /v1/models": `{"data":[]}`}, okChat).URL }, "",
			[]string{"lists no models"}},
		{"unauthorized", func() string {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) }))
			t.Cleanup(srv.Close)
			return srv.URL
		}, "", []string{"refused the request (401)", "llm.api_key_env"}},
		{"not an OpenAI server", func() string { return fakeServer(t, nil, nil).URL }, "",
			[]string{"has no /v1/models", "llm.base_url"}},
		{"unreachable", func() string {
			srv := httptest.NewServer(http.NotFoundHandler())
			u := srv.URL
			srv.Close()
			return u
		}, "", []string{"cannot reach the LLM server at", "llama-server -m model.gguf --port 8080", "llm.base_url"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testClient(t, tc.url(), func(o *Options) { o.Model = tc.model })
			_, err := c.Probe(context.Background(), ProbeOptions{})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestProbeWaitsForModelLoading(t *testing.T) {
	var health atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/models":
			io.WriteString(w, `{"data":[{"id":"m"}]}`)
		case "/props":
			io.WriteString(w, `{"default_generation_settings":{"n_ctx":4096},"total_slots":1}`)
		case "/health":
			if health.Add(1) < 2 {
				w.WriteHeader(503)
				io.WriteString(w, `{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}`)
				return
			}
			io.WriteString(w, `{"status":"ok"}`)
		case "/v1/chat/completions":
			okChat(w, r)
		default:
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()
	c := testClient(t, srv.URL)
	info, err := c.Probe(context.Background(), ProbeOptions{})
	if err != nil || info.ContextSize != 4096 || health.Load() < 2 {
		t.Fatalf("%+v %v (health checks %d)", info, err, health.Load())
	}
}
