package common

import (
	"strconv"
	"strings"
)

// SplitSGR splits the parameters of one SGR sequence (what stands between
// "ESC [" and "m") into colour settings and everything else (bold, faint,
// reverse, resets...). A colour setting is 30–37, 38;5;n or 38;2;r;g;b
// (and their ':' forms), 39, 40–47, 48;…, 49, 58;…, 59, 90–97 or 100–107;
// an extended one is returned as one element, e.g. "38;5;12". The frame
// filter uses it to honour NO_COLOR, and the tests to prove it did.
func SplitSGR(params string) (colours, others []string) {
	ps := strings.Split(params, ";")
	for i := 0; i < len(ps); i++ {
		head, _, colon := strings.Cut(ps[i], ":")
		n, err := strconv.Atoi(head)
		switch {
		case err != nil:
			others = append(others, ps[i])
		case n == 38 || n == 48 || n == 58:
			end := i + 1
			if !colon && i+1 < len(ps) {
				switch ps[i+1] {
				case "5":
					end = i + 3
				case "2":
					end = i + 5
				}
			}
			end = min(end, len(ps))
			colours = append(colours, strings.Join(ps[i:end], ";"))
			i = end - 1
		case IsColourSGR(n):
			colours = append(colours, ps[i])
		default:
			others = append(others, ps[i])
		}
	}
	return colours, others
}

// IsColourSGR reports whether SGR parameter n sets or resets a colour.
func IsColourSGR(n int) bool {
	return n >= 30 && n <= 49 || n == 58 || n == 59 || n >= 90 && n <= 97 || n >= 100 && n <= 107
}
