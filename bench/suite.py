"""`make bench`: runs every benchmark script in turn and writes docs/benchmarks.md from what they
print (each reports medians, p99 and ratios to a baseline it measured in the same run), headed
by the machine, each section by its date and commit. A script that fails is recorded as failed,
with its output's tail, and the rest still run. With --only, the sections of the scripts not
run are kept from the file as it was (each still says when it ran).

    python -m bench.suite [--only startup,soak] [--out docs/benchmarks.md]

Earlier runs, and what each change gained, are in docs/benchmarks-history.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (script, arguments, what it answers); in this order, the quick ones first
SCRIPTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("startup", (), "Start-up time and idle memory"),
    ("auth_reads", ("--rounds", "5", "--seconds", "10", "--long-running", "60"), "Authenticated reads"),
    ("auth_profile", (), "Where an authenticated read's time goes"),
    ("limits_metrics", (), "The cost of rate limits and metrics"),
    ("app_class", (), "FlaskApp or AsyncApp"),
    ("authz", (), "The authorization check with 10,000 policies"),
    ("authz_profile", (), "Where the authorization check's time goes"),
    ("chat_streams", ("--workers", "1,2"), "Streaming chat under load, one and two workers"),
    ("model_client", (), "CPU per streamed token of the model client"),
    ("knowledge", (), "Knowledge ingestion and retrieval"),
    ("knowledge_eval", (), "Retrieval quality"),
    ("memory", (), "Memory databases on a million rows"),
    ("plugin_calls", (), "What a plugin call adds"),
    ("workflow_engine", (), "The workflow engine's own cost"),
    ("workflow_runs", (), "Workflow runs per second"),
    ("webhooks", (), "Webhook deliveries"),
    ("channels", (), "A channel message to its reply"),
    ("soak", ("--minutes", "10"), "Ten minutes of mixed traffic at 70 % of capacity"),
)


def machine() -> list[str]:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = ""
    if Path("/proc/meminfo").exists():
        total_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {total_kb / 1024 / 1024:.1f} GiB of memory"
    database = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    return [
        f"- {cpu}, {len(os.sched_getaffinity(0))} CPUs usable{memory}",
        f"- {platform.platform()}; Python {platform.python_version()}; SQLite {sqlite3.sqlite_version}",
        f"- database of the runs: {database} (set DATABASE_URL to run them on PostgreSQL where a "
        "script supports it)",
    ]


def commit() -> str:
    found = subprocess.run(
        ["git", "log", "-1", "--format=%h %s"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    head = found.stdout.strip()[:90] or "unknown"
    return head + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def summary_of(script: str) -> str:
    """The first paragraph of a script's docstring, as one line."""
    path = ROOT / "bench" / f"{script}.py"
    source = path.read_text() if path.exists() else ""
    doc = source.split('"""', 2)[1] if source.lstrip().startswith('"""') else ""
    return " ".join(doc.strip().split("\n\n", 1)[0].split())


def run(script: str, arguments: tuple[str, ...], timeout: float) -> tuple[int | None, str, float]:
    began = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", f"bench.{script}", *arguments],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        code, output = done.returncode, done.stdout + (done.stderr if done.returncode else "")
    except subprocess.TimeoutExpired as exc:
        code, output = None, (exc.stdout or b"").decode(errors="replace") if exc.stdout else ""
    return code, output, time.monotonic() - began


HEADING = re.compile(r"^## .*\(`bench/(\w+)\.py`\)$", re.MULTILINE)


def sections_in(text: str) -> dict[str, str]:
    """The sections of an earlier docs/benchmarks.md, by script."""
    found = {}
    starts = list(HEADING.finditer(text))
    for here, after in zip(starts, [*starts[1:], None]):
        found[here.group(1)] = text[here.start() : after.start() if after else len(text)].rstrip() + "\n"
    return found


def section(
    script: str, arguments: tuple[str, ...], title: str, code, output: str, took: float, revision: str
) -> str:
    command = " ".join(["python -m", f"bench.{script}", *arguments])
    when = f"run {datetime.now(UTC):%Y-%m-%d} at {revision}"
    if code == 0:
        outcome = f"took {took / 60:.1f} min, {when}"
    else:
        outcome = ("**timed out**" if code is None else f"**failed** (exit {code})") + f", {when}"
        output = "\n".join(output.rstrip().splitlines()[-40:])
    lines = [
        f"## {title} (`bench/{script}.py`)",
        "",
        summary_of(script),
        "",
        f"`{command}`: {outcome}",
        "",
        "```text",
        output.rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated script names (default: every one)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per script")
    args = parser.parse_args()
    chosen = set(args.only.split(",")) if args.only else None
    unknown = (chosen or set()) - {name for name, _, _ in SCRIPTS}
    if unknown:
        parser.error(f"--only: no such benchmark: {', '.join(sorted(unknown))}")
    started = datetime.now(UTC)
    head = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`bench/suite.py`), last on {started:%Y-%m-%d %H:%M} UTC. Every figure",
        "below is what the script named in its section printed, on the date and commit the section",
        "gives; each script measures its baseline in the same run, so compare ratios across runs",
        "rather than rates.",
        "Earlier runs, and what each change gained, are in `docs/benchmarks-history.md`.",
        "",
        "The machine:",
        "",
        *machine(),
        "",
    ]
    out = Path(args.out)
    earlier = sections_in(out.read_text()) if out.exists() else {}
    sections, failed = [], []
    revision = commit()  # the code every script of this run measures
    for script, arguments, title in SCRIPTS:
        if chosen is not None and script not in chosen:
            if script in earlier:
                sections.append(earlier[script])
            continue
        print(f"== bench/{script}.py", flush=True)
        code, output, took = run(script, arguments, args.timeout)
        print(output.rstrip() or "(no output)", flush=True)
        sections.append(section(script, arguments, title, code, output, took, revision))
        if code != 0:
            failed.append(script)
    out.write_text("\n".join(head) + "\n" + "\n".join(sections))
    print(f"wrote {args.out}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
