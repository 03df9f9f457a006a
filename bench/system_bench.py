#!/usr/bin/python3
"""Whole-system benchmark of Vectorstream against a real Kafka broker, in one run.

Started by bench/run-system-bench.sh (see there for the usual options). Everything runs on 127.0.0.1:
a fresh single-node KRaft broker (`bin/vectorstream broker`) on free ports, fresh servers
(`bin/vectorstream serve`) with their own data dirs and application ids, and these measurements:

  1. pipe      a plain consumer's read rate of the binary topic (kcat, and confluent_kafka in Python), and the
               Kafka Streams floor: the server's settings with a processor that only counts (`streams-floor`)
  2. backfill  N binary records produced before the server starts; server start -> every partition
               applied up to the topic's end; RSS, data dir size, recall@10 and HTTP latency over
               the query file at default settings
  3. json      the same backfill with --value-format json (JSON_N records), fresh server
  4. live      fresh server on an empty topic; LIVE_N binary records produced while a client issues
               SEARCH_RATE searches/s; upserts/s as seen by the server, search latency meanwhile
  5. fresh     produce -> searchable latency (read-your-writes min_offsets), idle and under a
               background load of BG_RATE upserts/s from a separate producer process

Every wait has a timeout and prints progress lines; every child process is killed at the end, also
on failure, Ctrl-C or SIGTERM (and with PR_SET_PDEATHSIG if this process itself is killed).
A failing phase is recorded in the report and the next phases still run.

Also has a helper mode, `--bg-producer`, used for the background load of phase 5.
"""
import argparse
import ctypes
import datetime
import http.client
import json
import os
import queue
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VS = os.path.join(ROOT, "bin", "vectorstream")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[{datetime.datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


class PhaseError(Exception):
    pass


# ---------------------------------------------------------------------------------------------- utils

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def lat_summary(ms):
    """p50/p99/max/mean of a list of milliseconds (NaNs left out)."""
    ms = [x for x in ms if x == x]
    if not ms:
        return {"count": 0}
    return {"count": len(ms), "p50_ms": pct(ms, 50), "p90_ms": pct(ms, 90), "p99_ms": pct(ms, 99),
            "max_ms": max(ms), "mean_ms": sum(ms) / len(ms)}


def fmt_n(x, digits=0):
    if x is None:
        return "—"
    if isinstance(x, float) and x != x:
        return "—"
    return f"{x:,.{digits}f}"


def fmt_bytes(b):
    if b is None:
        return "—"
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= div:
            return f"{b / div:,.2f} {unit}"
    return f"{b} B"


def fmt_lat(s):
    if not s or not s.get("count"):
        return "—"
    return f"p50 {s['p50_ms']:.2f} ms, p99 {s['p99_ms']:.2f} ms, max {s['max_ms']:.1f} ms (n={s['count']:,})"


def du_bytes(path):
    try:
        out = subprocess.run(["du", "-sb", path], capture_output=True, text=True, timeout=120).stdout
        return int(out.split()[0])
    except Exception:
        return None


def proc_status(pid):
    """VmRSS and VmHWM of a process, in bytes."""
    res = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    k, v = line.split(":")
                    res[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return res


def proc_cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)
    except (OSError, IndexError, ValueError):
        return None


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def _pdeathsig():
    """Child side of Popen: die with SIGKILL if the benchmark process dies (even by SIGKILL)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


# ------------------------------------------------------------------------------------------- vectors

def read_fvecs(path, limit=None, start=0):
    """Rows of an .fvecs file as tuples of floats."""
    rows = []
    with open(path, "rb") as f:
        d = struct.unpack("<i", f.read(4))[0]
        row = 4 + 4 * d
        f.seek(start * row)
        while limit is None or len(rows) < limit:
            b = f.read(row)
            if len(b) < row:
                break
            rows.append(struct.unpack(f"<{d}f", b[4:]))
    return rows


def read_ivecs(path, k):
    rows = []
    with open(path, "rb") as f:
        while True:
            h = f.read(4)
            if len(h) < 4:
                break
            d = struct.unpack("<i", h)[0]
            rows.append(struct.unpack(f"<{d}i", f.read(4 * d))[:k])
    return rows


def fvecs_count(path):
    with open(path, "rb") as f:
        d = struct.unpack("<i", f.read(4))[0]
    return os.path.getsize(path) // (4 + 4 * d), d


# ---------------------------------------------------------------------------------------------- HTTP

class Http:
    """One keep-alive connection (one per thread)."""

    def __init__(self, port, timeout=10.0):
        self.port, self.timeout, self.conn = port, timeout, None

    def request(self, method, path, body=None, timeout=None, data=None):
        """body: an object to send as JSON; data: an already encoded body."""
        if data is None and body is not None:
            data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout or self.timeout)
                elif timeout:
                    self.conn.timeout = timeout
                    if self.conn.sock:
                        self.conn.sock.settimeout(timeout)
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                try:
                    payload = json.loads(raw) if raw else None
                except ValueError:
                    payload = raw.decode(errors="replace")
                return r.status, payload
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                self.close()
                if attempt == 1 or isinstance(e, socket.timeout):
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None


# ---------------------------------------------------------------------------------------------- Kafka

def kafka_meta(bootstrap):
    from confluent_kafka import Consumer
    return Consumer({"bootstrap.servers": bootstrap, "group.id": "vsbench-meta-" + uuid.uuid4().hex[:8],
                     "enable.auto.commit": False, "log_level": 3})


def end_offsets(meta, topic, partitions):
    from confluent_kafka import TopicPartition
    # -1 while the partition's leader is not known yet: count it as empty
    return [max(0, meta.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]) for p in range(partitions)]


# ----------------------------------------------------------------------------------------- processes

class Procs:
    """Every child process of the run; stop() of each, and stop_all() at the end."""

    def __init__(self, logdir):
        self.logdir = logdir
        self.children = []  # (name, Popen, logfile)

    def start(self, name, cmd, env=None):
        path = os.path.join(self.logdir, name + ".log")
        lf = open(path, "ab")
        lf.write(("$ " + " ".join(cmd) + "\n").encode())
        lf.flush()
        p = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT,
                             env=env, start_new_session=True, preexec_fn=_pdeathsig)
        self.children.append((name, p, lf))
        return p, path

    def stop(self, p, grace=30.0):
        """SIGTERM, then SIGKILL after grace seconds; returns the seconds it took to exit."""
        t0 = time.monotonic()
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                log(f"  pid {p.pid} still running {grace:.0f} s after SIGTERM: SIGKILL")
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(10)
        for i, (n, q, lf) in enumerate(self.children):
            if q is p:
                lf.close()
        return time.monotonic() - t0

    def stop_all(self):
        # servers and clients first (they need the broker to shut down cleanly), the broker last
        for name, p, _ in sorted(self.children, key=lambda c: c[0] == "broker"):
            if p.poll() is None:
                log(f"stopping {name} (pid {p.pid})")
                self.stop(p, grace=20.0 if name != "broker" else 15.0)


def wait_log_line(path, pattern, timeout, proc, what):
    t0 = time.monotonic()
    rx = re.compile(pattern)
    last = 0
    while True:
        with open(path, errors="replace") as f:
            for line in f:
                m = rx.search(line)
                if m:
                    return m
        if proc.poll() is not None:
            raise PhaseError(f"{what} exited with {proc.returncode} (see {path})")
        el = time.monotonic() - t0
        if el > timeout:
            raise PhaseError(f"{what}: no '{pattern}' in {path} after {timeout:.0f} s")
        if el - last >= 10:
            log(f"  waiting for {what} … {el:.0f} s")
            last = el
        time.sleep(0.2)


def run_watched(procs, name, cmd, timeout, progress=None, every=5.0, env=None):
    """Runs a command to the end with a timeout, printing progress() every few seconds."""
    t0 = time.monotonic()
    p, path = procs.start(name, cmd, env=env)
    last = t0
    while p.poll() is None:
        now = time.monotonic()
        if now - t0 > timeout:
            procs.stop(p, grace=5)
            raise PhaseError(f"{name} did not finish in {timeout:.0f} s (see {path})")
        if now - last >= every:
            last = now
            log(f"  {name}: {now - t0:.0f} s" + (f", {progress()}" if progress else ""))
        time.sleep(0.1)
    el = time.monotonic() - t0
    procs.stop(p)
    with open(path, errors="replace") as f:
        out = f.read()
    if p.returncode != 0:
        tail = "\n".join(out.splitlines()[-15:])
        raise PhaseError(f"{name} exited with {p.returncode} after {el:.1f} s:\n{tail}")
    return el, out


PRODUCE_RX = re.compile(r"([\d,]+) rows sent .*?([\d,]+) bad rows, ([\d.]+) s, ([\d,]+) rows/s, ([\d.]+) MB/s")


def parse_produce(out):
    m = PRODUCE_RX.search(out)
    if not m:
        return {}
    num = lambda s: float(s.replace(",", ""))
    return {"rows": int(num(m.group(1))), "bad_rows": int(num(m.group(2))), "seconds": num(m.group(3)),
            "rows_per_s": num(m.group(4)), "mb_per_s": num(m.group(5))}


# ------------------------------------------------------------------------------------------- the run

class Bench:
    def __init__(self, a):
        self.a = a
        self.ts = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        os.makedirs(a.out, exist_ok=True)
        self.logdir = os.path.join(a.out, f"system-bench-{self.ts}-logs")
        os.makedirs(self.logdir, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix=f"system-bench-{self.ts}-tmp-", dir=a.tmp_dir or a.out)
        self.procs = Procs(self.logdir)
        self.results = {}
        self.errors = {}
        self.log_findings = {}
        self.server_env = dict(os.environ)
        if a.server_java_opts:
            self.server_env["VECTORSTREAM_JAVA_OPTS"] = a.server_java_opts
        self.T = a.timeout_scale
        self.meta = None

    # ------------------------------------------------------------------------------------ helpers
    def topics(self):
        return {"bin": "vsb-bin", "json": "vsb-json", "live": "vsb-live"}

    def start_broker(self):
        self.kport = free_port()
        self.bootstrap = f"127.0.0.1:{self.kport}"
        cmd = [VS, "broker", "--port", str(self.kport), "--data-dir", os.path.join(self.tmp, "broker")]
        for t in self.topics().values():
            cmd += ["--topic", f"{t}:{self.a.partitions}"]
        log(f"starting broker on {self.bootstrap}")
        t0 = time.monotonic()
        self.broker, path = self.procs.start("broker", cmd)
        wait_log_line(path, r"Kafka broker ready on", 180 * self.T, self.broker, "broker")
        log(f"  broker ready in {time.monotonic() - t0:.1f} s")
        self.meta = kafka_meta(self.bootstrap)

    def gen_data(self):
        a = self.a
        gdir = os.path.join(a.out, "gen")
        os.makedirs(gdir, exist_ok=True)
        self.prefix = os.path.join(gdir, f"sys-n{a.n}-d{a.dim}-q{a.nq}")
        files = [self.prefix + s for s in ("_base.fvecs", "_query.fvecs", "_gt.ivecs")]
        if all(os.path.exists(f) for f in files):
            log(f"data: reusing {self.prefix}_*")
        else:
            log(f"data: gen-data {a.n:,} x {a.dim} (+{a.nq} queries, exact ground truth) -> {self.prefix}_*")
            partial = self.prefix + ".partial"  # renamed when complete, so an interrupted run is never reused
            el, _ = run_watched(self.procs, "gen-data",
                                [VS, "gen-data", "--out", partial, "--n", str(a.n), "--nq", str(a.nq),
                                 "--dim", str(a.dim)], timeout=(300 + a.n * a.dim / 1e6 * 10) * self.T)
            for suffix in ("_base.fvecs", "_query.fvecs", "_gt.ivecs"):
                os.replace(partial + suffix, self.prefix + suffix)
            log(f"  generated in {el:.1f} s")
        self.base, self.query, self.gt = files
        n, d = fvecs_count(self.base)
        if n != a.n or d != a.dim:
            raise SystemExit(f"{self.base} has {n} x {d}, expected {a.n} x {a.dim}")

    def produce(self, name, topic, limit, value_format="binary"):
        """bin/vectorstream produce, with a progress line every few seconds from the topic's end offsets."""
        a = self.a
        cmd = [VS, "produce", "-q", "--bootstrap-servers", self.bootstrap, "--topic", topic,
               "--limit", str(limit), "--value-format", value_format, self.base]
        progress = lambda: f"{sum(end_offsets(self.meta, topic, a.partitions)):,}/{limit:,} records in {topic}"
        el, out = run_watched(self.procs, name, cmd, timeout=(60 + limit / 2000) * self.T, progress=progress)
        summary = parse_produce(out)
        ends = end_offsets(self.meta, topic, a.partitions)
        if sum(ends) != limit:
            raise PhaseError(f"{name}: topic {topic} has {sum(ends)} records, expected {limit}")
        summary["wall_s"] = el
        summary["end_offsets"] = ends
        log(f"  {name}: {limit:,} records in {el:.1f} s wall "
            f"(producer's own summary: {fmt_n(summary.get('rows_per_s'))} rows/s, {summary.get('mb_per_s')} MB/s)")
        return summary

    def start_server(self, name, topic):
        a = self.a
        port = free_port()
        ddir = os.path.join(self.tmp, name + "-data")
        cmd = [VS, "serve", "--bootstrap-servers", self.bootstrap, "--topic", topic, "--dim", str(a.dim),
               "--partitions", str(a.partitions), "--data-dir", ddir, "--http-port", str(port),
               "--http-host", "127.0.0.1", "--application-id", f"vsb-{name}-{self.ts}"] + a.serve_arg
        t0 = time.monotonic()
        p, path = self.procs.start(name, cmd, env=self.server_env)
        log(f"started {name} (pid {p.pid}, http {port}, data {ddir})")
        return {"name": name, "proc": p, "port": port, "dir": ddir, "log": path, "t0": t0, "topic": topic}

    def stop_server(self, srv):
        el = self.procs.stop(srv["proc"], grace=30.0)
        log(f"stopped {srv['name']} in {el:.1f} s (exit {srv['proc'].returncode})")
        self.scan_log(srv)
        return el

    def scan_log(self, srv):
        """Counts WARN/ERROR/exception lines of a server log, keeps the first distinct ones."""
        counts, samples = {"WARN": 0, "ERROR": 0, "exception": 0}, []
        seen = set()
        rx = re.compile(r"^\d\d:\d\d:\d\d\.\d+ (WARN|ERROR) ")
        # what the server did: hot-index (re)trainings run on the stream thread, so they pause ingestion
        events = {"trainings": [], "compactions": [], "checkpoints": []}
        ev_rx = {"trainings": re.compile(r"trained (\d+) lists on (\d+) vectors in (\d+) ms"),
                 "compactions": re.compile(r"compacted \([^)]*\) (\d+) vectors into IVF-PQ base.* in (\d+) ms"),
                 "checkpoints": re.compile(r"checkpoint \S+ written \((\d+) live.* in (\d+) ms")}
        with open(srv["log"], errors="replace") as f:
            for line in f:
                line = line.rstrip()
                for k, erx in ev_rx.items():
                    em = erx.search(line)
                    if em:
                        events[k].append(int(em.groups()[-1]))
                m = rx.match(line)
                kind = m.group(1) if m else ("exception" if re.search(r"Exception|Error:|^\s+at ", line) and
                                             not line.startswith("WARNING: ") else None)
                if not kind:
                    continue
                counts[kind] += 1
                if kind == "exception" and line.lstrip().startswith("at "):
                    continue
                key = re.sub(r"\d+", "#", line[13:] if m else line)[:160]
                if key not in seen and len(samples) < 8:
                    seen.add(key)
                    samples.append(line[:400])
        ev = {k: {"count": len(v), "max_ms": max(v), "total_ms": sum(v)} for k, v in events.items() if v}
        self.log_findings[srv["name"]] = {"counts": counts, "samples": samples, "log": srv["log"], "events": ev}
        if any(counts.values()):
            log(f"  {srv['name']} log: {counts}")

    def status(self, srv, conn=None, timeout=5.0):
        h = conn or Http(srv["port"])
        try:
            code, body = h.request("GET", "/v1/status", timeout=timeout)
            return body if code == 200 and isinstance(body, dict) else None
        except Exception:
            return None
        finally:
            if conn is None:
                h.close()

    def ready(self, srv):
        h = Http(srv["port"])
        try:
            code, _ = h.request("GET", "/health/ready", timeout=2)
            return code == 200
        except Exception:
            return False
        finally:
            h.close()

    def wait_ready(self, srv, timeout):
        t_last = 0
        while True:
            if srv["proc"].poll() is not None:
                raise PhaseError(f"{srv['name']} exited with {srv['proc'].returncode} (see {srv['log']})")
            el = time.monotonic() - srv["t0"]
            if self.ready(srv):
                return el
            if el > timeout:
                raise PhaseError(f"{srv['name']} not ready after {timeout:.0f} s (see {srv['log']})")
            if el - t_last >= 5:
                log(f"  {srv['name']}: waiting for /health/ready … {el:.0f} s")
                t_last = el
            time.sleep(0.1)

    def catch_up(self, srv, ends, what, expected, poll=0.2, samples=None, producer=None):
        """Polls /v1/status until every partition's applied_offset reaches ends (a list, or a callable
        giving the current end offsets). Records (t, applied total, end total) samples. Raises on
        a stall (no progress for --stall-timeout s) or the phase timeout. Returns timing details."""
        a = self.a
        h = Http(srv["port"])
        t0 = srv["t0"]
        res = {"ready_s": None, "http_up_s": None, "first_applied_s": None, "caught_up_s": None}
        samples = samples if samples is not None else []
        last_change, last_total, last_print = time.monotonic(), -1, 0.0
        max_stall, stall_from = 0.0, time.monotonic()
        timeout = (120 + expected / 500) * self.T
        try:
            while True:
                now = time.monotonic()
                if srv["proc"].poll() is not None:
                    raise PhaseError(f"{srv['name']} exited with {srv['proc'].returncode} (see {srv['log']})")
                st = self.status(srv, h)
                now = time.monotonic()
                cur_ends = ends() if callable(ends) else ends
                if st is not None:
                    if res["http_up_s"] is None:
                        res["http_up_s"] = now - t0
                    if res["ready_s"] is None and self.ready(srv):
                        res["ready_s"] = time.monotonic() - t0
                    # applied_offset is the next offset to apply; -1 on a partition that never had a record
                    applied = {p["partition"]: max(0, p["applied_offset"]) for p in st.get("partitions", [])}
                    total = sum(applied.values())
                    samples.append((now - t0, total, sum(cur_ends)))
                    if total > 0 and res["first_applied_s"] is None:
                        res["first_applied_s"] = now - t0
                        stall_from = now
                    if total != last_total:
                        if res["first_applied_s"] is not None:
                            max_stall = max(max_stall, now - stall_from)
                        last_total, last_change, stall_from = total, now, now
                    done = len(applied) == a.partitions and all(applied.get(p, 0) >= e for p, e in enumerate(cur_ends))
                    producer_done = producer is None or producer.poll() is not None
                    if done and producer_done and sum(cur_ends) > 0:
                        res["caught_up_s"] = now - t0
                        res["max_stall_s"] = max_stall
                        res["final_status"] = st
                        return res
                    if now - last_print >= 5:
                        last_print = now
                        ce = sum(cur_ends)
                        log(f"  {what}: {now - t0:.0f} s, applied {total:,}/{ce:,} ({100.0 * total / max(1, ce):.0f}%)"
                            f"{'' if res['ready_s'] is None else ', ready'}"
                            f", live {st.get('totals', {}).get('live', 0):,}"
                            f", kinds {sorted(set(p.get('index_kind') for p in st.get('partitions', [])))}")
                elif now - last_print >= 5:
                    last_print = now
                    log(f"  {what}: {now - t0:.0f} s, no /v1/status yet")
                if producer is not None and producer.poll() is None:
                    last_change = now  # while the producer runs, a pause may be the producer's
                if now - last_change > a.stall_timeout:
                    raise PhaseError(f"{what}: stalled, applied offsets unchanged ({last_total:,}) for "
                                     f"{a.stall_timeout:.0f} s (see {srv['log']})")
                if now - t0 > timeout:
                    raise PhaseError(f"{what}: not caught up after {timeout:.0f} s (applied {last_total:,})")
                time.sleep(poll)
        finally:
            h.close()

    def settle(self, srv, timeout):
        """Waits until the server's CPU use stays below 10% of a core for two 2-s windows (compaction done)."""
        pid = srv["proc"].pid
        t0 = time.monotonic()
        quiet, last_print = 0, 0.0
        prev = proc_cpu_seconds(pid)
        while True:
            time.sleep(2.0)
            cur = proc_cpu_seconds(pid)
            if cur is None or prev is None:
                return None
            use = (cur - prev) / 2.0
            prev = cur
            quiet = quiet + 1 if use < 0.10 else 0
            el = time.monotonic() - t0
            if quiet >= 2:
                return el
            if el > timeout:
                log(f"  {srv['name']}: still busy ({use * 100:.0f}% CPU) after {timeout:.0f} s; measuring anyway")
                return None
            if el - last_print >= 10:
                last_print = el
                st = self.status(srv) or {}
                bases = [(p.get("base") or {}).get("version") for p in st.get("partitions", [])]
                hot = [p.get("hot_size") for p in st.get("partitions", [])]
                log(f"  {srv['name']}: settling (background work, {use * 100:.0f}% CPU) {el:.0f} s; "
                    f"base versions {bases}, hot sizes {hot}")

    def footprint(self, srv, st):
        a = self.a
        ps = proc_status(srv["proc"].pid)
        disk = du_bytes(srv["dir"])
        parts = (st or {}).get("partitions", [])
        live = (st or {}).get("totals", {}).get("live")
        return {"rss": ps.get("VmRSS"), "hwm": ps.get("VmHWM"), "data_dir": disk,
                "status_memory_bytes": sum(p.get("memory_bytes", 0) for p in parts),
                "status_disk_bytes": sum((p.get("storage") or {}).get("disk_bytes", 0) for p in parts),
                "live": live,
                "shards": [{"partition": p.get("partition"), "live": p.get("live"), "index_kind": p.get("index_kind"),
                            "lists": p.get("lists"), "hot_size": p.get("hot_size"),
                            "base_size": (p.get("base") or {}).get("size"),
                            "base_version": (p.get("base") or {}).get("version"),
                            "tombstones": p.get("tombstones")} for p in parts]}

    def recall_and_latency(self, srv, nq, warmup=100):
        queries = read_fvecs(self.query, limit=nq)
        gt = read_ivecs(self.gt, 10)
        h = Http(srv["port"])
        log(f"  {nq} queries (k=10, default nprobe) over one connection, after {warmup} warm-up queries")
        for i in range(warmup):
            h.request("POST", "/v1/search", {"vector": list(queries[i % len(queries)]), "k": 10})
        lat, took, recalls, errors = [], [], [], 0
        bodies = [json.dumps({"vector": list(q), "k": 10}).encode() for q in queries]
        t_start = time.monotonic()
        for i, data in enumerate(bodies):
            t0 = time.perf_counter()
            code, r = h.request("POST", "/v1/search", data=data)
            lat.append((time.perf_counter() - t0) * 1000)
            if code != 200:
                errors += 1
                continue
            if isinstance(r.get("took_ms"), (int, float)):
                took.append(r["took_ms"])
            ids = set()
            for hit in r["results"]:
                try:
                    ids.add(int(hit["id"]))
                except ValueError:
                    pass
            recalls.append(len(ids & set(gt[i][:10])) / 10.0)
            if time.monotonic() - t_start > 600 * self.T:
                raise PhaseError("recall queries took over 600 s")
        h.close()
        return {"recall_at_10": sum(recalls) / max(1, len(recalls)), "queries": len(queries), "errors": errors,
                "latency": lat_summary(lat), "server_took": lat_summary(took), "qps": len(lat) / (sum(lat) / 1000)}

    # ------------------------------------------------------------------------------------- phases
    def phase_backfill_binary(self):
        a, T = self.a, self.topics()["bin"]
        r = self.results.setdefault("backfill_binary", {})
        log(f"== phase 2 setup: produce {a.n:,} binary records into {T} ({a.partitions} partitions)")
        r["produce"] = self.produce("produce-bin", T, a.n)
        ends = r["produce"]["end_offsets"]
        if "pipe" in a.phases:
            try:
                self.phase_pipe(T, ends)
            except Exception as e:
                self.fail("pipe", e)
        if "backfill" not in a.phases:
            return
        log(f"== phase 2: backfill binary: fresh server over {sum(ends):,} records")
        srv = self.start_server("server-backfill-bin", T)
        try:
            c = self.catch_up(srv, ends, "backfill binary", sum(ends))
            r.update({k: c[k] for k in ("http_up_s", "ready_s", "first_applied_s", "caught_up_s", "max_stall_s")})
            r["upserts_per_s"] = a.n / c["caught_up_s"]
            if c["first_applied_s"] is not None and c["caught_up_s"] > c["first_applied_s"]:
                r["upserts_per_s_after_first"] = a.n / (c["caught_up_s"] - c["first_applied_s"])
            log(f"  caught up: {a.n:,} records in {c['caught_up_s']:.1f} s from process start "
                f"({r['upserts_per_s']:,.0f} upserts/s); ready at {fmt_n(c['ready_s'], 1)} s; "
                f"longest pause in progress {c['max_stall_s']:.1f} s")
            r["at_caught_up"] = self.footprint(srv, c["final_status"])
            log(f"  at caught-up: RSS {fmt_bytes(r['at_caught_up']['rss'])}, data dir {fmt_bytes(r['at_caught_up']['data_dir'])}")
            log("  waiting for background work (compaction) to finish")
            r["settle_s"] = self.settle(srv, (120 + a.n / 2000) * self.T)
            st = self.status(srv)
            r["settled"] = self.footprint(srv, st)
            log(f"  settled after {fmt_n(r['settle_s'], 1)} s: RSS {fmt_bytes(r['settled']['rss'])}, "
                f"data dir {fmt_bytes(r['settled']['data_dir'])}; shards {r['settled']['shards']}")
            r["search"] = self.recall_and_latency(srv, a.queries)
            log(f"  recall@10 {r['search']['recall_at_10']:.4f}, {fmt_lat(r['search']['latency'])}, "
                f"{r['search']['errors']} errors; server took_ms {fmt_lat(r['search']['server_took'])}")
            r["after_queries"] = {"rss": proc_status(srv["proc"].pid).get("VmRSS"),
                                  "hwm": proc_status(srv["proc"].pid).get("VmHWM")}
        finally:
            r["stop_s"] = self.stop_server(srv)

    def phase_pipe(self, T, ends):
        a = self.a
        n = sum(ends)
        payload = n * a.dim * 4 + sum(len(str(i)) for i in range(a.n))  # values + keys (ids are row numbers)
        r = self.results.setdefault("pipe", {"records": n, "payload_bytes": payload})
        log(f"== phase 1: the pipe: plain consumers read {T} ({n:,} records, {fmt_bytes(payload)} keys+values)")
        if shutil.which("kcat"):
            cmd = ["kcat", "-C", "-b", self.bootstrap, "-t", T, "-e", "-o", "beginning", "-q", "-f", ""]
            el, _ = run_watched(self.procs, "kcat", cmd, timeout=(60 + n / 10000) * self.T)
            r["kcat"] = {"seconds": el, "records_per_s": n / el, "mb_per_s": payload / el / 1e6}
            log(f"  kcat: {el:.2f} s, {n / el:,.0f} records/s, {payload / el / 1e6:,.1f} MB/s (process start included)")
        else:
            log("  kcat not found; skipped")
        # confluent_kafka in this process, counting the bytes it actually got
        from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "vsbench-pipe-" + uuid.uuid4().hex[:8],
                      "enable.auto.commit": False, "log_level": 3})
        try:
            t0 = time.monotonic()
            c.assign([TopicPartition(T, p, OFFSET_BEGINNING) for p in range(a.partitions)])
            got, nbytes, last = 0, 0, t0
            pos = [0] * a.partitions
            timeout = (60 + n / 5000) * self.T
            while any(pos[p] < ends[p] for p in range(a.partitions)):
                for m in c.consume(num_messages=10000, timeout=1.0):
                    if m.error():
                        continue
                    got += 1
                    nbytes += len(m.value() or b"") + len(m.key() or b"")
                    pos[m.partition()] = m.offset() + 1
                now = time.monotonic()
                if now - t0 > timeout:
                    raise PhaseError(f"confluent_kafka consumer read {got:,}/{n:,} in {timeout:.0f} s")
                if now - last >= 5:
                    last = now
                    log(f"  confluent_kafka: {got:,}/{n:,} records")
            el = time.monotonic() - t0
            r["confluent_kafka"] = {"seconds": el, "records_per_s": got / el, "mb_per_s": nbytes / el / 1e6,
                                    "bytes": nbytes}
            log(f"  confluent_kafka (Python): {el:.2f} s, {got / el:,.0f} records/s, {nbytes / el / 1e6:,.1f} MB/s")
        finally:
            c.close()
        # Kafka Streams alone: the server's settings and thread count, a processor that only counts. What this costs,
        # no processor on Kafka Streams avoids, so the backfill is also reported as a fraction of it.
        cmd = [VS, "streams-floor", "--bootstrap-servers", self.bootstrap, "--topic", T, "--json"]
        el, out = run_watched(self.procs, "streams-floor", cmd, timeout=(60 + n / 10000) * self.T, env=self.server_env)
        line = next((x for x in reversed(out.splitlines()) if x.startswith("{")), None)
        if line is None:
            raise PhaseError(f"streams-floor printed no result:\n{out[-2000:]}")
        r["streams_floor"] = json.loads(line)
        f = r["streams_floor"]
        log(f"  Kafka Streams floor (no-op processor, {f['threads']} threads): {f['records_per_s']:,.0f} records/s from "
            f"process start, {f['records_per_s_after_first']:,.0f} from the first record, {f['cpu_s']:.1f} s of CPU")

    def phase_backfill_json(self):
        a, T = self.a, self.topics()["json"]
        r = self.results.setdefault("backfill_json", {})
        log(f"== phase 3 setup: produce {a.json_n:,} JSON records into {T}")
        r["produce"] = self.produce("produce-json", T, a.json_n, value_format="json")
        ends = r["produce"]["end_offsets"]
        log(f"== phase 3: backfill JSON: fresh server over {sum(ends):,} records")
        srv = self.start_server("server-backfill-json", T)
        try:
            c = self.catch_up(srv, ends, "backfill json", sum(ends))
            r.update({k: c[k] for k in ("http_up_s", "ready_s", "first_applied_s", "caught_up_s", "max_stall_s")})
            r["upserts_per_s"] = a.json_n / c["caught_up_s"]
            if c["first_applied_s"] is not None and c["caught_up_s"] > c["first_applied_s"]:
                r["upserts_per_s_after_first"] = a.json_n / (c["caught_up_s"] - c["first_applied_s"])
            r["at_caught_up"] = self.footprint(srv, c["final_status"])
            log(f"  caught up: {a.json_n:,} records in {c['caught_up_s']:.1f} s from process start "
                f"({r['upserts_per_s']:,.0f} upserts/s); ready at {fmt_n(c['ready_s'], 1)} s; "
                f"RSS {fmt_bytes(r['at_caught_up']['rss'])}")
        finally:
            r["stop_s"] = self.stop_server(srv)

    def search_load(self, srv, rate, stop_evt, workers=8):
        """Open-loop load: a search scheduled every 1/rate s, served by a few connections. Latency is
        measured from the scheduled time (so a stalled server shows as latency, not as fewer requests)."""
        bodies = [json.dumps({"vector": list(q), "k": 10}).encode() for q in read_fvecs(self.query, limit=200)]
        sched = queue.Queue()
        out = {"lat": [], "service": [], "took": [], "errors": 0, "codes": {}, "late": 0}
        lock = threading.Lock()

        def worker():
            h = Http(srv["port"], timeout=10)
            rnd = random.Random()
            while True:
                t_sched = sched.get()
                if t_sched is None:
                    break
                t_send = time.perf_counter()
                try:
                    code, res = h.request("POST", "/v1/search", data=rnd.choice(bodies))
                except Exception:
                    code, res = "exception", None
                t_end = time.perf_counter()
                with lock:
                    if code == 200:
                        out["lat"].append((t_end - t_sched) * 1000)
                        out["service"].append((t_end - t_send) * 1000)
                        out["took"].append(res.get("took_ms", float("nan")) if isinstance(res, dict) else float("nan"))
                    else:
                        out["errors"] += 1
                        out["codes"][str(code)] = out["codes"].get(str(code), 0) + 1
            h.close()

        def dispatcher():
            period = 1.0 / rate
            t_next = time.perf_counter()
            while not stop_evt.is_set():
                now = time.perf_counter()
                if now < t_next:
                    time.sleep(min(t_next - now, 0.05))
                    continue
                if sched.qsize() > 1000:
                    out["late"] += 1  # the server is far behind: drop instead of queueing forever
                else:
                    sched.put(t_next)
                t_next += period
            while True:  # what is still queued was never sent: count it as dropped
                try:
                    sched.get_nowait()
                    out["late"] += 1
                except queue.Empty:
                    break
            for _ in range(workers):
                sched.put(None)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
        threads.append(threading.Thread(target=dispatcher, daemon=True))
        for t in threads:
            t.start()
        return out, threads

    def ensure_live_server(self):
        if getattr(self, "live_srv", None) is None or self.live_srv["proc"].poll() is not None:
            self.live_srv = self.start_server("server-live", self.topics()["live"])
            self.results.setdefault("live", {})["ready_s"] = self.wait_ready(self.live_srv, 180 * self.T)
        return self.live_srv

    def phase_live(self):
        a, T = self.a, self.topics()["live"]
        r = self.results.setdefault("live", {})
        log(f"== phase 4: live ingest: fresh server on empty {T}, then {a.live_n:,} binary records "
            f"while a client searches at {a.search_rate}/s")
        srv = self.ensure_live_server()
        log(f"  server ready in {r['ready_s']:.1f} s")
        stop_evt = threading.Event()
        load, threads = self.search_load(srv, a.search_rate, stop_evt)
        time.sleep(5.0)
        pre, pre_service, pre_took = list(load["lat"]), list(load["service"]), list(load["took"])
        cmd = [VS, "produce", "-q", "--bootstrap-servers", self.bootstrap, "--topic", T,
               "--limit", str(a.live_n), self.base]
        t_prod = time.monotonic()
        n_pre = len(load["lat"])
        err_pre = load["errors"]
        producer, ppath = self.procs.start("produce-live", cmd)
        meta2 = kafka_meta(self.bootstrap)
        samples = []
        try:
            ends_fn = lambda: end_offsets(meta2, T, a.partitions)
            c = self.catch_up(srv, ends_fn, "live ingest", a.live_n, poll=0.25, samples=samples, producer=producer)
            t_caught = time.monotonic()
            stop_evt.set()
            for t in threads:
                t.join(15)
            if producer.returncode != 0:
                raise PhaseError(f"live producer exited with {producer.returncode} (see {ppath})")
            with open(ppath, errors="replace") as f:
                r["produce"] = parse_produce(f.read())
            final_end = sum(end_offsets(meta2, T, a.partitions))
            # samples are (t since server start, applied, end); the producer started at t_prod
            ofs = t_prod - srv["t0"]
            first = next((t for t, ap, _ in samples if ap > 0), None)
            first_produced = next((t for t, _, e in samples if e > 0), None)
            if first_produced is not None and c["caught_up_s"] > first_produced:
                r["upserts_per_s_first_produced_to_last"] = final_end / (c["caught_up_s"] - first_produced)
                r["first_produced_after_produce_start_s"] = first_produced - ofs
                r["window_from_first_produced_s"] = c["caught_up_s"] - first_produced
            r["records"] = final_end
            r["window_s"] = t_caught - t_prod
            r["upserts_per_s"] = final_end / (t_caught - t_prod)
            if first is not None and c["caught_up_s"] > first:
                r["upserts_per_s_first_applied_to_last"] = final_end / (c["caught_up_s"] - first)
                r["first_applied_after_produce_start_s"] = first - ofs
            # best 1-s window and the largest lag (records produced but not yet applied)
            best = 0.0
            for i, (t, ap, _) in enumerate(samples):
                j = next((j for j in range(i, len(samples)) if samples[j][0] - t >= 1.0), None)
                if j is not None:
                    best = max(best, (samples[j][1] - ap) / (samples[j][0] - t))
            r["best_1s_upserts_per_s"] = best
            r["max_lag_records"] = max((e - ap for _, ap, e in samples), default=None)
            r["max_stall_s"] = c["max_stall_s"]
            lat = load["lat"][n_pre:]
            r["search_during"] = lat_summary(lat)
            r["search_service_during"] = lat_summary(load["service"][n_pre:])
            r["search_before"] = lat_summary(pre)
            r["search_service_before"] = lat_summary(pre_service)
            r["search_took_before"] = lat_summary(pre_took)
            r["search_took_during"] = lat_summary(load["took"][n_pre:])
            r["search_errors_during"] = load["errors"] - err_pre
            r["search_error_codes"] = load["codes"]
            r["search_dropped"] = load["late"]
            r["search_rate_achieved"] = (len(lat) + r["search_errors_during"]) / max(1e-9, r["window_s"])
            r["footprint"] = self.footprint(srv, c["final_status"])
            log(f"  {final_end:,} records applied {r['window_s']:.1f} s after the producer started: "
                f"{r['upserts_per_s']:,.0f} upserts/s, {fmt_n(r.get('upserts_per_s_first_produced_to_last'))}/s from the first record in the topic (best 1-s window {best:,.0f}/s, max lag {fmt_n(r['max_lag_records'])}); "
                f"producer alone {fmt_n(r['produce'].get('rows_per_s'))} rows/s")
            log(f"  searches meanwhile: {fmt_lat(r['search_during'])} from the scheduled time; service time "
                f"{fmt_lat(r['search_service_during'])}; server took_ms {fmt_lat(r['search_took_during'])}; {r['search_errors_during']} errors, "
                f"{r['search_rate_achieved']:.0f}/s achieved, {r['search_dropped']} dropped")
        finally:
            stop_evt.set()
            if producer.poll() is None:
                self.procs.stop(producer, grace=5)
            meta2.close()

    def probes(self, srv, count, label, gap_ms=(20, 50)):
        """Produce one probe, then search for it with min_offsets; latency from before produce()
        to the HTTP response."""
        from confluent_kafka import Producer
        a = self.a
        T = self.topics()["live"]
        p = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 0, "acks": "all", "log_level": 3})
        h = Http(srv["port"], timeout=10)
        # warm up the producer's connection and metadata
        p.list_topics(T, timeout=10)
        rnd = random.Random()
        total, acks, searches, took = [], [], [], []
        misses, behind, errors = 0, 0, []
        t_start, last = time.monotonic(), time.monotonic()
        for i in range(count):
            vec = [rnd.gauss(0.0, 1.0) for _ in range(a.dim)]
            vec = list(struct.unpack(f"<{a.dim}f", struct.pack(f"<{a.dim}f", *vec)))  # float32 exactly
            pid = f"probe-{uuid.uuid4().hex}"
            dr = {}
            t0 = time.perf_counter()
            p.produce(T, key=pid.encode(), value=struct.pack(f"<{a.dim}f", *vec),
                      headers=[("vectorstream.format", b"f32le")],
                      on_delivery=lambda err, msg: dr.update(err=err, p=msg.partition(), o=msg.offset()))
            left = p.flush(10)
            t_ack = time.perf_counter()
            if left or dr.get("err") is not None or "o" not in dr:
                errors.append(f"delivery failed: {dr.get('err')}")
                continue
            body = {"vector": vec, "k": 1, "min_offsets": {str(dr["p"]): dr["o"] + 1}}
            try:
                code, res = h.request("POST", "/v1/search", body)
            except Exception as e:
                errors.append(f"search: {e!r}")
                continue
            t1 = time.perf_counter()
            if code == 503:
                behind += 1
                errors.append(f"503 {res}")
                continue
            if code != 200:
                errors.append(f"{code} {res}")
                continue
            hits = res.get("results") or []
            if not hits or hits[0]["id"] != pid:
                misses += 1
            total.append((t1 - t0) * 1000)
            if isinstance(res.get("took_ms"), (int, float)):
                took.append(float(res["took_ms"]))  # the server's part: waiting for the apply, then the search
            acks.append((t_ack - t0) * 1000)
            searches.append((t1 - t_ack) * 1000)
            now = time.monotonic()
            if now - last >= 5:
                last = now
                log(f"  freshness {label}: {i + 1}/{count} probes, p50 so far {pct(total, 50):.1f} ms")
            if now - t_start > 300 * self.T:
                errors.append("phase timeout")
                break
            time.sleep(rnd.uniform(*gap_ms) / 1000.0)
        h.close()
        p.flush(5)
        return {"probes": count, "ok": len(total), "latency": lat_summary(total), "produce_ack": lat_summary(acks),
                "ack_to_response": lat_summary(searches), "server_took": lat_summary(took),
                "top_hit_not_probe": misses, "behind_503": behind,
                "errors": len(errors), "error_samples": errors[:5]}

    def phase_fresh(self):
        a = self.a
        r = self.results.setdefault("freshness", {})
        srv = self.ensure_live_server()
        # idle means idle: the live phase leaves compactions and restores of deferred scan copies behind it
        log("== phase 5: freshness, idle: waiting for the server to settle (no background work)")
        r["idle_settle_s"] = self.settle(srv, 180 * self.T)
        log(f"== phase 5: freshness, idle: {a.probes} probes (produce -> searchable via min_offsets)")
        r["idle"] = self.probes(srv, a.probes, "idle")
        log(f"  idle: {fmt_lat(r['idle']['latency'])}; top hit not the probe: {r['idle']['top_hit_not_probe']}, "
            f"errors {r['idle']['errors']}")
        log(f"== phase 5: freshness under a background load of {a.bg_rate:,} upserts/s (separate producer process)")
        n_total, _ = fvecs_count(self.base)
        stats = os.path.join(self.tmp, "bg-stats.json")
        cmd = [sys.executable, os.path.abspath(__file__), "--bg-producer", "--bootstrap", self.bootstrap,
               "--topic", self.topics()["live"], "--base", self.base, "--rate", str(a.bg_rate),
               "--start-row", str(a.live_n % n_total), "--stats", stats]
        bg, bgpath = self.procs.start("bg-producer", cmd)
        T = self.topics()["live"]
        samples, stop_evt = [], threading.Event()  # (t, applied, end) every 0.5 s

        def sampler():
            h, meta = Http(srv["port"]), kafka_meta(self.bootstrap)
            try:
                while not stop_evt.is_set():
                    e = sum(end_offsets(meta, T, a.partitions))
                    st = self.status(srv, h)
                    if st:
                        samples.append((time.monotonic(), sum(max(0, p["applied_offset"]) for p in st["partitions"]), e))
                    stop_evt.wait(0.5)
            finally:
                h.close()
                meta.close()

        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        lf = r.setdefault("loaded_server", {})
        try:
            # let the server reach the background rate before probing: lag under half a second's records
            t0 = time.monotonic()
            warm_limit = 60 * self.T
            while True:
                time.sleep(1.0)
                if bg.poll() is not None:
                    raise PhaseError(f"background producer exited with {bg.returncode} (see {bgpath})")
                lag = samples[-1][2] - samples[-1][1] if samples else None
                el = time.monotonic() - t0
                if el >= 3 and lag is not None and lag < a.bg_rate / 2:
                    lf["warmup_s"] = el
                    log(f"  server keeps up after {el:.0f} s (lag {lag:,} records); probing")
                    break
                if el > warm_limit:
                    lf["warmup_s"] = None
                    log(f"  server still {fmt_n(lag)} records behind after {warm_limit:.0f} s; probing anyway")
                    break
                if int(el) % 5 == 0:
                    log(f"  waiting for the server to keep up with the background load: {el:.0f} s, lag {fmt_n(lag)} records")
            i0 = len(samples)
            t_probe0 = time.monotonic()
            r["loaded"] = self.probes(srv, a.probes, "loaded")
            t_probe1 = time.monotonic()
            time.sleep(0.6)
            win = [x for x in samples[i0:] if x[0] <= t_probe1 + 0.5] or samples[-1:]
            if len(win) >= 2:
                dt = win[-1][0] - win[0][0]
                lf["topic_rate_per_s"] = (win[-1][2] - win[0][2]) / dt
                lf["applied_rate_per_s"] = (win[-1][1] - win[0][1]) / dt
            lags = [e - ap for _, ap, e in win]
            lf["max_lag"] = max(lags) if lags else None
            lf["mean_lag"] = sum(lags) / len(lags) if lags else None
            lf["lag_at_end"] = lags[-1] if lags else None
            lf["probe_window_s"] = t_probe1 - t_probe0
            log(f"  loaded: {fmt_lat(r['loaded']['latency'])}; top hit not the probe: "
                f"{r['loaded']['top_hit_not_probe']}, 503 {r['loaded']['behind_503']}, errors {r['loaded']['errors']}; "
                f"topic grew {fmt_n(lf.get('topic_rate_per_s'))}/s, server applied {fmt_n(lf.get('applied_rate_per_s'))}/s, "
                f"lag max {fmt_n(lf['max_lag'])} / mean {fmt_n(lf['mean_lag'])} / end {fmt_n(lf['lag_at_end'])} records")
        finally:
            stop_evt.set()
            self.procs.stop(bg, grace=10)
            th.join(10)
            try:
                with open(stats) as f:
                    r["bg_producer"] = json.load(f)
                log(f"  background producer: {r['bg_producer']}")
            except (OSError, ValueError):
                pass

    def fail(self, phase, e):
        if isinstance(e, PhaseError):
            msg = str(e)
        else:
            import traceback
            msg = f"{type(e).__name__}: {e}\n" + "".join(traceback.format_exception(e)[-6:])
        self.errors[phase] = msg
        log(f"!! phase {phase} failed: {msg}")

    # ---------------------------------------------------------------------------------------- main
    def run(self):
        a = self.a
        self.started = datetime.datetime.now()
        self.load_start = loadavg()
        log(f"system bench: n {a.n:,}, dim {a.dim}, partitions {a.partitions}, json-n {a.json_n:,}, live-n {a.live_n:,}; "
            f"phases {','.join(a.phases)}; logs {self.logdir}; tmp {self.tmp}; load average {self.load_start}")
        try:
            self.gen_data()
            self.start_broker()
            if "pipe" in a.phases or "backfill" in a.phases:
                try:
                    self.phase_backfill_binary()
                except Exception as e:
                    self.fail("backfill", e)
            if "json" in a.phases:
                try:
                    self.phase_backfill_json()
                except Exception as e:
                    self.fail("json", e)
            if "live" in a.phases:
                try:
                    self.phase_live()
                except Exception as e:
                    self.fail("live", e)
            if "fresh" in a.phases:
                try:
                    self.phase_fresh()
                except Exception as e:
                    self.fail("fresh", e)
            if getattr(self, "live_srv", None) is not None:
                self.results.setdefault("live", {})["stop_s"] = self.stop_server(self.live_srv)
        except KeyboardInterrupt as e:
            self.errors["interrupted"] = f"the run was stopped ({e or 'Ctrl-C'}); the results below are partial"
            raise
        finally:
            if self.meta is not None:
                try:
                    self.meta.close()
                except Exception:
                    pass
            self.procs.stop_all()
            for name, p, _ in self.procs.children:
                if name.startswith("server") and name not in self.log_findings:
                    self.scan_log({"name": name, "log": os.path.join(self.logdir, name + ".log")})
            self.load_end = loadavg()
            if not a.keep_tmp:
                shutil.rmtree(self.tmp, ignore_errors=True)
            self.report()
        return 1 if self.errors else 0

    # -------------------------------------------------------------------------------------- report
    def report(self):
        a, R = self.a, self.results
        try:
            commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                    text=True, timeout=10).stdout.strip()
            dirty = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
                                   cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()
            if dirty:
                commit += " (+ uncommitted changes)"
        except Exception:
            commit = "?"
        cpu = "?"
        try:
            with open("/proc/cpuinfo") as f:
                cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
        except Exception:
            pass
        mem = ""
        try:
            with open("/proc/meminfo") as f:
                mem = f"{int(f.readline().split()[1]) / (1 << 20):.0f} GiB"
        except Exception:
            pass
        raw = a.n * a.dim * 4
        bb, bj, lv, fr, pp = (R.get(k, {}) for k in ("backfill_binary", "backfill_json", "live", "freshness", "pipe"))

        def ratio(x, ref):
            return f"{x / ref:.2f}×" if x and ref else "—"

        def g(d, *path):
            for p in path:
                if not isinstance(d, dict):
                    return None
                d = d.get(p)
            return d

        rates = [
            ("pipe: kcat reads the binary topic", g(pp, "kcat", "records_per_s"), g(pp, "kcat", "mb_per_s"),
             f"{fmt_n(pp.get('records'))} records, {fmt_n(g(pp, 'kcat', 'seconds'), 2)} s incl. process start"),
            ("pipe: confluent_kafka (Python) reads it", g(pp, "confluent_kafka", "records_per_s"),
             g(pp, "confluent_kafka", "mb_per_s"), f"{fmt_n(g(pp, 'confluent_kafka', 'seconds'), 2)} s"),
            ("Kafka Streams floor: the server's settings, a processor that only counts (`vectorstream streams-floor`)",
             g(pp, "streams_floor", "records_per_s"), None,
             f"from process start, {fmt_n(g(pp, 'streams_floor', 'seconds'), 2)} s; from the first record: "
             f"{fmt_n(g(pp, 'streams_floor', 'records_per_s_after_first'))}/s; "
             f"{fmt_n(g(pp, 'streams_floor', 'cpu_s'), 1)} s of CPU"),
            ("produce binary (`vectorstream produce`, before the server)", g(bb, "produce", "rows_per_s"),
             g(bb, "produce", "mb_per_s"), f"{fmt_n(g(bb, 'produce', 'rows'))} rows, producer's own summary"),
            ("backfill binary: server start → all applied", bb.get("upserts_per_s"), None,
             f"{fmt_n(bb.get('caught_up_s'), 1)} s; from first applied record: {fmt_n(bb.get('upserts_per_s_after_first'))}/s; "
             f"{ratio(bb.get('upserts_per_s'), g(pp, 'kcat', 'records_per_s'))} the kcat pipe, "
             f"{ratio(bb.get('upserts_per_s'), g(pp, 'streams_floor', 'records_per_s'))} the Kafka Streams floor "
             f"(from first record: {ratio(bb.get('upserts_per_s_after_first'), g(pp, 'streams_floor', 'records_per_s_after_first'))})"),
            ("produce JSON (`--value-format json`)", g(bj, "produce", "rows_per_s"), g(bj, "produce", "mb_per_s"),
             f"{fmt_n(g(bj, 'produce', 'rows'))} rows"),
            ("backfill JSON: server start → all applied", bj.get("upserts_per_s"), None,
             f"{fmt_n(bj.get('caught_up_s'), 1)} s; from first applied record: {fmt_n(bj.get('upserts_per_s_after_first'))}/s"),
            ("live: first record in the topic → all applied (server side)", lv.get("upserts_per_s_first_produced_to_last"), None,
             f"{fmt_n(lv.get('records'))} records in {fmt_n(lv.get('window_from_first_produced_s'), 1)} s "
             f"({fmt_n(lv.get('upserts_per_s'))}/s from the producer's process start); best 1-s window "
             f"{fmt_n(lv.get('best_1s_upserts_per_s'))}/s; max lag {fmt_n(lv.get('max_lag_records'))} records"),
            ("live: the producer alone", g(lv, "produce", "rows_per_s"), g(lv, "produce", "mb_per_s"),
             "producer's own summary, while the server ingested and served searches"),
        ]
        L = []
        L.append("# Vectorstream system benchmark\n")
        L.append(f"- command: `{a.cmdline or ' '.join(sys.argv)}`")
        L.append(f"- date: {self.started.strftime('%Y-%m-%d %H:%M:%S')} (took {(datetime.datetime.now() - self.started).total_seconds():.0f} s)")
        L.append(f"- git commit: {commit}")
        L.append(f"- machine: nproc {os.cpu_count() and len(os.sched_getaffinity(0))}, {cpu}, {mem}; "
                 f"load average at start {self.load_start}, at end {self.load_end}")
        L.append(f"- data: `{self.prefix}_*` ({a.n:,} × {a.dim}, clustered, gen-data), {a.partitions} partitions; "
                 f"JSON phase {a.json_n:,} records; live phase {a.live_n:,} records")
        L.append(f"- servers: `bin/vectorstream serve` defaults{(' + ' + ' '.join(a.serve_arg)) if a.serve_arg else ''}"
                 f"{(', VECTORSTREAM_JAVA_OPTS=' + a.server_java_opts) if a.server_java_opts else ''}; "
                 f"broker `bin/vectorstream broker` (single-node KRaft); everything on 127.0.0.1 on this machine")
        L.append("")
        if self.errors:
            L.append("## Failed phases\n")
            for k, v in self.errors.items():
                L.append(f"- **{k}**: {v.splitlines()[0]}")
                for extra in v.splitlines()[1:]:
                    L.append(f"  `{extra}`")
            L.append("")
        L.append("## Throughput side by side\n")
        L.append("| what | records/s | MB/s | notes |")
        L.append("|---|---:|---:|---|")
        for name, rps, mbs, note in rates:
            L.append(f"| {name} | {fmt_n(rps)} | {fmt_n(mbs, 1)} | {note} |")
        L.append("")
        L.append("## Backfill (binary)\n")
        L.append("| measurement | value |")
        L.append("|---|---|")
        L.append(f"| process start → HTTP up / ready / first record applied | {fmt_n(bb.get('http_up_s'), 1)} s / "
                 f"{fmt_n(bb.get('ready_s'), 1)} s / {fmt_n(bb.get('first_applied_s'), 1)} s |")
        L.append(f"| process start → every partition at the topic's end | {fmt_n(bb.get('caught_up_s'), 1)} s "
                 f"({fmt_n(bb.get('upserts_per_s'))} upserts/s) |")
        L.append(f"| longest pause in applied progress before caught up (status polled every 0.2 s) | {fmt_n(bb.get('max_stall_s'), 1)} s |")
        for key, label in (("at_caught_up", "at caught-up"), ("settled", "after background work settled")):
            fp = bb.get(key) or {}
            if fp:
                L.append(f"| {label}: server RSS (VmRSS) / peak (VmHWM) | {fmt_bytes(fp.get('rss'))} / {fmt_bytes(fp.get('hwm'))}"
                         f" ({fmt_n((fp.get('rss') or 0) / a.n)} B/vector) |")
                L.append(f"| {label}: data dir (du) | {fmt_bytes(fp.get('data_dir'))} ({fmt_n((fp.get('data_dir') or 0) / a.n)} B/vector) |")
                L.append(f"| {label}: status memory_bytes / disk_bytes (sum of shards) | {fmt_bytes(fp.get('status_memory_bytes'))} / "
                         f"{fmt_bytes(fp.get('status_disk_bytes'))} |")
        if bb.get("settled"):
            L.append(f"| time from caught-up to settled (CPU < 10% of a core) | {fmt_n(bb.get('settle_s'), 1)} s |")
            L.append(f"| shards when measured | " + "; ".join(
                f"p{s['partition']}: {s['index_kind']}, live {fmt_n(s['live'])}, base {fmt_n(s['base_size'])} (v{s['base_version']}), "
                f"hot {fmt_n(s['hot_size'])}, lists {s['lists']}" for s in bb["settled"]["shards"]) + " |")
        L.append(f"| raw vectors (N × D × 4) | {fmt_bytes(raw)} ({a.dim * 4} B/vector) |")
        s = bb.get("search") or {}
        if s:
            L.append(f"| recall@10 at default settings ({s['queries']:,} HTTP queries vs exact ground truth) | **{s['recall_at_10']:.4f}** |")
            L.append(f"| HTTP search, 1 connection, closed loop, k=10 | {fmt_lat(s['latency'])}; {s['qps']:,.0f} req/s; {s['errors']} errors |")
            L.append(f"| the same, server-side `took_ms` | {fmt_lat(s.get('server_took'))} |")
        if bb.get("after_queries"):
            L.append(f"| RSS after the queries | {fmt_bytes(bb['after_queries']['rss'])} (peak {fmt_bytes(bb['after_queries']['hwm'])}) |")
        L.append(f"| server shutdown (SIGTERM → exit) | {fmt_n(bb.get('stop_s'), 1)} s |")
        L.append("")
        L.append("## Backfill (JSON)\n")
        L.append("| measurement | value |")
        L.append("|---|---|")
        L.append(f"| process start → HTTP up / ready / first record applied | {fmt_n(bj.get('http_up_s'), 1)} s / "
                 f"{fmt_n(bj.get('ready_s'), 1)} s / {fmt_n(bj.get('first_applied_s'), 1)} s |")
        L.append(f"| process start → every partition at the topic's end | {fmt_n(bj.get('caught_up_s'), 1)} s "
                 f"({fmt_n(bj.get('upserts_per_s'))} upserts/s over {fmt_n(a.json_n)} records) |")
        L.append(f"| longest pause in applied progress | {fmt_n(bj.get('max_stall_s'), 1)} s |")
        if bj.get("at_caught_up"):
            L.append(f"| at caught-up: RSS / data dir | {fmt_bytes(bj['at_caught_up'].get('rss'))} / {fmt_bytes(bj['at_caught_up'].get('data_dir'))} |")
        L.append("")
        L.append("## Live ingest\n")
        L.append("| measurement | value |")
        L.append("|---|---|")
        L.append(f"| server start → ready (empty topic) | {fmt_n(lv.get('ready_s'), 1)} s |")
        L.append(f"| {fmt_n(lv.get('records'))} records: first record in the topic → all applied | "
                 f"{fmt_n(lv.get('window_from_first_produced_s'), 1)} s, **{fmt_n(lv.get('upserts_per_s_first_produced_to_last'))} upserts/s** |")
        L.append(f"| {fmt_n(lv.get('records'))} records: producer process start → all applied | {fmt_n(lv.get('window_s'), 1)} s, "
                 f"{fmt_n(lv.get('upserts_per_s'))} upserts/s (first record in the topic {fmt_n(lv.get('first_produced_after_produce_start_s'), 1)} s, "
                 f"first applied {fmt_n(lv.get('first_applied_after_produce_start_s'), 1)} s "
                 f"after the producer started; from then {fmt_n(lv.get('upserts_per_s_first_applied_to_last'))}/s) |")
        L.append(f"| best 1-s window / largest lag (produced, not applied) / longest pause | {fmt_n(lv.get('best_1s_upserts_per_s'))}/s / "
                 f"{fmt_n(lv.get('max_lag_records'))} records / {fmt_n(lv.get('max_stall_s'), 1)} s |")
        L.append(f"| searches ({a.search_rate}/s open loop, k=10) on the empty index before ingest, from scheduled time / service time | "
                 f"{fmt_lat(lv.get('search_before'))} / {fmt_lat(lv.get('search_service_before'))} |")
        L.append(f"| searches during ingest, from scheduled time | {fmt_lat(lv.get('search_during'))}; "
                 f"{fmt_n(lv.get('search_rate_achieved'))}/s achieved, {fmt_n(lv.get('search_errors_during'))} errors "
                 f"{lv.get('search_error_codes') or ''}, {fmt_n(lv.get('search_dropped'))} never sent (client backlog over 1,000, or still queued at the end) |")
        L.append(f"| searches during ingest, service time only (request sent → response) | {fmt_lat(lv.get('search_service_during'))} |")
        L.append(f"| searches before / during ingest, server-side `took_ms` | {fmt_lat(lv.get('search_took_before'))} / "
                 f"{fmt_lat(lv.get('search_took_during'))} |")
        if lv.get("footprint"):
            L.append(f"| at caught-up: RSS / data dir | {fmt_bytes(lv['footprint'].get('rss'))} / {fmt_bytes(lv['footprint'].get('data_dir'))} |")
        L.append("")
        L.append("## Freshness: produce → searchable (read-your-writes, k=1)\n")
        L.append("| load | produce → HTTP response | produce → ack | ack → response | of which the server's `took_ms` (wait for the apply + search) | top hit not the probe | 503 behind | errors |")
        L.append("|---|---|---|---|---|---:|---:|---:|")
        settled = fr.get("idle_settle_s")
        idle_label = "idle" + (f" (server settled {settled:.0f} s after the live phase)" if settled is not None else
                               " (server still busy after the live phase)" if "idle_settle_s" in fr else "")
        for key, label in (("idle", idle_label), ("loaded", f"background {a.bg_rate:,} upserts/s")):
            f = fr.get(key)
            if f:
                L.append(f"| {label} | {fmt_lat(f['latency'])} | {fmt_lat(f['produce_ack'])} | {fmt_lat(f['ack_to_response'])} | "
                         f"{fmt_lat(f['server_took']) if f.get('server_took') else '—'} | "
                         f"{f['top_hit_not_probe']} | {f['behind_503']} | {f['errors']} |")
        if fr.get("loaded_server"):
            f = fr["loaded_server"]
            L.append("")
            L.append(f"Under load: {'the server kept up after ' + fmt_n(f.get('warmup_s'), 0) + ' s' if f.get('warmup_s') else 'the server did NOT get within half a second of the producer before probing'}; "
                     f"during the {fmt_n(f.get('probe_window_s'), 0)} s of probes the topic grew {fmt_n(f.get('topic_rate_per_s'))}/s and "
                     f"the server applied {fmt_n(f.get('applied_rate_per_s'))}/s; lag (records produced, not applied) max "
                     f"{fmt_n(f.get('max_lag'))}, mean {fmt_n(f.get('mean_lag'))}, at the end {fmt_n(f.get('lag_at_end'))}; "
                     f"background producer: {fr.get('bg_producer')}.")
        for key in ("idle", "loaded"):
            if fr.get(key, {}).get("error_samples"):
                L.append(f"\nErrors ({key}): " + "; ".join(f"`{e[:200]}`" for e in fr[key]["error_samples"]))
        L.append("")
        L.append("## Server logs\n")
        for name, lf in self.log_findings.items():
            L.append(f"- {name}: {lf['counts']['WARN']} WARN, {lf['counts']['ERROR']} ERROR, "
                     f"{lf['counts']['exception']} exception lines (`{lf['log']}`)"
                     + "".join(f"; {k}: {e['count']} (longest {e['max_ms']:,} ms, total {e['total_ms']:,} ms)"
                               for k, e in lf.get("events", {}).items()))
            for sline in lf["samples"]:
                L.append(f"  - `{sline[:300]}`")
        L.append("")
        L.append("(trainings: the hot index's k-means (re)trainings, logged by IvfFlatIndex; they run on the stream "
                 "thread, so ingestion of that partition waits for them. compactions: IVF-PQ base builds, in the background.)")
        L.append("")
        L.append("Notes: the broker, the producers, the benchmark client and the server share this machine's cores, "
                 "so every rate here is the whole system's on this box. Search latency is measured by a Python "
                 "client (its own JSON encoding included). Upserts/s of a backfill include the server's JVM and "
                 "Kafka Streams start-up; the 'from first applied record' figure excludes them. Phase 1 MB/s counts "
                 "keys + values (not headers or protocol overhead).")
        md = "\n".join(L) + "\n"
        path = os.path.join(a.out, f"system-bench-{self.ts}.md")
        with open(path, "w") as f:
            f.write(md)
        with open(os.path.join(a.out, f"system-bench-{self.ts}.json"), "w") as f:
            json.dump({"args": vars(a), "results": R, "errors": self.errors, "logs": self.log_findings,
                       "commit": commit}, f, indent=1, default=str)
        print("\n" + "=" * 100 + "\n" + md + "=" * 100)
        log(f"written {path} (and .json beside it)")


# ------------------------------------------------------------------------------ background producer

def bg_producer(a):
    """Rate-limited binary upserts from a base file, until SIGTERM; writes its achieved rate to --stats."""
    from confluent_kafka import Producer
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    n, d = fvecs_count(a.base)
    row = 4 + 4 * d
    chunk = min(n, 50000)
    start = a.start_row % n
    with open(a.base, "rb") as f:
        f.seek(start * row)
        buf = f.read(chunk * row)
    rows = len(buf) // row
    if rows < chunk:  # wrapped
        with open(a.base, "rb") as f:
            buf += f.read((chunk - rows) * row)
    values = [buf[i * row + 4:(i + 1) * row] for i in range(chunk)]
    p = Producer({"bootstrap.servers": a.bootstrap, "linger.ms": 5, "acks": "all", "log_level": 3,
                  "queue.buffering.max.messages": 1000000})
    hdr = [("vectorstream.format", b"f32le")]
    sent, failed = 0, [0]

    def cb(err, msg):
        if err is not None:
            failed[0] += 1

    t0 = time.monotonic()
    last = t0
    while not stop["now"]:
        now = time.monotonic()
        due = int((now - t0) * a.rate)
        while sent < due:
            i = sent % chunk
            key = f"bg-{sent}".encode()  # new ids; the vectors cycle through `chunk` rows of the base file
            try:
                p.produce(a.topic, key=key, value=values[i], headers=hdr, on_delivery=cb)
            except BufferError:
                p.poll(0.01)
                continue
            sent += 1
        p.poll(0)
        if now - last >= 5:
            last = now
            print(f"bg-producer: {sent:,} sent, {sent / (now - t0):,.0f}/s", flush=True)
        time.sleep(0.005)
    el = time.monotonic() - t0
    p.flush(10)
    res = {"sent": sent, "seconds": round(el, 1), "rate_per_s": round(sent / el), "delivery_failures": failed[0]}
    print(f"bg-producer: {res}", flush=True)
    if a.stats:
        with open(a.stats, "w") as f:
            json.dump(res, f)


# ---------------------------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000000, help="vectors of the binary backfill (and of the data set)")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--partitions", type=int, default=2)
    ap.add_argument("--json-n", type=int, default=200000, help="records of the JSON backfill (the first rows)")
    ap.add_argument("--live-n", type=int, default=None, help="records of the live phase (default min(n, 200000))")
    ap.add_argument("--nq", type=int, default=1000, help="queries generated with the data")
    ap.add_argument("--queries", type=int, default=None, help="HTTP queries for recall/latency (default nq)")
    ap.add_argument("--probes", type=int, default=300, help="freshness probes, idle and again under load")
    ap.add_argument("--search-rate", type=int, default=200, help="searches/s during live ingest")
    ap.add_argument("--bg-rate", type=int, default=10000, help="background upserts/s during the loaded freshness probes")
    ap.add_argument("--phases", default="pipe,backfill,json,live,fresh")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "data", "system"))
    ap.add_argument("--tmp-dir", default=None, help="where broker and server data dirs go (default: under --out)")
    ap.add_argument("--keep-tmp", action="store_true", help="keep broker and server data dirs")
    ap.add_argument("--server-java-opts", default=None, help="VECTORSTREAM_JAVA_OPTS for the servers, e.g. -Xmx8g")
    ap.add_argument("--serve-arg", action="append", default=[], help="extra serve option (repeatable), e.g. --serve-arg=--nprobe=32")
    ap.add_argument("--timeout-scale", type=float, default=1.0, help="multiplies every phase timeout")
    ap.add_argument("--stall-timeout", type=float, default=120.0, help="fail a phase when applied offsets do not move for this long")
    ap.add_argument("--cmdline", default=None, help=argparse.SUPPRESS)
    # background producer mode (phase 5)
    ap.add_argument("--bg-producer", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--bootstrap", help=argparse.SUPPRESS)
    ap.add_argument("--topic", help=argparse.SUPPRESS)
    ap.add_argument("--base", help=argparse.SUPPRESS)
    ap.add_argument("--rate", type=float, default=10000, help=argparse.SUPPRESS)
    ap.add_argument("--start-row", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--stats", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.bg_producer:
        bg_producer(a)
        return 0
    a.phases = [p.strip() for p in a.phases.split(",") if p.strip()]
    unknown = set(a.phases) - {"pipe", "backfill", "json", "live", "fresh"}
    if unknown:
        ap.error(f"unknown phases {sorted(unknown)}")
    if a.live_n is None:
        a.live_n = min(a.n, 200000)
    a.json_n = min(a.json_n, a.n)
    a.live_n = min(a.live_n, a.n)
    a.queries = min(a.queries or a.nq, a.nq)
    a.out = os.path.abspath(a.out)
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        sys.exit("needs confluent_kafka: run with /usr/bin/python3 (Debian's python3-confluent-kafka)")

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    signal.signal(signal.SIGINT, on_term)  # also when started in the background, where SIGINT starts out ignored
    b = Bench(a)
    try:
        return b.run()
    except KeyboardInterrupt as e:
        log(f"interrupted ({e}); children stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
