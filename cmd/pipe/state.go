package main

import (
	"errors"
	"fmt"

	"github.com/pipeml/pipe/runner"
	"github.com/pipeml/pipe/state"
)

// stateHandle is an open state directory and the runner's view of it.
type stateHandle struct {
	db    *state.DB
	store runner.Store
}

// Close closes the database and releases the lock.
func (s *stateHandle) Close() error { return s.db.Close() }

// openState opens g.stateDir; lock takes the run lock (a second pipe run is
// refused at once, naming the holder); fsync selects state.SyncFull.
func openState(g *globals, lock, fsync bool) (*stateHandle, error) {
	mode := state.SyncBatch
	if fsync {
		mode = state.SyncFull
	}
	db, err := state.Open(g.stateDir, state.Options{
		Sync:     mode,
		ReadOnly: !lock,
		Warn:     func(msg string) { fmt.Fprintln(g.stderr, "warning:", msg) },
	})
	if err != nil {
		var locked *state.LockedError
		if errors.As(err, &locked) {
			return nil, usageErr(err)
		}
		return nil, usageErr(fmt.Errorf("state: %w", err))
	}
	return &stateHandle{db: db, store: runner.StateStore(db)}, nil
}
