//go:build !amd64

package vecscan

// useAVX2 is false: there is no SIMD kernel for this architecture.
var useAVX2 = false

func dot(a, b []float32) float32 { return dotGo(a, b) }
