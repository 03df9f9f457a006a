package io.vectorstream.kernels.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Runs without any libcuda.so.1 (the ordinary surefire execution): auto must pick the CPU and say why. */
class DeviceSelectorTest {

    @Test
    void autoFallsBackToCpuWithoutADriver() {
        DeviceSelector.Selection s = DeviceSelector.select("auto");
        assertThat(s.cuda()).isFalse();
        assertThat(s.logLine()).startsWith("device: cpu").contains("no usable CUDA device").contains("libcuda.so.1");
        assertThat(CudaDriver.probe().available()).isFalse();
    }

    @Test
    void explicitCudaWithoutADriverIsAnError() {
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
