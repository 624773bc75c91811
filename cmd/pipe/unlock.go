package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pipeml/pipe/state"
)

func newUnlockCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "unlock",
		Short: "Remove the state's lock left by a pipe that is gone",
		Long: `Remove the lock file of the state directory (--state, default .pipe).
A lock left by a dead pipe on this host (its PID gone, or reused by a
program that does not hold the lock's flock) is taken over by the next pipe
run on its own; unlock is for the rest (a lock written on another host
sharing the directory, an unreadable lock file). It refuses while the holder
is a live pipe on this host.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info, err := state.Unlock(g.stateDir)
			if err != nil {
				return usageErr(fmt.Errorf("unlock: %w", err))
			}
			if info == nil {
				fmt.Fprintf(g.stdout, "%s: not locked\n", g.stateDir)
				return nil
			}
			fmt.Fprintf(g.stdout, "%s: removed the lock of pipe PID %d on %s (since %s)\n", g.stateDir, info.PID, info.Host,
				info.Start.Local().Format("2006-01-02 15:04:05"))
			return nil
		},
	}
}
