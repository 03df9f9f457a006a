package io.vectorstream.kernels.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import jcuda.CudaException;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One GPU: its context, the Vectorstream kernels loaded from PTX, and the one thread that uses
 * them. Everything touching the device runs on that thread (a CUDA context is current per thread),
 * so device state needs no locks: callers either run there already or hand work over with
 * {@link #call}/{@link #submit}. Closing frees every buffer still allocated and destroys the context.
 */
public final class CudaDevice implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CudaDevice.class);
    /** The PTX files under {@code io/vectorstream/kernels/cuda/}, one per {@code .cu} source. */
    static final List<String> PTX = List.of("ivf.ptx", "distance.ptx");

    private final int ordinal;
    private final ExecutorService worker;
    private volatile Thread workerThread;
    private final Set<DeviceBuffer> live = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Set<Pointer> livePinned = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Map<String, CUfunction> functions = new HashMap<>();
    private final List<CUmodule> modules = new ArrayList<>();
    private CUcontext context;
    /** The one stream every launch and asynchronous copy of this device is queued on, in order. */
    private CUstream stream;
    private String name;
    private long totalBytes;
    private long allocatedBytes;
    private boolean closed;

    private CudaDevice(int ordinal) {
        this.ordinal = ordinal;
        this.worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "cuda-device-" + ordinal);
            t.setDaemon(true);
            workerThread = t;
            return t;
        });
    }

    /** Opens device {@code ordinal}: creates its context and loads the kernels. */
    public static CudaDevice open(int ordinal) {
        CudaDriver.requireAvailable();
        CudaDevice d = new CudaDevice(ordinal);
        try {
            d.call(() -> {
                d.init();
                return null;
            });
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
        return d;
    }

    /** The PTX ISA the shipped PTX declares (kernels/src/main/cuda/build-ptx.sh). */
    static final String PTX_ISA = "8.0";

    private void init() {
        CUdevice dev = new CUdevice();
        JCudaDriver.cuDeviceGet(dev, ordinal);
        byte[] nameBytes = new byte[256];
        JCudaDriver.cuDeviceGetName(nameBytes, nameBytes.length, dev);
        int end = 0;
        while (end < nameBytes.length && nameBytes[end] != 0) end++;
        name = new String(nameBytes, 0, end, java.nio.charset.StandardCharsets.UTF_8);
        long[] total = new long[1];
        JCudaDriver.cuDeviceTotalMem(total, dev);
        totalBytes = total[0];
        context = new CUcontext();
        JCudaDriver.cuCtxCreate(context, 0, dev);
        for (String ptx : PTX) {
            CUmodule module = new CUmodule();
            try {
                JCudaDriver.cuModuleLoadData(module, readPtx(ptx));
            } catch (RuntimeException e) {
                int[] version = new int[1];
                JCudaDriver.cuDriverGetVersion(version);
                throw new IllegalStateException("the CUDA driver (for CUDA " + version[0] / 1000 + "." + version[0] % 1000 / 10
                        + ") cannot load " + ptx + " (PTX ISA " + PTX_ISA + " for sm_80: needs a driver for CUDA 12.0 or newer,"
                        + " i.e. 525+, and a compute capability 8.0+ GPU): " + e.getMessage(), e);
            }
            modules.add(module);
        }
        stream = new CUstream();
        JCudaDriver.cuStreamCreate(stream, 0);
        LOG.debug("opened CUDA device {} ({}, {} MiB)", ordinal, name, totalBytes >> 20);
    }

    private static byte[] readPtx(String file) {
        try (InputStream in = CudaDevice.class.getResourceAsStream(file)) {
            if (in == null) throw new IllegalStateException("missing PTX resource " + file);
            byte[] text = in.readAllBytes();
            return Arrays.copyOf(text, text.length + 1); // the driver wants a NUL-terminated image
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public int ordinal() {
        return ordinal;
    }

    public String name() {
        return name;
    }

    public long totalBytes() {
        return totalBytes;
    }

    /** Bytes this process has allocated on the device through this object. */
    public long allocatedBytes() {
        return call(() -> allocatedBytes);
    }

    /** Buffers allocated and not yet freed, device and pinned host (0 after every owner closed what it opened). */
    public int liveBuffers() {
        return call(() -> live.size() + livePinned.size());
    }

    /** Free and total device memory as the driver reports them. */
    public long[] memoryInfo() {
        return call(() -> {
            long[] free = new long[1];
            long[] total = new long[1];
            JCudaDriver.cuMemGetInfo(free, total);
            return new long[] {free[0], total[0]};
        });
    }

    /** A raw device attribute (the emulated driver answers test hooks here too). */
    public int attribute(int attribute) {
        return call(() -> {
            CUdevice dev = new CUdevice();
            JCudaDriver.cuDeviceGet(dev, ordinal);
            int[] v = new int[1];
            JCudaDriver.cuDeviceGetAttribute(v, attribute, dev);
            return v[0];
        });
    }

    /** Runs {@code task} on the device thread and waits for it; runs inline when already there. */
    public <T> T call(Callable<T> task) {
        if (Thread.currentThread() == workerThread) {
            try {
                return task.call();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        try {
            return submit(task).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for " + this, e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            if (e.getCause() instanceof Error err) throw err;
            throw new IllegalStateException(e.getCause());
        }
    }

    /** Queues {@code task} for the device thread. */
    public <T> CompletableFuture<T> submit(Callable<T> task) {
        CompletableFuture<T> f = new CompletableFuture<>();
        worker.execute(() -> {
            try {
                f.complete(task.call());
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        return f;
    }

    /** Allocates {@code bytes} on the device (device thread only); out of memory is its own exception. */
    public DeviceBuffer alloc(long bytes) {
        onDeviceThread();
        DevicePointer p = new DevicePointer();
        try {
            JCudaDriver.cuMemAlloc(p, bytes);
        } catch (CudaException e) {
            if (String.valueOf(e.getMessage()).contains("OUT_OF_MEMORY")) throw new DeviceOutOfMemoryException(toString(), bytes, e);
            throw e;
        }
        DeviceBuffer b = new DeviceBuffer(this, p, bytes);
        live.add(b);
        allocatedBytes += bytes;
        return b;
    }

    /** Page-locked host memory for {@link PinnedBuffer} (device thread only). */
    Pointer allocPinned(long bytes) {
        onDeviceThread();
        Pointer p = new Pointer();
        JCudaDriver.cuMemAllocHost(p, bytes);
        livePinned.add(p);
        return p;
    }

    void freePinned(Pointer p) {
        onDeviceThread();
        if (livePinned.remove(p)) PinnedBuffer.free(p);
    }

    CUstream stream() {
        return stream;
    }

    void free(DeviceBuffer b) {
        onDeviceThread();
        if (live.remove(b)) {
            allocatedBytes -= b.bytes();
            JCudaDriver.cuMemFree(b.ptr());
        }
    }

    CUfunction function(String kernel) {
        return functions.computeIfAbsent(kernel, k -> {
            for (CUmodule m : modules) {
                CUfunction f = new CUfunction();
                try {
                    JCudaDriver.cuModuleGetFunction(f, m, k);
                    return f;
                } catch (CudaException notInThisModule) {
                    // try the next module
                }
            }
            throw new IllegalStateException("kernel " + k + " is in none of " + PTX);
        });
    }

    /**
     * Launches {@code kernel} on a {@code gx x gy} grid of {@code bx x by} blocks and waits for it.
     * Arguments: {@link DeviceBuffer} (a pointer), {@link Integer} or {@link Long}.
     */
    public void launch(String kernel, int gx, int gy, int bx, int by, Object... args) {
        launchAsync(kernel, gx, gy, bx, by, args);
        synchronize();
    }

    /**
     * Queues {@code kernel} on this device's stream after everything queued before it, without waiting: a batch
     * queues its asynchronous uploads, launches and downloads, then waits once with {@link #synchronize}.
     */
    public void launchAsync(String kernel, int gx, int gy, int bx, int by, Object... args) {
        onDeviceThread();
        NativePointerObject[] params = new NativePointerObject[args.length];
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            if (a instanceof DeviceBuffer b) params[i] = Pointer.to(b.ptr());
            else if (a instanceof Integer v) params[i] = Pointer.to(new int[] {v});
            else if (a instanceof Long v) params[i] = Pointer.to(new long[] {v});
            else throw new IllegalArgumentException("unsupported kernel argument " + a);
        }
        JCudaDriver.cuLaunchKernel(function(kernel), gx, gy, 1, bx, by, 1, 0, stream, Pointer.to(params), null);
    }

    /** Waits until everything queued on this device's stream has run (the one wait of a batch). */
    public void synchronize() {
        onDeviceThread();
        JCudaDriver.cuStreamSynchronize(stream);
    }

    private void onDeviceThread() {
        if (Thread.currentThread() != workerThread) throw new IllegalStateException("device work off the device thread of " + this);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            if (workerThread != null || context != null) {
                submit(() -> {
                    if (!live.isEmpty()) LOG.warn("{}: freeing {} device buffer(s) still open at close", this, live.size());
                    if (!livePinned.isEmpty()) LOG.warn("{}: freeing {} pinned staging buffer(s) still open at close", this, livePinned.size());
                    for (DeviceBuffer b : new ArrayList<>(live)) b.close();
                    for (Pointer p : new ArrayList<>(livePinned)) freePinned(p);
                    if (stream != null) JCudaDriver.cuStreamDestroy(stream);
                    stream = null;
                    for (CUmodule m : modules) JCudaDriver.cuModuleUnload(m);
                    modules.clear();
                    functions.clear();
                    if (context != null) JCudaDriver.cuCtxDestroy(context);
                    context = null;
                    return null;
                }).get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            LOG.warn("{}: error while closing: {}", this, e.getCause().toString());
        } finally {
            worker.shutdown();
        }
    }

    @Override
    public String toString() {
        return "cuda:" + ordinal + (name == null ? "" : " (" + name + ")");
    }
}
