// Package golden reads the Mamba-2 golden vectors (../shared/golden/mamba2
// or $PIPE_GOLDEN_DIR): one directory per case with case.json and
// little-endian float32 .npy arrays (format in the directory's README).
package golden

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Dir returns the golden directory: $PIPE_GOLDEN_DIR when set, else
// ../shared/golden/mamba2 relative to the repository root found above
// start; ok is false when it does not exist.
func Dir(start string) (dir string, ok bool) {
	if d := os.Getenv("PIPE_GOLDEN_DIR"); d != "" {
		_, err := os.Stat(d)
		return d, err == nil
	}
	for d := start; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			g := filepath.Join(d, "..", "shared", "golden", "mamba2")
			_, err := os.Stat(g)
			return g, err == nil
		}
		if filepath.Dir(d) == d {
			return filepath.Join(start, "..", "shared", "golden", "mamba2"), false
		}
	}
}

// Tol is one array's tolerance: |got−want| ≤ Atol + Rtol·|want|.
type Tol struct {
	Atol float64 `json:"atol"`
	Rtol float64 `json:"rtol"`
}

// Array is one stored array.
type Array struct {
	Shape []int
	Data  []float32
}

// Case is one golden case.
type Case struct {
	Name   string
	Kind   string
	Config map[string]any
	Tols   map[string]Tol
	// Arrays by key without extension ("in__x", "param__D", "grad__x", ...).
	Arrays map[string]Array
}

// Int returns an integer config value.
func (c *Case) Int(key string) (int, error) {
	v, ok := c.Config[key].(float64)
	if !ok || v != math.Trunc(v) {
		return 0, fmt.Errorf("golden case %s: config %q is %v, want an integer", c.Name, key, c.Config[key])
	}
	return int(v), nil
}

// Get returns an array or an error naming the case and key.
func (c *Case) Get(key string) ([]float32, error) {
	a, ok := c.Arrays[key]
	if !ok {
		return nil, fmt.Errorf("golden case %s: no array %s", c.Name, key)
	}
	return a.Data, nil
}

// Check compares got with the array key under the case's tolerance for
// key; it returns the largest |got−want| and an error for the first
// element out of tolerance.
func (c *Case) Check(key string, got []float32) (float64, error) {
	want, err := c.Get(key)
	if err != nil {
		return 0, err
	}
	t, ok := c.Tols[key]
	if !ok {
		return 0, fmt.Errorf("golden case %s: no tolerance for %s", c.Name, key)
	}
	if len(got) != len(want) {
		return 0, fmt.Errorf("golden case %s: %s: %d values, want %d", c.Name, key, len(got), len(want))
	}
	worst := 0.0
	for i, g := range got {
		d := math.Abs(float64(g) - float64(want[i]))
		if !(d <= t.Atol+t.Rtol*math.Abs(float64(want[i]))) {
			return d, fmt.Errorf("golden case %s: %s[%d] = %g, want %g (|diff| %.3g > atol %.3g + rtol %.3g·|want|)",
				c.Name, key, i, g, want[i], d, t.Atol, t.Rtol)
		}
		worst = math.Max(worst, d)
	}
	return worst, nil
}

// Load reads every case directory under dir, sorted by name.
func Load(dir string) ([]*Case, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("golden: %w", err)
	}
	var cs []*Case
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		c, err := LoadCase(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	return cs, nil
}

// LoadCase reads one case directory.
func LoadCase(dir string) (*Case, error) {
	path := filepath.Join(dir, "case.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("golden: %w", err)
	}
	var j struct {
		Name   string         `json:"name"`
		Kind   string         `json:"kind"`
		Config map[string]any `json:"config"`
		Tols   map[string]Tol `json:"tolerances"`
		Arrays map[string]struct {
			File  string `json:"file"`
			Shape []int  `json:"shape"`
		} `json:"arrays"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("golden: %s: %w", path, err)
	}
	c := &Case{Name: j.Name, Kind: j.Kind, Config: j.Config, Tols: j.Tols, Arrays: map[string]Array{}}
	if c.Name == "" {
		c.Name = filepath.Base(dir)
	}
	for key, a := range j.Arrays {
		arr, err := ReadNPY(filepath.Join(dir, a.File))
		if err != nil {
			return nil, err
		}
		n := 1
		for _, d := range a.Shape {
			n *= d
		}
		if n != len(arr.Data) {
			return nil, fmt.Errorf("golden: %s: %s has %d values, case.json says shape %v", dir, a.File, len(arr.Data), a.Shape)
		}
		c.Arrays[key] = arr
	}
	return c, nil
}

var shapeRE = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)

// ReadNPY reads a little-endian float32 C-order .npy file (format v1-3).
func ReadNPY(path string) (Array, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Array{}, fmt.Errorf("golden: %w", err)
	}
	if len(raw) < 10 || !bytes.Equal(raw[:6], []byte("\x93NUMPY")) {
		return Array{}, fmt.Errorf("golden: %s: not a .npy file (bad magic)", path)
	}
	var hlen, off int
	switch raw[6] {
	case 1:
		hlen, off = int(binary.LittleEndian.Uint16(raw[8:10])), 10
	case 2, 3:
		if len(raw) < 12 {
			return Array{}, fmt.Errorf("golden: %s: truncated header", path)
		}
		hlen, off = int(binary.LittleEndian.Uint32(raw[8:12])), 12
	default:
		return Array{}, fmt.Errorf("golden: %s: .npy version %d", path, raw[6])
	}
	if off+hlen > len(raw) {
		return Array{}, fmt.Errorf("golden: %s: header of %d bytes past the end of the file", path, hlen)
	}
	hdr := string(raw[off : off+hlen])
	if !strings.Contains(hdr, "'descr': '<f4'") {
		return Array{}, fmt.Errorf("golden: %s: header %q: want descr '<f4'", path, strings.TrimSpace(hdr))
	}
	if strings.Contains(hdr, "'fortran_order': True") {
		return Array{}, fmt.Errorf("golden: %s: Fortran order is not supported", path)
	}
	m := shapeRE.FindStringSubmatch(hdr)
	if m == nil {
		return Array{}, fmt.Errorf("golden: %s: no shape in header %q", path, hdr)
	}
	var shape []int
	n := 1
	for _, f := range strings.Split(m[1], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil || d < 0 {
			return Array{}, fmt.Errorf("golden: %s: bad shape %q", path, m[1])
		}
		shape = append(shape, d)
		n *= d
	}
	body := raw[off+hlen:]
	if len(body) != 4*n {
		return Array{}, fmt.Errorf("golden: %s: %d data bytes, shape %v needs %d", path, len(body), shape, 4*n)
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return Array{Shape: shape, Data: data}, nil
}
