package io.vectorstream.kernels.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Device selection, in the ordinary surefire execution (no emulator): on a machine with or without a driver. */
class DeviceSelectorTest {

    /**
     * What {@code auto} and an explicit {@code cuda} do on this machine: without a driver (CI, most laptops) auto picks
     * the CPU and says why, and {@code cuda} is an error; with one (bench/gpu-check.sh on a GPU host) auto picks CUDA.
     * The same suite passes on both.
     */
    @Test
    void autoAndCudaFollowWhetherThisMachineHasADriver() {
        CudaDriver.Probe probe = CudaDriver.probe();
        DeviceSelector.Selection s = DeviceSelector.select("auto");
        if (probe.available()) {
            System.out.println("DeviceSelectorTest: a CUDA driver is present (" + probe.reason() + "): checking that auto picks it");
            assertThat(s.cuda()).isTrue();
            assertThat(DeviceSelector.select("cuda").cuda()).isTrue();
            return;
        }
        assertThat(s.cuda()).isFalse();
        assertThat(s.logLine()).startsWith("device: cpu").contains("no usable CUDA device").contains("libcuda.so.1");
        assertThatThrownBy(() -> DeviceSelector.select("cuda"))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("--device cuda");
        assertThatThrownBy(() -> CudaDevice.open(0)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void cpuIsCpuAndModesParse() {
        assertThat(DeviceSelector.select("cpu").cuda()).isFalse();
        assertThat(DeviceSelector.Mode.parse("GPU")).isEqualTo(DeviceSelector.Mode.CUDA);
        assertThat(DeviceSelector.Mode.parse(null)).isEqualTo(DeviceSelector.Mode.AUTO);
        assertThatThrownBy(() -> DeviceSelector.Mode.parse("tpu")).hasMessageContaining("auto, cpu or cuda");
    }

    @Test
    void autoTakesCudaWhenTheProbeFindsDevices() {
        DeviceSelector.Selection s = DeviceSelector.select(DeviceSelector.Mode.AUTO,
                () -> new CudaDriver.Probe(true, 2, 13000, "2 CUDA device(s), driver API 13000"));
        assertThat(s.cuda()).isTrue();
        assertThat(s.deviceCount()).isEqualTo(2);
    }
}
