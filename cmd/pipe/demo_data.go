package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pipeml/pipe/demo"
)

func newDemoDataCmd(g *globals) *cobra.Command {
	cfg := demo.DefaultConfig()
	patients := cfg.Patients.Total()
	cmd := &cobra.Command{
		Use:   "demo-data --out DIR [--patients N] [--minutes M] [--seed S]",
		Short: "Write a deterministic TUSZ-layout tree of synthetic EEG with seizures",
		Long: `Write a TUSZ-layout tree (DIR/{train,dev,eval}/<patient>/<session>/<montage>/
<patient>_<session>_<token>.edf with a .csv_bi beside each) of synthetic EEG:
1/f background with alpha rhythm, eye, muscle and movement artefacts, and
evolving seizures annotated as seiz. The same flags give byte-identical files.
A rerun into the same DIR with the same flags keeps the complete files.

--patients N is divided between train, dev and eval as 12:6:4 (each at least
one). The defaults make the demo corpus of the example pipelines: 22 patients,
2 recordings of 10 minutes each (7.3 recording-hours).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Out == "" {
				return usageErr(fmt.Errorf("demo-data: --out is required"))
			}
			pc, err := demo.SplitPatients(patients)
			if err != nil {
				return usageErr(err)
			}
			cfg.Patients = pc
			if err := cfg.Validate(); err != nil {
				return usageErr(err)
			}
			if _, err := demo.Generate(cmd.Context(), cfg, nil, g.stdout); err != nil {
				return stageErr(err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Out, "out", "", "output directory (the TUSZ root)")
	f.IntVar(&patients, "patients", patients, "number of patients, divided 12:6:4 between train, dev and eval")
	f.IntVar(&cfg.Recordings, "recordings", cfg.Recordings, "recordings per patient")
	f.Float64Var(&cfg.Minutes, "minutes", cfg.Minutes, "minutes per recording")
	f.Float64Var(&cfg.SeizureRate, "seizure-rate", cfg.SeizureRate, "mean seizures per recording-hour")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed: the same seed gives the same files")
	f.IntVar(&cfg.Workers, "workers", 0, "files written at once (default: all cores; does not change the output)")
	return cmd
}
