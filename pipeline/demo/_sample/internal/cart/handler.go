package cart

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// Handler serves GET /carts/{id} and POST /carts/{id}/items.
func Handler(s *Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, "/carts/")
		id, sub, _ := strings.Cut(rest, "/")
		switch {
		case r.Method == http.MethodGet && sub == "":
			c, err := s.Get(id)
			if errors.Is(err, ErrNotFound) {
				http.Error(w, err.Error(), http.StatusNotFound)
				return
			}
			writeJSON(w, map[string]any{"cart": c, "total_cents": c.Total()})
		case r.Method == http.MethodPost && sub == "items":
			var it Item
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&it); err != nil {
				http.Error(w, "bad item: "+err.Error(), http.StatusBadRequest)
				return
			}
			if it.Quantity <= 0 || it.SKU == "" {
				http.Error(w, "sku and a positive quantity are required", http.StatusBadRequest)
				return
			}
			writeJSON(w, s.Add(id, it))
		default:
			http.Error(w, "not found", http.StatusNotFound)
		}
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
