package io.vectorstream.kernels.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jcuda.CudaException;
import jcuda.driver.CUevent;
import jcuda.driver.JCudaDriver;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The emulated driver itself, as JCuda sees it (VS_EMU_DEVICES=256M,256M,3M in the pom). */
@Tag("cuda-emulated")
@Tag("emulator-only") // the emulator itself: its schedules, hooks and three devices
class EmulatedDriverTest {

    @Test
    void probeSeesTheEmulatedDevices() {
        CudaDriver.Probe p = CudaDriver.probe();
        assertThat(p.available()).as(p.reason()).isTrue();
        assertThat(p.deviceCount()).isEqualTo(3);
        assertThat(p.driverVersion()).isGreaterThanOrEqualTo(13000);
        assertThat(DeviceSelector.select("auto").cuda()).isTrue();
    }

    @Test
    void devicesReportNameAndMemory() {
        try (CudaDevice d = CudaDevice.open(2)) {
            assertThat(d.name()).contains("emulated");
            assertThat(d.totalBytes()).isEqualTo(3L << 20);
            assertThat(d.memoryInfo()[0]).isEqualTo(3L << 20);
        }
    }

    @Test
    void anEntryPointThatIsNotEmulatedFailsWithAnErrorNotACrash() {
        try (CudaDevice d = CudaDevice.open(0)) {
            d.call(() -> {
                assertThatThrownBy(() -> JCudaDriver.cuEventCreate(new CUevent(), 0))
                        .isInstanceOf(CudaException.class).hasMessageContaining("NOT_SUPPORTED");
                return null;
            });
        }
    }

    @Test
    void outOfMemoryIsItsOwnExceptionAndCloseFreesEverything() {
        try (CudaDevice d = CudaDevice.open(2)) {
            assertThatThrownBy(() -> d.call(() -> d.alloc(4L << 20))).isInstanceOf(DeviceOutOfMemoryException.class);
            d.call(() -> d.alloc(1L << 20)); // deliberately left open: close() must free it
            assertThat(d.attribute(Reference.ATTR_LIVE_ALLOCATIONS)).isEqualTo(1);
        }
        try (CudaDevice d = CudaDevice.open(2)) {
            assertThat(d.attribute(Reference.ATTR_LIVE_ALLOCATIONS)).isZero();
        }
    }
}
