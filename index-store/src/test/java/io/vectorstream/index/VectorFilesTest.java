package io.vectorstream.index;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class VectorFilesTest {
    @TempDir
    Path dir;

    @Test
    void fvecsIvecsBvecsRoundTrip() throws Exception {
        Random r = new Random(1);
        int n = 3001, dim = 37; // more rows than one I/O chunk holds at this size? no: exercise row logic
        float[] f = new float[n * dim];
        int[] ints = new int[n * dim];
        byte[] bytes = new byte[n * dim];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) r.nextGaussian();
            ints[i] = r.nextInt();
        }
        r.nextBytes(bytes);

        Path fv = dir.resolve("a.fvecs"), iv = dir.resolve("a.ivecs"), bv = dir.resolve("a.bvecs");
        VectorFiles.writeFvecs(fv, f, n, dim);
        VectorFiles.writeIvecs(iv, ints, n, dim);
        VectorFiles.writeBvecs(bv, bytes, n, dim);
        assertThat(Files.size(fv)).isEqualTo((long) n * (4 + 4 * dim));
        assertThat(Files.size(bv)).isEqualTo((long) n * (4 + dim));

        VectorFiles.Floats rf = VectorFiles.readFvecs(fv, 0);
        assertThat(rf.n()).isEqualTo(n);
        assertThat(rf.dim()).isEqualTo(dim);
        assertThat(java.util.Arrays.equals(rf.data(), f)).isTrue();
        assertThat(java.util.Arrays.equals(VectorFiles.readIvecs(iv, 0).data(), ints)).isTrue();
        VectorFiles.Floats rb = VectorFiles.readVectors(bv, 0);
        for (int i = 0; i < bytes.length; i++) assertThat(rb.data()[i]).isEqualTo(bytes[i] & 0xff);
        assertThat(VectorFiles.readFvecs(fv, 10).n()).isEqualTo(10);
    }

    @Test
    void largeFileSpansChunks() throws Exception {
        int n = 40_000, dim = 64; // ~10 MiB: several read/write chunks
        float[] f = TestData.blobs(3, n, dim, 5);
        Path fv = dir.resolve("big.fvecs");
        VectorFiles.writeFvecs(fv, f, n, dim);
        float[] back = VectorFiles.readFvecs(fv, 0).data();
        int firstDiff = java.util.Arrays.mismatch(f, back);
        assertThat(firstDiff).as("first differing float").isEqualTo(-1);
    }

    @Test
    void truncatedFileIsRejected() throws Exception {
        Path fv = dir.resolve("bad.fvecs");
        VectorFiles.writeFvecs(fv, new float[8], 2, 4);
        Files.write(fv, java.util.Arrays.copyOf(Files.readAllBytes(fv), 30));
        assertThatThrownBy(() -> VectorFiles.readFvecs(fv, 0)).hasMessageContaining("not a multiple");
    }
}
