package collector

import "testing"

// pkg.stats: each process's private memory (used, free, real used, size,
// fragments), labelled with its entry and pid.
func TestPkgStats(t *testing.T) {
	eachRelease(t, func(t *testing.T, release string) {
		compareCollectorGolden(t, release, "pkg.stats")
	})
}
