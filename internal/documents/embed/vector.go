package embed

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Vectors are stored int8-quantised: one format byte (1), the scale as a
// little-endian float32, then one signed byte per dimension; component i is
// int8(i) × scale. The scale is the largest magnitude / 127, so a 1024-dimension
// vector takes 1029 bytes instead of 4096, and the cosine between a vector and its
// decoded copy stays above 0.999 for embeddings (TestEncode_CosineError).

const quantFormat = 1

// ErrBadVector is returned (wrapped) by Decode for bytes Encode did not make.
var ErrBadVector = errors.New("bad encoded vector")

// Encode quantises v for storage. Non-finite components are stored as 0.
func Encode(v []float32) []byte {
	var maxAbs float64
	for _, x := range v {
		if a := math.Abs(float64(x)); a > maxAbs && !math.IsInf(a, 0) && !math.IsNaN(a) {
			maxAbs = a
		}
	}
	scale := float32(maxAbs / 127)
	out := make([]byte, 5+len(v))
	out[0] = quantFormat
	binary.LittleEndian.PutUint32(out[1:5], math.Float32bits(scale))
	if scale == 0 {
		return out
	}
	for i, x := range v {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		out[5+i] = byte(int8(math.Round(f / float64(scale))))
	}
	return out
}

// Decode reverses Encode.
func Decode(b []byte) ([]float32, error) {
	if len(b) < 5 || b[0] != quantFormat {
		return nil, fmt.Errorf("embed: %w (%d bytes)", ErrBadVector, len(b))
	}
	scale := math.Float32frombits(binary.LittleEndian.Uint32(b[1:5]))
	if math.IsNaN(float64(scale)) || math.IsInf(float64(scale), 0) || scale < 0 {
		return nil, fmt.Errorf("embed: %w: scale %v", ErrBadVector, scale)
	}
	out := make([]float32, len(b)-5)
	for i, q := range b[5:] {
		out[i] = float32(int8(q)) * scale
	}
	return out, nil
}
