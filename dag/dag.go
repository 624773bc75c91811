// Package dag is a small directed graph: nodes, edges, cycle detection that
// lists the nodes of each cycle, a deterministic topological order, and
// ancestor/descendant walks.
//
// An edge from A to B means "A comes before B" (B depends on A). Nodes are
// kept in insertion order and every result that lists nodes is deterministic:
// ties are broken by insertion order, never by map iteration. All operations
// are O(V+E).
package dag

import (
	"fmt"
	"strings"
)

// Graph is a directed graph over node keys of type K. The zero value is not
// usable; create graphs with New. A Graph is not safe for concurrent
// mutation; concurrent reads are fine.
type Graph[K comparable] struct {
	index map[K]int
	nodes []K
	succ  [][]int
	pred  [][]int
	edges map[uint64]struct{}
}

// New returns an empty graph with room for n nodes.
func New[K comparable](n int) *Graph[K] {
	return &Graph[K]{
		index: make(map[K]int, n),
		nodes: make([]K, 0, n),
		succ:  make([][]int, 0, n),
		pred:  make([][]int, 0, n),
		edges: make(map[uint64]struct{}, n),
	}
}

// Add adds node k and reports whether it was new.
func (g *Graph[K]) Add(k K) bool {
	if _, ok := g.index[k]; ok {
		return false
	}
	g.index[k] = len(g.nodes)
	g.nodes = append(g.nodes, k)
	g.succ = append(g.succ, nil)
	g.pred = append(g.pred, nil)
	return true
}

// Has reports whether k is a node of g.
func (g *Graph[K]) Has(k K) bool {
	_, ok := g.index[k]
	return ok
}

// Len returns the number of nodes.
func (g *Graph[K]) Len() int { return len(g.nodes) }

// Connect adds the edge from -> to ("from comes before to"), adding missing
// nodes. A repeated edge is ignored. A self edge is allowed and is a cycle.
func (g *Graph[K]) Connect(from, to K) {
	g.Add(from)
	g.Add(to)
	f, t := g.index[from], g.index[to]
	key := uint64(f)<<32 | uint64(uint32(t))
	if _, dup := g.edges[key]; dup {
		return
	}
	g.edges[key] = struct{}{}
	g.succ[f] = append(g.succ[f], t)
	g.pred[t] = append(g.pred[t], f)
}

// HasEdge reports whether the edge from -> to exists.
func (g *Graph[K]) HasEdge(from, to K) bool {
	f, ok1 := g.index[from]
	t, ok2 := g.index[to]
	if !ok1 || !ok2 {
		return false
	}
	_, ok := g.edges[uint64(f)<<32|uint64(uint32(t))]
	return ok
}

// Nodes returns the nodes in insertion order.
func (g *Graph[K]) Nodes() []K { return append([]K(nil), g.nodes...) }

// Successors returns the nodes k has an edge to (its dependents), in the
// order the edges were added.
func (g *Graph[K]) Successors(k K) []K { return g.keys(g.succ, k) }

// Predecessors returns the nodes with an edge to k (its dependencies), in
// the order the edges were added.
func (g *Graph[K]) Predecessors(k K) []K { return g.keys(g.pred, k) }

func (g *Graph[K]) keys(adj [][]int, k K) []K {
	i, ok := g.index[k]
	if !ok {
		return nil
	}
	out := make([]K, len(adj[i]))
	for j, n := range adj[i] {
		out[j] = g.nodes[n]
	}
	return out
}

// Edges returns every edge as a [from, to] pair, ordered by the insertion
// order of from, then of the edge.
func (g *Graph[K]) Edges() [][2]K {
	out := make([][2]K, 0, len(g.edges))
	for f, ts := range g.succ {
		for _, t := range ts {
			out = append(out, [2]K{g.nodes[f], g.nodes[t]})
		}
	}
	return out
}

// Reverse returns a new graph with every edge reversed and the same node
// order.
func (g *Graph[K]) Reverse() *Graph[K] {
	r := New[K](len(g.nodes))
	for _, k := range g.nodes {
		r.Add(k)
	}
	for f, ts := range g.succ {
		for _, t := range ts {
			r.Connect(g.nodes[t], g.nodes[f])
		}
	}
	return r
}

// Ancestors returns every node from which one of ks can be reached (their
// transitive dependencies), ks excluded unless reachable from another, in
// insertion order.
func (g *Graph[K]) Ancestors(ks ...K) []K { return g.reach(g.pred, ks) }

// Descendants returns every node reachable from one of ks (their transitive
// dependents), ks excluded unless reachable from another, in insertion
// order.
func (g *Graph[K]) Descendants(ks ...K) []K { return g.reach(g.succ, ks) }

func (g *Graph[K]) reach(adj [][]int, ks []K) []K {
	seen := make([]bool, len(g.nodes))
	var stack []int
	for _, k := range ks {
		if i, ok := g.index[k]; ok {
			stack = append(stack, i)
		}
	}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, m := range adj[n] {
			if !seen[m] {
				seen[m] = true
				stack = append(stack, m)
			}
		}
	}
	var out []K
	for i, s := range seen {
		if s {
			out = append(out, g.nodes[i])
		}
	}
	return out
}

// CycleError is returned by TopoSort when the graph has cycles.
type CycleError[K comparable] struct {
	// Cycles lists each cycle as its nodes in edge order; the first node
	// is not repeated at the end.
	Cycles [][]K
}

// Error implements error: "cycle: a -> b -> a".
func (e *CycleError[K]) Error() string {
	parts := make([]string, len(e.Cycles))
	for i, c := range e.Cycles {
		parts[i] = FormatCycle(c)
	}
	return "cycle: " + strings.Join(parts, "; cycle: ")
}

// FormatCycle writes a cycle as "a -> b -> c -> a".
func FormatCycle[K comparable](c []K) string {
	var b strings.Builder
	for _, k := range c {
		fmt.Fprintf(&b, "%v -> ", k)
	}
	if len(c) > 0 {
		fmt.Fprintf(&b, "%v", c[0])
	}
	return b.String()
}

// TopoSort returns the nodes in an order where every edge goes forward.
// Among nodes whose dependencies are all placed, the one added first comes
// first, so the order is deterministic and follows insertion order as far as
// the edges allow. If the graph has cycles it returns a *CycleError listing
// them.
func (g *Graph[K]) TopoSort() ([]K, error) {
	if cycles := g.Cycles(); len(cycles) > 0 {
		return nil, &CycleError[K]{Cycles: cycles}
	}
	n := len(g.nodes)
	indeg := make([]int, n)
	for i := range g.pred {
		indeg[i] = len(g.pred[i])
	}
	// A min-heap over insertion indices of ready nodes.
	h := make(intHeap, 0, n)
	for i := 0; i < n; i++ {
		if indeg[i] == 0 {
			h = append(h, i) // already sorted: a valid heap
		}
	}
	out := make([]K, 0, n)
	for len(h) > 0 {
		i := h.pop()
		out = append(out, g.nodes[i])
		for _, m := range g.succ[i] {
			indeg[m]--
			if indeg[m] == 0 {
				h.push(m)
			}
		}
	}
	return out, nil
}

// Cycles returns one cycle per strongly connected component that has one
// (a component of two or more nodes, or a node with a self edge). Each cycle
// starts at the component's first-inserted node; cycles are ordered by that
// node. A graph without cycles returns nil.
func (g *Graph[K]) Cycles() [][]K {
	comp := g.components()
	var out [][]K
	done := make(map[int]bool)
	for start := range g.nodes {
		c := comp[start]
		if done[c] {
			continue
		}
		done[c] = true
		if path := g.cycleFrom(start, comp); path != nil {
			ks := make([]K, len(path))
			for i, n := range path {
				ks[i] = g.nodes[n]
			}
			out = append(out, ks)
		}
	}
	return out
}

// cycleFrom finds a shortest cycle through start inside start's component
// (breadth-first), or nil if start is on none.
func (g *Graph[K]) cycleFrom(start int, comp []int) []int {
	c := comp[start]
	parent := map[int]int{}
	queue := []int{start}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, m := range g.succ[n] {
			if comp[m] != c {
				continue
			}
			if m == start {
				var path []int
				for x := n; x != start; x = parent[x] {
					path = append(path, x)
				}
				path = append(path, start)
				for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
					path[i], path[j] = path[j], path[i]
				}
				return path
			}
			if _, seen := parent[m]; !seen {
				parent[m] = n
				queue = append(queue, m)
			}
		}
	}
	return nil
}

// components labels strongly connected components (Tarjan, iterative so that
// long chains do not exhaust the stack).
func (g *Graph[K]) components() []int {
	n := len(g.nodes)
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	comp := make([]int, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	next, ncomp := 0, 0
	type frame struct{ node, edge int }
	for root := 0; root < n; root++ {
		if index[root] >= 0 {
			continue
		}
		call := []frame{{root, 0}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			v := f.node
			if f.edge < len(g.succ[v]) {
				w := g.succ[v][f.edge]
				f.edge++
				if index[w] < 0 {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{w, 0})
				} else if onStack[w] && index[w] < low[v] {
					low[v] = index[w]
				}
				continue
			}
			if low[v] == index[v] {
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp[w] = ncomp
					if w == v {
						break
					}
				}
				ncomp++
			}
			call = call[:len(call)-1]
			if len(call) > 0 {
				p := call[len(call)-1].node
				if low[v] < low[p] {
					low[p] = low[v]
				}
			}
		}
	}
	return comp
}

// intHeap is a binary min-heap of ints.
type intHeap []int

func (h *intHeap) push(x int) {
	*h = append(*h, x)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if a[p] <= a[i] {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *intHeap) pop() int {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(a) && a[l] < a[m] {
			m = l
		}
		if r < len(a) && a[r] < a[m] {
			m = r
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}
