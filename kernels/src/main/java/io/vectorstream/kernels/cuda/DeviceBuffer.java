package io.vectorstream.kernels.cuda;

import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

/**
 * One device allocation. Only used on its {@link CudaDevice}'s thread, where the context is current.
 * Closing frees it; closing twice is harmless.
 */
public final class DeviceBuffer implements AutoCloseable {
    private final CudaDevice device;
    private final DevicePointer ptr;
    private final long bytes;
    private boolean freed;

    DeviceBuffer(CudaDevice device, DevicePointer ptr, long bytes) {
        this.device = device;
        this.ptr = ptr;
        this.bytes = bytes;
    }

    public long bytes() {
        return bytes;
    }

    /** The raw device address, for tables of list pointers. */
    public long address() {
        return ptr.address();
    }

    CUdeviceptr ptr() {
        return ptr;
    }

    public void upload(float[] src, int off, int n) {
        check((long) n * Sizeof.FLOAT);
        if (n > 0) JCudaDriver.cuMemcpyHtoD(ptr, Pointer.to(src).withByteOffset((long) off * Sizeof.FLOAT), (long) n * Sizeof.FLOAT);
    }

    public void upload(int[] src, int off, int n) {
        check((long) n * Sizeof.INT);
        if (n > 0) JCudaDriver.cuMemcpyHtoD(ptr, Pointer.to(src).withByteOffset((long) off * Sizeof.INT), (long) n * Sizeof.INT);
    }

    public void upload(long[] src, int off, int n) {
        check((long) n * Sizeof.LONG);
        if (n > 0) JCudaDriver.cuMemcpyHtoD(ptr, Pointer.to(src).withByteOffset((long) off * Sizeof.LONG), (long) n * Sizeof.LONG);
    }

    public void upload(byte[] src, int off, int n) {
        check(n);
        if (n > 0) JCudaDriver.cuMemcpyHtoD(ptr, Pointer.to(src).withByteOffset(off), n);
    }

    public void download(float[] dst, int off, int n) {
        check((long) n * Sizeof.FLOAT);
        if (n > 0) JCudaDriver.cuMemcpyDtoH(Pointer.to(dst).withByteOffset((long) off * Sizeof.FLOAT), ptr, (long) n * Sizeof.FLOAT);
    }

    public void download(int[] dst, int off, int n) {
        check((long) n * Sizeof.INT);
        if (n > 0) JCudaDriver.cuMemcpyDtoH(Pointer.to(dst).withByteOffset((long) off * Sizeof.INT), ptr, (long) n * Sizeof.INT);
    }

    /**
     * Queues a copy of the first {@code n} bytes of {@code src} to the start of this buffer on the device's stream;
     * {@code src} must not change until {@link CudaDevice#synchronize}.
     */
    public void uploadAsync(PinnedBuffer src, long n) {
        check(n);
        if (n > 0) JCudaDriver.cuMemcpyHtoDAsync(ptr, src.pointer(0, n), n, device.stream());
    }

    /**
     * Queues a copy of the first {@code n} bytes of this buffer into {@code dst} from byte {@code dstOffset}, on the
     * device's stream; the bytes are there after {@link CudaDevice#synchronize}.
     */
    public void downloadAsync(PinnedBuffer dst, long dstOffset, long n) {
        check(n);
        if (n > 0) JCudaDriver.cuMemcpyDtoHAsync(dst.pointer(dstOffset, n), ptr, n, device.stream());
    }

    /** Copies the first {@code n} bytes of {@code src} (same device) to the start of this buffer. */
    public void copyFrom(DeviceBuffer src, long n) {
        check(n);
        src.check(n);
        if (n > 0) JCudaDriver.cuMemcpyDtoD(ptr, src.ptr, n);
    }

    public void fillInt(int value, long count) {
        check(count * Sizeof.INT);
        if (count > 0) JCudaDriver.cuMemsetD32(ptr, value, count);
    }

    private void check(long n) {
        if (freed) throw new IllegalStateException("device buffer already freed");
        if (n > bytes) throw new IndexOutOfBoundsException(n + " bytes do not fit a buffer of " + bytes);
    }

    @Override
    public void close() {
        if (freed) return;
        freed = true;
        device.free(this);
    }
}
