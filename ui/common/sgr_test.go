package common

import (
	"slices"
	"testing"
)

func TestSplitSGR(t *testing.T) {
	for _, c := range []struct {
		params          string
		colours, others []string
	}{
		{"1;31", []string{"31"}, []string{"1"}},
		{"38;5;12;7", []string{"38;5;12"}, []string{"7"}},
		{"48;2;1;2;3;2", []string{"48;2;1;2;3"}, []string{"2"}},
		{"38:5:12;4", []string{"38:5:12"}, []string{"4"}},
		{"39;49;0", []string{"39", "49"}, []string{"0"}},
		{"97;107;22", []string{"97", "107"}, []string{"22"}},
		{"38;5", []string{"38;5"}, nil}, // cut short: still a colour, never read past the end
		{"", nil, []string{""}},
	} {
		colours, others := SplitSGR(c.params)
		if !slices.Equal(colours, c.colours) || !slices.Equal(others, c.others) {
			t.Errorf("SplitSGR(%q) = %q, %q; want %q, %q", c.params, colours, others, c.colours, c.others)
		}
	}
}
