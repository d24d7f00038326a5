"""Python for the workflow Code node, run in a sandbox: a process of its own per call
(services/code_sandbox_runner.py) with no environment, an empty working directory, no network,
capped CPU time, memory and wall-clock time, no files, no processes and a fixed set of modules.
The wall-clock limit is kept here: the process group is killed when it passes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import sys
import tempfile
from pathlib import Path

RUNNER = Path(__file__).with_name("code_sandbox_runner.py")
MAX_RESULT_BYTES = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Limits:
    wall_seconds: float = 10.0
    cpu_seconds: int = 5
    memory_bytes: int = 256 * 1024 * 1024


class CodeFailed(Exception):
    """The code raised, returned something else than a dict, or passed a limit."""


async def run(code: str, params: dict, limits: Limits = Limits()) -> tuple[dict, str]:
    """(what main(args) returned, what it printed)."""
    limited = {"cpu_seconds": limits.cpu_seconds, "memory_bytes": limits.memory_bytes}
    request = json.dumps(
        {"code": code, "params": params, **limited}, ensure_ascii=False, default=str
    ).encode()
    with tempfile.TemporaryDirectory(prefix="cozeplus-code-") as workdir:
        os.chmod(workdir, 0o755)  # readable by nobody, whom the runner becomes
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-S",
            "-B",
            str(RUNNER),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env={},
            cwd=workdir,
            start_new_session=True,  # its own process group, killed whole
        )
        try:
            out = await asyncio.wait_for(_exchange(process, request), limits.wall_seconds)
        except TimeoutError:
            raise CodeFailed(f"the code ran longer than {limits.wall_seconds:g} s")
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    if process.returncode in (-signal.SIGXCPU, -signal.SIGKILL) and not out:
        raise CodeFailed(f"the code used more than {limits.cpu_seconds} s of CPU")
    if len(out) > MAX_RESULT_BYTES:
        raise CodeFailed(f"the code's result is larger than {MAX_RESULT_BYTES // 1024} KB")
    try:
        answer = json.loads(out)
    except ValueError:
        raise CodeFailed(f"the code stopped without a result (exit status {process.returncode})")
    if not answer.get("ok"):
        raise CodeFailed(answer.get("error") or "the code failed")
    return answer["output"], answer.get("logs") or ""


async def _exchange(process: asyncio.subprocess.Process, request: bytes) -> bytes:
    process.stdin.write(request)
    await process.stdin.drain()
    process.stdin.close()
    out = await process.stdout.read(MAX_RESULT_BYTES + 1)
    await process.wait()
    return out
