package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Pauser is what the battery watcher controls (the Runner).
type Pauser interface {
	Pause()
	Resume()
}

// WatchBattery reads the battery every cfg.CheckInterval until ctx ends.
// Below cfg.Low percent while discharging it pauses p; once charging, or
// back at cfg.High, it resumes it. No battery (desktops, CI) never pauses.
// notify, if set, hears every decision, for the UI's status bar.
func WatchBattery(ctx context.Context, cfg BatteryConfig, read func() (PowerState, error), p Pauser, log *slog.Logger, notify func(PowerState, bool)) {
	if !cfg.Enabled {
		return
	}
	paused := false
	check := func() {
		st, err := read()
		if err != nil {
			log.Warn("battery unreadable; not pausing for it", "err", err)
			return
		}
		switch {
		case !paused && st.HasBattery && !st.Charging && st.Percent < float64(cfg.Low):
			paused = true
			log.Info(fmt.Sprintf("battery at %.0f%% (below %d%%): pausing until %d%% or a charger", st.Percent, cfg.Low, cfg.High))
			p.Pause()
		case paused && (!st.HasBattery || st.Charging || st.Percent >= float64(cfg.High)):
			paused = false
			log.Info("battery recovered: resuming", "percent", st.Percent, "charging", st.Charging)
			p.Resume()
		default:
			return
		}
		if notify != nil {
			notify(st, paused)
		}
	}
	check()
	t := time.NewTicker(max(cfg.CheckInterval.Std(), time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			check()
		}
	}
}
