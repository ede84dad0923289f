"""`pmutop export` at 224 and 448 CPUs: fold time per tick, scrape time and exposition size.

No such machine is needed: a hybrid sysfs tree of N CPUs (cpu_core on the first half, cpu_atom on the rest,
two threads a core, msr with aperf/mperf) is written to a temporary directory, a synthetic recording of it
drives the exporter's own totals (`ExportTotals.fold`, the per-tick path), and each format is rendered the
way a scrape renders it (prometheus_client's encoders over the collector), then fetched over loopback HTTP
from the real server. Run by hand:

    .venv/bin/python benchmarks/export_scale.py [--cpus 224 448] [--scrapes 30]
"""

import argparse
import gzip
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from synthetic_recordings import synthetic_recording
from sysfs_trees import (
    BREAKPOINT,
    INTEL_CORE_EVENTS,
    INTEL_CORE_FORMATS,
    SOFTWARE,
    TRACEPOINT,
    CpuSpec,
    PmuSpec,
    add_cpus,
    add_pmu,
    cpulist,
    msr,
)

from pmutop.export.collector import ExpositionCollector
from pmutop.export.server import ListenAddress, MetricsServer
from pmutop.export.totals import ExportTotals
from pmutop.kernel.sysfs import read_sysfs
from pmutop.live.topology_loader import topology_of
from pmutop.model.rates import RateModel

ACCEPT = {
    "text": "text/plain;version=0.0.4",
    "openmetrics": "application/openmetrics-text;version=1.0.0",
}


def build_hybrid(root: Path, cpus: int) -> Path:
    big = cpus // 2
    for name, pmu_type, members in (("cpu_core", 4, range(big)), ("cpu_atom", 8, range(big, cpus))):
        add_pmu(
            root, PmuSpec(name, pmu_type, cpus=cpulist(members), events=INTEL_CORE_EVENTS, formats=INTEL_CORE_FORMATS)
        )
    for spec in (SOFTWARE, TRACEPOINT, BREAKPOINT, msr(10)):
        add_pmu(root, spec)
    specs = [
        CpuSpec(n, package=n // (cpus // 2), core=n // 2, thread_siblings=(n - n % 2, n - n % 2 + 1))
        for n in range(cpus)
    ]
    add_cpus(root, specs)
    return root


def median_ms(samples: list[float]) -> float:
    return 1000 * statistics.median(samples)


def measure(cpus: int, scrapes: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        read = read_sysfs(build_hybrid(Path(scratch), cpus))
    recording = synthetic_recording(read, ticks=scrapes + 1, follow=(4242, "x264"))
    topology = topology_of(recording.header.sysfs)
    model = RateModel(topology, recording.header.layouts)
    totals = ExportTotals(topology, recording.header.layouts)
    snapshots = [model.update(tick) for tick in recording.ticks]
    folds = []
    exposition = None
    for tick, snapshot in zip(recording.ticks, snapshots, strict=True):
        started = time.perf_counter()
        exposition = totals.fold(tick, snapshot)
        folds.append(time.perf_counter() - started)
    result = {"cpus": cpus, "fold_ms": median_ms(folds[1:]), "series": 0}
    from prometheus_client.exposition import choose_encoder

    for name, accept in ACCEPT.items():
        encoder, _ = choose_encoder(accept)
        times, body = [], b""
        for _ in range(scrapes):
            started = time.perf_counter()
            body = encoder(ExpositionCollector(exposition))
            times.append(time.perf_counter() - started)
        result[f"{name}_render_ms"] = median_ms(times)
        result[f"{name}_kib"] = len(body) / 1024
        result[f"{name}_gzip_kib"] = len(gzip.compress(body)) / 1024
        if name == "text":
            result["series"] = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    server = MetricsServer(ListenAddress("127.0.0.1", 0), lambda: exposition)
    server.start()
    try:
        for name, accept in ACCEPT.items():
            times = []
            for _ in range(scrapes):
                request = urllib.request.Request(
                    f"http://127.0.0.1:{server.port}/metrics", headers={"Accept": accept, "Accept-Encoding": "gzip"}
                )
                started = time.perf_counter()
                with urllib.request.urlopen(request) as response:
                    response.read()
                times.append(time.perf_counter() - started)
            result[f"{name}_http_ms"] = median_ms(times)
    finally:
        server.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cpus", type=int, nargs="+", default=[224, 448])
    parser.add_argument("--scrapes", type=int, default=30)
    args = parser.parse_args()
    print(
        "| CPUs | series | fold ms/tick | text render ms | text HTTP+gzip ms | text KiB (gzip) "
        "| OpenMetrics render ms | OpenMetrics HTTP+gzip ms | OpenMetrics KiB (gzip) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for cpus in args.cpus:
        r = measure(cpus, args.scrapes)
        print(
            f"| {r['cpus']} | {r['series']} | {r['fold_ms']:.2f} | {r['text_render_ms']:.1f} | {r['text_http_ms']:.1f} "
            f"| {r['text_kib']:.0f} ({r['text_gzip_kib']:.0f}) | {r['openmetrics_render_ms']:.1f} "
            f"| {r['openmetrics_http_ms']:.1f} | {r['openmetrics_kib']:.0f} ({r['openmetrics_gzip_kib']:.0f}) |"
        )


if __name__ == "__main__":
    main()
