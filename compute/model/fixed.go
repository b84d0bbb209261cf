package model

import (
	"fmt"
	"math"
)

// Fixed-point rules (docs/compute.md). Every tensor value is an int32 in Q16.16: the real
// number x is stored as round(x × 2^16). Products are accumulated in int64 (Q32.32) and
// brought back with RoundShift; every result is saturated to the int32 range. Go defines
// integer overflow as two's-complement wrapping, so even a model that overflows an int64
// accumulator gives the same bits everywhere.
const (
	FracBits = 16
	One      = 1 << FracBits
)

// RoundShift divides x by 2^s rounding half toward +∞: floor((x + 2^(s-1)) / 2^s).
func RoundShift(x int64, s uint) int64 {
	return (x + int64(1)<<(s-1)) >> s
}

// Sat32 clamps x to the int32 range.
func Sat32(x int64) int32 {
	if x > math.MaxInt32 {
		return math.MaxInt32
	}
	if x < math.MinInt32 {
		return math.MinInt32
	}
	return int32(x)
}

// QuantizeFloat32Bits converts an IEEE-754 binary32 bit pattern to Q16.16 exactly, with
// integer operations only: round half away from zero, saturate to int32. NaN and infinities
// are errors.
func QuantizeFloat32Bits(bits uint32) (int32, error) {
	neg := bits>>31 != 0
	exp := int((bits >> 23) & 0xff)
	mant := int64(bits & 0x7fffff)
	if exp == 0xff {
		return 0, fmt.Errorf("%w: NaN or infinity in a float initializer", ErrUnsupported)
	}
	if exp == 0 { // subnormal: below 2^-126, rounds to zero in Q16
		return 0, nil
	}
	m := mant | 1<<23
	// value = m × 2^(exp-150); in Q16 that is m × 2^(exp-134).
	shift := exp - 134
	var v int64
	switch {
	case shift >= 0:
		if shift > 8 {
			v = math.MaxInt64 >> 1 // saturates below
		} else {
			v = m << shift
		}
	case -shift > 25:
		v = 0
	default:
		s := uint(-shift)
		v = (m + int64(1)<<(s-1)) >> s
	}
	if neg {
		v = -v
	}
	return Sat32(v), nil
}

// Sigmoid in Q16.16: linear interpolation in sigmoidTable; inputs outside [-8, 8] take the
// end values.
func Sigmoid(x int32) int32 {
	return interp(&sigmoidTable, int64(x)+8*One)
}

// ExpNeg is e^x in Q16.16 for x ≤ 0, from expTable; below -16 it is 0.
func ExpNeg(x int32) int32 {
	if x > 0 {
		x = 0
	}
	return interp(&expTable, int64(x)+16*One)
}

// interp reads a 257-entry table with step 1/16 (4096 in Q16) at offset u ≥ 0 from its start.
func interp(t *[257]int32, u int64) int32 {
	if u <= 0 {
		return t[0]
	}
	if u >= 256<<12 {
		return t[256]
	}
	i := u >> 12
	frac := u & 4095
	lo, hi := int64(t[i]), int64(t[i+1])
	return int32(lo + RoundShift((hi-lo)*frac, 12))
}

// The tables are part of the protocol: they were generated once and are never recomputed
// at run time (a host's exp could differ in the last bit).

// sigmoidTable is round(2^16 × 1/(1+e^-(−8 + i/16))), i = 0..256.
var sigmoidTable = [257]int32{
	22, 23, 25, 27, 28, 30, 32, 34, 36, 39, 41, 44,
	47, 50, 53, 56, 60, 64, 68, 72, 77, 82, 87, 92,
	98, 105, 111, 119, 126, 134, 143, 152, 162, 172, 184, 195,
	208, 221, 236, 251, 267, 284, 302, 321, 342, 364, 387, 412,
	439, 467, 497, 528, 562, 598, 636, 677, 720, 766, 815, 867,
	922, 980, 1042, 1109, 1179, 1253, 1333, 1417, 1506, 1601, 1701, 1808,
	1921, 2041, 2168, 2303, 2446, 2598, 2758, 2928, 3108, 3298, 3500, 3713,
	3938, 4176, 4427, 4692, 4971, 5266, 5577, 5904, 6249, 6611, 6992, 7392,
	7812, 8252, 8714, 9197, 9702, 10230, 10782, 11357, 11955, 12579, 13226, 13898,
	14595, 15316, 16062, 16832, 17625, 18442, 19282, 20143, 21025, 21928, 22849, 23788,
	24743, 25712, 26695, 27689, 28693, 29705, 30723, 31744, 32768, 33792, 34813, 35831,
	36843, 37847, 38841, 39824, 40793, 41748, 42687, 43608, 44511, 45393, 46254, 47094,
	47911, 48704, 49474, 50220, 50941, 51638, 52310, 52957, 53581, 54179, 54754, 55306,
	55834, 56339, 56822, 57284, 57724, 58144, 58544, 58925, 59287, 59632, 59959, 60270,
	60565, 60844, 61109, 61360, 61598, 61823, 62036, 62238, 62428, 62608, 62778, 62938,
	63090, 63233, 63368, 63495, 63615, 63728, 63835, 63935, 64030, 64119, 64203, 64283,
	64357, 64427, 64494, 64556, 64614, 64669, 64721, 64770, 64816, 64859, 64900, 64938,
	64974, 65008, 65039, 65069, 65097, 65124, 65149, 65172, 65194, 65215, 65234, 65252,
	65269, 65285, 65300, 65315, 65328, 65341, 65352, 65364, 65374, 65384, 65393, 65402,
	65410, 65417, 65425, 65431, 65438, 65444, 65449, 65454, 65459, 65464, 65468, 65472,
	65476, 65480, 65483, 65486, 65489, 65492, 65495, 65497, 65500, 65502, 65504, 65506,
	65508, 65509, 65511, 65513, 65514,
}

// expTable is round(2^16 × e^(−16 + i/16)), i = 0..256.
var expTable = [257]int32{
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3,
	3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 6, 6,
	6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 12, 13,
	13, 14, 15, 16, 17, 18, 19, 21, 22, 23, 25, 27,
	28, 30, 32, 34, 36, 39, 41, 44, 47, 50, 53, 56,
	60, 64, 68, 72, 77, 82, 87, 93, 99, 105, 112, 119,
	127, 135, 143, 153, 162, 173, 184, 196, 209, 222, 236, 252,
	268, 285, 303, 323, 344, 366, 390, 415, 442, 470, 500, 533,
	567, 604, 642, 684, 728, 775, 825, 878, 935, 995, 1059, 1128,
	1200, 1278, 1360, 1448, 1541, 1641, 1746, 1859, 1979, 2107, 2243, 2387,
	2541, 2705, 2879, 3065, 3263, 3473, 3697, 3936, 4190, 4460, 4747, 5054,
	5380, 5726, 6096, 6489, 6907, 7353, 7827, 8332, 8869, 9441, 10050, 10698,
	11388, 12123, 12905, 13737, 14623, 15566, 16570, 17639, 18776, 19987, 21276, 22649,
	24109, 25664, 27319, 29081, 30957, 32954, 35079, 37341, 39750, 42313, 45042, 47947,
	51039, 54331, 57835, 61565, 65536,
}
