package dag

import "testing"

// FuzzGraph builds a graph from byte pairs (edges between up to 32 nodes)
// and checks TopoSort and Cycles: an order exists exactly when there is no
// cycle, every edge goes forward in it, and every reported cycle is made of
// real edges.
func FuzzGraph(f *testing.F) {
	f.Add([]byte{0, 1, 1, 2, 2, 3})
	f.Add([]byte{0, 1, 1, 0})
	f.Add([]byte{5, 5})
	f.Add([]byte{0, 1, 0, 2, 1, 3, 2, 3, 3, 4, 4, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		g := New[int](0)
		for i := 0; i+1 < len(data); i += 2 {
			g.Connect(int(data[i]%32), int(data[i+1]%32))
		}
		order, err := g.TopoSort()
		cycles := g.Cycles()
		for _, c := range cycles {
			for i := range c {
				if !g.HasEdge(c[i], c[(i+1)%len(c)]) {
					t.Fatalf("cycle %v has no edge %d -> %d", c, c[i], c[(i+1)%len(c)])
				}
			}
		}
		if (err != nil) != (len(cycles) > 0) {
			t.Fatalf("TopoSort error %v with %d cycles", err, len(cycles))
		}
		if err != nil {
			return
		}
		if len(order) != g.Len() {
			t.Fatalf("order has %d of %d nodes", len(order), g.Len())
		}
		pos := map[int]int{}
		for i, n := range order {
			pos[n] = i
		}
		for _, e := range g.Edges() {
			if pos[e[0]] >= pos[e[1]] {
				t.Fatalf("edge %d -> %d goes backwards", e[0], e[1])
			}
		}
	})
}
