// Lets g++ compile the kernels' .cu files for the emulated driver (force-included with -include).
// Every kernel is compiled twice (see build-emulator.sh and the top of emu_driver.cpp):
//  - the default build: blocks run one after another; the threads of a block are fibers that switch
//    only at __syncthreads, warp shuffles/ballots and __syncwarp;
//  - the adversarial build (VS_EMU_ADVERSARIAL_BUILD, compiled with -fsanitize=thread so that g++
//    calls __tsan_read/__tsan_write before every load and store it emits): the emulator's hooks make
//    every access to global (device) or __shared__ memory a switch point, where its scheduler may
//    run another thread of the block; so are every atomic and every barrier/warp primitive.
// Barrier and warp semantics hold exactly as long as every lane of a warp reaches each shuffle
// (which our kernels guarantee).
#pragma once
#define VS_EMULATION 1

#include <cfloat>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

struct dim3 {
    unsigned int x, y, z;
};

namespace vs_emu {
// The current fiber's coordinates; set by the scheduler before every resume.
extern thread_local dim3 tIdx, bIdx, bDim, gDim;
void syncthreads();
void syncwarp(unsigned int mask);
// Publishes this lane's 64-bit value, waits for the warp, and returns all 32 lanes' values
// (lanes that do not exist in the block read as their own value's placeholder 0).
void warpExchange(unsigned long long mine, unsigned long long* all, unsigned int mask);
inline int linearThread() { return (int) (tIdx.x + bDim.x * (tIdx.y + bDim.y * tIdx.z)); }
inline int lane() { return linearThread() % 32; }
int laneExists(int lane);

typedef void (*Invoker)(void* fn, void** params);
// variant: 0 = the default build, 1 = the adversarial build of the same kernel.
struct Registrar {
    Registrar(const char* name, void* fn, Invoker invoker, int variant);
};
// Adversarial build: a switch point before an atomic on p (real atomics follow it).
void atomicPoint(const void* p);
template <typename... A, std::size_t... I>
void callWith(void (*f)(A...), void** p, std::index_sequence<I...>) {
    f(*static_cast<std::remove_reference_t<A>*>(p[I])...);
}
template <typename... A>
void invoke(void* fn, void** params) {
    callWith(reinterpret_cast<void (*)(A...)>(fn), params, std::index_sequence_for<A...>{});
}
template <typename... A>
Invoker invokerFor(void (*)(A...)) { return &invoke<A...>; }

template <typename T>
inline unsigned long long toBits(T v) {
    static_assert(sizeof(T) <= 8, "shuffle of a type wider than 64 bits");
    unsigned long long b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}
template <typename T>
inline T fromBits(unsigned long long b) {
    T v;
    std::memcpy(&v, &b, sizeof(T));
    return v;
}
template <typename T>
inline T shuffle(unsigned int mask, T v, int srcLane) {
    unsigned long long all[32];
    warpExchange(toBits(v), all, mask);
    return (srcLane >= 0 && srcLane < 32 && laneExists(srcLane)) ? fromBits<T>(all[srcLane]) : v;
}
}  // namespace vs_emu

#ifdef VS_EMU_ADVERSARIAL_BUILD
#define VS_EMU_VARIANT 1
// Atomics are not instrumented (their accesses are one switch point, then a real atomic operation).
#define VS_EMU_UNINSTRUMENTED __attribute__((no_sanitize_thread))
#define VS_EMU_ATOMIC __attribute__((no_sanitize_thread, noinline))
#define VS_EMU_ATOMIC_POINT(p) vs_emu::atomicPoint(p)
#else
#define VS_EMU_VARIANT 0
#define VS_EMU_UNINSTRUMENTED
#define VS_EMU_ATOMIC inline
#define VS_EMU_ATOMIC_POINT(p) ((void) 0)
#endif

#define VS_KERNEL(name) static vs_emu::Registrar vs_emu_registrar_##name(#name, (void*) &name, vs_emu::invokerFor(&name), VS_EMU_VARIANT);

#define threadIdx vs_emu::tIdx
#define blockIdx vs_emu::bIdx
#define blockDim vs_emu::bDim
#define gridDim vs_emu::gDim
#define __global__
#define __device__ inline
#define __host__
#define __forceinline__
#define __shared__ static
#define __restrict__ __restrict
#define __launch_bounds__(...)

inline void __syncthreads() { vs_emu::syncthreads(); }
inline void __syncwarp(unsigned int mask = 0xffffffffu) { vs_emu::syncwarp(mask); }

template <typename T>
inline T __shfl_sync(unsigned int mask, T v, int src, int width = 32) {
    int l = vs_emu::lane();
    return vs_emu::shuffle(mask, v, (l / width) * width + (src % width));
}
template <typename T>
inline T __shfl_down_sync(unsigned int mask, T v, unsigned int delta, int width = 32) {
    int l = vs_emu::lane();
    int src = (l % width) + (int) delta < width ? l + (int) delta : l;
    return vs_emu::shuffle(mask, v, src);
}
template <typename T>
inline T __shfl_up_sync(unsigned int mask, T v, unsigned int delta, int width = 32) {
    int l = vs_emu::lane();
    int src = (l % width) >= (int) delta ? l - (int) delta : l;
    return vs_emu::shuffle(mask, v, src);
}
template <typename T>
inline T __shfl_xor_sync(unsigned int mask, T v, int laneMask, int width = 32) {
    int l = vs_emu::lane();
    int src = l ^ laneMask;
    if (src / width != l / width) src = l;
    return vs_emu::shuffle(mask, v, src);
}
inline unsigned int __ballot_sync(unsigned int mask, int pred) {
    unsigned long long all[32];
    vs_emu::warpExchange(pred ? 1ull : 0ull, all, mask);
    unsigned int bits = 0;
    for (int i = 0; i < 32; i++)
        if (vs_emu::laneExists(i) && ((mask >> i) & 1u) && all[i]) bits |= 1u << i;
    return bits;
}
inline int __any_sync(unsigned int mask, int pred) { return __ballot_sync(mask, pred) != 0; }
inline int __all_sync(unsigned int mask, int pred) {
    unsigned int live = 0;
    for (int i = 0; i < 32; i++)
        if (vs_emu::laneExists(i)) live |= 1u << i;
    return __ballot_sync(mask, pred) == (mask & live);
}

// Real atomic read-modify-writes (compare-and-swap loops on the bytes, so float and double work too).
// In the adversarial build each one is preceded by a switch point.
namespace vs_emu {
template <typename T>
VS_EMU_UNINSTRUMENTED inline T atomicLoad(T* p) {
    T v;
    __atomic_load(p, &v, __ATOMIC_RELAXED);
    return v;
}
template <typename T>
VS_EMU_UNINSTRUMENTED inline bool atomicReplace(T* p, T& expected, T desired) {
    return __atomic_compare_exchange(p, &expected, &desired, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}
}  // namespace vs_emu
#define VS_EMU_RMW(p, next)                                   \
    VS_EMU_ATOMIC_POINT(p);                                   \
    T old = vs_emu::atomicLoad(p);                            \
    while (!vs_emu::atomicReplace(p, old, (T) (next))) {}     \
    return old
template <typename T>
VS_EMU_ATOMIC T atomicAdd(T* p, T v) { VS_EMU_RMW(p, old + v); }
template <typename T>
VS_EMU_ATOMIC T atomicSub(T* p, T v) { VS_EMU_RMW(p, old - v); }
template <typename T>
VS_EMU_ATOMIC T atomicMin(T* p, T v) { VS_EMU_RMW(p, v < old ? v : old); }
template <typename T>
VS_EMU_ATOMIC T atomicMax(T* p, T v) { VS_EMU_RMW(p, v > old ? v : old); }
template <typename T>
VS_EMU_ATOMIC T atomicAnd(T* p, T v) { VS_EMU_RMW(p, old & v); }
template <typename T>
VS_EMU_ATOMIC T atomicOr(T* p, T v) { VS_EMU_RMW(p, old | v); }
template <typename T>
VS_EMU_ATOMIC T atomicXor(T* p, T v) { VS_EMU_RMW(p, old ^ v); }
template <typename T>
VS_EMU_ATOMIC T atomicExch(T* p, T v) { VS_EMU_RMW(p, v); }
template <typename T>
VS_EMU_ATOMIC T atomicCAS(T* p, T cmp, T v) {
    VS_EMU_ATOMIC_POINT(p);
    T old = cmp;
    vs_emu::atomicReplace(p, old, v);  // on failure, old holds the value found
    return old;
}
#undef VS_EMU_RMW

inline unsigned int __float_as_uint(float f) { unsigned int u; std::memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned int u) { float f; std::memcpy(&f, &u, 4); return f; }
inline int __float_as_int(float f) { int u; std::memcpy(&u, &f, 4); return u; }
inline float __int_as_float(int u) { float f; std::memcpy(&f, &u, 4); return f; }
template <typename T>
inline T __ldg(const T* p) { return *p; }
inline int __popc(unsigned int x) { return __builtin_popcount(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned int) x); }
