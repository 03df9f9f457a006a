package io.vectorstream.kernels.cuda;

/**
 * A device buffer reused from call to call (uploads of batches, kernel outputs). It grows
 * geometrically, so a stream of batches reallocates O(log n) times, never per batch.
 */
public final class StagingBuffer implements AutoCloseable {
    private final CudaDevice device;
    private DeviceBuffer buffer;

    public StagingBuffer(CudaDevice device) {
        this.device = device;
    }

    /** A buffer of at least {@code bytes}; its previous contents are not kept. */
    public DeviceBuffer atLeast(long bytes) {
        long need = Math.max(bytes, 256);
        if (buffer == null || buffer.bytes() < need) {
            long size = buffer == null ? need : Math.max(need, buffer.bytes() * 2);
            DeviceBuffer grown = device.alloc(size); // allocate first: on OOM the old one is kept
            if (buffer != null) buffer.close();
            buffer = grown;
        }
        return buffer;
    }

    public long bytes() {
        return buffer == null ? 0 : buffer.bytes();
    }

    @Override
    public void close() {
        if (buffer != null) buffer.close();
        buffer = null;
    }
}
