package pipeline

import (
	"errors"
	"fmt"

	"github.com/distatus/battery"
)

// PowerState is what the battery watcher and the status screens need to
// know about the machine's power.
type PowerState struct {
	HasBattery bool
	Charging   bool    // on AC power (charging, full or idle)
	Percent    float64 // 0-100, combined over all batteries
}

func (p PowerState) String() string {
	switch {
	case !p.HasBattery:
		return "no battery (on AC power)"
	case p.Charging:
		return fmt.Sprintf("%.0f%% (on AC power)", p.Percent)
	}
	return fmt.Sprintf("%.0f%% (discharging)", p.Percent)
}

// ReadPower reads the batteries. A machine without one (desktop, VM, CI)
// reports HasBattery false and no error: it is always treated as on AC.
func ReadPower() (PowerState, error) {
	bats, err := battery.GetAll()
	return powerFrom(bats, err)
}

// powerFrom turns distatus/battery results into a PowerState. Partial
// reads are used when the fields we need came through; the library's error
// types have no Unwrap, hence errors.As on the concrete types.
func powerFrom(bats []*battery.Battery, err error) (PowerState, error) {
	var fatal battery.ErrFatal
	if errors.As(err, &fatal) {
		if fatal.Err == battery.ErrNotFound {
			return PowerState{}, nil
		}
		return PowerState{}, fmt.Errorf("read battery: %w", fatal.Err)
	}
	var full, current float64
	state := PowerState{Charging: true}
	var errs battery.Errors
	errors.As(err, &errs)
	for i, b := range bats {
		if b == nil {
			continue
		}
		if i < len(errs) && errs[i] != nil {
			var partial battery.ErrPartial
			if !errors.As(errs[i], &partial) || partial.Current != nil || partial.Full != nil || partial.State != nil {
				continue
			}
		}
		state.HasBattery = true
		full += b.Full
		current += b.Current
		if b.State.Raw == battery.Discharging || b.State.Raw == battery.Empty {
			state.Charging = false
		}
	}
	if !state.HasBattery {
		return PowerState{}, nil
	}
	if full > 0 {
		state.Percent = min(100, 100*current/full)
	}
	return state, nil
}
