"""The `pmutop export` command line (light: argparse only)."""

import argparse

from pmutop.cli import errors, stat_args


def add_export_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "export",
        help="serve counts per CPU, core PMU and followed task as Prometheus/OpenMetrics /metrics",
        description="Serve /metrics (Prometheus text or OpenMetrics, by the Accept header) from the newest tick, "
        "on 127.0.0.1 unless told otherwise, and/or write a .prom file for node_exporter's textfile collector.",
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="address to serve on (default 127.0.0.1:9768; port 0 picks a free one and prints it)",
    )
    parser.add_argument("--allow-remote", action="store_true", help="allow a --listen address that is not loopback")
    parser.add_argument(
        "--textfile",
        metavar="DIR",
        help="write DIR/pmutop.prom every interval, replaced atomically (serves HTTP too only with --listen)",
    )
    parser.add_argument(
        "-I", "--interval", type=errors.interval_ms, metavar="MS", help="sample every MS milliseconds (default 1000)"
    )
    stat_args.add_cpu_selectors(parser)
    stat_args.add_task_selectors(parser)
    parser.add_argument(
        "--input", metavar="FILE", help="export a `pmutop record` file, replayed at its recorded pace, not the kernel"
    )
