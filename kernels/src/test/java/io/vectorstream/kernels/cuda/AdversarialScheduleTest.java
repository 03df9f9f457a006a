package io.vectorstream.kernels.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Random;

import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.JCudaDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The emulator's two schedules against the deliberately racy test kernels of
 * {@code src/test/native/race_kernels.cu}: the default schedule (threads in turn, up to each
 * barrier) hides every race, the adversarial one (a switch at every global/shared access, atomic and
 * barrier) catches each, and the correct version of each kernel is right under both. The schedule
 * is forced per context (a test hook), so this runs the same in both surefire executions.
 */
@Tag("cuda-emulated")
@Tag("emulator-only") // the emulator itself: its schedules, hooks and three devices
class AdversarialScheduleTest {
    /** Emulator hooks on cuCtxSetLimit/cuCtxGetLimit (see emu_driver.cpp). */
    static final int LIMIT_SCHEDULE = 0x7655;
    static final int LIMIT_SEED = 0x7656;
    static final int LIMIT_SWITCHES = 0x7657;
    static final int DEFAULT = 0;
    static final int ADVERSARIAL = 1;
    /** As VS_EMU_SCHEDULE says (the surefire execution's choice). */
    static final int FROM_ENVIRONMENT = -1;

    private static final int THREADS = 256;
    private static final int RUNS = 16;
    private static final long SEED = 20240614L;

    private CUcontext context;
    private CUmodule module;
    private CUdeviceptr x;
    private CUdeviceptr out;
    private final Random random = new Random(7);

    @BeforeEach
    void open() {
        JCudaDriver.setExceptionsEnabled(true);
        JCudaDriver.cuInit(0);
        CUdevice device = new CUdevice();
        JCudaDriver.cuDeviceGet(device, 1);
        context = new CUcontext();
        JCudaDriver.cuCtxCreate(context, 0, device); // current on this thread
        module = new CUmodule();
        // the emulator finds kernels by name whatever the image; the race kernels are in no PTX
        JCudaDriver.cuModuleLoadData(module, "race_kernels\0".getBytes(StandardCharsets.US_ASCII));
        x = new CUdeviceptr();
        out = new CUdeviceptr();
        JCudaDriver.cuMemAlloc(x, (long) THREADS * Sizeof.INT);
        JCudaDriver.cuMemAlloc(out, (long) THREADS * Sizeof.INT);
        JCudaDriver.cuCtxSetLimit(LIMIT_SEED, SEED);
    }

    @AfterEach
    void close() {
        JCudaDriver.cuCtxSetLimit(LIMIT_SCHEDULE, FROM_ENVIRONMENT);
        JCudaDriver.cuMemFree(x);
        JCudaDriver.cuMemFree(out);
        JCudaDriver.cuModuleUnload(module);
        JCudaDriver.cuCtxDestroy(context);
    }

    @Test
    void theScheduleFollowsTheEnvironmentUnlessAContextOverridesIt() {
        boolean adversarial = "adversarial".equals(System.getenv("VS_EMU_SCHEDULE"));
        assertThat(limit(LIMIT_SCHEDULE)).isEqualTo(adversarial ? ADVERSARIAL : DEFAULT);
        JCudaDriver.cuCtxSetLimit(LIMIT_SCHEDULE, ADVERSARIAL);
        assertThat(limit(LIMIT_SCHEDULE)).isEqualTo(ADVERSARIAL);
        assertThat(limit(LIMIT_SEED)).isEqualTo(SEED);
    }

    @Test
    void aLostUpdateIsHiddenByTheDefaultScheduleAndCaughtByTheAdversarialOne() {
        // shared `total += x[i]` without atomics, against atomicAdd
        assertThat(wrongAnswers(DEFAULT, "vs_race_sum_racy")).isZero();
        assertThat(wrongAnswers(ADVERSARIAL, "vs_race_sum_racy")).isPositive();
        assertThat(wrongAnswers(DEFAULT, "vs_race_sum_atomic")).isZero();
        assertThat(wrongAnswers(ADVERSARIAL, "vs_race_sum_atomic")).isZero();
    }

    @Test
    void aMissingBarrierIsHiddenByTheDefaultScheduleAndCaughtByTheAdversarialOne() {
        // the last thread reads every thread's shared slot with no __syncthreads after the writes
        assertThat(wrongAnswers(DEFAULT, "vs_race_stage_racy")).isZero();
        assertThat(wrongAnswers(ADVERSARIAL, "vs_race_stage_racy")).isPositive();
        assertThat(wrongAnswers(DEFAULT, "vs_race_stage_barrier")).isZero();
        assertThat(wrongAnswers(ADVERSARIAL, "vs_race_stage_barrier")).isZero();
    }

    @Test
    void warpSynchronousCodeWithoutSyncwarpIsCaughtByTheAdversarialSchedule() {
        // lane t reads lane t-1's shared slot with no __syncwarp; the shuffle needs no shared memory
        assertThat(wrongAnswers(DEFAULT, "vs_race_shift_racy")).isZero();
        assertThat(wrongAnswers(ADVERSARIAL, "vs_race_shift_racy")).isPositive();
        for (String correct : new String[] {"vs_race_shift_syncwarp", "vs_race_shift_shuffle"}) {
            assertThat(wrongAnswers(DEFAULT, correct)).as(correct).isZero();
            assertThat(wrongAnswers(ADVERSARIAL, correct)).as(correct).isZero();
        }
    }

    @Test
    void theAdversarialScheduleSwitchesAtMemoryAccessesAndTheDefaultOneOnlyAtBarriers() {
        long before = limit(LIMIT_SWITCHES);
        wrongAnswers(DEFAULT, "vs_race_sum_racy");
        assertThat(limit(LIMIT_SWITCHES)).isEqualTo(before);
        wrongAnswers(ADVERSARIAL, "vs_race_sum_racy");
        assertThat(limit(LIMIT_SWITCHES) - before).isGreaterThan(RUNS * (long) THREADS / 2);
    }

    /** Runs {@code kernel} RUNS times on fresh random input under {@code schedule}; the number of wrong answers. */
    private int wrongAnswers(int schedule, String kernel) {
        JCudaDriver.cuCtxSetLimit(LIMIT_SCHEDULE, schedule);
        CUfunction f = new CUfunction();
        JCudaDriver.cuModuleGetFunction(f, module, kernel);
        boolean shift = kernel.startsWith("vs_race_shift");
        int wrong = 0;
        for (int run = 0; run < RUNS; run++) {
            int[] in = new int[THREADS];
            for (int i = 0; i < THREADS; i++) in[i] = 1 + random.nextInt(1000);
            int[] result = new int[THREADS];
            JCudaDriver.cuMemcpyHtoD(x, Pointer.to(in), (long) THREADS * Sizeof.INT);
            JCudaDriver.cuMemcpyHtoD(out, Pointer.to(result), (long) THREADS * Sizeof.INT);
            Pointer params = kernel.startsWith("vs_race_sum")
                    ? Pointer.to(Pointer.to(x), Pointer.to(new int[] {THREADS}), Pointer.to(out))
                    : Pointer.to(Pointer.to(x), Pointer.to(out));
            JCudaDriver.cuLaunchKernel(f, 1, 1, 1, THREADS, 1, 1, 0, null, params, null);
            JCudaDriver.cuMemcpyDtoH(Pointer.to(result), out, (long) THREADS * Sizeof.INT);
            boolean right = true;
            if (shift) {
                for (int t = 0; t < THREADS; t++) right &= result[t] == (t % 32 == 0 ? 0 : in[t - 1]);
            } else {
                int sum = 0;
                for (int v : in) sum += v;
                right = result[0] == sum;
            }
            if (!right) wrong++;
        }
        return wrong;
    }

    private static long limit(int which) {
        long[] v = new long[1];
        JCudaDriver.cuCtxGetLimit(v, which);
        return v[0];
    }
}
