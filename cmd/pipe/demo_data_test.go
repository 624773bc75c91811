package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipeml/pipe/eeg/tusz"
)

func TestDemoDataCmd(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"demo-data", "--out", out, "--patients", "3", "--minutes", "0.5", "--seed", "4"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	c, err := tusz.Walk(out, nil)
	if err != nil || len(c.Recordings) != 6 || len(c.Problems) > 0 {
		t.Fatalf("walk: %v, %d recordings, problems %v", err, len(c.Recordings), c.Problems)
	}
	if !strings.Contains(stdout.String(), "6 recordings (6 written, 0 kept)") {
		t.Errorf("stdout %q", stdout.String())
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"demo-data"}, "--out is required"},
		{[]string{"demo-data", "--out", out, "--patients", "2"}, "at least 3"},
		{[]string{"demo-data", "--out", out, "--minutes", "0"}, "minutes per recording"},
	} {
		stderr.Reset()
		if code := run(tc.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}
