package train

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/pipeml/pipe/internal/atomicfile"
)

// Tensor is one named float32 tensor of a safetensors file.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// tensorHeader is one entry of a safetensors header.
type tensorHeader struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// maxHeader bounds the JSON header a reader accepts (the safetensors
// reference implementation uses 100 MB).
const maxHeader = 100 << 20

// checksumKey is the __metadata__ key holding the hex SHA-256 of the data
// section, verified on load.
const checksumKey = "pipe_data_sha256"

// WriteSafetensors writes tensors atomically to path in the safetensors
// format: an 8-byte little-endian header length, a JSON header (padded
// with spaces to a multiple of 8 bytes) mapping each name to its dtype
// ("F32"), shape and byte range, and the raw little-endian data in the
// order given. meta is stored under "__metadata__" together with the
// SHA-256 of the data section. The bytes depend only on the arguments.
func WriteSafetensors(path string, tensors []Tensor, meta map[string]string) error {
	header := map[string]any{}
	seen := map[string]bool{}
	var off int64
	h := sha256.New()
	var buf []byte
	for _, t := range tensors {
		if t.Name == "" || t.Name == "__metadata__" || seen[t.Name] {
			return fmt.Errorf("write %s: tensor name %q is empty, reserved or repeated", path, t.Name)
		}
		seen[t.Name] = true
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		if n != len(t.Data) {
			return fmt.Errorf("write %s: tensor %s: shape %v holds %d values, data %d", path, t.Name, t.Shape, n, len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = tensorHeader{DType: "F32", Shape: shape, DataOffsets: [2]int64{off, off + 4*int64(n)}}
		off += 4 * int64(n)
		buf = appendF32(buf[:0], t.Data)
		h.Write(buf)
	}
	md := map[string]string{}
	for k, v := range meta {
		md[k] = v
	}
	md[checksumKey] = hex.EncodeToString(h.Sum(nil))
	header["__metadata__"] = md
	hb, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	for len(hb)%8 != 0 {
		hb = append(hb, ' ')
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(hb)))
		if _, err := w.Write(n[:]); err != nil {
			return err
		}
		if _, err := w.Write(hb); err != nil {
			return err
		}
		var buf []byte
		for _, t := range tensors {
			buf = appendF32(buf[:0], t.Data)
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		return nil
	})
}

func appendF32(b []byte, x []float32) []byte {
	for _, v := range x {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// ReadSafetensors reads a safetensors file of F32 tensors written by
// WriteSafetensors (or any writer; the checksum is verified when the
// metadata holds one). Tensors come back in data order, with the metadata.
func ReadSafetensors(path string) ([]Tensor, map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read safetensors: %w", err)
	}
	if len(b) < 8 {
		return nil, nil, fmt.Errorf("%s: %d bytes, too short for a safetensors header", path, len(b))
	}
	hl := binary.LittleEndian.Uint64(b[:8])
	if hl > maxHeader || hl > uint64(len(b)-8) {
		return nil, nil, fmt.Errorf("%s: header length %d at byte 0 exceeds the file (%d bytes) or %d MB", path, hl, len(b), maxHeader>>20)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+hl], &raw); err != nil {
		return nil, nil, fmt.Errorf("%s: header (bytes 8..%d): %w", path, 8+hl, err)
	}
	data := b[8+hl:]
	var meta map[string]string
	var tensors []Tensor
	var offs [][2]int64
	for name, v := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(v, &meta); err != nil {
				return nil, nil, fmt.Errorf("%s: __metadata__: %w", path, err)
			}
			continue
		}
		var th tensorHeader
		if err := json.Unmarshal(v, &th); err != nil {
			return nil, nil, fmt.Errorf("%s: tensor %s: %w", path, name, err)
		}
		if th.DType != "F32" {
			return nil, nil, fmt.Errorf("%s: tensor %s: dtype %s, want F32", path, name, th.DType)
		}
		n := int64(1)
		for _, d := range th.Shape {
			if d < 0 || d > 1<<40 {
				return nil, nil, fmt.Errorf("%s: tensor %s: bad shape %v", path, name, th.Shape)
			}
			n *= int64(d)
		}
		a, e := th.DataOffsets[0], th.DataOffsets[1]
		if a < 0 || e < a || e > int64(len(data)) || e-a != 4*n {
			return nil, nil, fmt.Errorf("%s: tensor %s: data offsets [%d, %d] do not fit shape %v in %d data bytes", path, name, a, e, th.Shape, len(data))
		}
		tensors = append(tensors, Tensor{Name: name, Shape: th.Shape})
		offs = append(offs, [2]int64{a, e})
	}
	idx := make([]int, len(tensors))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool { return offs[idx[i]][0] < offs[idx[j]][0] })
	out := make([]Tensor, len(tensors))
	var end int64
	for k, i := range idx {
		if offs[i][0] != end {
			return nil, nil, fmt.Errorf("%s: tensor %s starts at data byte %d, want %d (gap or overlap)", path, tensors[i].Name, offs[i][0], end)
		}
		end = offs[i][1]
		t := tensors[i]
		t.Data = make([]float32, (offs[i][1]-offs[i][0])/4)
		src := data[offs[i][0]:offs[i][1]]
		for j := range t.Data {
			t.Data[j] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*j:]))
		}
		out[k] = t
	}
	if end != int64(len(data)) {
		return nil, nil, fmt.Errorf("%s: %d data bytes after the last tensor", path, int64(len(data))-end)
	}
	if want, ok := meta[checksumKey]; ok {
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != want {
			return nil, nil, fmt.Errorf("%s: data checksum %s, header says %s: the file is corrupt", path, got, want)
		}
	}
	return out, meta, nil
}
