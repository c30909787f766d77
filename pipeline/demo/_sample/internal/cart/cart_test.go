package cart

import "testing"

func TestAddMergesSameSKU(t *testing.T) {
	s := NewStore()
	s.Add("a", Item{SKU: "tea", Quantity: 1, Cents: 350})
	c := s.Add("a", Item{SKU: "tea", Quantity: 2, Cents: 350})
	if len(c.Items) != 1 || c.Items[0].Quantity != 3 {
		t.Fatalf("items = %+v", c.Items)
	}
	if got := c.Total(); got != 1050 {
		t.Fatalf("total = %d", got)
	}
}
