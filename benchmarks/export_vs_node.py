"""`pmutop export` beside Debian's prometheus-node-exporter perf collector on this machine.

Both run on loopback; each is scraped the way Prometheus scrapes (OpenMetrics or text Accept header, gzip).
Measured: the exporter's CPU while idle (pmutop samples every interval, node_exporter only when scraped),
CPU and wall time per scrape, exposition size, and, for the software events both count (context switches,
CPU migrations), the per-CPU rates each reports over the same window under a steady load. Run by hand, root:

    .venv/bin/python benchmarks/export_vs_node.py [--scrapes 1000] [--window 30]
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from export_support import free_port, parse_exposition, sample_value, start_exporter
from startup_and_stat import process_cpu

ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
LOAD = "import os, sys, time\nos.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True:\n    time.sleep(0.0005)\n"
EVENTS = (
    ("context switches/s", "pmutop_context_switches_total", "node_perf_context_switches_total"),
    ("CPU migrations/s", "pmutop_cpu_migrations_total", "node_perf_cpu_migrations_total"),
)


def process_cpu_with_exited_threads(pid: int) -> float:
    """utime + stime of the whole process, threads that have exited included (pmutop's HTTP server runs a
    thread per request, and a thread's schedstat goes with it); 10 ms resolution, so use many scrapes."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scrape_cost(pid: int, url: str, scrapes: int, idle_s: float) -> dict[str, float]:
    before = process_cpu(pid)
    time.sleep(idle_s)
    idle_rate = (process_cpu(pid) - before) / idle_s
    walls, sizes = [], []
    started, cpu_before = time.perf_counter(), process_cpu_with_exited_threads(pid)
    for _ in range(scrapes):
        request = urllib.request.Request(url, headers={"Accept": ACCEPT, "Accept-Encoding": "gzip"})
        t0 = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:
            sizes.append(len(response.read()))
        walls.append(time.perf_counter() - t0)
    burst = time.perf_counter() - started
    per_scrape = (process_cpu_with_exited_threads(pid) - cpu_before - idle_rate * burst) / scrapes
    plain = urllib.request.urlopen(url, timeout=30).read()
    return {
        "idle_ms_per_s": 1000 * idle_rate,
        "scrape_cpu_ms": 1000 * per_scrape,
        "scrape_wall_ms": 1000 * statistics.median(walls),
        "gzip_bytes": statistics.median(sizes),
        "text_bytes": len(plain),
        "series": sum(1 for line in plain.splitlines() if line and not line.startswith(b"#")),
    }


def rates(pmutop_url: str, node_url: str, window_s: float, cpus: list[int]) -> list[tuple]:
    """Per CPU and event: (pmutop rate, node rate) over the same window, each on its own clock."""

    def both():
        results = {}

        def fetch(name, url):
            results[name] = (time.time(), parse_exposition(urllib.request.urlopen(url, timeout=30).read().decode()))

        threads = [threading.Thread(target=fetch, args=item) for item in (("pmutop", pmutop_url), ("node", node_url))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    first = both()
    time.sleep(window_s)
    last = both()
    rows = []
    for label, ours, theirs in EVENTS:
        for cpu in cpus:
            # pmutop's figures are its newest tick's: time them by that tick, not by the scrape.
            tick0 = sample_value(first["pmutop"][1], "pmutop_last_tick_timestamp_seconds")
            tick1 = sample_value(last["pmutop"][1], "pmutop_last_tick_timestamp_seconds")
            pmutop_delta = sample_value(last["pmutop"][1], ours, cpu=str(cpu)) - sample_value(
                first["pmutop"][1], ours, cpu=str(cpu)
            )
            node_delta = sample_value(last["node"][1], theirs, cpu=str(cpu)) - sample_value(
                first["node"][1], theirs, cpu=str(cpu)
            )
            rows.append((label, cpu, pmutop_delta / (tick1 - tick0), node_delta / (last["node"][0] - first["node"][0])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scrapes", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=20.0)
    parser.add_argument("--window", type=float, default=30.0)
    args = parser.parse_args()
    port = free_port()
    node = subprocess.Popen(
        ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults",
         "--collector.perf"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    node_url = f"http://127.0.0.1:{port}/metrics"
    exporter = start_exporter("--listen", "127.0.0.1:0")
    cpus = sorted(os.sched_getaffinity(0))
    try:
        time.sleep(3)
        costs = {
            "pmutop export -I 1000": scrape_cost(exporter.process.pid, exporter.url, args.scrapes, args.idle),
            "node_exporter perf": scrape_cost(node.pid, node_url, args.scrapes, args.idle),
        }
        print("| exporter | idle CPU ms/s | CPU ms per scrape | scrape wall ms | series | text bytes | gzip bytes |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, c in costs.items():
            print(
                f"| {name} | {c['idle_ms_per_s']:.2f} | {c['scrape_cpu_ms']:.2f} | {c['scrape_wall_ms']:.2f} "
                f"| {c['series']} | {c['text_bytes']} | {c['gzip_bytes']:.0f} |"
            )
        load = [subprocess.Popen([sys.executable, "-c", LOAD, str(cpu)]) for cpu in cpus]
        try:
            time.sleep(2)
            rows = rates(exporter.url, node_url, args.window, cpus)
        finally:
            for process in load:
                process.kill()
                process.wait()
        print(f"\n| event | CPU | pmutop /s | node_exporter /s | pmutop / node (over {args.window:g} s) |")
        print("|---|---:|---:|---:|---:|")
        for label, cpu, ours, theirs in rows:
            ratio = ours / theirs if theirs else float("nan")
            print(f"| {label} | {cpu} | {ours:.1f} | {theirs:.1f} | {ratio:.3f} |")
    finally:
        exporter.stop()
        node.terminate()
        node.wait()


if __name__ == "__main__":
    main()
