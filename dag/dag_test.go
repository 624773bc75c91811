package dag

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func build(edges string) *Graph[string] {
	g := New[string](0)
	for _, e := range strings.Fields(edges) {
		if from, to, ok := strings.Cut(e, ">"); ok {
			g.Connect(from, to)
		} else {
			g.Add(e)
		}
	}
	return g
}

func TestTopoSort(t *testing.T) {
	for _, tc := range []struct {
		name, edges, want string
	}{
		{"empty", "", ""},
		{"isolated nodes keep insertion order", "c a b", "c a b"},
		{"chain", "a>b b>c", "a b c"},
		{"reverse insertion", "c b a b>c a>b", "a b c"},
		{"diamond", "a>b a>c b>d c>d", "a b c d"},
		{"ties by insertion order", "z y x x>w y>w z>w", "z y x w"},
		{"duplicate edges", "a>b a>b b>c", "a b c"},
		{"fan-in keeps the ready node first", "d a>c b>c", "d a b c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := build(tc.edges).TopoSort()
			if err != nil {
				t.Fatal(err)
			}
			if s := strings.Join(got, " "); s != tc.want {
				t.Errorf("got %q, want %q", s, tc.want)
			}
		})
	}
}

func TestCycles(t *testing.T) {
	for _, tc := range []struct {
		name, edges string
		want        []string
	}{
		{"none", "a>b b>c", nil},
		{"self", "a>a", []string{"a -> a"}},
		{"two", "a>b b>a", []string{"a -> b -> a"}},
		{"three with tail", "x>a a>b b>c c>a c>y", []string{"a -> b -> c -> a"}},
		{"shortest through the first node", "a>b b>c c>d d>a b>a", []string{"a -> b -> a"}},
		{"two components", "a>b b>a c>d d>e e>c", []string{"a -> b -> a", "c -> d -> e -> c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := build(tc.edges)
			var got []string
			for _, c := range g.Cycles() {
				got = append(got, FormatCycle(c))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("cycles %q, want %q", got, tc.want)
			}
			_, err := g.TopoSort()
			var ce *CycleError[string]
			if (err != nil) != (tc.want != nil) {
				t.Fatalf("TopoSort error %v", err)
			}
			if err != nil {
				if !errors.As(err, &ce) || len(ce.Cycles) != len(tc.want) {
					t.Errorf("error %v", err)
				}
				if !strings.Contains(err.Error(), tc.want[0]) {
					t.Errorf("error %q does not list %q", err, tc.want[0])
				}
			}
		})
	}
}

func TestWalks(t *testing.T) {
	g := build("a>b a>c b>d c>d d>e f")
	for _, tc := range []struct {
		name string
		got  []string
		want []string
	}{
		{"ancestors d", g.Ancestors("d"), []string{"a", "b", "c"}},
		{"ancestors a", g.Ancestors("a"), nil},
		{"descendants b", g.Descendants("b"), []string{"d", "e"}},
		{"descendants b c", g.Descendants("b", "c"), []string{"d", "e"}},
		{"descendants unknown", g.Descendants("zz"), nil},
		{"predecessors d", g.Predecessors("d"), []string{"b", "c"}},
		{"successors a", g.Successors("a"), []string{"b", "c"}},
		{"reverse sort", mustSort(g.Reverse()), []string{"e", "d", "b", "c", "a", "f"}},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if !g.HasEdge("a", "b") || g.HasEdge("b", "a") || g.HasEdge("a", "zz") {
		t.Error("HasEdge")
	}
	if g.Len() != 6 || !g.Has("f") || g.Has("zz") {
		t.Error("Len/Has")
	}
	if got := len(g.Edges()); got != 5 {
		t.Errorf("%d edges, want 5", got)
	}
}

func mustSort(g *Graph[string]) []string {
	s, err := g.TopoSort()
	if err != nil {
		panic(err)
	}
	return s
}

// TestLongChain checks that a deep chain neither recurses nor goes
// quadratic.
func TestLongChain(t *testing.T) {
	const n = 200000
	g := New[int](n)
	for i := 1; i < n; i++ {
		g.Connect(i-1, i)
	}
	order, err := g.TopoSort()
	if err != nil || len(order) != n || order[n-1] != n-1 {
		t.Fatalf("sort: %v, %d nodes", err, len(order))
	}
	g.Connect(n-1, 0)
	_, err = g.TopoSort()
	var ce *CycleError[int]
	if !errors.As(err, &ce) || len(ce.Cycles) != 1 || len(ce.Cycles[0]) != n {
		t.Fatalf("want one cycle of %d nodes, got %v", n, fmt.Sprint(err)[:50])
	}
}

func BenchmarkTopoSortChain5000(b *testing.B) {
	g := New[string](5000)
	for i := 1; i < 5000; i++ {
		g.Connect(fmt.Sprint("s", i-1), fmt.Sprint("s", i))
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := g.TopoSort(); err != nil {
			b.Fatal(err)
		}
	}
}
