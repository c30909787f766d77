package samples

import (
	"context"
	"fmt"

	tea "github.com/charmbracelet/bubbletea"

	"cicdllm/store"
	"cicdllm/ui/common"
)

// undoAction is what u puts back: deleted samples to restore, or ratings
// to set again. Both screens keep their own short stack of them.
type undoAction struct {
	restore []int64
	ratings []store.RatingChange
}

// maxUndo bounds the undo stack; older actions can still be undone one by
// one from the sample view (restore, undo edit).
const maxUndo = 20

// actionResult is what every change command returns: the message for the
// status bar, the undo to remember, and the error if it failed. The
// Browser and the Detail wrap it in their own message types, because the
// root hands every message to every screen.
type actionResult struct {
	id    int64 // the sample changed, 0 for a bulk change
	flash string
	undo  *undoAction // remember on success
	// retry is an undo that was taken off the stack to run; on failure
	// it goes back so the user can try again.
	retry *undoAction
	// unchanged: nothing was written (an edit that changed no text), so
	// there is nothing to announce but the flash.
	unchanged bool
	err       error
}

// changed is what a screen returns after a successful change: announce it
// (every screen reloads on SampleChangedMsg, the one that made it too)
// and show the flash.
func (r actionResult) changed() tea.Cmd {
	if r.unchanged {
		return common.Flash(r.flash)
	}
	id := r.id
	return tea.Batch(
		func() tea.Msg { return common.SampleChangedMsg{ID: id} },
		common.Flash(r.flash),
	)
}

func runUndo(st *store.Store, u undoAction) actionResult {
	ctx := context.Background()
	res := actionResult{retry: &u}
	switch {
	case len(u.restore) > 0:
		res.err = st.RestoreSamples(ctx, u.restore)
		res.flash = "restored " + common.Plural(len(u.restore), "sample", "samples")
		if len(u.restore) == 1 {
			res.id = u.restore[0]
		}
	case len(u.ratings) > 0:
		res.err = st.RestoreRatings(ctx, u.ratings)
		if len(u.ratings) == 1 {
			res.id = u.ratings[0].ID
			res.flash = "rating restored"
		} else {
			res.flash = "ratings of " + common.Plural(len(u.ratings), "sample", "samples") + " restored"
		}
	default:
		res.flash, res.unchanged = "nothing to undo", true
	}
	return res
}

func rateFlash(r int) string {
	if r == 0 {
		return "rating cleared"
	}
	return fmt.Sprintf("rated %d", r)
}

func pushUndo(stack []undoAction, u undoAction) []undoAction {
	stack = append(stack, u)
	if len(stack) > maxUndo {
		stack = stack[len(stack)-maxUndo:]
	}
	return stack
}
