package io.vectorstream.kernels;

/**
 * bfloat16: the upper 16 bits of a float (8 exponent bits, 7 stored mantissa bits). Used for compact
 * copies that are scanned approximately and then re-checked exactly (see {@link VectorKernels#scanBf16Blocks}).
 * Rounding to nearest moves a component by at most {@link #RELATIVE_ERROR} of its magnitude, so a
 * rounded vector is within {@code RELATIVE_ERROR * |v|} of the original in L2 norm.
 */
public final class Bf16 {
    /** Half a unit in the last place of an 8-bit significand: |bf16(x) - x| <= 2^-8 |x|. */
    public static final float RELATIVE_ERROR = 1f / 256f;

    private Bf16() {
    }

    /** The bf16 bits of {@code x}, rounded to nearest even; finite values stay finite. */
    public static int fromFloat(float x) {
        int bits = Float.floatToRawIntBits(x);
        if ((bits & 0x7f800000) == 0x7f800000) return bits >>> 16 | ((bits & 0xffff) != 0 ? 0x40 : 0); // inf, NaN
        int rounded = bits + 0x7fff + ((bits >>> 16) & 1);
        if ((rounded & 0x7f800000) == 0x7f800000) return bits >>> 16; // would overflow to inf: truncate instead
        return rounded >>> 16;
    }

    /** The float whose upper half is {@code bf16} (the low 16 bits of the argument). */
    public static float toFloat(int bf16) {
        return Float.intBitsToFloat(bf16 << 16);
    }

    /** Two bf16 values in one int: {@code lo} in bits 0-15, {@code hi} in bits 16-31. */
    public static int pack(float lo, float hi) {
        return fromFloat(lo) | fromFloat(hi) << 16;
    }
}
