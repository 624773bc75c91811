package runner

import (
	"io/fs"

	"github.com/pipeml/pipe/state"
)

// StateStore adapts a state database to the runner's Store.
func StateStore(db *state.DB) Store { return stateStore{db} }

type stateStore struct{ db *state.DB }

func fromState(a *state.Attempt) *Attempt {
	if a == nil {
		return nil
	}
	return &Attempt{
		RunID: a.Run, Stage: a.Stage, Attempt: a.Attempt, Status: Status(a.Status),
		Start: a.Start, End: a.End, ExitCode: a.ExitCode,
		Fingerprint: a.Fingerprint, Keys: a.Keys, Outputs: a.Outputs, Files: a.Files,
		Error: a.Error, Metrics: a.Metrics,
	}
}

// Latest implements Store.
func (s stateStore) Latest(stage string) (*Attempt, error) {
	a, err := s.db.Latest(stage)
	return fromState(a), err
}

// LatestAll implements BatchStore.
func (s stateStore) LatestAll(stages []string) ([]*Attempt, error) {
	all, err := s.db.LatestAll(stages)
	if err != nil {
		return nil, err
	}
	out := make([]*Attempt, len(all))
	for i, a := range all {
		out[i] = fromState(a)
	}
	return out, nil
}

// WarmDigests implements BatchStore.
func (s stateStore) WarmDigests() error { return s.db.WarmDigests() }

// LastSuccess implements Store.
func (s stateStore) LastSuccess(stage string) (*Attempt, error) {
	a, err := s.db.LastSuccess(stage)
	return fromState(a), err
}

// PutAttempt implements Store.
func (s stateStore) PutAttempt(a *Attempt) error {
	return s.db.PutAttempt(&state.Attempt{
		Run: a.RunID, Stage: a.Stage, Attempt: a.Attempt, Status: string(a.Status),
		Start: a.Start, End: a.End, ExitCode: a.ExitCode,
		Fingerprint: a.Fingerprint, Keys: a.Keys, Outputs: a.Outputs, Files: a.Files,
		Error: a.Error, Metrics: a.Metrics,
	})
}

// PutRun implements Store.
func (s stateStore) PutRun(r *RunRecord) error {
	return s.db.PutRun(&state.Run{ID: r.ID, Start: r.Start, End: r.End, Status: r.Status, Pipeline: r.Pipeline, Args: r.Args})
}

// LogPath implements Store.
func (s stateStore) LogPath(runID, stage string, attempt int) string {
	return s.db.LogPath(runID, stage, attempt)
}

// Digest implements Store.
func (s stateStore) Digest(path string) (string, error) { return s.db.Digest(path) }

// Keys implements Store.
func (s stateStore) Keys(fingerprint string) (map[string]string, error) {
	return s.db.Keys(fingerprint)
}

// Generation implements GenerationStore.
func (s stateStore) Generation() (string, error) { return s.db.Generation() }

// DigestSeen implements GenerationStore.
func (s stateStore) DigestSeen(path string, seen func(path string, follow bool, fi fs.FileInfo)) (string, error) {
	return s.db.DigestSeen(path, seen)
}
