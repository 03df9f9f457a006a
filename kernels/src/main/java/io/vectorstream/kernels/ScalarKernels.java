package io.vectorstream.kernels;

/** Plain Java loops: the reference every faster backend is tested against, and the fallback. */
public final class ScalarKernels implements VectorKernels {

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public float l2Squared(float[] a, int aOff, float[] b, int bOff, int dim) {
        float sum = 0f;
        for (int i = 0; i < dim; i++) {
            float d = a[aOff + i] - b[bOff + i];
            sum += d * d;
        }
        return sum;
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int dim) {
        float sum = 0f;
        for (int i = 0; i < dim; i++) sum += a[aOff + i] * b[bOff + i];
        return sum;
    }
}
