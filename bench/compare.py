#!/usr/bin/python3
"""Prints vectorstream's and FAISS's bench rows side by side (matched on index, m, nprobe, refine) with ratios.
q/s ratios are ours / FAISS (higher is better for us); build ratio is ours / FAISS seconds (lower is better)."""
import json, sys


def filtered(ours, theirs):
    """Filtered rows: each of ours beside FAISS at the same nprobe, and the fastest FAISS setting reaching our recall."""
    print("| selectivity | matching | nprobe | recall@10 ours / faiss | q/s 1-thread ours / faiss (ratio) "
          "| fastest faiss at >= our recall: nprobe, recall, q/s (ratio) | our plans |")
    print("|---|---|---|---|---|---|---|")
    for r in ours:
        same = [f for f in theirs if f["selectivity"] == r["selectivity"]]
        f = next((f for f in same if f["nprobe"] == r["nprobe"]), None)
        good = [f for f in same if f["recall_at_10"] >= r["recall_at_10"]]
        best = max(good, key=lambda f: f["qps_single_thread"]) if good else None
        at = (f"{best['nprobe']}, {best['recall_at_10']:.4f}, {best['qps_single_thread']:,.0f} "
              f"({r['qps_single_thread'] / best['qps_single_thread']:.2f}x)") if best else "none reaches it"
        same_np = (f"{r['recall_at_10']:.4f} / {f['recall_at_10']:.4f} | {r['qps_single_thread']:,.0f} / "
                   f"{f['qps_single_thread']:,.0f} ({r['qps_single_thread'] / f['qps_single_thread']:.2f}x)") if f else \
            f"{r['recall_at_10']:.4f} / - | {r['qps_single_thread']:,.0f} / -"
        plans = ", ".join(f"{k} {v}" for k, v in r.get("plans", {}).items())
        print(f"| {r['selectivity']} | {r['matching']} | {r['nprobe']} | {same_np} | {at} | {plans} |")


def main():
    ours = json.load(open(sys.argv[1]))
    if ours and "selectivity" in ours[0]:
        filtered(ours, json.load(open(sys.argv[2])))
        return
    theirs = {(r["index"], r["m"], r["nprobe"], r["refine"]): r for r in json.load(open(sys.argv[2]))}
    print("| index | m | nprobe | refine | recall@10 ours / faiss | q/s 1-thread ours / faiss (ratio) | p50 ms ours / faiss "
          "| q/s batch ours / faiss (ratio) | train+add s ours / faiss (ratio) | bytes/vec ours / faiss |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in ours:
        f = theirs.get((r["index"], r["m"], r["nprobe"], r["refine"]))
        if f is None:
            continue
        b_ours, b_f = r["train_s"] + r["add_s"], f["train_s"] + f["add_s"]
        print(f"| {r['index']} | {r['m'] or '-'} | {r['nprobe']} | {r['refine']} | {r['recall_at_10']:.4f} / {f['recall_at_10']:.4f} "
              f"| {r['qps_single_thread']:,.0f} / {f['qps_single_thread']:,.0f} ({r['qps_single_thread'] / f['qps_single_thread']:.2f}x) "
              f"| {r['p50_ms']:.3f} / {f['p50_ms']:.3f} "
              f"| {r['qps_batch']:,.0f} / {f['qps_batch']:,.0f} ({r['qps_batch'] / f['qps_batch']:.2f}x) "
              f"| {b_ours:.1f} / {b_f:.1f} ({b_ours / b_f:.2f}x) | {r['bytes_per_vector']:.1f} / {f['bytes_per_vector']:.0f} |")


if __name__ == "__main__":
    main()
