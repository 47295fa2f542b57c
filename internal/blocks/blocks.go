// Package blocks hands out slices carved from shared chunks, so that many
// small slices cost a few allocations (the BINRPC decoder's container
// members, the collector's label values and pairs).
package blocks

// Carve returns n elements of *pool with no spare capacity, so an append
// by the caller copies rather than overwrites the next slice. When the
// pool has fewer than n elements left it continues in a new chunk of
// max(n, chunk) elements; the slices already carved keep the old one.
func Carve[T any](pool *[]T, n, chunk int) []T {
	p := *pool
	if cap(p)-len(p) < n {
		p = make([]T, 0, max(n, chunk))
	}
	out := p[len(p) : len(p)+n : len(p)+n]
	*pool = p[:len(p)+n]
	return out
}
