// Command shop serves a tiny shopping-cart API.
package main

import (
	"log"
	"net/http"
	"os"
	"time"

	"example.com/shop/internal/cart"
)

func main() {
	addr := os.Getenv("SHOP_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	carts := cart.NewStore()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.Handle("/carts/", cart.Handler(carts))
	srv := &http.Server{
		Addr:              addr,
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
	}
	log.Printf("listening on %s", addr)
	log.Fatal(srv.ListenAndServe())
}
