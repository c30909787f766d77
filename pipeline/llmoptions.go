package pipeline

import (
	"fmt"
	"log/slog"
	"time"

	"cicdllm/llm"
)

// LLMOptions turns the [llm] section into client options. The API key is
// read from the environment variable llm.api_key_env names; naming a
// variable that is unset is an error, so a typo does not silently send
// unauthenticated requests.
func (c *Config) LLMOptions(lookupEnv func(string) (string, bool), log *slog.Logger, onBreaker func(llm.BreakerEvent)) (llm.Options, error) {
	o := llm.Options{
		BaseURL:            c.LLM.BaseURL,
		Model:              c.LLM.Model,
		Backend:            c.LLM.Backend,
		StructuredOutput:   c.LLM.StructuredOutput,
		ConnectTimeout:     c.LLM.ConnectTimeout.Std(),
		FirstTokenTimeout:  c.LLM.FirstTokenTimeout.Std(),
		IdleTimeout:        c.LLM.IdleTimeout.Std(),
		RequestTimeout:     c.LLM.RequestTimeout.Std(),
		MaxRetries:         c.LLM.MaxRetries,
		RetryMaxDelay:      c.LLM.RetryMaxDelay.Std(),
		MaxRetryAfter:      c.LLM.MaxRetryAfter.Std(),
		BreakerThreshold:   c.LLM.BreakerThreshold,
		BreakerCooldown:    c.LLM.BreakerCooldown.Std(),
		BreakerMaxCooldown: max(5*time.Minute, c.LLM.BreakerCooldown.Std()),
		OnBreaker:          onBreaker,
		Logger:             log,
	}
	if name := c.LLM.APIKeyEnv; name != "" {
		key, ok := lookupEnv(name)
		if !ok || key == "" {
			return o, fmt.Errorf("llm.api_key_env names %s, but that environment variable is not set; export it or clear llm.api_key_env", name)
		}
		o.APIKey = key
	}
	return o, nil
}
