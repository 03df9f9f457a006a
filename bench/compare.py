#!/usr/bin/python3
"""Prints vectorstream's and FAISS's bench rows side by side (matched on index, m, nprobe, refine) with ratios.
q/s ratios are ours / FAISS (higher is better for us); build ratio is ours / FAISS seconds (lower is better)."""
import json, sys


def main():
    ours = json.load(open(sys.argv[1]))
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
