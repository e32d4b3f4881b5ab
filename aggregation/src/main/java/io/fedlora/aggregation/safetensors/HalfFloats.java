package io.fedlora.aggregation.safetensors;

/**
 * fp16 (IEEE binary16) and bfloat16 conversions to and from fp32, by hand because Java 17 has neither.
 * Narrowing rounds to nearest, ties to even (as PyTorch does); NaN stays NaN, overflow becomes infinity.
 */
public final class HalfFloats {

    private HalfFloats() {
    }

    /** fp32 to bfloat16 bits, round to nearest even. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7F800000) == 0x7F800000 && (bits & 0x007FFFFF) != 0) {
            return (short) ((bits >>> 16) | 0x0040); // quiet NaN, sign kept
        }
        int lsb = (bits >>> 16) & 1;
        return (short) ((bits + 0x7FFF + lsb) >>> 16);
    }

    /** bfloat16 bits to fp32 (exact). */
    public static float bf16ToFloat(short h) {
        return Float.intBitsToFloat((h & 0xFFFF) << 16);
    }

    /** fp32 to IEEE half bits, round to nearest even, with subnormals. */
    public static short floatToHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = (bits >>> 23) & 0xFF;
        int mant = bits & 0x7FFFFF;
        if (exp == 0xFF) {
            return (short) (sign | 0x7C00 | (mant != 0 ? 0x0200 | (mant >>> 13) : 0));
        }
        int e = exp - 112; // rebias 127 -> 15
        if (e >= 0x1F) {
            return (short) (sign | 0x7C00);
        }
        if (e >= 1) {
            int h = sign | (e << 10) | (mant >>> 13);
            int rest = mant & 0x1FFF;
            if (rest > 0x1000 || (rest == 0x1000 && (h & 1) == 1)) {
                h++; // a carry into the exponent is the correct result, up to infinity
            }
            return (short) h;
        }
        int shift = 126 - exp; // value = full * 2^-shift in units of the half subnormal 2^-24
        if (shift > 24) {
            return (short) sign;
        }
        int full = mant | 0x800000;
        int m = full >>> shift;
        int rest = full & ((1 << shift) - 1);
        int halfway = 1 << (shift - 1);
        if (rest > halfway || (rest == halfway && (m & 1) == 1)) {
            m++;
        }
        return (short) (sign | m);
    }

    /** IEEE half bits to fp32 (exact). */
    public static float halfToFloat(short h) {
        int bits = h & 0xFFFF;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1F;
        int mant = bits & 0x3FF;
        if (exp == 0) {
            float v = mant * 0x1p-24f;
            return sign == 0 ? v : -v;
        }
        if (exp == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }
}
