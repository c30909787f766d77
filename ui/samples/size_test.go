package samples

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"cicdllm/store"
)

// checkSize fails unless view is exactly h lines, none wider than w.
func checkSize(t *testing.T, what, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Fatalf("%s at %dx%d: %d lines, want %d", what, w, h, len(lines), h)
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Fatalf("%s at %dx%d: line %d is %d wide: %q", what, w, h, i, lw, l)
		}
	}
}

// TestEverySize draws both components, in their main states, at every
// size from tiny to huge: no panic, exactly the area, nothing wider.
func TestEverySize(t *testing.T) {
	f := newFixture(t, 40)
	b := f.browser(t, 80, 24)
	b.press("j", "j", "j")
	searched := f.browser(t, 80, 24)
	searched.press("/")
	searched.typeText("zebra")
	searched.press("enter")
	searching := f.browser(t, 80, 24)
	searching.press("/")
	searching.typeText("a very long search text that goes on and on")
	form := f.browser(t, 80, 24)
	form.press("f")
	form.typeText("acme")
	confirm := f.browser(t, 80, 24)
	confirm.press("D")

	q := store.SampleQuery{Desc: true, Search: "handler"}
	d := f.detail(t, 80, 24, f.ids[4], q)
	editing := f.detail(t, 80, 24, f.ids[0], q)
	editing.press("i")
	missing := f.detail(t, 80, 24, 999999, q)

	browsers := map[string]Browser{"list": b.m, "search": searched.m, "search box": searching.m, "filter form": form.m, "confirm": confirm.m}
	details := map[string]Detail{"sample": d.m, "editor": editing.m, "missing": missing.m}
	for w := 20; w <= 200; w += 7 {
		for h := 5; h <= 60; h += 5 {
			for name, m := range browsers {
				m.SetSize(w, h)
				checkSize(t, "browser "+name, m.View(), w, h)
			}
			for name, m := range details {
				m.SetSize(w, h)
				checkSize(t, "detail "+name, m.View(), w, h)
			}
		}
	}
}
