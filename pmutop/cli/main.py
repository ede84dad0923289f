"""The `pmutop` command: the TUI by default, and headless subcommands for scripts and fleets.

Subcommands import only what they use, so `pmutop topology` never loads textual or rich.
"""

import argparse
import errno
import os
import sys
from collections.abc import Sequence

from pmutop.cli import export_args, record_args, stat_args, tui_args
from pmutop.cli.errors import BAD_INPUT, OneLineParser, UserError, report_crash
from pmutop.kernel.sysfs import SnapshotError

SUBCOMMANDS = ("topology", "snapshot", "stat", "record", "replay", "export")


def split_command(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split `pmutop [options] -- CMD ARGS` at the first `--`."""
    args = list(argv)
    if "--" in args:
        index = args.index("--")
        return args[:index], args[index + 1 :]
    return args, []


def add_sysfs_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sysfs-root",
        default="/",
        metavar="PATH",
        help="read PMUs and CPUs under PATH (a copied tree or a `pmutop snapshot` tarball) instead of /",
    )


def _topology_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("topology", prog="pmutop topology", help="list PMUs and CPUs with their core types")
    parser.add_argument("--json", action="store_true", help="print JSON (schema in the README)")
    add_sysfs_root(parser)


def _snapshot_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "snapshot", prog="pmutop snapshot", help="capture the sysfs files pmutop reads into a tarball for a bug report"
    )
    parser.add_argument("output", metavar="OUT.tar.gz")
    add_sysfs_root(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="pmutop",
        description="Performance monitoring units: topology, live counts per core type, and the tasks on them.",
        usage="pmutop [TUI options] [-- COMMAND ARGS] | pmutop COMMAND ...",
        epilog="Coming from perf? `pmutop stat -e EVENTS` takes perf's event syntax and flags; "
        "`pmutop stat --help` lists where it differs from perf stat.",
    )
    parser.add_argument(
        "-V",
        "--version",
        action="store_true",
        help="print the versions of pmutop and Textual, and the TUI's paint path",
    )
    tui_args.add_tui_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", prog="pmutop")
    _topology_parser(sub)
    _snapshot_parser(sub)
    stat_args.add_parser(sub)
    record_args.add_record_parser(sub)
    record_args.add_replay_parser(sub)
    export_args.add_export_parser(sub)
    # So that a subcommand's unknown option is reported with that subcommand's usage.
    parser.set_defaults(subcommand_parsers=sub.choices)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run pmutop; every failure ends here as one line on stderr and an exit code (pmutop.cli.errors)."""
    args = list(sys.argv[1:] if argv is None else argv)
    prog = f"pmutop {args[0]}" if args and args[0] in SUBCOMMANDS else "pmutop"
    try:
        return _dispatch(args)
    except UserError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return exc.exit_code
    except SnapshotError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return BAD_INPUT
    except BrokenPipeError:
        # `pmutop topology --json | head`: the reader left; that is not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        if exc.errno not in (errno.EMFILE, errno.ENFILE):
            return report_crash(prog)
        # Past the counters (which report EMFILE in place), Python itself could not open a file.
        print(
            f"{prog}: out of file descriptors ({errno.errorcode[exc.errno]}): raise the limit with `ulimit -n`",
            file=sys.stderr,
        )
        return BAD_INPUT
    except Exception:
        return report_crash(prog)


def version_line() -> str:
    from importlib import metadata

    from pmutop.tui.paint import describe

    return f"pmutop {metadata.version('pmutop')}; {describe()}"


def _dispatch(argv: Sequence[str]) -> int:
    options_argv, command = split_command(argv)
    if options_argv in (["--version"], ["-V"]):
        print(version_line())
        return 0
    parser = build_parser()
    if not options_argv or (options_argv[0] not in SUBCOMMANDS and options_argv[0] not in ("-h", "--help")):
        from pmutop.cli.tui_command import run_tui

        return run_tui(options_argv, command)
    args, unknown = parser.parse_known_args(options_argv)
    if unknown:
        where = args.subcommand_parsers.get(args.command, parser)
        where.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "topology":
        from pmutop.cli.topology_command import run_topology

        return run_topology(args)
    if args.command == "snapshot":
        from pmutop.cli.topology_command import run_snapshot

        return run_snapshot(args)
    if args.command == "stat":
        from pmutop.cli.stat_command import run_stat

        return run_stat(args, command)
    if args.command == "record":
        from pmutop.cli.record_command import run_record

        return run_record(args, command)
    if args.command == "replay":
        from pmutop.cli.record_command import run_replay

        return run_replay(args)
    if args.command == "export":
        from pmutop.export.run import run_export

        address = export_args.checked_address(args)
        selection = None if args.input else stat_args.live_selection(args.cpus, args.event)
        return run_export(args, address, stat_args.parse_pids(args.pid), selection)
    parser.print_help()
    return 2
