package train

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipeml/pipe/cache"
	"github.com/pipeml/pipe/train/traintest"
)

const childEnv = "PIPE_TRAIN_TEST_CHILD"

// childMain trains in a child process (for the SIGKILL test): config,
// cache and output directory come from the environment; every step sleeps
// a little so that the parent can kill it mid-epoch.
func childMain() int {
	var cfg Config
	if err := json.Unmarshal([]byte(os.Getenv(childEnv+"_CONFIG")), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cdir, dir := os.Getenv(childEnv+"_CACHE"), os.Getenv(childEnv+"_DIR")
	ds, err := cache.OpenDataset(cdir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	opt := Options{Net: traintest.NewLogistic(len(ds.Channels()), 8, 0.1, 3), Dataset: ds, CacheDir: cdir, Dir: dir, Key: "test",
		OnStep: func(StepInfo) { time.Sleep(40 * time.Millisecond) }}
	if _, err := Run(context.Background(), cfg, opt); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func fileBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// compareRuns checks that two output directories hold identical
// metrics.jsonl, summary.json and final checkpoint files.
func compareRuns(t *testing.T, a, b string, epochs int) {
	t.Helper()
	files := []string{MetricsFile, SummaryFile}
	for _, f := range []string{WeightsFile, OptimFile, StateFile} {
		files = append(files, filepath.Join(CheckpointsDir, fmt.Sprintf("epoch-%04d", epochs), f))
	}
	for _, f := range files {
		x, y := fileBytes(t, filepath.Join(a, f)), fileBytes(t, filepath.Join(b, f))
		if f == SummaryFile {
			x, y = bytes.ReplaceAll(x, []byte(a), nil), bytes.ReplaceAll(y, []byte(b), nil)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between the runs (%d vs %d bytes)", f, len(x), len(y))
		}
	}
}

func resumeConfig() Config {
	c := smallConfig()
	c.CheckpointEverySteps = 2
	return c
}

func TestDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		if _, err := runTraining(t, resumeConfig(), d, nil); err != nil {
			t.Fatal(err)
		}
	}
	compareRuns(t, a, b, 3)
}

// TestResumeAfterSIGKILL kills a training child process mid-epoch, right
// after a mid-epoch checkpoint, resumes it and compares everything with an
// uninterrupted run.
func TestResumeAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	cfg := resumeConfig()
	ref := t.TempDir()
	sum, err := runTraining(t, cfg, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cj, _ := json.Marshal(cfg)
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childEnv+"_CONFIG="+string(cj), childEnv+"_CACHE="+testCache(t), childEnv+"_DIR="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Kill once a mid-epoch checkpoint of the second epoch exists and the
	// child has logged more steps after it.
	target := int64(sum.StepsPerEpoch + 2)
	deadline := time.Now().Add(60 * time.Second)
	killed := false
	for !killed {
		select {
		case err := <-done:
			t.Fatalf("child finished before it could be killed (%v): %s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no mid-epoch checkpoint at step >= %d within 60 s: %s", target, stderr.String())
		}
		ents, _ := os.ReadDir(filepath.Join(dir, CheckpointsDir))
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), "step-") {
				continue
			}
			st, err := ReadState(filepath.Join(dir, CheckpointsDir, e.Name()))
			if err != nil || st.GlobalStep < target {
				continue
			}
			fi, err := os.Stat(filepath.Join(dir, MetricsFile))
			if err == nil && fi.Size() > st.MetricsBytes {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
				t.Logf("killed after checkpoint %s (global step %d of %d per epoch)", e.Name(), st.GlobalStep, sum.StepsPerEpoch)
			}
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	<-done
	if _, err := os.Stat(filepath.Join(dir, SummaryFile)); err == nil {
		t.Fatal("the child finished before the kill")
	}
	var log bytes.Buffer
	if _, err := runTraining(t, cfg, dir, func(o *Options) { o.Log = &log }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "resuming from checkpoint step-") {
		t.Errorf("the rerun did not resume mid-epoch:\n%s", log.String())
	}
	compareRuns(t, ref, dir, 3)
}
