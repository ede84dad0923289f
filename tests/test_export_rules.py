"""The recording rules' arithmetic and two alerts, checked by `promtool test rules` on series with known rates.

The real-Prometheus tests show every rule returns series; this shows they return the right numbers: a core
group counted half the time is scaled up twofold, IPC and GHz follow from the scaled rates, per core type and
per host sums are of scaled figures, and a task that runs only on E-cores fires its alert.
"""

import json
import shutil
import subprocess

import pytest
from export_support import REPO

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
RULES = REPO / "deploy/prometheus/pmutop-rules.yml"
ALERTS = REPO / "deploy/prometheus/pmutop-alerts.yml"
HOST = 'job="pmutop", instance="h:9768"'
# 15 s between samples: `0+Nx60` rises by N each step, i.e. N/15 per second, for 25 minutes.
P_CORE = f'{HOST}, cpu="0", pmu="cpu_core", core_type="performance"'
E_CORE = f'{HOST}, cpu="1", pmu="cpu_atom", core_type="efficiency"'
SERIES = {
    # CPU 0: 1e9 raw cycles/s and 1.5e9 raw instructions/s while on the PMU half the time.
    f"pmutop_cycles_total{{{P_CORE}}}": "0+15000000000x100",
    f"pmutop_instructions_total{{{P_CORE}}}": "0+22500000000x100",
    f"pmutop_core_enabled_seconds_total{{{P_CORE}}}": "0+15x100",
    f"pmutop_core_running_seconds_total{{{P_CORE}}}": "0+7.5x100",
    # CPU 1: counted all the time, 1e9 cycles/s and 1e9 instructions/s.
    f"pmutop_cycles_total{{{E_CORE}}}": "0+15000000000x100",
    f"pmutop_instructions_total{{{E_CORE}}}": "0+15000000000x100",
    f"pmutop_core_enabled_seconds_total{{{E_CORE}}}": "0+15x100",
    f"pmutop_core_running_seconds_total{{{E_CORE}}}": "0+15x100",
    # Both CPUs busy half the time.
    f'pmutop_cpu_busy_seconds_total{{{HOST}, cpu="0"}}': "0+7.5x100",
    f'pmutop_cpu_busy_seconds_total{{{HOST}, cpu="1"}}': "0+7.5x100",
    f'pmutop_cpu_seconds_total{{{HOST}, cpu="0"}}': "0+15x100",
    f'pmutop_cpu_seconds_total{{{HOST}, cpu="1"}}': "0+15x100",
    f'pmutop_cpu_info{{{HOST}, cpu="0", core_pmu="cpu_core", core_type="performance", package="0", core="0"}}': "1x100",
    f'pmutop_cpu_info{{{HOST}, cpu="1", core_pmu="cpu_atom", core_type="efficiency", package="0", core="8"}}': "1x100",
    # A followed task only ever on the E-core.
    f'pmutop_task_seconds_total{{{HOST}, pid="42", comm="x264", core_pmu="cpu_atom", core_type="efficiency"}}':
        "0+15x100",
}  # fmt: skip


def _expect(name: str, value: float, **labels: str) -> dict:
    """`name` selected by `labels` is exactly one series, with those labels and `value`."""
    selector = ", ".join(f'{key}="{val}"' for key, val in labels.items())
    rendered = ", ".join(f'{key}="{val}"' for key, val in {"job": "pmutop", "instance": "h:9768", **labels}.items())
    return {
        "expr": f"{name}{{{selector}}}",
        "eval_time": "10m",
        "exp_samples": [{"labels": f"{name}{{{rendered}}}", "value": value}],
    }


def test_recording_rules_scale_multiplexed_counts_and_derive_ipc_and_ghz(tmp_path):
    p_core = {"cpu": "0", "pmu": "cpu_core", "core_type": "performance"}
    e_core = {"cpu": "1", "pmu": "cpu_atom", "core_type": "efficiency"}
    checks = [
        _expect("cpu:pmutop_cycles:rate1m", 2e9, **p_core),
        _expect("cpu:pmutop_instructions:rate1m", 3e9, **p_core),
        _expect("cpu:pmutop_coverage:ratio1m", 0.5, **p_core),
        _expect("cpu:pmutop_ipc:ratio1m", 1.5, **p_core),
        # 2e9 scaled cycles/s over 0.5 busy seconds/s.
        _expect("cpu:pmutop_ghz:rate1m", 4.0, **p_core),
        _expect("cpu:pmutop_ghz:rate1m", 2.0, **e_core),
        _expect("cpu:pmutop_busy:ratio1m", 0.5, cpu="0"),
        _expect("core_type:pmutop_ipc:ratio1m", 1.0, core_type="efficiency"),
        _expect("core_type:pmutop_ghz:rate1m", 4.0, core_type="performance"),
        _expect("core_type:pmutop_busy:ratio1m", 0.5, core_type="performance"),
        _expect("core_type:pmutop_coverage:ratio1m", 0.5, core_type="performance"),
        # (3e9 + 1e9) instructions over (2e9 + 1e9) cycles, scaled before they are summed.
        _expect("instance:pmutop_ipc:ratio1m", 4 / 3),
        _expect("instance:pmutop_ghz:rate1m", 3.0),
        _expect("task:pmutop_core_type_share:ratio1m", 1.0, pid="42", comm="x264", core_type="efficiency"),
    ]
    alert = {
        "eval_time": "20m",
        "alertname": "PmutopTaskOnlyOnEfficiencyCores",
        "exp_alerts": [
            {
                "exp_labels": {"severity": "info", "job": "pmutop", "instance": "h:9768", "pid": "42", "comm": "x264",
                               "core_type": "efficiency"},
                "exp_annotations": {"summary": "x264 (42) on h:9768 runs only on efficiency cores"},
            }
        ],
    }  # fmt: skip
    coverage_alert = {
        "eval_time": "20m",
        "alertname": "PmutopCounterCoverageLow",
        # Coverage is exactly 0.5, not below it: no alert.
        "exp_alerts": [],
    }
    spec = {
        "rule_files": [str(RULES), str(ALERTS)],
        "evaluation_interval": "15s",
        "tests": [
            {
                "interval": "15s",
                "input_series": [{"series": series, "values": values} for series, values in SERIES.items()],
                "promql_expr_test": checks,
                "alert_rule_test": [alert, coverage_alert],
            }
        ],
    }
    path = tmp_path / "pmutop-rules.test.yml"
    path.write_text(json.dumps(spec, indent=1))
    result = subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
