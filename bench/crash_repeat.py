"""The crash tests, repeated (issue 20 asks for them 20 times in a row by hand; CI runs them once):
tests/test_crash.py in a fresh pytest process each time, counting passes and timing each run.

    python -m bench.crash_repeat [--times 20]"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from bench.harness import ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--times", type=int, default=20)
    times = parser.parse_args().times
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    passed, took = 0, []
    for number in range(1, times + 1):
        began = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_crash.py"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        took.append(time.monotonic() - began)
        last = (run.stdout.strip().splitlines() or ["(no output)"])[-1]
        passed += run.returncode == 0
        print(f"run {number}: {'passed' if run.returncode == 0 else 'FAILED'} in {took[-1]:.0f} s: {last}")
        if run.returncode:
            print(run.stdout[-3000:])
    print(f"{passed} of {times} runs passed; median {statistics.median(took):.0f} s a run")


if __name__ == "__main__":
    main()
