"""`pmutop record` (raw ticks to a file) and `pmutop replay` (the TUI over a recording)."""

import argparse
import os
import platform
import sys
import time

from pmutop.cli import stat_args
from pmutop.cli.errors import UserError, claim_output, recording_exit_code, run_app
from pmutop.cli.signals import StopSignals
from pmutop.cli.stat_args import parse_pids
from pmutop.model.text import plural
from pmutop.recording.format import RecordingError, RecordingHeader, RecordingWriter


def run_record(args: argparse.Namespace, command: list[str]) -> int:
    from pmutop.live.stat_session import COMMAND_GRACE_S, StatSession

    pids = parse_pids(args.pid)
    claim_output(args.output)
    selection = stat_args.live_selection(args.cpus, args.event)
    session = StatSession.create(
        cpus=selection.cpus,
        pids=pids,
        comm=args.comm,
        command=command or None,
        topology=selection.topology,
        interval_s=args.interval / 1000,
        events=selection.events,
    )
    if isinstance(session, str):
        print(f"pmutop record: {session}", file=sys.stderr)
        return 127 if command else 1
    uname = os.uname()
    header = RecordingHeader(
        host=uname.nodename,
        kernel=uname.release,
        privileges=session.sampler.privileges.describe(),
        interval_s=args.interval / 1000,
        sysfs=selection.sysfs,
        layouts=session.sampler.layouts,
        notices=session.sampler.notices,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        events=tuple(args.event),
    )
    interval = args.interval / 1000
    stop_at = time.monotonic() + args.duration if args.duration is not None else None
    reason = "count reached"
    # On a terminal, one line that says how far the recording got, rewritten each tick.
    progress = sys.stderr.isatty()
    started = time.monotonic()

    def show_progress() -> None:
        if progress:
            ticks = plural(writer.ticks_written, "tick")
            line = f"pmutop record: {ticks} to {args.output}, {time.monotonic() - started:.0f} s (Ctrl-C stops)"
            print(f"\r{line}\x1b[K", end="", file=sys.stderr, flush=True)

    with StopSignals(session.child) as stop, RecordingWriter(args.output, header) as writer:
        try:
            session.start()
            writer.write_tick(session.require_last_raw())
            deadline = time.monotonic()
            while args.count is None or writer.ticks_written <= args.count:
                if stop_at is not None and time.monotonic() >= stop_at:
                    reason = "duration reached"
                    break
                deadline += interval
                ended = stop.sleep(session.wait_until, deadline)
                # After a stop signal this is the partial last interval, up to the moment it came.
                session.tick()
                writer.write_tick(session.require_last_raw())
                ended = ended or session.followed_ended()
                show_progress()
                if ended:
                    reason = ended
                    break
        except OSError as exc:
            raise UserError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        finally:
            if stop.signum is not None:
                session.stop_command(COMMAND_GRACE_S)
            session.finish()
    if progress:
        print("\r\x1b[K", end="", file=sys.stderr)
    written = plural(writer.ticks_written, "tick")
    print(f"pmutop record: wrote {written} to {args.output} ({reason}; {platform.machine()})", file=sys.stderr)
    return stop.exit_code() or session.exit_code()


def run_replay(args: argparse.Namespace) -> int:
    from pmutop.recording.replay import ReplayFeed
    from pmutop.tui.app import PmutopApp
    from pmutop.tui.config import load_config

    try:
        feed = ReplayFeed.from_file(args.file, speed=args.speed)
    except RecordingError as exc:
        print(f"pmutop replay: {exc}", file=sys.stderr)
        return 1
    problem = feed.recording.error_summary()
    if problem:
        print(f"pmutop replay: {problem}", file=sys.stderr)
    ended_badly = run_app(PmutopApp(feed, config=load_config()), "pmutop replay", stop=feed.stop)
    if ended_badly is not None:
        return ended_badly
    return recording_exit_code(feed.recording.damaged_lines)
