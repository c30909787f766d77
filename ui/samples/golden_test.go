package samples

import (
	"fmt"
	"testing"

	"github.com/charmbracelet/x/exp/golden"

	"cicdllm/store"
)

func TestBrowserGolden(t *testing.T) {
	f := newFixture(t, 30)
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			d := f.browser(t, size[0], size[1])
			d.press("j", "j")
			golden.RequireEqual(t, []byte(d.m.View()))
		})
	}
}

func TestBrowserSearchGolden(t *testing.T) {
	f := newFixture(t, 30)
	d := f.browser(t, 100, 16)
	d.press("/")
	d.typeText("zebra encoded")
	d.press("enter")
	d.noErrors()
	golden.RequireEqual(t, []byte(d.m.View()))
}

func TestDetailGolden(t *testing.T) {
	f := newFixture(t, 30)
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			d := f.detail(t, size[0], size[1], f.ids[0], store.SampleQuery{Desc: true, Search: "handler"})
			golden.RequireEqual(t, []byte(d.m.View()))
		})
	}
}
