package cuda

import (
	"slices"
	"sort"
	"testing"
)

// TestSignaturesMatchPTX checks the Go-side parameter list of every kernel
// against the embedded PTX of every architecture, both ways.
func TestSignaturesMatchPTX(t *testing.T) {
	want := Signatures()
	for _, cc := range [][2]int{{8, 0}, {9, 0}} {
		ptx, arch, err := PTXFor(cc[0], cc[1])
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseEntries(ptx)
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		var names []string
		for n := range got {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			w, ok := want[n]
			if !ok {
				t.Errorf("%s: PTX entry %s is missing from Signatures()", arch, n)
				continue
			}
			if !slices.Equal(got[n], w) {
				t.Errorf("%s: %s: PTX params %v, Signatures() %v", arch, n, got[n], w)
			}
		}
		for n := range want {
			if _, ok := got[n]; !ok {
				t.Errorf("%s: Signatures() lists %s, the PTX has no such entry", arch, n)
			}
		}
	}
}

func TestPTXFor(t *testing.T) {
	cases := []struct {
		major, minor int
		arch         string
		ok           bool
	}{
		{7, 5, "", false}, {8, 0, "sm_80", true}, {8, 6, "sm_80", true}, {8, 9, "sm_80", true},
		{9, 0, "sm_90", true}, {10, 0, "sm_90", true}, {12, 0, "sm_90", true},
	}
	for _, c := range cases {
		ptx, arch, err := PTXFor(c.major, c.minor)
		if (err == nil) != c.ok || arch != c.arch || (c.ok && len(ptx) == 0) {
			t.Errorf("PTXFor(%d.%d) = %d bytes, %q, %v", c.major, c.minor, len(ptx), arch, err)
		}
	}
}

func TestParseEntriesErrors(t *testing.T) {
	bad := []string{
		".visible .entry k(\n.param .f16 k_param_0\n)\n",
		".visible .entry k(\n.param .u64\n)\n",
		".visible .entry k(\n)\n.visible .entry k(\n)\n",
	}
	for _, b := range bad {
		if _, err := ParseEntries([]byte(b)); err == nil {
			t.Errorf("ParseEntries(%q) accepted", b)
		}
	}
	got, err := ParseEntries([]byte(".visible .entry k(\n\t.param .u64 k_param_0,\n\t.param .f32 k_param_1\n)\n{\n}\n"))
	if err != nil || !slices.Equal(got["k"], []Param{U64, F32}) {
		t.Fatalf("ParseEntries = %v, %v", got, err)
	}
}
