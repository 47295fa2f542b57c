package binrpc

import "testing"

// Slices carved from one pool never share elements, stay within their
// length, and a short pool continues in a new chunk.
func TestCarve(t *testing.T) {
	var pool []int
	a := carve(&pool, 3, 4)
	b := carve(&pool, 1, 4) // fits the first chunk
	c := carve(&pool, 2, 4) // does not: a new chunk
	if len(a) != 3 || cap(a) != 3 || len(b) != 1 || cap(b) != 1 || len(c) != 2 || cap(c) != 2 {
		t.Fatalf("lengths/capacities: %d/%d %d/%d %d/%d", len(a), cap(a), len(b), cap(b), len(c), cap(c))
	}
	for i := range a {
		a[i] = 1
	}
	b[0], c[0], c[1] = 2, 3, 3
	_ = append(a, 9) // must copy, not overwrite b
	if a[0] != 1 || b[0] != 2 || c[0] != 3 || c[1] != 3 {
		t.Fatalf("slices overlap: %v %v %v", a, b, c)
	}
	if d := carve(&pool, 10, 4); len(d) != 10 {
		t.Fatalf("a request larger than the chunk: %d elements", len(d))
	}
}
