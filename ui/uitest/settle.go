// Package uitest holds what the UI packages' tests share: running a
// screen's commands synchronously, as Bubble Tea would, without a program.
package uitest

import (
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// Settle runs cmd, feeds the messages own accepts back into update
// (following tea.BatchMsg) and repeats for the commands that returns, until
// none is left. Messages drop accepts (endless ticks, cursor blinks) are
// discarded; every other message is for the root and is returned.
func Settle[M any](t testing.TB, m M, cmd tea.Cmd, update func(M, tea.Msg) (M, tea.Cmd),
	own, drop func(tea.Msg) bool) (M, []tea.Msg) {
	t.Helper()
	var out []tea.Msg
	queue := []tea.Cmd{cmd}
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 1000 {
			t.Fatal("commands keep coming")
		}
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		msg := c()
		switch {
		case msg == nil || drop(msg):
		case isBatch(msg):
			queue = append(queue, msg.(tea.BatchMsg)...)
		case own(msg):
			var next tea.Cmd
			m, next = update(m, msg)
			queue = append(queue, next)
		default:
			out = append(out, msg)
		}
	}
	return m, out
}

func isBatch(msg tea.Msg) bool {
	_, ok := msg.(tea.BatchMsg)
	return ok
}
