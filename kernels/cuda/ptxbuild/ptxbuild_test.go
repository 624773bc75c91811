package ptxbuild

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dir is kernels/cuda, seen from this package's directory.
const dir = ".."

// TestCommittedPTXFresh fails when the committed PTX is stale against the
// .cu sources or the nvcc flags (CI runs it in the default build).
func TestCommittedPTXFresh(t *testing.T) {
	if err := Check(dir); err != nil {
		t.Fatal(err)
	}
}

// copyTree copies the files Check reads into a temporary kernels/cuda.
func copyTree(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	for _, sub := range []string{"src", "ptx", "emu"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(tmp, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(tmp, sub, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return tmp
}

func TestCheckDetectsStaleness(t *testing.T) {
	cases := []struct {
		name string
		edit func(t *testing.T, d string)
		want string
	}{
		{"source edited", func(t *testing.T, d string) {
			appendTo(t, filepath.Join(d, "src", "common.cuh"), "\n// changed\n")
		}, "CUDA sources changed"},
		{"source added", func(t *testing.T, d string) {
			if err := os.WriteFile(filepath.Join(d, "src", "extra.cu"), []byte("// new\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "CUDA sources changed"},
		{"ptx edited", func(t *testing.T, d string) {
			appendTo(t, filepath.Join(d, PTXFile(Archs()[0])), "\n// hand edit\n")
		}, "does not match its stamp"},
		{"ptx missing", func(t *testing.T, d string) {
			if err := os.Remove(filepath.Join(d, PTXFile(Archs()[1]))); err != nil {
				t.Fatal(err)
			}
		}, "committed PTX"},
		{"emulator hash stale", func(t *testing.T, d string) {
			appendTo(t, filepath.Join(d, EmuSourcesFile), "// edit\n")
		}, "emulator source hash"},
		{"stamp missing", func(t *testing.T, d string) {
			if err := os.Remove(filepath.Join(d, StampFile)); err != nil {
				t.Fatal(err)
			}
		}, "PTX stamp"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := copyTree(t)
			if err := Check(d); err != nil {
				t.Fatalf("fresh copy: %v", err)
			}
			tc.edit(t, d)
			err := Check(d)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want error containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "cuda:ptx") {
				t.Errorf("error %q does not say how to fix it", err)
			}
		})
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestStampRoundTrip(t *testing.T) {
	st := Stamp{Sources: "abc", Flags: flagsString(), NVCC: "Build x", PTX: map[string]string{"80": "1", "90": "2"}}
	got, err := ParseStamp("STAMP", st.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if got.Sources != st.Sources || got.Flags != st.Flags || got.NVCC != st.NVCC || got.PTX["80"] != "1" || got.PTX["90"] != "2" {
		t.Fatalf("round trip: got %+v, want %+v", got, st)
	}
	for _, bad := range []string{"sources\n", "bogus 1\nsources a\nflags b\n", "flags b\n"} {
		if _, err := ParseStamp("STAMP", []byte(bad)); err == nil {
			t.Errorf("ParseStamp(%q) accepted", bad)
		}
	}
}

// TestRecompileMatchesCommitted rebuilds the PTX with the nvcc on PATH and
// compares it byte for byte with the committed files. It needs the nvcc
// version that wrote the stamp (Debian's CUDA 11.8); it skips otherwise.
func TestRecompileMatchesCommitted(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not recompiling the PTX (about a minute of nvcc)")
	}
	nvcc, err := exec.LookPath("nvcc")
	if err != nil {
		t.Skip("nvcc not on PATH: install nvidia-cuda-toolkit (Debian non-free) to recompile the PTX")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ver, err := NVCCVersion(ctx, nvcc)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, StampFile))
	if err != nil {
		t.Fatal(err)
	}
	st, err := ParseStamp(StampFile, raw)
	if err != nil {
		t.Fatal(err)
	}
	if st.NVCC != ver {
		t.Skipf("nvcc is %q, the PTX was built by %q: outputs of different compilers are not comparable", ver, st.NVCC)
	}
	got, err := Compile(ctx, dir, nvcc, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range Archs() {
		want, err := os.ReadFile(filepath.Join(dir, PTXFile(a)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[a], want) {
			t.Errorf("sm_%s: nvcc output (%d bytes) differs from the committed %s (%d bytes); run `go tool task cuda:ptx`",
				a, len(got[a]), PTXFile(a), len(want))
		}
	}
}
