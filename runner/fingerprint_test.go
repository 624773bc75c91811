package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
)

// The fingerprint functions as they were first written (streamed into a
// hash.Hash): fingerprints recorded by older pipes must keep matching, so
// any faster form must hash exactly the same bytes.
func refHashBytes(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		var n [8]byte
		l := len(p)
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func refSumKeys(keys map[string]string) string {
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, k := range names {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write([]byte(keys[k]))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestFingerprintHashesUnchanged(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		b := make([]byte, rng.IntN(300)) // crosses the 256-byte stack buffer
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return string(b)
	}
	for range 500 {
		n := rng.IntN(5)
		ss := make([]string, n)
		bs := make([][]byte, n)
		for i := range ss {
			ss[i] = str()
			bs[i] = []byte(ss[i])
		}
		want := refHashBytes(bs...)
		if got := hashBytes(bs...); got != want {
			t.Fatalf("hashBytes(%q) = %s, want %s", ss, got, want)
		}
		if got := hashString(ss...); got != want {
			t.Fatalf("hashString(%q) = %s, want %s", ss, got, want)
		}
		keys := map[string]string{}
		for i := range rng.IntN(12) {
			keys[fmt.Sprintf("k%d%s", i, strings.Repeat("x", rng.IntN(40)))] = str()
		}
		if got, want := sumKeys(keys), refSumKeys(keys); got != want {
			t.Fatalf("sumKeys = %s, want %s", got, want)
		}
	}
	// Values pinned as the first implementation computed them.
	if got := hashString("exec", "1"); got != "9382a20168331767550fce676eb780bb" {
		t.Errorf("kind hash %s", got)
	}
	if got := sumKeys(map[string]string{"kind": "a", "command": "b"}); got != "dac61d1ba8ad72e13eb50db92719280d292462bc8516d0a3fc17449ad4d4bd2e" {
		t.Errorf("sum %s", got)
	}
}
