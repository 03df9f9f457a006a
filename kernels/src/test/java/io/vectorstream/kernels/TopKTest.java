package io.vectorstream.kernels;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class TopKTest {
    @Test
    void keepsTheSmallestThousandInOrder() {
        Random r = new Random(7);
        int n = 20_000, k = TopK.MAX_K;
        float[] d = new float[n];
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            d[i] = r.nextFloat();
            ids[i] = i;
        }
        TopK top = new TopK(k);
        top.offerAll(d, 0, ids, 0, n);
        int[] outIds = new int[k];
        float[] outD = new float[k];
        assertThat(top.drainSorted(outIds, outD)).isEqualTo(k);
        float[] sorted = d.clone();
        Arrays.sort(sorted);
        assertThat(outD).containsExactly(Arrays.copyOf(sorted, k));
        for (int j = 0; j < k; j++) assertThat(d[outIds[j]]).isEqualTo(outD[j]);
    }
}
