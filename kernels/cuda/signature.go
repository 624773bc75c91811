package cuda

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// Param is the type of one kernel parameter as the PTX declares it.
type Param uint8

// Kernel parameter types. Pointers are U64 in PTX, like 64-bit integers.
const (
	U32 Param = iota + 1 // int
	F32                  // float
	U64                  // pointer or long long
)

// Size returns the parameter's size in bytes.
func (p Param) Size() int {
	if p == U64 {
		return 8
	}
	return 4
}

// String returns the PTX type name (u32, f32, u64).
func (p Param) String() string {
	switch p {
	case U32:
		return "u32"
	case F32:
		return "f32"
	case U64:
		return "u64"
	}
	return fmt.Sprintf("Param(%d)", uint8(p))
}

// ParseEntries lists the kernel entry points of a PTX module with their
// parameter types, in declaration order.
func ParseEntries(ptx []byte) (map[string][]Param, error) {
	out := map[string][]Param{}
	sc := bufio.NewScanner(bytes.NewReader(ptx))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	cur := ""
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if i := strings.Index(t, ".entry "); i >= 0 {
			name := strings.TrimSpace(t[i+len(".entry "):])
			name = strings.TrimSuffix(name, "(")
			name = strings.TrimSpace(strings.TrimSuffix(name, "()"))
			if name == "" {
				return nil, fmt.Errorf("ptx line %d: .entry without a name", line)
			}
			if _, dup := out[name]; dup {
				return nil, fmt.Errorf("ptx line %d: duplicate entry %s", line, name)
			}
			out[name] = []Param{}
			cur = name
			if strings.HasSuffix(t, "()") {
				cur = ""
			}
			continue
		}
		if cur == "" {
			continue
		}
		if strings.HasPrefix(t, ".param ") {
			f := strings.Fields(t)
			if len(f) < 3 {
				return nil, fmt.Errorf("ptx line %d: malformed .param %q", line, t)
			}
			var p Param
			switch f[1] {
			case ".u32", ".s32", ".b32":
				p = U32
			case ".f32":
				p = F32
			case ".u64", ".s64", ".b64":
				p = U64
			default:
				return nil, fmt.Errorf("ptx line %d: kernel %s: unsupported parameter type %s", line, cur, f[1])
			}
			out[cur] = append(out[cur], p)
			continue
		}
		if strings.HasPrefix(t, ")") {
			cur = ""
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ptx: %w", err)
	}
	return out, nil
}
