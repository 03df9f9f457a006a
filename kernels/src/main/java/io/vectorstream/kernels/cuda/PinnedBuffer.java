package io.vectorstream.kernels.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;

import jcuda.Pointer;
import jcuda.driver.JCudaDriver;

/**
 * Page-locked host memory reused from batch to batch: the staging side of {@link DeviceBuffer#uploadAsync} and
 * {@link DeviceBuffer#downloadAsync}. Copies from pageable memory (a Java array) are synchronous and go through the
 * driver's own bounce buffer; from page-locked memory they are one DMA on the device's stream, so a batch's uploads,
 * launches and downloads queue back to back and the host waits once ({@link CudaDevice#synchronize}). It grows
 * geometrically, so a stream of batches allocates O(log n) times. Device thread only; the owner closes it.
 */
public final class PinnedBuffer implements AutoCloseable {
    private final CudaDevice device;
    private Pointer host;
    private ByteBuffer bytes;

    public PinnedBuffer(CudaDevice device) {
        this.device = device;
    }

    /** This buffer with room for at least {@code n} bytes; its previous contents are not kept. */
    public PinnedBuffer reserve(long n) {
        long need = Math.max(n, 256);
        if (bytes == null || bytes.capacity() < need) {
            long size = bytes == null ? need : Math.max(need, 2L * bytes.capacity());
            if (size > Integer.MAX_VALUE) throw new IllegalArgumentException("pinned staging of " + size + " bytes is over 2 GiB");
            Pointer grown = device.allocPinned(size); // allocate first: on failure the old one is kept
            if (host != null) device.freePinned(host);
            host = grown;
            bytes = grown.getByteBuffer(0, size).order(ByteOrder.nativeOrder());
        }
        return this;
    }

    /** A float view from byte 0, for filling before an upload or reading after a download. */
    public FloatBuffer floats() {
        return floats(0);
    }

    /** A float view from byte {@code offset}. */
    public FloatBuffer floats(long offset) {
        return view(offset).asFloatBuffer();
    }

    /** An int view from byte {@code offset}. */
    public IntBuffer ints(long offset) {
        return view(offset).asIntBuffer();
    }

    private ByteBuffer view(long offset) { // duplicate() and slice() forget the byte order: set it last
        return bytes.duplicate().position(Math.toIntExact(offset)).slice().order(ByteOrder.nativeOrder());
    }

    public long bytes() {
        return bytes == null ? 0 : bytes.capacity();
    }

    Pointer pointer(long offset, long n) {
        if (host == null || offset < 0 || offset + n > bytes.capacity()) {
            throw new IndexOutOfBoundsException("bytes [" + offset + ", " + (offset + n) + ") of pinned staging of " + bytes() + " bytes");
        }
        return host.withByteOffset(offset);
    }

    @Override
    public void close() {
        if (host != null) device.freePinned(host);
        host = null;
        bytes = null;
    }

    static void free(Pointer p) {
        JCudaDriver.cuMemFreeHost(p);
    }
}
