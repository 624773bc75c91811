package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestVersionAndUsageErrors(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"version"}, 0, "pipe "},
		{[]string{"no-such-command"}, 2, "unknown command"},
		{[]string{"version", "--no-such-flag"}, 2, "unknown flag"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(tt.args, &out, &errb)
		if code != tt.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tt.args, code, tt.code, errb.String())
		}
		if !strings.Contains(out.String()+errb.String(), tt.contains) {
			t.Errorf("%v: output %q lacks %q", tt.args, out.String()+errb.String(), tt.contains)
		}
	}
}
