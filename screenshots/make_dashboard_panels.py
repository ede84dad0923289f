"""Render some of deploy/grafana/pmutop-dashboard.json's panels without Grafana: a real Prometheus scrapes
`pmutop export` on this machine (following a load that alternates busy and idle on CPU 0) and a synthetic
Alder Lake recording replayed by `pmutop export --input`, evaluates the recording rules, and the panels'
own queries are fetched from its query API and drawn with matplotlib into screenshots/export-dashboard.png.

Run by hand, as root, with prometheus installed (`apt-get install prometheus`) and matplotlib in the venv
(`.venv/bin/pip install matplotlib`):

    .venv/bin/python screenshots/make_dashboard_panels.py [--seconds 150]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))

import matplotlib  # noqa: E402 (needs the backend chosen before pyplot)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from export_support import poll, start_exporter, start_prometheus  # noqa: E402
from synthetic_recordings import synthetic_recording  # noqa: E402
from sysfs_trees import build_alder_lake  # noqa: E402

from pmutop.kernel.sysfs import read_sysfs  # noqa: E402
from pmutop.recording.format import RecordingWriter  # noqa: E402

DASHBOARD = REPO / "deploy/grafana/pmutop-dashboard.json"
RULES = (REPO / "deploy/prometheus/pmutop-rules.yml", REPO / "deploy/prometheus/pmutop-alerts.yml")
LOAD_COMM = "pmutop-load"
# Busy for 20 s, then sleeping 2 ms at a time for 20 s, on CPU 0.
LOAD = (
    "import os, time\n"
    "os.sched_setaffinity(0, {0})\n"
    f"open('/proc/self/comm', 'w').write('{LOAD_COMM}')\n"
    "while True:\n"
    "    end = time.monotonic() + 20\n"
    "    while time.monotonic() < end:\n"
    "        pass\n"
    "    end = time.monotonic() + 20\n"
    "    while time.monotonic() < end:\n"
    "        time.sleep(0.002)\n"
)
# (panel title, job, where) in reading order: this machine on the left, the hybrid replay on the right.
PANELS = (
    ("Context switches per second per CPU", "pmutop", "this VM"),
    ("IPC per core type", "pmutop-replay", "Alder Lake replay"),
    ("CPU utilisation heat map by core type", "pmutop", "this VM"),
    ("GHz per core type (while busy)", "pmutop-replay", "Alder Lake replay"),
    ("CPU migrations per second per CPU", "pmutop", "this VM"),
    ("Counter coverage per core type", "pmutop-replay", "Alder Lake replay"),
)


def hybrid_recording(scratch: Path, seconds: float) -> Path:
    recording = synthetic_recording(
        read_sysfs(build_alder_lake(scratch / "adl")), ticks=int(seconds) + 30, host="adl", follow=(4242, "x264")
    )
    path = scratch / "adl.jsonl"
    with RecordingWriter(path, recording.header) as writer:
        for tick in recording.ticks:
            writer.write_tick(tick)
    return path


def legend(template: str, labels: dict[str, str]) -> str:
    text = template.replace("{{instance}} ", "")
    for key, value in labels.items():
        text = text.replace("{{" + key + "}}", value or "-")
    return text.replace("{{core_type}}", "-")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=150)
    args = parser.parse_args()
    panels = {panel["title"]: panel for panel in json.loads(DASHBOARD.read_text())["panels"]}
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        load = subprocess.Popen([sys.executable, "-c", LOAD])
        live = start_exporter("--listen", "127.0.0.1:0", "--comm", LOAD_COMM)
        replay = start_exporter("--listen", "127.0.0.1:0", "--input", str(hybrid_recording(scratch, args.seconds)))
        prometheus = start_prometheus(scratch, {"pmutop": live.url, "pmutop-replay": replay.url}, RULES)
        try:
            started = time.time()
            time.sleep(args.seconds)
            end = time.time()
            poll(lambda: prometheus.query("core_type:pmutop_ipc:ratio1m"), "the rules to have data")
            figure, axes = plt.subplots(3, 2, figsize=(13, 10), constrained_layout=True)
            for axis, (title, job, where) in zip(axes.flat, PANELS, strict=True):
                panel = panels[title]
                target = panel["targets"][0]
                expr = target["expr"].replace('instance=~"$instance"', f'instance=~".+", job="{job}"')
                result = prometheus.api("query_range", query=expr, start=started + 60, end=end, step=1)["result"]
                unit = panel["fieldConfig"]["defaults"].get("unit")
                scale = 100 if unit == "percentunit" else 1
                if panel["type"] == "heatmap":
                    rows = sorted(result, key=lambda r: int(r["metric"]["cpu"]))
                    grid = [[scale * float(v) for _, v in row["values"]] for row in rows]
                    image = axis.imshow(grid, aspect="auto", cmap="Oranges", vmin=0, vmax=100, interpolation="nearest")
                    axis.set_yticks(range(len(rows)), [legend(target["legendFormat"], r["metric"]) for r in rows])
                    figure.colorbar(image, ax=axis, label="busy %")
                    axis.set_xlabel("seconds")
                else:
                    for row in sorted(result, key=lambda r: legend(target["legendFormat"], r["metric"])):
                        times = [float(t) - started - 60 for t, _ in row["values"]]
                        values = [scale * float(v) for _, v in row["values"]]
                        axis.plot(times, values, label=legend(target["legendFormat"], row["metric"]))
                    axis.legend(fontsize=8, loc="best")
                    axis.set_xlabel("seconds")
                    axis.grid(alpha=0.3)
                    if scale == 100:
                        axis.set_ylabel("%")
                axis.set_title(f"{title} ({where})", fontsize=10)
            figure.suptitle("pmutop dashboard queries, evaluated by Prometheus", fontsize=12)
            figure.savefig(HERE / "export-dashboard.png", dpi=80)
        finally:
            prometheus.stop()
            live.stop()
            replay.stop()
            load.kill()
            load.wait()


if __name__ == "__main__":
    main()
