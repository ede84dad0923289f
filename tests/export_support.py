"""Helpers for the exporter tests: run `pmutop export` and real Prometheus/node_exporter on loopback, and poll them.

Waiting is on events: a child's "serving" line, or an HTTP answer that says the thing is there, polled
until it does (waiting.wait_until: its limit is a hang guard, not a speed target).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from waiting import HANG_S
from waiting import wait_until as poll

REPO = Path(__file__).resolve().parent.parent
PMUTOP = [sys.executable, "-m", "pmutop"]
OPENMETRICS = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get(url: str, accept: str | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=HANG_S) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@dataclass
class Exporter:
    process: subprocess.Popen
    url: str

    def metrics(self, accept: str | None = None) -> str:
        status, _, body = http_get(self.url, accept)
        assert status == 200, body
        return body.decode()

    def interrupt(self) -> int:
        """Ctrl-C, as a user would; returns the exit status."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=HANG_S)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=HANG_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_exporter(*args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()) -> Exporter:
    """`pmutop export ARGS`, returned once it says where it serves (its first tick is in by then)."""
    process = subprocess.Popen(
        [*prefix, *PMUTOP, "export", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    line = process.stdout.readline()
    if "serving" not in line:
        process.kill()
        raise AssertionError(f"pmutop export did not start: {line!r} {process.stderr.read()}")
    return Exporter(process, line.split("serving ", 1)[1].strip())


def parse_exposition(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Samples by metric name, with their labels, from the Prometheus text format."""
    from prometheus_client.parser import text_string_to_metric_families

    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def sample_value(samples, name: str, **labels: str) -> float | None:
    for found, value in samples.get(name, ()):
        if all(found.get(key) == wanted for key, wanted in labels.items()):
            return value
    return None


@dataclass
class Prometheus:
    process: subprocess.Popen
    base: str

    def api(self, path: str, **params) -> dict:
        query = urllib.parse.urlencode(params)
        status, _, body = http_get(f"{self.base}/api/v1/{path}?{query}")
        answer = json.loads(body)
        assert status == 200 and answer["status"] == "success", answer
        return answer["data"]

    def query(self, expr: str, time_s: float | None = None) -> list[dict]:
        params = {"query": expr}
        if time_s is not None:
            params["time"] = f"{time_s:.3f}"
        return self.api("query", **params)["result"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=HANG_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_prometheus(workdir: Path, jobs: dict[str, str], rule_files: tuple[Path, ...] = ()) -> Prometheus:
    """A real Prometheus on loopback scraping each job's URL every second, evaluating rules every second."""
    scrape_configs = []
    for job, url in jobs.items():
        parsed = urllib.parse.urlparse(url)
        scrape_configs.append(
            {
                "job_name": job,
                "metrics_path": parsed.path,
                "static_configs": [{"targets": [parsed.netloc]}],
            }
        )
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": scrape_configs,
    }
    config_path = workdir / "prometheus.yml"
    # JSON is YAML: no YAML library needed.
    config_path.write_text(json.dumps(config, indent=2))
    port = free_port()
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config_path}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "prometheus.log", "w"),  # noqa: SIM115 (the child owns it)
    )
    prometheus = Prometheus(process, f"http://127.0.0.1:{port}")

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"prometheus exited: {(workdir / 'prometheus.log').read_text()}")
        try:
            return http_get(f"{prometheus.base}/-/ready")[0] == 200
        except OSError:
            return False

    poll(ready, "prometheus to be ready")
    return prometheus


def listening_addresses(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket the process listens on, from /proc (IPv4 and IPv6)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table, width in (("tcp", 8), ("tcp6", 32)):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A = LISTEN
                continue
            address, port = local.split(":")
            raw = bytes.fromhex(address)
            if width == 8:
                text = socket.inet_ntop(socket.AF_INET, raw[::-1])
            else:
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                text = socket.inet_ntop(socket.AF_INET6, words)
            found.add((text, int(port, 16)))
    return found
