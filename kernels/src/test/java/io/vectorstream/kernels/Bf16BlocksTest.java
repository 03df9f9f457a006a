package io.vectorstream.kernels;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class Bf16BlocksTest {

    @Test
    void rowsReadBackRoundedAndKeepTheirPlaceWhenTheArrayGrows() {
        Random r = new Random(3);
        for (int dim : new int[]{1, 5, 128}) {
            float[] v = new float[200 * dim];
            for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian() * 100;
            int[] blocks = new int[Bf16Blocks.intsFor(70, dim)];
            for (int i = 0; i < 70; i++) Bf16Blocks.put(blocks, i, v, i * dim, dim);
            blocks = Arrays.copyOf(blocks, Bf16Blocks.intsFor(200, dim)); // grow, as a list does
            for (int i = 70; i < 200; i++) Bf16Blocks.put(blocks, i, v, i * dim, dim);
            assertThat(blocks).isEqualTo(Bf16Blocks.of(v, 200, dim));
            for (int i = 0; i < 200; i++) {
                for (int d = 0; d < dim; d++) {
                    float x = v[i * dim + d];
                    assertThat(Bf16Blocks.get(blocks, i, d, dim)).isEqualTo(Bf16.toFloat(Bf16.fromFloat(x)));
                    assertThat(Math.abs(Bf16Blocks.get(blocks, i, d, dim) - x)).isLessThanOrEqualTo(Bf16.RELATIVE_ERROR * Math.abs(x));
                }
            }
        }
    }
}
