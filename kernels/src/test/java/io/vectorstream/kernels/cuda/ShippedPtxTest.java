package io.vectorstream.kernels.cuda;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The PTX the jar ships loads on the drivers most hosts run: it declares PTX ISA 8.0 (CUDA 12.0, drivers 525 and
 * newer) for sm_80, not the ISA of the nvcc that built it (CUDA 13 writes 9.0, which only 580+ drivers load). That
 * the kernels are valid at ISA 8.0 is checked by ptxas at build time (build-ptx.sh), where ptxas is installed.
 */
class ShippedPtxTest {

    @Test
    void everyShippedModuleDeclaresIsa80ForSm80() throws IOException {
        for (String file : CudaDevice.PTX) {
            try (InputStream in = CudaDevice.class.getResourceAsStream(file)) {
                assertThat(in).as("resource %s", file).isNotNull();
                String ptx = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
                assertThat(ptx).as(file).containsPattern("(?m)^\\.version " + CudaDevice.PTX_ISA.replace(".", "\\.") + "$")
                        .containsPattern("(?m)^\\.target sm_80$");
            }
        }
        assertThat(CudaDevice.PTX_ISA).isEqualTo("8.0");
    }
}
