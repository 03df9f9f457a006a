#!/usr/bin/python3
"""FAISS side of bench-index: the same files, parameters and measurements as `vectorstream bench-index`.

Uses Debian's python3-faiss (1.7.3, a generic build) with libopenblas0-pthread, installing both when
missing. Prints the same table and writes the same JSON rows (engine "faiss").
"""
import argparse, json, os, subprocess, sys, time

# Seconds of untimed queries before each setting is timed, and the least timed seconds (as BenchIndex).
WARMUP_S, MEASURE_S = 1.0, 2.0


def ensure_faiss():
    try:
        import faiss  # noqa: F401
        import numpy  # noqa: F401
    except ImportError:
        print("installing python3-faiss and libopenblas0-pthread ...", file=sys.stderr)
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.check_call(sudo + ["apt-get", "update", "-qq"], env=env)
        subprocess.check_call(sudo + ["apt-get", "install", "-y", "-qq", "python3-faiss", "libopenblas0-pthread"], env=env)
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    # libopenblas0-pthread must be the BLAS behind libblas.so.3, not the slow reference BLAS
    try:
        out = subprocess.run(["update-alternatives", "--query", "libblas.so.3-x86_64-linux-gnu"],
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Value:"):
                print("BLAS:", line.split(":", 1)[1].strip(), file=sys.stderr)
    except OSError:
        pass


def read_vecs(path, dtype, limit=0):
    import numpy as np
    raw = np.fromfile(path, dtype=np.uint8)
    dim = int(raw[:4].view(np.int32)[0])
    item = 1 if dtype == np.uint8 else 4
    rows = raw.reshape(-1, 4 + dim * item)
    if limit > 0:
        rows = rows[:limit]
    return np.ascontiguousarray(rows[:, 4:].view(dtype).reshape(len(rows), dim))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--query", required=True)
    p.add_argument("--gt", required=True)
    p.add_argument("--index", required=True, choices=["ivf-flat", "ivf-pq"])
    p.add_argument("--nlist", type=int, default=0)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--nprobe", default="1,2,4,8,16,32,64")
    p.add_argument("--refine", default="0,4,10")
    p.add_argument("--kmeans-iter", type=int, default=10)
    p.add_argument("--kmeans-max-points", type=int, default=64)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--max-query", type=int, default=0)
    p.add_argument("--json", default="")
    p.add_argument("--scan", default="bf16", help="vectorstream only (how its IVF-Flat scans lists); ignored here")
    p.add_argument("--filter-selectivity", default="", help="ivf-flat: filtered search with an IDSelectorBitmap")
    a = p.parse_args()
    ensure_faiss()
    import numpy as np
    import faiss

    ncpu = os.cpu_count()
    xb = read_vecs(a.base, np.uint8 if a.base.endswith(".bvecs") else np.float32).astype(np.float32)
    xq = read_vecs(a.query, np.uint8 if a.query.endswith(".bvecs") else np.float32, a.max_query).astype(np.float32)
    gt = read_vecs(a.gt, np.int32, a.max_query)
    n, d = xb.shape
    nq = xq.shape[0]
    nlist = a.nlist or int(round(4 * n ** 0.5))
    k = 10
    print(f"faiss {faiss.__version__}: {a.index} n={n} dim={d} nq={nq} nlist={nlist} threads={ncpu}", file=sys.stderr)

    faiss.omp_set_num_threads(ncpu)
    quantizer = faiss.IndexFlatL2(d)
    if a.index == "ivf-flat":
        ivf = faiss.IndexIVFFlat(quantizer, d, nlist)
        index = ivf
        refines = [0]
    else:
        ivf = faiss.IndexIVFPQ(quantizer, d, nlist, a.m, 8)
        ivf.pq.cp.seed = a.seed + 2
        index = faiss.IndexRefineFlat(ivf)
        refines = [int(r) for r in a.refine.split(",")]
    ivf.cp.niter = a.kmeans_iter
    ivf.cp.max_points_per_centroid = a.kmeans_max_points
    ivf.cp.seed = a.seed
    t0 = time.perf_counter()
    index.train(xb)
    t1 = time.perf_counter()
    index.add(xb)
    t2 = time.perf_counter()
    train_s, add_s = t1 - t0, t2 - t1
    if a.index == "ivf-flat":
        bpv = 4 * d + 8  # float vector + int64 id per vector in the inverted lists
    else:
        bpv = a.m + 8  # PQ code + int64 id; IndexRefineFlat keeps the full vectors besides (4*d)

    if a.filter_selectivity:
        rows = filtered(a, ivf, xb, xq, k)
        if a.json:
            with open(a.json, "w") as f:
                json.dump(rows, f, indent=1)
        return

    rows = []
    hdr = "%-9s %6s %3s %6s %6s %9s %10s %8s %8s %10s %8s %8s %8s"
    print(hdr % ("index", "nlist", "m", "nprobe", "refine", "recall@10", "qps(1thr)", "p50ms", "p99ms", "qps(batch)", "train_s", "add_s", "B/vec"))
    for refine in refines:
        for nprobe in [int(x) for x in a.nprobe.split(",")]:
            ivf.nprobe = nprobe
            if a.index == "ivf-pq":
                index.k_factor = max(1, refine)
                searcher = index if refine > 0 else ivf
            else:
                searcher = index
            faiss.omp_set_num_threads(1)
            _, I = searcher.search(xq, k)  # warm-up, gives recall
            recall = sum(len(set(I[i]) & set(gt[i, :k])) for i in range(nq)) / (nq * k)
            qps1, p50, p99 = single_thread(lambda q: searcher.search(q, k), xq)
            faiss.omp_set_num_threads(ncpu)
            b0 = time.perf_counter()
            bp = 0
            while True:
                searcher.search(xq, k)
                bp += 1
                if time.perf_counter() - b0 >= MEASURE_S or bp >= 100:
                    break
            qpsb = nq * bp / (time.perf_counter() - b0)
            row = dict(engine="faiss", index=a.index, nlist=nlist, m=a.m if a.index == "ivf-pq" else 0, nprobe=nprobe,
                       refine=refine, recall_at_10=round(recall, 4), qps_single_thread=round(qps1, 1), p50_ms=round(p50, 4),
                       p99_ms=round(p99, 4), qps_batch=round(qpsb, 1), batch_threads=ncpu, train_s=round(train_s, 3),
                       add_s=round(add_s, 3), bytes_per_vector=bpv, n=n, nq=nq)
            rows.append(row)
            print("%-9s %6d %3d %6d %6d %9.4f %10.1f %8.3f %8.3f %10.1f %8.2f %8.2f %8.1f" % (
                a.index, nlist, row["m"], nprobe, refine, recall, qps1, p50, p99, qpsb, train_s, add_s, bpv), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


def single_thread(search, xq):
    """One query at a time after WARMUP_S of warm-up (BenchIndex's rule), for at least MEASURE_S or 100 passes:
    (q/s, p50 ms, p99 ms)."""
    nq = len(xq)
    warm = time.perf_counter()
    while time.perf_counter() - warm < WARMUP_S:
        for i in range(nq):
            search(xq[i:i + 1])
    lat = []
    start = time.perf_counter()
    passes = 0
    while True:
        for i in range(nq):
            t = time.perf_counter()
            search(xq[i:i + 1])
            lat.append(time.perf_counter() - t)
        passes += 1
        if time.perf_counter() - start >= MEASURE_S or passes >= 100:
            break
    qps = nq * passes / (time.perf_counter() - start)
    lat.sort()
    return qps, lat[len(lat) // 2] * 1e3, lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3


BUCKETS = 1_000_000


def u(n):
    """The metadata value of vector i, as FilterBench.u: a multiplicative hash in [0, 1e6)."""
    import numpy as np
    i = np.arange(n, dtype=np.uint64)
    return ((i * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)) % np.uint64(BUCKETS)


def exact_top(xb, rows, xq, k):
    """Exact top-k (squared L2) among xb[rows] for every query, as row numbers of xb."""
    import numpy as np
    sub = xb[rows]
    norms = (sub * sub).sum(1)
    out = np.empty((len(xq), min(k, len(rows))), dtype=np.int64)
    for s in range(0, len(xq), 64):
        q = xq[s:s + 64]
        d = norms[None, :] - 2 * q @ sub.T
        kk = out.shape[1]
        part = np.argpartition(d, kk - 1, axis=1)[:, :kk] if kk < len(rows) else np.tile(np.arange(len(rows)), (len(q), 1))
        order = np.take_along_axis(d, part, 1).argsort(1)
        out[s:s + 64] = rows[np.take_along_axis(part, order, 1)]
    return out


def filtered(a, ivf, xb, xq, k):
    """Recall@10 (against exact filtered search) and single-thread q/s of IVF-Flat + IDSelectorBitmap, per nprobe."""
    import numpy as np
    import faiss
    n, nq = len(xb), len(xq)
    values = u(n)
    rows_out = []
    print("%-11s %9s %6s %9s %10s %8s %8s" % ("selectivity", "matching", "nprobe", "recall@10", "qps(1thr)", "p50ms", "p99ms"))
    for s in [1.0] + [float(x) for x in a.filter_selectivity.split(",")]:  # 1.0: no filter, the reference
        limit = int(round(s * BUCKETS))
        mask = values < limit
        rows = np.nonzero(mask)[0]
        truth = exact_top(xb, rows, xq, k)
        bitmap = np.packbits(mask.astype(np.uint8), bitorder="little")
        sel = None if s >= 1 else faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap))
        # beyond the asked nprobes, wider probes: a filter needs them for recall, and the comparison takes the
        # fastest FAISS setting that reaches vectorstream's recall
        nlist = ivf.nlist
        probes = sorted({int(x) for x in a.nprobe.split(",")} | ({p for p in (64, 128, 256, 512, 1024) if p <= nlist} if sel else set()))
        for nprobe in probes:
            params = faiss.SearchParametersIVF(sel=sel, nprobe=nprobe) if sel else faiss.SearchParametersIVF(nprobe=nprobe)
            faiss.omp_set_num_threads(1)
            _, I = ivf.search(xq, k, params=params)
            recall = sum(len(set(I[i]) & set(truth[i])) for i in range(nq)) / max(1, truth.size)
            qps1, p50, p99 = single_thread(lambda q: ivf.search(q, k, params=params), xq)
            row = dict(engine="faiss", index="ivf-flat", selectivity=s, matching=int(len(rows)), nprobe=nprobe,
                       recall_at_10=round(recall, 4), qps_single_thread=round(qps1, 1), p50_ms=round(p50, 4),
                       p99_ms=round(p99, 4), n=n, nq=nq)
            rows_out.append(row)
            print("%-11s %9d %6d %9.4f %10.1f %8.3f %8.3f" % (s, len(rows), nprobe, recall, qps1, p50, p99), flush=True)
    return rows_out


if __name__ == "__main__":
    main()
