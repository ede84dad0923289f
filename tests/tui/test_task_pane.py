"""The task pane's text for a followed task: every n/a says why (truth first)."""

import dataclasses

from tui_support import followed_task

from pmutop.model.snapshot import Metric
from pmutop.tui.task_pane import describe_task


def task(**changes):
    """The support module's Alder Lake task; its topology argument is not read."""
    ipc = {"cpu_core": Metric(None, note="did not run there"), "cpu_atom": Metric(1.5)}
    return dataclasses.replace(followed_task(None, comm="worker"), **({"ipc": ipc} | changes))


def test_cpu_share_unknown_in_the_first_interval_says_why():
    text = describe_task(task(), str, cpu_share=None).plain
    assert "n/a CPU" in text and "CPU n/a until its second interval" in text
    assert "until its second interval" not in describe_task(task(), str, cpu_share=0.5).plain


def test_an_ipc_the_task_has_none_of_says_why():
    text = describe_task(task(), str, cpu_share=0.5).plain
    assert "cpu_core n/a (did not run there)" in text and "cpu_atom 1.50" in text


def test_a_task_that_has_not_run_says_so():
    asleep = task(residency={}, residency_total={}, ipc={})
    assert "it has not run since it was followed" in describe_task(asleep, str, cpu_share=0.0).plain
