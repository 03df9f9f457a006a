package io.vectorstream.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Kernels on the Java Vector API, at the widest float species the CPU offers (AVX-512: 16 lanes).
 * Four independent accumulators hide the latency of the fused multiply-add.
 */
public final class PanamaKernels implements VectorKernels {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = SPECIES.length();

    @Override
    public String name() {
        return "panama-" + SPECIES.vectorBitSize();
    }

    @Override
    public float l2Squared(float[] a, int aOff, float[] b, int bOff, int dim) {
        int i = 0;
        float sum = 0f;
        if (dim >= LANES) {
            FloatVector acc0 = FloatVector.zero(SPECIES), acc1 = FloatVector.zero(SPECIES);
            FloatVector acc2 = FloatVector.zero(SPECIES), acc3 = FloatVector.zero(SPECIES);
            int bound4 = dim - 4 * LANES;
            for (; i <= bound4; i += 4 * LANES) {
                FloatVector d0 = FloatVector.fromArray(SPECIES, a, aOff + i).sub(FloatVector.fromArray(SPECIES, b, bOff + i));
                FloatVector d1 = FloatVector.fromArray(SPECIES, a, aOff + i + LANES).sub(FloatVector.fromArray(SPECIES, b, bOff + i + LANES));
                FloatVector d2 = FloatVector.fromArray(SPECIES, a, aOff + i + 2 * LANES).sub(FloatVector.fromArray(SPECIES, b, bOff + i + 2 * LANES));
                FloatVector d3 = FloatVector.fromArray(SPECIES, a, aOff + i + 3 * LANES).sub(FloatVector.fromArray(SPECIES, b, bOff + i + 3 * LANES));
                acc0 = d0.fma(d0, acc0);
                acc1 = d1.fma(d1, acc1);
                acc2 = d2.fma(d2, acc2);
                acc3 = d3.fma(d3, acc3);
            }
            int bound = dim - LANES;
            for (; i <= bound; i += LANES) {
                FloatVector d = FloatVector.fromArray(SPECIES, a, aOff + i).sub(FloatVector.fromArray(SPECIES, b, bOff + i));
                acc0 = d.fma(d, acc0);
            }
            sum = acc0.add(acc1).add(acc2.add(acc3)).reduceLanes(VectorOperators.ADD);
        }
        for (; i < dim; i++) {
            float d = a[aOff + i] - b[bOff + i];
            sum += d * d;
        }
        return sum;
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int dim) {
        int i = 0;
        float sum = 0f;
        if (dim >= LANES) {
            FloatVector acc0 = FloatVector.zero(SPECIES), acc1 = FloatVector.zero(SPECIES);
            FloatVector acc2 = FloatVector.zero(SPECIES), acc3 = FloatVector.zero(SPECIES);
            int bound4 = dim - 4 * LANES;
            for (; i <= bound4; i += 4 * LANES) {
                acc0 = FloatVector.fromArray(SPECIES, a, aOff + i).fma(FloatVector.fromArray(SPECIES, b, bOff + i), acc0);
                acc1 = FloatVector.fromArray(SPECIES, a, aOff + i + LANES).fma(FloatVector.fromArray(SPECIES, b, bOff + i + LANES), acc1);
                acc2 = FloatVector.fromArray(SPECIES, a, aOff + i + 2 * LANES).fma(FloatVector.fromArray(SPECIES, b, bOff + i + 2 * LANES), acc2);
                acc3 = FloatVector.fromArray(SPECIES, a, aOff + i + 3 * LANES).fma(FloatVector.fromArray(SPECIES, b, bOff + i + 3 * LANES), acc3);
            }
            int bound = dim - LANES;
            for (; i <= bound; i += LANES) {
                acc0 = FloatVector.fromArray(SPECIES, a, aOff + i).fma(FloatVector.fromArray(SPECIES, b, bOff + i), acc0);
            }
            sum = acc0.add(acc1).add(acc2.add(acc3)).reduceLanes(VectorOperators.ADD);
        }
        for (; i < dim; i++) sum += a[aOff + i] * b[bOff + i];
        return sum;
    }
}
