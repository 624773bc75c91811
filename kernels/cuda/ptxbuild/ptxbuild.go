// Package ptxbuild compiles pipe's CUDA sources (kernels/cuda/src) to PTX
// with nvcc and keeps the stamp that ties the committed PTX to the sources
// and flags it was built from. It is pure Go and never needs a GPU: the
// freshness test runs in the default build.
package ptxbuild

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pipeml/pipe/internal/atomicfile"
)

// Entry is the translation unit compiled to PTX, relative to the
// kernels/cuda directory.
const Entry = "src/pipe.cu"

// StampFile is the stamp's path relative to the kernels/cuda directory.
const StampFile = "ptx/STAMP"

// Archs returns the compute capabilities PTX is generated for (A100 = 80,
// H100/H200 = 90). The driver JIT-compiles the PTX for the card it runs on.
func Archs() []string { return []string{"80", "90"} }

// PTXFile returns the path of the PTX for arch, relative to kernels/cuda.
func PTXFile(arch string) string { return "ptx/sm_" + arch + ".ptx" }

// Flags returns the nvcc arguments (without input and output) for arch.
func Flags(arch string) []string {
	return []string{"-std=c++17", "-O3", "-ptx", "--gpu-architecture=compute_" + arch}
}

// Stamp records what the committed PTX was built from.
type Stamp struct {
	Sources string            // SourcesHash of src/
	Flags   string            // nvcc flags per arch, joined
	NVCC    string            // the last line of `nvcc --version`
	PTX     map[string]string // arch -> sha256 of the PTX file
}

// flagsString is the canonical text form of the flags of every arch.
func flagsString() string {
	var parts []string
	for _, a := range Archs() {
		parts = append(parts, a+": "+strings.Join(Flags(a), " "))
	}
	return strings.Join(parts, "; ")
}

// SourcesHash hashes every .cu and .cuh file under dir/src (name, size and
// contents, in name order).
func SourcesHash(dir string) (string, error) {
	src := filepath.Join(dir, "src")
	ents, err := os.ReadDir(src)
	if err != nil {
		return "", fmt.Errorf("cuda sources: %w", err)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if !e.IsDir() && (strings.HasSuffix(n, ".cu") || strings.HasSuffix(n, ".cuh")) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "", fmt.Errorf("cuda sources: no .cu or .cuh files in %s", src)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			return "", fmt.Errorf("cuda sources: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Marshal renders the stamp as "key value" lines.
func (s Stamp) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString("# written by `go tool task cuda:ptx`; checked by kernels/cuda/ptxbuild tests\n")
	fmt.Fprintf(&b, "sources %s\n", s.Sources)
	fmt.Fprintf(&b, "flags %s\n", s.Flags)
	fmt.Fprintf(&b, "nvcc %s\n", s.NVCC)
	archs := make([]string, 0, len(s.PTX))
	for a := range s.PTX {
		archs = append(archs, a)
	}
	sort.Strings(archs)
	for _, a := range archs {
		fmt.Fprintf(&b, "ptx_sm_%s %s\n", a, s.PTX[a])
	}
	return b.Bytes()
}

// ParseStamp reads a stamp written by Marshal; name is used in errors.
func ParseStamp(name string, data []byte) (Stamp, error) {
	s := Stamp{PTX: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		t := sc.Text()
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		key, val, ok := strings.Cut(t, " ")
		if !ok {
			return Stamp{}, fmt.Errorf("%s:%d: expected \"key value\", got %q", name, line, t)
		}
		switch {
		case key == "sources":
			s.Sources = val
		case key == "flags":
			s.Flags = val
		case key == "nvcc":
			s.NVCC = val
		case strings.HasPrefix(key, "ptx_sm_"):
			s.PTX[strings.TrimPrefix(key, "ptx_sm_")] = val
		default:
			return Stamp{}, fmt.Errorf("%s:%d: unknown key %q", name, line, key)
		}
	}
	if s.Sources == "" || s.Flags == "" {
		return Stamp{}, fmt.Errorf("%s: missing sources or flags line", name)
	}
	return s, nil
}

// Check compares the committed PTX and stamp under dir (kernels/cuda) with
// the sources and flags; it returns an error naming what is stale.
func Check(dir string) error {
	const fix = "run `go tool task cuda:ptx` and commit kernels/cuda/ptx"
	raw, err := os.ReadFile(filepath.Join(dir, StampFile))
	if err != nil {
		return fmt.Errorf("PTX stamp: %w (%s)", err, fix)
	}
	st, err := ParseStamp(StampFile, raw)
	if err != nil {
		return err
	}
	src, err := SourcesHash(dir)
	if err != nil {
		return err
	}
	if st.Sources != src {
		return fmt.Errorf("committed PTX is stale: CUDA sources changed (stamp %.12s, sources %.12s); %s", st.Sources, src, fix)
	}
	if b, err := os.ReadFile(filepath.Join(dir, EmuSourcesFile)); err != nil || !bytes.Equal(b, EmuSources(src)) {
		return fmt.Errorf("emulator source hash %s is stale or missing; %s", EmuSourcesFile, fix)
	}
	if st.Flags != flagsString() {
		return fmt.Errorf("committed PTX is stale: nvcc flags changed (stamp %q, now %q); %s", st.Flags, flagsString(), fix)
	}
	for _, a := range Archs() {
		b, err := os.ReadFile(filepath.Join(dir, PTXFile(a)))
		if err != nil {
			return fmt.Errorf("committed PTX: %w (%s)", err, fix)
		}
		if st.PTX[a] != sha(b) {
			return fmt.Errorf("committed PTX %s does not match its stamp (edited by hand?); %s", PTXFile(a), fix)
		}
	}
	return nil
}

// NVCCVersion returns the last line of `nvcc --version`
// (e.g. "Build cuda_11.8.r11.8/compiler.31833905_0").
func NVCCVersion(ctx context.Context, nvcc string) (string, error) {
	out, err := exec.CommandContext(ctx, nvcc, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", nvcc, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(lines[len(lines)-1]), nil
}

// Compile runs nvcc on dir/src/pipe.cu for every arch and returns the PTX
// per arch. tmp is a scratch directory.
func Compile(ctx context.Context, dir, nvcc, tmp string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, a := range Archs() {
		dst := filepath.Join(tmp, "sm_"+a+".ptx")
		args := append(Flags(a), "-o", dst, filepath.Join(dir, Entry))
		cmd := exec.CommandContext(ctx, nvcc, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("nvcc %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
		}
		b, err := os.ReadFile(dst)
		if err != nil {
			return nil, fmt.Errorf("nvcc output: %w", err)
		}
		out[a] = b
	}
	return out, nil
}

// Generate compiles the PTX and writes it and the stamp under dir
// (kernels/cuda), each file atomically.
func Generate(ctx context.Context, dir, nvcc string) error {
	ver, err := NVCCVersion(ctx, nvcc)
	if err != nil {
		return err
	}
	src, err := SourcesHash(dir)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "pipe-ptx-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ptx, err := Compile(ctx, dir, nvcc, tmp)
	if err != nil {
		return err
	}
	st := Stamp{Sources: src, Flags: flagsString(), NVCC: ver, PTX: map[string]string{}}
	for a, b := range ptx {
		if err := atomicfile.WriteFile(filepath.Join(dir, PTXFile(a)), b, 0o644); err != nil {
			return fmt.Errorf("write PTX: %w", err)
		}
		st.PTX[a] = sha(b)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, StampFile), st.Marshal(), 0o644); err != nil {
		return fmt.Errorf("write stamp: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, EmuSourcesFile), EmuSources(src), 0o644); err != nil {
		return fmt.Errorf("write emulator source hash: %w", err)
	}
	return nil
}

// EmuSourcesFile is the Go file (relative to kernels/cuda) that carries the
// sources hash into the emulator package: cgo does not see that emu.cc
// includes ../src, so a changed hash is what makes Go rebuild the emulator.
const EmuSourcesFile = "emu/sources.go"

// EmuSources renders EmuSourcesFile for a sources hash.
func EmuSources(hash string) []byte {
	return []byte("// Code generated by `go tool task cuda:ptx`; DO NOT EDIT.\n\n" +
		"//go:build cudaemu\n\npackage emu\n\n" +
		"// SourcesHash is ptxbuild.SourcesHash of the .cu sources emu.cc was built from.\n" +
		"const SourcesHash = \"" + hash + "\"\n")
}
