// An emulated CUDA driver (libcuda.so.1) for tests on machines without a GPU. Device memory is host
// memory; modules ignore their PTX and resolve kernels by name among the same .cu sources compiled
// for the CPU (see cuda_emu.h); launches run synchronously on the calling thread, one block at a
// time, the threads of a block as fibers (each CUDA thread its own stack).
//
// Two schedules, chosen by VS_EMU_SCHEDULE (read at cuInit; a context can override it, see below):
//   default      blocks in order (x fastest); inside a block each thread runs until it reaches a
//                barrier (__syncthreads, __syncwarp, a shuffle or ballot), then the next thread runs.
//                One legal schedule: fast, but blind to data races.
//   adversarial  blocks in a random order; kernels run from their adversarial build (compiled with
//                -fsanitize=thread, whose __tsan_* hooks are defined below, not libtsan's), and at
//                every switch point the scheduler chooses which thread of the block runs next.
//                The switch points:
//                  - every load and store g++ emits (after optimisation) whose address is global
//                    memory (inside a cuMemAlloc allocation) or __shared__ memory (a static
//                    variable, see cuda_emu.h: any address in this library's writable static
//                    storage), just before it; accesses to a thread's own locals (its stack) and to
//                    the kernel parameters are not;
//                  - every atomic (atomicAdd, atomicCAS, ...), just before it; the atomic itself is
//                    a real atomic read-modify-write (__atomic builtins);
//                  - every barrier: __syncthreads waits for all threads of the block; __syncwarp,
//                    __shfl_*_sync and __ballot/__any/__all_sync for all lanes of the warp (in the
//                    mask), which exchange at one point as on a real warp; waiting threads are not
//                    runnable, and the last to arrive releases the others, then the policy chooses.
//                The choice (a policy drawn per block, see "the adversarial schedule" below): either
//                a uniformly random runnable thread at every switch point, or PCT-style random
//                priorities with a few random demotions (one thread runs far ahead of others).
//                Not modelled: blocks of one launch never overlap (a race between blocks shows only
//                through their order), and __shared__ memory keeps the previous block's values.
//                Seeded: VS_EMU_SEED=<n> replays a run (the same launches in the same order get the
//                same schedules); without it a seed is drawn and printed to stderr at cuInit, with
//                a deadlock and at exit (with the number of launches and thread switches).
//
// Configuration (read at cuInit):
//   VS_EMU_DEVICES  comma-separated device memory sizes, e.g. "64M,64M,2M" (suffixes K, M, G);
//                   or a device count, each with VS_EMU_MEM bytes (default 256M). Default: one device.
//   VS_EMU_SCHEDULE default | adversarial (anything else fails cuInit).
//   VS_EMU_SEED     the adversarial schedule's seed (decimal).
// Test hooks: cuDeviceGetAttribute with VS_ATTR_LIVE_ALLOCATIONS (0x7653) returns the number of live
// allocations on the device (pinned host staging included); VS_ATTR_LAUNCHES (0x7654) the number of
// kernel launches so far; VS_ATTR_HOST_WAITS (0x7658) the number of times the host has waited for the
// device so far: stream and context synchronisations, synchronous copies, and "asynchronous" copies from
// or to memory that is not page-locked (a real driver stages those synchronously).
// cuCtxSetLimit/cuCtxGetLimit on the current context: VS_LIMIT_SCHEDULE (0x7655) 0 = default,
// 1 = adversarial, -1 = back to VS_EMU_SCHEDULE (get: the schedule in effect); VS_LIMIT_SEED
// (0x7656) seeds the context's own schedule generator (get: the seed in effect); VS_LIMIT_SWITCHES
// (0x7657, get only) the number of thread switches the adversarial schedule has made so far.
// Unlike a real driver, destroying a context does not free its allocations: they stay counted so that
// a leak is visible to the tests.
#include <algorithm>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <link.h>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <ucontext.h>
#include <vector>

#include "cuda_emu.h"

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
struct CUctx_st {
    int device;
    int primary;
    int schedule = -1;                 // VS_LIMIT_SCHEDULE: -1 = as VS_EMU_SCHEDULE says
    bool seeded = false;               // VS_LIMIT_SEED given: this context draws its own schedules
    unsigned long long seed = 0, rng = 0;
};
struct CUmod_st { int unused; };
struct CUfunc_st { std::string name; void* fn[2] = {nullptr, nullptr}; vs_emu::Invoker invoker[2] = {nullptr, nullptr}; };
struct CUstream_st { int unused; };
typedef CUctx_st* CUcontext;
typedef CUmod_st* CUmodule;
typedef CUfunc_st* CUfunction;
typedef CUstream_st* CUstream;

enum {
    CUDA_SUCCESS = 0, CUDA_ERROR_INVALID_VALUE = 1, CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_NOT_INITIALIZED = 3, CUDA_ERROR_NO_DEVICE = 100, CUDA_ERROR_INVALID_DEVICE = 101,
    CUDA_ERROR_INVALID_CONTEXT = 201, CUDA_ERROR_INVALID_HANDLE = 400, CUDA_ERROR_NOT_FOUND = 500,
    CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701, CUDA_ERROR_LAUNCH_FAILED = 719, CUDA_ERROR_NOT_SUPPORTED = 801,
    CUDA_ERROR_UNKNOWN = 999
};
static const int VS_ATTR_LIVE_ALLOCATIONS = 0x7653;
static const int VS_ATTR_LAUNCHES = 0x7654;
static const int VS_ATTR_HOST_WAITS = 0x7658;
static const int VS_LIMIT_SCHEDULE = 0x7655;
static const int VS_LIMIT_SEED = 0x7656;
static const int VS_LIMIT_SWITCHES = 0x7657;
enum { SCHEDULE_DEFAULT = 0, SCHEDULE_ADVERSARIAL = 1 };


namespace {

struct Device { size_t total = 0, used = 0; long live = 0; CUcontext primary = nullptr; int primaryRefs = 0; };
struct Alloc { size_t size; int device; };

std::recursive_mutex gLock;  // one at a time, like a single in-order stream
bool gInit = false;
std::vector<Device> gDevices;
std::map<uintptr_t, Alloc> gAllocs;
std::set<CUcontext> gContexts;
std::set<CUmodule> gModules;
long gLaunches = 0;
long gHostWaits = 0;
int gSchedule = SCHEDULE_DEFAULT;       // VS_EMU_SCHEDULE
unsigned long long gSeed = 0, gRng = 0;  // VS_EMU_SEED or drawn at cuInit
long gAdversarialLaunches = 0;
long gSwitches = 0;
thread_local CUcontext tCurrent = nullptr;
thread_local std::vector<CUcontext> tStack;

std::map<std::string, CUfunc_st>& registry() {
    static std::map<std::string, CUfunc_st> r;
    return r;
}

size_t parseSize(const char* s) {
    char* end = nullptr;
    double v = strtod(s, &end);
    while (end && *end == ' ') end++;
    switch (end ? *end : 0) {
        case 'k': case 'K': v *= 1024.0; break;
        case 'm': case 'M': v *= 1024.0 * 1024.0; break;
        case 'g': case 'G': v *= 1024.0 * 1024.0 * 1024.0; break;
        default: break;
    }
    return (size_t) v;
}

// splitmix64: a small, good generator; the state is the seed plus a counter.
unsigned long long nextRandom(unsigned long long& state) {
    unsigned long long z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
unsigned randomBelow(unsigned long long& state, unsigned n) {
    return (unsigned) (((nextRandom(state) >> 32) * n) >> 32);
}

// At exit, a line that shows the adversarial schedule ran (and with which seed).
struct ExitReport {
    ~ExitReport() {
        if (gAdversarialLaunches > 0 && gSchedule == SCHEDULE_ADVERSARIAL)
            fprintf(stderr, "[cuda-emu] adversarial schedule: %ld launches, %ld thread switches (VS_EMU_SEED=%llu)\n",
                    gAdversarialLaunches, gSwitches, gSeed);
    }
} gExitReport;

bool configureSchedule() {
    const char* sched = getenv("VS_EMU_SCHEDULE");
    if (!sched || !*sched || !strcmp(sched, "default")) gSchedule = SCHEDULE_DEFAULT;
    else if (!strcmp(sched, "adversarial")) gSchedule = SCHEDULE_ADVERSARIAL;
    else {
        fprintf(stderr, "[cuda-emu] VS_EMU_SCHEDULE=%s: expected default or adversarial\n", sched);
        return false;
    }
    const char* seed = getenv("VS_EMU_SEED");
    if (seed && *seed) gSeed = strtoull(seed, nullptr, 10);
    else gSeed = ((unsigned long long) std::random_device()() << 32 | std::random_device()()) % 1000000000000ULL;
    gRng = gSeed;
    if (gSchedule == SCHEDULE_ADVERSARIAL)
        fprintf(stderr, "[cuda-emu] adversarial schedule, seed %llu (VS_EMU_SEED=%llu replays it)\n", gSeed, gSeed);
    return true;
}

void configure() {
    const char* spec = getenv("VS_EMU_DEVICES");
    const char* mem = getenv("VS_EMU_MEM");
    size_t defaultMem = mem ? parseSize(mem) : (size_t) 256 << 20;
    gDevices.clear();
    if (!spec || !*spec) { gDevices.resize(1); gDevices[0].total = defaultMem; return; }
    if (!strchr(spec, ',') && !strpbrk(spec, "kKmMgG")) {
        int n = atoi(spec);
        gDevices.resize(n > 0 ? n : 0);
        for (auto& d : gDevices) d.total = defaultMem;
        return;
    }
    std::string all(spec);
    size_t start = 0;
    while (start <= all.size()) {
        size_t comma = all.find(',', start);
        std::string part = all.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!part.empty()) { Device d; d.total = parseSize(part.c_str()); gDevices.push_back(d); }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
}

bool validDevice(CUdevice d) { return d >= 0 && d < (int) gDevices.size(); }

// The allocation that contains [p, p + n), or null.
const std::pair<const uintptr_t, Alloc>* findRange(uintptr_t p, size_t n) {
    auto it = gAllocs.upper_bound(p);
    if (it == gAllocs.begin()) return nullptr;
    --it;
    if (p < it->first || p + n > it->first + it->second.size) return nullptr;
    return &*it;
}

// ---- fibers -------------------------------------------------------------------------------------
const size_t kStack = 256 * 1024;

struct Fiber { ucontext_t uc; jmp_buf env; bool started = false, done = false; dim3 tid; };
struct Barrier { int count = 0; unsigned long long gen = 0; std::vector<int> waiting; };
struct LaunchState {
    std::vector<Fiber> fibers;
    std::vector<char*> stacks;
    std::vector<Barrier> warps;
    std::vector<unsigned long long> slots;
    Barrier block;
    jmp_buf sched;
    ucontext_t schedUc;
    int current = 0, nthreads = 0;
    long progress = 0;
    void* fn = nullptr;
    vs_emu::Invoker invoker = nullptr;
    void** params = nullptr;
    // adversarial schedule only
    bool adversarial = false;
    unsigned long long rng = 0;
    std::vector<int> runnable;               // fibers that can run now (in no particular order)
    std::vector<int> where;                  // fiber -> its index in runnable, or -1
    int next = -1;                           // the fiber a switch point chose
    int policy = 0;                          // this block's: POLICY_UNIFORM or POLICY_PRIORITY
    std::vector<unsigned long long> priority;  // POLICY_PRIORITY: higher runs first
    unsigned long long demoted = 0;          // the next demoted priority (below every initial one)
    unsigned long long demoteBelow = 0;      // a switch point demotes when a draw is below this
    long steps = 0, lastSteps = 1000;        // switch points in this block, in the previous one
    std::vector<std::pair<uintptr_t, uintptr_t>> global;  // device allocations [begin, end), sorted
    uintptr_t globalLo = 0, globalHi = 0;
};
LaunchState gRun;  // launches are serialized by gLock
LaunchState* L = &gRun;

void yieldToScheduler() {
    Fiber& f = L->fibers[L->current];
    if (!_setjmp(f.env)) _longjmp(L->sched, 1);
}

void fiberMain() {
    L->invoker(L->fn, L->params);
    L->fibers[L->current].done = true;
    L->progress++;
    _longjmp(L->sched, 1);
}

// Runs fiber i until its next yield (or its end).
void resume(int i) {
    Fiber& f = L->fibers[i];
    L->current = i;
    vs_emu::tIdx = f.tid;
    if (!_setjmp(L->sched)) {
        if (!f.started) {
            f.started = true;
            getcontext(&f.uc);
            f.uc.uc_stack.ss_sp = L->stacks[i];
            f.uc.uc_stack.ss_size = kStack;
            f.uc.uc_link = nullptr;
            makecontext(&f.uc, fiberMain, 0);
            swapcontext(&L->schedUc, &f.uc);
        } else {
            _longjmp(f.env, 1);
        }
    }
}

int warpLanes(int warp, unsigned int mask) {
    int n = 0;
    for (int i = 0; i < 32; i++)
        if (((mask >> i) & 1u) && warp * 32 + i < L->nthreads) n++;
    return n;
}

void resetBlock() {
    for (int i = 0; i < L->nthreads; i++) { L->fibers[i].started = false; L->fibers[i].done = false; }
    for (auto& w : L->warps) w = Barrier();
    L->block = Barrier();
}

// ---- the default schedule: threads in turn, each up to its next barrier ---------------------------

void barrierWaitInTurn(Barrier& b, int expected) {
    L->progress++;
    if (++b.count >= expected) { b.count = 0; b.gen++; return; }
    unsigned long long g = b.gen;
    while (b.gen == g) yieldToScheduler();
}

// Runs one block; false on a deadlock (threads waiting at barriers that can never complete).
bool runBlockInTurn() {
    resetBlock();
    int remaining = L->nthreads;
    while (remaining > 0) {
        long before = L->progress;
        for (int i = 0; i < L->nthreads; i++) {
            Fiber& f = L->fibers[i];
            if (f.done) continue;
            resume(i);
            if (f.done) remaining--;
        }
        if (remaining > 0 && L->progress == before) return false;
    }
    return true;
}

// ---- the adversarial schedule: a random choice at every switch point ------------------------------
// Each block draws one of two policies:
//   uniform   at every switch point, continue with a uniformly chosen runnable thread (interleaves
//             finely: lost updates, torn read-modify-writes);
//   priority  PCT (Burckhardt et al., "A randomized scheduler with probabilistic guarantees of
//             finding bugs", ASPLOS 2010): threads get random priorities and the highest-priority
//             runnable thread runs; at a few random switch points (1 to 3 per block on average) the
//             running thread drops below all others (runs threads far ahead of each other: reads
//             before another thread's write, missing barriers).
enum { POLICY_UNIFORM = 0, POLICY_PRIORITY = 1 };

void makeRunnable(int i) {
    L->where[i] = (int) L->runnable.size();
    L->runnable.push_back(i);
}
void makeNotRunnable(int i) {
    int at = L->where[i], last = L->runnable.back();
    L->runnable[at] = last;
    L->where[last] = at;
    L->runnable.pop_back();
    L->where[i] = -1;
}

int highestPriorityRunnable() {
    int best = L->runnable[0];
    for (int i : L->runnable)
        if (L->priority[i] > L->priority[best]) best = i;
    return best;
}

// The fiber the policy runs next (the running one included, when it is runnable).
int choose() {
    if (L->policy == POLICY_UNIFORM) return L->runnable[randomBelow(L->rng, (unsigned) L->runnable.size())];
    return highestPriorityRunnable();
}

void switchTo(int pick) {
    if (pick == L->current) return;
    gSwitches++;
    L->next = pick;
    yieldToScheduler();
}

// Called by the running fiber before a memory access or an atomic.
void switchPoint() {
    L->steps++;
    if (L->policy == POLICY_PRIORITY) {
        if (nextRandom(L->rng) >= L->demoteBelow) return;  // the highest-priority thread runs on
        L->priority[L->current] = L->demoted--;
    }
    switchTo(choose());
}

// A barrier of `expected` fibers: the early ones stop being runnable; the last releases them all
// and then lets the policy choose who continues.
void barrierWaitAdversarial(Barrier& b, int expected) {
    L->progress++;
    L->steps++;
    if (++b.count >= expected) {
        b.count = 0;
        for (int i : b.waiting) makeRunnable(i);
        b.waiting.clear();
        switchTo(choose());
        return;
    }
    b.waiting.push_back(L->current);
    makeNotRunnable(L->current);
    gSwitches++;
    L->next = -1;
    yieldToScheduler();
}

bool isGlobal(uintptr_t a) {
    if (a < L->globalLo || a >= L->globalHi) return false;
    auto it = std::upper_bound(L->global.begin(), L->global.end(), std::make_pair(a, UINTPTR_MAX));
    return it != L->global.begin() && a < (--it)->second;
}

// The writable static storage of this library: where the kernels' __shared__ variables (static
// variables here, see cuda_emu.h) live. The emulator's own state lives there too, but only code
// that is not instrumented touches it, so an instrumented access there is a kernel's shared memory.
std::vector<std::pair<uintptr_t, uintptr_t>> gStatic;
int findStaticStorage(struct dl_phdr_info* info, size_t, void*) {
    uintptr_t me = (uintptr_t) &gRun;
    std::vector<std::pair<uintptr_t, uintptr_t>> rw;
    bool mine = false;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_LOAD) continue;
        uintptr_t begin = info->dlpi_addr + ph.p_vaddr, end = begin + ph.p_memsz;
        if (me >= begin && me < end) mine = true;
        if (ph.p_flags & PF_W) rw.emplace_back(begin, end);
    }
    if (!mine) return 0;
    gStatic = rw;
    return 1;
}

bool isShared(uintptr_t a) {
    for (auto& r : gStatic)
        if (a >= r.first && a < r.second) return true;
    return false;
}

// The memory hooks: a switch point when [p, p + n) touches global or shared memory.
inline void memoryAccess(const void* p, size_t n) {
    if (!L->adversarial) return;
    uintptr_t a = (uintptr_t) p;
    if (isShared(a) || isGlobal(a) || (n > 1 && (isShared(a + n - 1) || isGlobal(a + n - 1)))) switchPoint();
}

bool runBlockAdversarial() {
    resetBlock();
    L->runnable.clear();
    L->where.assign(L->nthreads, -1);
    for (int i = 0; i < L->nthreads; i++) makeRunnable(i);
    L->policy = (int) (nextRandom(L->rng) & 1);
    if (L->policy == POLICY_PRIORITY) {
        L->priority.resize(L->nthreads);
        for (auto& p : L->priority) p = (1ULL << 62) + (nextRandom(L->rng) >> 4);
        L->demoted = 1ULL << 61;
        long changes = 1 + (long) randomBelow(L->rng, 3);  // expected demotions in this block
        L->demoteBelow = L->lastSteps > changes ? UINT64_MAX / (unsigned long long) L->lastSteps * changes : UINT64_MAX;
    }
    L->steps = 0;
    L->next = -1;
    int finished = 0;
    while (!L->runnable.empty()) {
        int i = L->next >= 0 ? L->next : choose();
        L->next = -1;
        resume(i);
        if (L->fibers[i].done) {
            finished++;
            makeNotRunnable(i);
        }
    }
    L->lastSteps = L->steps > 0 ? L->steps : 1;
    return finished == L->nthreads;  // otherwise threads wait at a barrier that can never complete
}

}  // namespace

// ---- what cuda_emu.h needs ------------------------------------------------------------------------
namespace vs_emu {
thread_local dim3 tIdx, bIdx, bDim, gDim;
static void barrierWait(Barrier& b, int expected) {
    if (L->adversarial) barrierWaitAdversarial(b, expected);
    else barrierWaitInTurn(b, expected);
}
void syncthreads() { barrierWait(L->block, L->nthreads); }
void syncwarp(unsigned int mask) {
    int w = linearThread() / 32;
    barrierWait(L->warps[w], warpLanes(w, mask));
}
int laneExists(int lane) { return (linearThread() / 32) * 32 + lane < L->nthreads; }
void warpExchange(unsigned long long mine, unsigned long long* all, unsigned int mask) {
    int t = linearThread(), w = t / 32, expected = warpLanes(w, mask);
    L->slots[t] = mine;
    barrierWait(L->warps[w], expected);
    for (int i = 0; i < 32; i++) all[i] = w * 32 + i < L->nthreads ? L->slots[w * 32 + i] : 0;
    barrierWait(L->warps[w], expected);  // nobody overwrites a slot before the warp has read it
}
void atomicPoint(const void* p) { memoryAccess(p, 1); }
Registrar::Registrar(const char* name, void* fn, Invoker invoker, int variant) {
    CUfunc_st& f = registry()[name];
    f.name = name;
    f.fn[variant] = fn;
    f.invoker[variant] = invoker;
}
}  // namespace vs_emu

// ---- the adversarial build's instrumentation (g++ -fsanitize=thread calls these; no libtsan) -------
#define VS_TSAN extern "C" __attribute__((visibility("hidden")))
VS_TSAN void __tsan_init() {}
VS_TSAN void __tsan_func_entry(void*) {}
VS_TSAN void __tsan_func_exit() {}
VS_TSAN void __tsan_vptr_update(void**, void*) {}
VS_TSAN void __tsan_vptr_read(void**) {}
#define VS_TSAN_ACCESS(n)                                                           \
    VS_TSAN void __tsan_read##n(void* p) { memoryAccess(p, n); }                    \
    VS_TSAN void __tsan_write##n(void* p) { memoryAccess(p, n); }                   \
    VS_TSAN void __tsan_volatile_read##n(void* p) { memoryAccess(p, n); }           \
    VS_TSAN void __tsan_volatile_write##n(void* p) { memoryAccess(p, n); }
VS_TSAN_ACCESS(1)
VS_TSAN_ACCESS(2)
VS_TSAN_ACCESS(4)
VS_TSAN_ACCESS(8)
VS_TSAN_ACCESS(16)
#define VS_TSAN_UNALIGNED(n)                                                        \
    VS_TSAN void __tsan_unaligned_read##n(void* p) { memoryAccess(p, n); }          \
    VS_TSAN void __tsan_unaligned_write##n(void* p) { memoryAccess(p, n); }
VS_TSAN_UNALIGNED(2)
VS_TSAN_UNALIGNED(4)
VS_TSAN_UNALIGNED(8)
VS_TSAN_UNALIGNED(16)
VS_TSAN void __tsan_read_range(void* p, unsigned long n) { memoryAccess(p, n); }
VS_TSAN void __tsan_write_range(void* p, unsigned long n) { memoryAccess(p, n); }

// ---- the driver API ----------------------------------------------------------------------------------
#define GUARD std::lock_guard<std::recursive_mutex> guard(gLock)
#define NEED_INIT if (!gInit) return CUDA_ERROR_NOT_INITIALIZED

extern "C" {

int vs_emu_unsupported(const char* name) {
    static std::set<std::string> warned;
    GUARD;
    if (warned.insert(name).second) fprintf(stderr, "[cuda-emu] %s is not emulated (CUDA_ERROR_NOT_SUPPORTED)\n", name);
    return CUDA_ERROR_NOT_SUPPORTED;
}

CUresult cuInit(unsigned int) {
    GUARD;
    if (!gInit) {
        if (!configureSchedule()) return CUDA_ERROR_INVALID_VALUE;
        configure();
        dl_iterate_phdr(findStaticStorage, nullptr);
        gInit = true;
    }
    return gDevices.empty() ? CUDA_ERROR_NO_DEVICE : CUDA_SUCCESS;
}
CUresult cuDriverGetVersion(int* v) { if (!v) return CUDA_ERROR_INVALID_VALUE; *v = 13000; return CUDA_SUCCESS; }
CUresult cuDeviceGetCount(int* n) { GUARD; NEED_INIT; if (!n) return CUDA_ERROR_INVALID_VALUE; *n = (int) gDevices.size(); return CUDA_SUCCESS; }
CUresult cuDeviceGet(CUdevice* d, int ordinal) {
    GUARD; NEED_INIT;
    if (!d) return CUDA_ERROR_INVALID_VALUE;
    if (!validDevice(ordinal)) return CUDA_ERROR_INVALID_DEVICE;
    *d = ordinal;
    return CUDA_SUCCESS;
}
CUresult cuDeviceGetName(char* name, int len, CUdevice d) {
    GUARD; NEED_INIT;
    if (!name || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    if (!validDevice(d)) return CUDA_ERROR_INVALID_DEVICE;
    snprintf(name, (size_t) len, "Vectorstream emulated device %d", d);
    return CUDA_SUCCESS;
}
CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice d) {
    GUARD; NEED_INIT;
    if (!bytes) return CUDA_ERROR_INVALID_VALUE;
    if (!validDevice(d)) return CUDA_ERROR_INVALID_DEVICE;
    *bytes = gDevices[d].total;
    return CUDA_SUCCESS;
}
CUresult cuDeviceGetAttribute(int* v, int attr, CUdevice d) {
    GUARD; NEED_INIT;
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    if (!validDevice(d)) return CUDA_ERROR_INVALID_DEVICE;
    switch (attr) {
        case 1: *v = 1024; break;                 // max threads per block
        case 2: case 3: *v = 1024; break;         // max block dim x, y
        case 4: *v = 64; break;                   // max block dim z
        case 5: *v = 0x7fffffff; break;           // max grid dim x
        case 6: case 7: *v = 65535; break;        // max grid dim y, z
        case 8: *v = 48 * 1024; break;            // shared memory per block
        case 10: *v = 32; break;                  // warp size
        case 16: *v = 2; break;                   // multiprocessors
        case 75: *v = 9; break;                   // compute capability major
        case 76: *v = 0; break;                   // compute capability minor
        case VS_ATTR_LIVE_ALLOCATIONS: *v = (int) gDevices[d].live; break;
        case VS_ATTR_LAUNCHES: *v = (int) gLaunches; break;
        case VS_ATTR_HOST_WAITS: *v = (int) gHostWaits; break;
        default: *v = 0; break;
    }
    return CUDA_SUCCESS;
}
CUresult cuDeviceComputeCapability(int* major, int* minor, CUdevice d) {
    GUARD; NEED_INIT;
    if (!major || !minor) return CUDA_ERROR_INVALID_VALUE;
    if (!validDevice(d)) return CUDA_ERROR_INVALID_DEVICE;
    *major = 9; *minor = 0;
    return CUDA_SUCCESS;
}

CUresult cuCtxCreate_v2(CUcontext* ctx, unsigned int, CUdevice d) {
    GUARD; NEED_INIT;
    if (!ctx) return CUDA_ERROR_INVALID_VALUE;
    if (!validDevice(d)) return CUDA_ERROR_INVALID_DEVICE;
    CUcontext c = new CUctx_st{d, 0};
    gContexts.insert(c);
    tCurrent = c;
    *ctx = c;
    return CUDA_SUCCESS;
}
CUresult cuCtxDestroy_v2(CUcontext ctx) {
    GUARD; NEED_INIT;
    if (!gContexts.count(ctx) || ctx->primary) return CUDA_ERROR_INVALID_CONTEXT;
    gContexts.erase(ctx);
    if (tCurrent == ctx) tCurrent = nullptr;
    delete ctx;
    return CUDA_SUCCESS;
}
CUresult cuCtxSetCurrent(CUcontext ctx) {
    GUARD; NEED_INIT;
    if (ctx && !gContexts.count(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
    tCurrent = ctx;
    return CUDA_SUCCESS;
}
CUresult cuCtxGetCurrent(CUcontext* ctx) { GUARD; NEED_INIT; if (!ctx) return CUDA_ERROR_INVALID_VALUE; *ctx = tCurrent; return CUDA_SUCCESS; }
CUresult cuCtxGetDevice(CUdevice* d) {
    GUARD; NEED_INIT;
    if (!d) return CUDA_ERROR_INVALID_VALUE;
    if (!tCurrent) return CUDA_ERROR_INVALID_CONTEXT;
    *d = tCurrent->device;
    return CUDA_SUCCESS;
}
CUresult cuCtxPushCurrent_v2(CUcontext ctx) {
    GUARD; NEED_INIT;
    if (!gContexts.count(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
    tStack.push_back(tCurrent);
    tCurrent = ctx;
    return CUDA_SUCCESS;
}
CUresult cuCtxPopCurrent_v2(CUcontext* out) {
    GUARD; NEED_INIT;
    if (!tCurrent) return CUDA_ERROR_INVALID_CONTEXT;
    if (out) *out = tCurrent;
    tCurrent = tStack.empty() ? nullptr : tStack.back();
    if (!tStack.empty()) tStack.pop_back();
    return CUDA_SUCCESS;
}
CUresult cuCtxSynchronize(void) { GUARD; NEED_INIT; gHostWaits++; return tCurrent ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT; }
static int scheduleOf(CUcontext ctx) { return ctx && ctx->schedule >= 0 ? ctx->schedule : gSchedule; }
CUresult cuCtxSetLimit(int limit, size_t value) {
    GUARD; NEED_INIT;
    if (!tCurrent) return CUDA_ERROR_INVALID_CONTEXT;
    long long v = (long long) value;
    switch (limit) {
        case VS_LIMIT_SCHEDULE:
            if (v < -1 || v > SCHEDULE_ADVERSARIAL) return CUDA_ERROR_INVALID_VALUE;
            tCurrent->schedule = (int) v;
            return CUDA_SUCCESS;
        case VS_LIMIT_SEED:
            tCurrent->seeded = true;
            tCurrent->seed = tCurrent->rng = (unsigned long long) value;
            return CUDA_SUCCESS;
        default: return CUDA_SUCCESS;  // the real limits (stack size, printf FIFO, ...) mean nothing here
    }
}
CUresult cuCtxGetLimit(size_t* value, int limit) {
    GUARD; NEED_INIT;
    if (!value) return CUDA_ERROR_INVALID_VALUE;
    if (!tCurrent) return CUDA_ERROR_INVALID_CONTEXT;
    switch (limit) {
        case VS_LIMIT_SCHEDULE: *value = (size_t) scheduleOf(tCurrent); break;
        case VS_LIMIT_SEED: *value = (size_t) (tCurrent->seeded ? tCurrent->seed : gSeed); break;
        case VS_LIMIT_SWITCHES: *value = (size_t) gSwitches; break;
        default: *value = 0; break;
    }
    return CUDA_SUCCESS;
}
CUresult cuCtxGetApiVersion(CUcontext, unsigned int* v) { if (!v) return CUDA_ERROR_INVALID_VALUE; *v = 12000; return CUDA_SUCCESS; }
CUresult cuDevicePrimaryCtxRetain(CUcontext* ctx, CUdevice d) {
    GUARD; NEED_INIT;
    if (!ctx) return CUDA_ERROR_INVALID_VALUE;
    if (!validDevice(d)) return CUDA_ERROR_INVALID_DEVICE;
    Device& dev = gDevices[d];
    if (!dev.primary) { dev.primary = new CUctx_st{d, 1}; gContexts.insert(dev.primary); }
    dev.primaryRefs++;
    *ctx = dev.primary;
    return CUDA_SUCCESS;
}
CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) {
    GUARD; NEED_INIT;
    if (!validDevice(d)) return CUDA_ERROR_INVALID_DEVICE;
    Device& dev = gDevices[d];
    if (dev.primaryRefs <= 0) return CUDA_ERROR_INVALID_CONTEXT;
    if (--dev.primaryRefs == 0) {
        gContexts.erase(dev.primary);
        if (tCurrent == dev.primary) tCurrent = nullptr;
        delete dev.primary;
        dev.primary = nullptr;
    }
    return CUDA_SUCCESS;
}

CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t bytes) {
    GUARD; NEED_INIT;
    if (!p || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    if (!tCurrent) return CUDA_ERROR_INVALID_CONTEXT;
    Device& dev = gDevices[tCurrent->device];
    if (dev.used + bytes > dev.total) return CUDA_ERROR_OUT_OF_MEMORY;
    void* mem = aligned_alloc(256, (bytes + 255) / 256 * 256);
    if (!mem) return CUDA_ERROR_OUT_OF_MEMORY;
    gAllocs[(uintptr_t) mem] = Alloc{bytes, tCurrent->device};
    dev.used += bytes;
    dev.live++;
    *p = (CUdeviceptr) (uintptr_t) mem;
    return CUDA_SUCCESS;
}
CUresult cuMemFree_v2(CUdeviceptr p) {
    GUARD; NEED_INIT;
    auto it = gAllocs.find((uintptr_t) p);
    if (it == gAllocs.end()) return CUDA_ERROR_INVALID_VALUE;
    Device& dev = gDevices[it->second.device];
    dev.used -= it->second.size;
    dev.live--;
    free((void*) it->first);
    gAllocs.erase(it);
    return CUDA_SUCCESS;
}
// Page-locked host memory: plain host memory here, counted with the device of the current context so that
// the live-allocation hook sees staging buffers that were never freed.
struct Pinned { size_t size; int device; };
static std::map<uintptr_t, Pinned> gPinned;
static bool isPinned(const void* p, size_t n) {
    auto it = gPinned.upper_bound((uintptr_t) p);
    if (it == gPinned.begin()) return false;
    --it;
    return (uintptr_t) p + n <= it->first + it->second.size;
}
CUresult cuMemAllocHost_v2(void** p, size_t bytes) {
    GUARD; NEED_INIT;
    if (!p || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    if (!tCurrent) return CUDA_ERROR_INVALID_CONTEXT;
    void* mem = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
    if (!mem) return CUDA_ERROR_OUT_OF_MEMORY;
    gPinned[(uintptr_t) mem] = Pinned{bytes, tCurrent->device};
    gDevices[tCurrent->device].live++;
    *p = mem;
    return CUDA_SUCCESS;
}
CUresult cuMemFreeHost(void* p) {
    GUARD; NEED_INIT;
    auto it = gPinned.find((uintptr_t) p);
    if (it == gPinned.end()) return CUDA_ERROR_INVALID_VALUE;
    gDevices[it->second.device].live--;
    free(p);
    gPinned.erase(it);
    return CUDA_SUCCESS;
}
CUresult cuMemGetInfo_v2(size_t* freeBytes, size_t* total) {
    GUARD; NEED_INIT;
    if (!freeBytes || !total) return CUDA_ERROR_INVALID_VALUE;
    if (!tCurrent) return CUDA_ERROR_INVALID_CONTEXT;
    Device& dev = gDevices[tCurrent->device];
    *freeBytes = dev.total - dev.used;
    *total = dev.total;
    return CUDA_SUCCESS;
}
static CUresult copyHtoD(CUdeviceptr dst, const void* src, size_t n) {
    GUARD; NEED_INIT;
    if (n == 0) return CUDA_SUCCESS;
    if (!src || !findRange((uintptr_t) dst, n)) return CUDA_ERROR_INVALID_VALUE;
    memcpy((void*) (uintptr_t) dst, src, n);
    return CUDA_SUCCESS;
}
static CUresult copyDtoH(void* dst, CUdeviceptr src, size_t n) {
    GUARD; NEED_INIT;
    if (n == 0) return CUDA_SUCCESS;
    if (!dst || !findRange((uintptr_t) src, n)) return CUDA_ERROR_INVALID_VALUE;
    memcpy(dst, (const void*) (uintptr_t) src, n);
    return CUDA_SUCCESS;
}
static CUresult copyDtoD(CUdeviceptr dst, CUdeviceptr src, size_t n) {
    GUARD; NEED_INIT;
    if (n == 0) return CUDA_SUCCESS;
    if (!findRange((uintptr_t) dst, n) || !findRange((uintptr_t) src, n)) return CUDA_ERROR_INVALID_VALUE;
    memmove((void*) (uintptr_t) dst, (const void*) (uintptr_t) src, n);
    return CUDA_SUCCESS;
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t n) { { GUARD; gHostWaits++; } return copyHtoD(dst, src, n); }
CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t n) { { GUARD; gHostWaits++; } return copyDtoH(dst, src, n); }
CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) { { GUARD; gHostWaits++; } return copyDtoD(dst, src, n); }
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t n, CUstream) {
    { GUARD; if (!isPinned(src, n)) gHostWaits++; }
    return copyHtoD(dst, src, n);
}
CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t n, CUstream) {
    { GUARD; if (!isPinned(dst, n)) gHostWaits++; }
    return copyDtoH(dst, src, n);
}
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream) { return copyDtoD(dst, src, n); }
CUresult cuMemsetD32_v2(CUdeviceptr dst, unsigned int v, size_t count) {
    GUARD; NEED_INIT;
    if (count == 0) return CUDA_SUCCESS;
    if (!findRange((uintptr_t) dst, count * 4)) return CUDA_ERROR_INVALID_VALUE;
    unsigned int* p = (unsigned int*) (uintptr_t) dst;
    for (size_t i = 0; i < count; i++) p[i] = v;
    return CUDA_SUCCESS;
}
CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char v, size_t count) {
    GUARD; NEED_INIT;
    if (count == 0) return CUDA_SUCCESS;
    if (!findRange((uintptr_t) dst, count)) return CUDA_ERROR_INVALID_VALUE;
    memset((void*) (uintptr_t) dst, v, count);
    return CUDA_SUCCESS;
}

CUresult cuModuleLoadData(CUmodule* m, const void* image) {
    GUARD; NEED_INIT;
    if (!m || !image) return CUDA_ERROR_INVALID_VALUE;
    if (!tCurrent) return CUDA_ERROR_INVALID_CONTEXT;
    CUmodule mod = new CUmod_st{0};
    gModules.insert(mod);
    *m = mod;
    return CUDA_SUCCESS;
}
CUresult cuModuleLoadDataEx(CUmodule* m, const void* image, unsigned int, void*, void**) { return cuModuleLoadData(m, image); }
CUresult cuModuleLoad(CUmodule* m, const char* path) { return cuModuleLoadData(m, path); }
CUresult cuModuleLoadFatBinary(CUmodule* m, const void* image) { return cuModuleLoadData(m, image); }
CUresult cuModuleUnload(CUmodule m) {
    GUARD; NEED_INIT;
    if (!gModules.erase(m)) return CUDA_ERROR_INVALID_HANDLE;
    delete m;
    return CUDA_SUCCESS;
}
CUresult cuModuleGetFunction(CUfunction* f, CUmodule m, const char* name) {
    GUARD; NEED_INIT;
    if (!f || !name) return CUDA_ERROR_INVALID_VALUE;
    if (!gModules.count(m)) return CUDA_ERROR_INVALID_HANDLE;
    auto it = registry().find(name);
    if (it == registry().end()) return CUDA_ERROR_NOT_FOUND;
    *f = &it->second;
    return CUDA_SUCCESS;
}
CUresult cuFuncGetAttribute(int* v, int attr, CUfunction) {
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    *v = attr == 0 ? 1024 : 0;  // CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK
    return CUDA_SUCCESS;
}

CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                        unsigned int bx, unsigned int by, unsigned int bz, unsigned int sharedBytes,
                        CUstream, void** params, void** extra) {
    GUARD; NEED_INIT;
    if (!tCurrent) return CUDA_ERROR_INVALID_CONTEXT;
    if (!f || !(f->invoker[0] || f->invoker[1])) return CUDA_ERROR_INVALID_HANDLE;
    if (extra || sharedBytes > 0) return CUDA_ERROR_NOT_SUPPORTED;  // our kernels use neither
    if (!params || gx * gy * gz == 0 || bx * by * bz == 0) return CUDA_ERROR_INVALID_VALUE;
    const int n = (int) (bx * by * bz);
    if (n > 1024) return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
    const int variant = scheduleOf(tCurrent) == SCHEDULE_ADVERSARIAL ? 1 : 0;
    if (!f->fn[variant]) return CUDA_ERROR_NOT_FOUND;  // build-emulator.sh builds every kernel twice
    gLaunches++;
    L->fn = f->fn[variant];
    L->invoker = f->invoker[variant];
    L->params = params;
    L->nthreads = n;
    L->fibers.resize(n);
    while ((int) L->stacks.size() < n) L->stacks.push_back((char*) malloc(kStack));
    L->warps.assign((n + 31) / 32, Barrier());
    L->slots.assign((size_t) ((n + 31) / 32) * 32, 0);
    for (int i = 0; i < n; i++) {
        L->fibers[i].tid = dim3{(unsigned) (i % bx), (unsigned) ((i / bx) % by), (unsigned) (i / (bx * by))};
    }
    vs_emu::bDim = dim3{bx, by, bz};
    vs_emu::gDim = dim3{gx, gy, gz};
    std::vector<dim3> blocks;
    blocks.reserve((size_t) gx * gy * gz);
    for (unsigned z = 0; z < gz; z++)
        for (unsigned y = 0; y < gy; y++)
            for (unsigned x = 0; x < gx; x++) blocks.push_back(dim3{x, y, z});
    unsigned long long launchSeed = 0;
    long launchNumber = 0;
    if (variant == 1) {
        launchNumber = ++gAdversarialLaunches;
        launchSeed = nextRandom(tCurrent->seeded ? tCurrent->rng : gRng);
        L->rng = launchSeed;
        for (size_t i = blocks.size(); i > 1; i--) std::swap(blocks[i - 1], blocks[randomBelow(L->rng, (unsigned) i)]);
        L->global.clear();
        for (auto& a : gAllocs) L->global.emplace_back(a.first, a.first + a.second.size);
        L->globalLo = L->global.empty() ? 0 : L->global.front().first;
        L->globalHi = L->global.empty() ? 0 : L->global.back().second;
    }
    L->adversarial = variant == 1;
    for (const dim3& b : blocks) {
        vs_emu::bIdx = b;
        if (!(variant == 1 ? runBlockAdversarial() : runBlockInTurn())) {
            L->adversarial = false;
            if (variant == 1)
                fprintf(stderr, "[cuda-emu] %s: deadlock in block (%u,%u,%u) (adversarial schedule, seed %llu, "
                        "adversarial launch %ld)\n", f->name.c_str(), b.x, b.y, b.z,
                        tCurrent->seeded ? tCurrent->seed : gSeed, launchNumber);
            else
                fprintf(stderr, "[cuda-emu] %s: deadlock in block (%u,%u,%u)\n", f->name.c_str(), b.x, b.y, b.z);
            return CUDA_ERROR_LAUNCH_FAILED;
        }
    }
    L->adversarial = false;
    return CUDA_SUCCESS;
}

CUresult cuStreamCreate(CUstream* s, unsigned int) { if (!s) return CUDA_ERROR_INVALID_VALUE; *s = new CUstream_st{0}; return CUDA_SUCCESS; }
CUresult cuStreamDestroy_v2(CUstream s) { delete s; return CUDA_SUCCESS; }
CUresult cuStreamSynchronize(CUstream) { GUARD; gHostWaits++; return CUDA_SUCCESS; }
CUresult cuStreamQuery(CUstream) { return CUDA_SUCCESS; }

static const char* errorName(CUresult e) {
    switch (e) {
        case CUDA_SUCCESS: return "CUDA_SUCCESS";
        case CUDA_ERROR_INVALID_VALUE: return "CUDA_ERROR_INVALID_VALUE";
        case CUDA_ERROR_OUT_OF_MEMORY: return "CUDA_ERROR_OUT_OF_MEMORY";
        case CUDA_ERROR_NOT_INITIALIZED: return "CUDA_ERROR_NOT_INITIALIZED";
        case CUDA_ERROR_NO_DEVICE: return "CUDA_ERROR_NO_DEVICE";
        case CUDA_ERROR_INVALID_DEVICE: return "CUDA_ERROR_INVALID_DEVICE";
        case CUDA_ERROR_INVALID_CONTEXT: return "CUDA_ERROR_INVALID_CONTEXT";
        case CUDA_ERROR_INVALID_HANDLE: return "CUDA_ERROR_INVALID_HANDLE";
        case CUDA_ERROR_NOT_FOUND: return "CUDA_ERROR_NOT_FOUND";
        case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES: return "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES";
        case CUDA_ERROR_LAUNCH_FAILED: return "CUDA_ERROR_LAUNCH_FAILED";
        case CUDA_ERROR_NOT_SUPPORTED: return "CUDA_ERROR_NOT_SUPPORTED";
        default: return nullptr;
    }
}
CUresult cuGetErrorName(CUresult e, const char** s) {
    if (!s) return CUDA_ERROR_INVALID_VALUE;
    *s = errorName(e);
    return *s ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
CUresult cuGetErrorString(CUresult e, const char** s) { return cuGetErrorName(e, s); }

}  // extern "C"
