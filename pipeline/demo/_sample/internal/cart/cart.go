// Package cart keeps shopping carts in memory.
package cart

import (
	"errors"
	"sync"
)

// ErrNotFound is returned for an unknown cart.
var ErrNotFound = errors.New("cart not found")

// Item is one line of a cart.
type Item struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
	Cents    int64  `json:"cents"` // unit price
}

// Cart is a customer's cart.
type Cart struct {
	ID    string `json:"id"`
	Items []Item `json:"items"`
}

// Total returns the cart's total in cents.
func (c *Cart) Total() int64 {
	var t int64
	for _, it := range c.Items {
		t += int64(it.Quantity) * it.Cents
	}
	return t
}

// Store holds carts; it is safe for concurrent use.
type Store struct {
	mu    sync.Mutex
	carts map[string]*Cart
}

// NewStore returns an empty store.
func NewStore() *Store { return &Store{carts: map[string]*Cart{}} }

// Add puts quantity units of an item into the cart, creating the cart.
func (s *Store) Add(id string, it Item) *Cart {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.carts[id]
	if !ok {
		c = &Cart{ID: id}
		s.carts[id] = c
	}
	for i := range c.Items {
		if c.Items[i].SKU == it.SKU {
			c.Items[i].Quantity += it.Quantity
			return c
		}
	}
	c.Items = append(c.Items, it)
	return c
}

// Get returns a copy of the cart.
func (s *Store) Get(id string) (Cart, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.carts[id]
	if !ok {
		return Cart{}, ErrNotFound
	}
	cp := *c
	cp.Items = append([]Item(nil), c.Items...)
	return cp, nil
}
