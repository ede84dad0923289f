"""Why a figure is n/a (pmutop.model.absence), for each way a row can lack one, over the hybrid -e
recording's last snapshot and its topology."""

import dataclasses

import pytest
from test_live_model import EVENTS_FIXTURE, replayed

from pmutop.model.absence import why_not_available
from pmutop.model.metrics import MetricKey
from pmutop.model.samples import CounterFailure
from pmutop.model.snapshot import NOT_COUNTED_WHY, EventTotal, Metric, event_metric


@pytest.fixture(scope="module")
def replay():
    topology, snapshot = replayed(EVENTS_FIXTURE)
    # An uncore event beside the recorded ones: counted on cpu0 for the package.
    uncore = EventTotal("uncore_imc_0/cas_count_read/", "uncore_imc_0", "uncore_imc_0/cas_count_read/", Metric(5.0))
    return topology, dataclasses.replace(snapshot, events=(*snapshot.events, uncore))


def why(replay, name, row):
    topology, snapshot = replay
    return why_not_available(name, row.metrics.get(name), row, snapshot, topology)


def rows(replay):
    snapshot = replay[1]
    return snapshot.cpu(0), snapshot.cpu(16), {row.pmu: row for row in snapshot.pmus}


def test_a_figure_with_a_value_needs_no_reason(replay):
    cpu0, _, pmus = rows(replay)
    assert why(replay, MetricKey.UTIL_PCT, cpu0) is None
    assert why(replay, event_metric("branch-misses"), pmus["cpu_core"]) is None


def test_an_event_of_another_core_pmu(replay):
    cpu0, cpu16, pmus = rows(replay)
    label = "cpu_atom/cache-misses/"
    assert why(replay, event_metric(label), cpu0) == f"{label} counts on cpu_atom's CPUs only (16-23), not on cpu0"
    assert why(replay, event_metric(label), cpu16) is None
    assert why(replay, event_metric(label), pmus["cpu_core"]) == (
        f"{label} counts on cpu_atom's CPUs only (16-23), none of them cpu_core's"
    )


def test_software_and_uncore_events_on_a_core_pmus_row(replay):
    cpu0, _, pmus = rows(replay)
    assert why(replay, event_metric("cs"), pmus["cpu_atom"]).startswith(
        "cs is an event of the software PMU, not of cpu_atom:"
    )
    uncore = event_metric("uncore_imc_0/cas_count_read/")
    assert "is an event of the uncore_imc_0 (uncore) PMU, not of cpu_core:" in why(replay, uncore, pmus["cpu_core"])
    assert why(replay, uncore, cpu0) == "uncore_imc_0/cas_count_read/ has no counter on cpu0: it did not open there"
    assert why(replay, uncore, rows(replay)[1]) == (
        "uncore_imc_0/cas_count_read/ counts on uncore_imc_0's CPUs only (0), not on cpu16"
    )


def test_figures_a_row_does_not_carry_and_figures_that_did_not_count(replay):
    topology, snapshot = replay
    cpu0, _, pmus = rows(replay)
    assert why(replay, MetricKey.EFFECTIVE_GHZ, pmus["cpu_core"]).startswith("TSC × APERF/MPERF, per CPU only")
    assert why_not_available(MetricKey.IPC, Metric(None), cpu0, snapshot, topology) == NOT_COUNTED_WHY
    assert why_not_available(MetricKey.IPC, Metric(None, note="idle"), cpu0, snapshot, topology) == "idle"
    failed = Metric(None, failure=CounterFailure(2, "ENOENT", "no such counter"))
    assert why_not_available(MetricKey.IPC, failed, cpu0, snapshot, topology) == "no such counter"
    own = dataclasses.replace(pmus["cpu_core"], metrics={})
    assert why_not_available(event_metric("branch-misses"), None, own, snapshot, topology) == (
        "branch-misses has no total on cpu_core this interval"
    )
