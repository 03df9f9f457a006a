package io.vectorstream.kernels.cuda;

/**
 * A device allocation failed for lack of memory. The operation that hit it changed nothing, so the
 * caller can keep using what it has or move the work to the CPU.
 */
public final class DeviceOutOfMemoryException extends RuntimeException {
    private final long requestedBytes;

    public DeviceOutOfMemoryException(String device, long requestedBytes, Throwable cause) {
        super("out of device memory on " + device + " allocating " + requestedBytes + " bytes", cause);
        this.requestedBytes = requestedBytes;
    }

    public long requestedBytes() {
        return requestedBytes;
    }
}
