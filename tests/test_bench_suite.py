"""`make bench` (bench/suite.py): every script's output under its heading, the machine on top, a
failure recorded rather than hidden, and the sections of scripts not run kept as they were."""

from __future__ import annotations

import os
import sys

from bench import suite


def test_the_suite_writes_what_each_script_printed_and_keeps_the_sections_it_did_not_run(
    tmp_path, monkeypatch
):
    out = tmp_path / "benchmarks.md"
    out.write_text("# Benchmarks\n\n## Start-up (`bench/startup.py`)\n\nan earlier run: 1.23 s\n")
    monkeypatch.setattr(
        suite,
        "SCRIPTS",
        (
            ("startup", (), "Start-up"),
            ("harness", (), "The harness"),
            ("suite", ("--only", "no_such_bench"), "A script that fails"),
        ),
    )
    monkeypatch.setattr(sys, "argv", ["suite", "--only", "harness,suite", "--out", str(out)])

    assert suite.main() == 1  # one script failed; the others were still written

    text = out.read_text()
    assert text.startswith("# Benchmarks\n")
    assert f"{len(os.sched_getaffinity(0))} CPUs usable" in text and "Python 3." in text
    kept = text.index("## Start-up (`bench/startup.py`)")
    assert "an earlier run: 1.23 s" in text[kept:]
    ran = text.index("## The harness (`bench/harness.py`)")
    assert "Shared by the benchmarks" in text[ran:]  # the script's docstring says what it measures
    assert "`python -m bench.harness`: took" in text[ran:]
    failed = text.index("## A script that fails (`bench/suite.py`)")
    assert "**failed** (exit 2)" in text[failed:] and "no such benchmark: no_such_bench" in text[failed:]
    assert kept < ran < failed  # in the suite's order
