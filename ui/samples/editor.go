package samples

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"cicdllm/ui/common"
)

// editorArgv returns the user's editor command: $VISUAL, then $EDITOR
// (either may carry arguments, as in "code --wait"), else the system's
// plain editor.
func editorArgv() []string {
	for _, env := range []string{"VISUAL", "EDITOR"} {
		if f := strings.Fields(os.Getenv(env)); len(f) > 0 {
			return f
		}
	}
	if runtime.GOOS == "windows" {
		return []string{"notepad"}
	}
	return []string{"vi"}
}

// startExternalEdit writes the turn to a temporary file (in a Cmd: it is
// I/O), then Update hands the terminal to the editor.
func (d Detail) startExternalEdit(question bool) (Detail, tea.Cmd) {
	e, err := d.editTarget(question)
	if err != nil {
		return d, common.Flash(err.Error())
	}
	return d, func() tea.Msg {
		msg := editorReadyMsg{edit: e, argv: editorArgv()}
		f, err := os.CreateTemp("", fmt.Sprintf("cicdllm-sample-%d-%s-*.md", e.id, e.what))
		if err != nil {
			msg.err = fmt.Errorf("cannot create a file for the editor: %w", err)
			return msg
		}
		msg.path = f.Name()
		text := e.orig
		if !strings.HasSuffix(text, "\n") {
			text += "\n" // editors expect it, and most add it anyway
		}
		_, err = f.WriteString(text)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(msg.path)
			msg.err = fmt.Errorf("cannot write the file for the editor: %w", err)
		}
		return msg
	}
}

// finishExternalEdit reads the edited file back and saves it when the
// editor exited cleanly and the text changed.
func (d Detail) finishExternalEdit(msg editorDoneMsg) tea.Cmd {
	st := d.ctx.Store
	return func() tea.Msg {
		e := msg.edit
		defer os.Remove(msg.path)
		res := actionResult{id: e.id}
		if msg.err != nil {
			res.err = fmt.Errorf("the editor did not exit cleanly (%v); the %s was not saved", msg.err, e.what)
			return detailActionMsg{actionResult: res}
		}
		b, err := os.ReadFile(msg.path)
		if err != nil {
			res.err = fmt.Errorf("cannot read the edited %s back: %w", e.what, err)
			return detailActionMsg{actionResult: res}
		}
		text := string(b)
		if !strings.HasSuffix(e.orig, "\n") {
			text = strings.TrimSuffix(strings.TrimSuffix(text, "\n"), "\r")
		}
		if text == e.orig {
			res.flash, res.unchanged = "no changes", true
			return detailActionMsg{actionResult: res}
		}
		res.err = st.EditTurn(context.Background(), e.id, e.turn, text)
		res.flash = e.what + " saved"
		return detailActionMsg{actionResult: res}
	}
}
