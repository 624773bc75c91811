package runner

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Fingerprint keys. A stage's fingerprint is the hash of its sorted key →
// hash pairs; the pairs are recorded with each attempt so that a later plan
// can say which keys changed. Only hashes are stored, never values, so
// sensitive values never reach the state.
const (
	keyKind     = "kind"      // kind name and version
	keyConfig   = "config"    // config (whole, when not an object)
	keyCommand  = "command"   // shell string or argv
	keyWorkdir  = "workdir"   // working directory
	keyInputs   = "inputs"    // the list of input paths
	keyOutputs  = "outputs"   // the list of output paths
	prefConfig  = "config."   // one top-level config attribute
	prefEnv     = "env."      // one env variable
	prefInput   = "input:"    // content of one input path
	prefUp      = "upstream:" // one upstream stage's result
	absentInput = "absent"    // hash of an input path that does not exist
)

// fingerprint is a computed fingerprint with its parts.
type fingerprint struct {
	Sum  string
	Keys map[string]string
	// Outputs are every output path (attribute and kind Paths), sorted.
	Outputs []string
}

// hashBytes is the hash used for every key: SHA-256, hex, first 32 digits.
// Each part is preceded by its length as 8 bytes, little-endian.
func hashBytes(parts ...[]byte) string {
	var stack [256]byte
	buf := stack[:0]
	for _, p := range parts {
		buf = binary.LittleEndian.AppendUint64(buf, uint64(len(p)))
		buf = append(buf, p...)
	}
	return hashHex32(buf)
}

// hashString is hashBytes of strings.
func hashString(s ...string) string {
	var stack [256]byte
	buf := stack[:0]
	for _, p := range s {
		buf = binary.LittleEndian.AppendUint64(buf, uint64(len(p)))
		buf = append(buf, p...)
	}
	return hashHex32(buf)
}

// hashHex32 is the first 32 hex digits of the SHA-256 of b.
func hashHex32(b []byte) string {
	sum := sha256.Sum256(b)
	var out [32]byte
	hex.Encode(out[:], sum[:16])
	return string(out[:])
}

// hashValue hashes a known cty value with its type.
func hashValue(v cty.Value) (string, error) {
	ty, err := ctyjson.MarshalType(v.Type())
	if err != nil {
		return "", err
	}
	val, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return "", err
	}
	return hashBytes(ty, val), nil
}

// upstreamResult is what a downstream stage's fingerprint takes from one
// finished upstream stage.
type upstreamResult struct {
	Fingerprint string
	Outputs     []byte // published outputs, cty JSON
	Disabled    bool
}

func (u upstreamResult) hash() string {
	if u.Disabled {
		return hashString("disabled")
	}
	return hashBytes([]byte(u.Fingerprint), u.Outputs)
}

// computeFingerprint hashes everything that determines what stage s
// produces. up holds the results of its dependencies.
func computeFingerprint(s *Stage, up map[string]upstreamResult, digest func(string) (string, error)) (*fingerprint, error) {
	keys := make(map[string]string, 8+len(s.Env)+len(s.Inputs)+len(up))
	if s.fixed != nil {
		for i := 0; i+1 < len(s.fixed); i += 2 {
			keys[s.fixed[i]] = s.fixed[i+1]
		}
	} else if err := fixedKeys(s, keys); err != nil {
		return nil, err
	}
	paths, err := s.Kind.Paths(s.Config, s.Workdir)
	if err != nil {
		return nil, fmt.Errorf("paths of kind %s: %w", s.Kind.Name(), err)
	}
	inputs := append(append([]string(nil), s.Inputs...), absAll(paths.Inputs, s.Workdir)...)
	inputs = sortedUnique(inputs)
	outputs := sortedUnique(append(append([]string(nil), s.Outputs...), absAll(paths.Outputs, s.Workdir)...))
	keys[keyInputs] = hashString(inputs...)
	keys[keyOutputs] = hashString(outputs...)
	for _, p := range inputs {
		d, err := digest(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			d = hashString(absentInput)
		case err != nil:
			return nil, fmt.Errorf("hash input %s: %w", p, err)
		}
		keys[prefInput+p] = d
	}
	for name, u := range up {
		keys[prefUp+name] = u.hash()
	}
	return &fingerprint{Sum: sumKeys(keys), Keys: keys, Outputs: outputs}, nil
}

// fixedKeys adds to keys the fingerprint keys that depend only on the
// stage's evaluated attributes (kind, config, command, env, workdir), which
// the compiled pipeline stores with each stage.
func fixedKeys(s *Stage, keys map[string]string) error {
	keys[keyKind] = hashString(s.Kind.Name(), s.Kind.Version())
	if s.Config != cty.NilVal && !s.Config.IsNull() {
		if s.Config.Type().IsObjectType() {
			for name := range s.Config.Type().AttributeTypes() {
				h, err := hashValue(s.Config.GetAttr(name))
				if err != nil {
					return fmt.Errorf("fingerprint config.%s: %w", name, err)
				}
				keys[prefConfig+name] = h
			}
		} else {
			h, err := hashValue(s.Config)
			if err != nil {
				return fmt.Errorf("fingerprint config: %w", err)
			}
			keys[keyConfig] = h
		}
	}
	switch {
	case s.Shell != "":
		keys[keyCommand] = hashString("sh", s.Shell)
	case len(s.Argv) > 0:
		keys[keyCommand] = hashString(append([]string{"argv"}, s.Argv...)...)
	}
	for k, v := range s.Env {
		keys[prefEnv+k] = hashString(v)
	}
	keys[keyWorkdir] = hashString(s.Workdir)
	return nil
}

// sumKeys is the fingerprint of a key set.
func sumKeys(keys map[string]string) string {
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	n := 0
	for k, v := range keys {
		n += len(k) + len(v) + 2
	}
	buf := make([]byte, 0, n)
	for _, k := range names {
		buf = append(buf, k...)
		buf = append(buf, 0)
		buf = append(buf, keys[k]...)
		buf = append(buf, '\n')
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:])
}

func absAll(ps []string, dir string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		if filepath.IsAbs(p) {
			out[i] = filepath.Clean(p)
		} else {
			out[i] = filepath.Join(dir, p)
		}
	}
	return out
}

func sortedUnique(ps []string) []string {
	sort.Strings(ps)
	out := ps[:0]
	for i, p := range ps {
		if i == 0 || p != ps[i-1] {
			out = append(out, p)
		}
	}
	return out
}

// diffReason explains why fingerprint keys changed from old to cur, e.g.
// "config changed (config.epochs, command); input changed (data.csv)".
func diffReason(old, cur map[string]string, workdir string) string {
	var kind bool
	var cfg, in, up []string
	add := func(k string) {
		switch {
		case k == keyKind:
			kind = true
		case strings.HasPrefix(k, prefInput):
			in = append(in, rel(strings.TrimPrefix(k, prefInput), workdir))
		case strings.HasPrefix(k, prefUp):
			up = append(up, strings.TrimPrefix(k, prefUp))
		default:
			cfg = append(cfg, k)
		}
	}
	for k, v := range cur {
		if ov, ok := old[k]; !ok || ov != v {
			add(k)
		}
	}
	for k := range old {
		if _, ok := cur[k]; !ok {
			add(k)
		}
	}
	var parts []string
	if kind {
		parts = append(parts, "kind version changed")
	}
	if len(cfg) > 0 {
		parts = append(parts, "config changed ("+listNames(cfg)+")")
	}
	if len(in) > 0 {
		parts = append(parts, "input changed ("+listNames(in)+")")
	}
	if len(up) > 0 {
		parts = append(parts, "upstream changed ("+listNames(up)+")")
	}
	if len(parts) == 0 {
		return "fingerprint changed"
	}
	return strings.Join(parts, "; ")
}

// listNames sorts names, dedups and joins at most 5 of them.
func listNames(names []string) string {
	names = sortedUnique(names)
	if len(names) > 5 {
		return strings.Join(names[:5], ", ") + fmt.Sprintf(", and %d more", len(names)-5)
	}
	return strings.Join(names, ", ")
}

// rel shows p relative to dir when it lies below it.
func rel(p, dir string) string {
	if r, err := filepath.Rel(dir, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// marshalOutputs encodes published outputs as cty JSON with their type.
func marshalOutputs(out map[string]cty.Value) ([]byte, error) {
	if len(out) == 0 {
		return nil, nil
	}
	obj := cty.ObjectVal(out)
	val, err := ctyjson.Marshal(obj, cty.DynamicPseudoType)
	if err != nil {
		return nil, fmt.Errorf("encode outputs: %w", err)
	}
	return val, nil
}

// unmarshalOutputs decodes what marshalOutputs wrote.
func unmarshalOutputs(b []byte) (map[string]cty.Value, error) {
	if len(b) == 0 {
		return map[string]cty.Value{}, nil
	}
	if !json.Valid(b) {
		return nil, errors.New("recorded outputs are not JSON")
	}
	v, err := ctyjson.Unmarshal(b, cty.DynamicPseudoType)
	if err != nil {
		return nil, fmt.Errorf("decode recorded outputs: %w", err)
	}
	if !v.Type().IsObjectType() {
		return nil, errors.New("recorded outputs are not an object")
	}
	return v.AsValueMap(), nil
}
