"""The Code node's sandbox holds: an endless loop, a sleeping loop, a memory bomb, sockets, the
server's files and environment, other processes and interpreter tricks are all refused, while
ordinary code returns its dict."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from services import code_sandbox

QUICK = code_sandbox.Limits(wall_seconds=5, cpu_seconds=1, memory_bytes=256 * 1024 * 1024)


def run(code: str, params: dict | None = None, limits: code_sandbox.Limits = QUICK):
    return asyncio.run(code_sandbox.run(code, params or {}, limits))


def refused(code: str, *fragments: str, limits: code_sandbox.Limits = QUICK) -> str:
    with pytest.raises(code_sandbox.CodeFailed) as failure:
        run(code, limits=limits)
    for fragment in fragments:
        assert fragment in str(failure.value)
    return str(failure.value)


def test_code_returns_its_dict_and_its_prints():
    code = (
        "import json, math\n"
        "async def main(args: Args) -> Output:\n"
        "    print('working')\n"
        "    return {'twice': args.params['n'] * 2, 'root': math.sqrt(16), 'list': json.loads('[1]')}\n"
    )
    assert run(code, {"n": 21}) == ({"twice": 42, "root": 4.0, "list": [1]}, "working\n")


def test_an_endless_loop_is_stopped_by_the_cpu_limit():
    refused("def main(args):\n    while True:\n        pass\n", "more than 1 s of CPU")


def test_a_sleeping_loop_is_stopped_by_the_wall_clock():
    limits = code_sandbox.Limits(wall_seconds=1, cpu_seconds=5)
    refused(
        "import time\ndef main(args):\n    while True:\n        time.sleep(1)\n",
        "longer than 1 s",
        limits=limits,
    )


def test_a_memory_bomb_is_refused():
    refused(
        "def main(args):\n    blocks = []\n    while True:\n        blocks.append(bytearray(10**7))\n",
        "MemoryError",
    )


def test_no_socket_can_be_opened(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        code = (
            "import socket\n"
            "def main(args):\n    s = socket.socket()\n"
            f"    s.connect(('127.0.0.1', {port}))\n    return {{}}\n"
        )
        refused(code, "socket")
        refused(
            "import asyncio\nasync def main(args):\n"
            f"    await asyncio.open_connection('127.0.0.1', {port})\n",
            "socket",
        )
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing ever reached it


def test_the_servers_files_cannot_be_read(base_settings):
    data_dir = str(base_settings.data_dir)
    assert os.listdir(data_dir)
    for path in (os.path.join(data_dir, name) for name in os.listdir(data_dir)):
        refused(f"def main(args):\n    return {{'d': open({path!r}, 'rb').read(10)}}\n", "cannot open files")
    refused(f"import os\ndef main(args):\n    return {{'d': os.listdir({data_dir!r})}}\n", "os.listdir")
    refused(
        "import os\ndef main(args):\n    fd = os.open('/proc/self/environ', os.O_RDONLY)\n    return {}\n",
        "cannot open files",
    )
    refused("def main(args):\n    open('out.txt', 'w').write('x')\n    return {}\n", "cannot open files")


def test_the_environment_is_empty(monkeypatch):
    monkeypatch.setenv("COZEPLUS_TEST_SECRET", "hunter2")
    returned, _ = run("import os\ndef main(args):\n    return {'env': dict(os.environ)}\n")
    assert "COZEPLUS_TEST_SECRET" not in returned["env"] and "hunter2" not in str(returned)
    assert set(returned["env"]) <= {"LC_CTYPE"}  # what Python itself sets for its locale


def test_no_process_can_be_started():
    refused("import os\ndef main(args):\n    os.fork()\n    return {}\n", "os.fork")
    refused("import os\ndef main(args):\n    os.system('id')\n    return {}\n", "os.system")
    refused(
        "import subprocess\ndef main(args):\n    subprocess.run(['true'])\n    return {}\n",
        "subprocess.Popen",
    )
    refused("import os\ndef main(args):\n    os.posix_spawn('/bin/true', ['true'], {})\n", "os.posix_spawn")


def test_interpreter_tricks_are_refused():
    refused("def main(args):\n    import ctypes\n    return {}\n", "not available")
    refused("import gc\ndef main(args):\n    return {'n': len(gc.get_objects())}\n", "gc")
    # the checks live in the hook's closure: rebinding the runner's names does not loosen them
    refused(
        "import sys\ndef main(args):\n    sys.modules['__main__'].REFUSED_EVENTS = ()\n"
        "    import os\n    os.system('id')\n",
        "os.system",
    )
    refused("def main(args):\n    return 42\n", "must return a dict")
    refused("x = 1\n", "no main")
