"""The child process of services/code_sandbox: runs one Code node's Python and prints its result.

It is started with `python -I -S -B` (no environment, no site packages, an empty working
directory) and reads {code, params, cpu_seconds, memory_bytes} from stdin. Before the user's code
runs it: leaves the network (a namespace of its own, with no interfaces), caps CPU time, memory,
file size and processes, imports the modules code may use, drops root for nobody, and installs an
audit hook that refuses every file open, import of anything else, socket, process creation,
signal, ctypes and introspection of the interpreter's objects. Standard library only."""

import sys

_real_stdout = sys.stdout
_request = sys.stdin.read()

import asyncio  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402

ALLOWED_MODULES = (
    "base64 bisect collections copy dataclasses datetime decimal enum fractions functools hashlib heapq "
    "html itertools json math operator random re statistics string textwrap time typing unicodedata "
    "urllib.parse uuid zoneinfo"
).split()
REFUSED_EVENTS = (
    "socket.",
    "os.fork",
    "os.forkpty",
    "os.posix_spawn",
    "os.spawn",
    "os.exec",
    "os.system",
    "os.kill",
    "os.killpg",
    "os.putenv",
    "os.unsetenv",
    "os.chdir",
    "os.chmod",
    "os.chown",
    "os.listdir",
    "os.scandir",
    "os.walk",
    "os.mkdir",
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.link",
    "os.symlink",
    "os.truncate",
    "os.utime",
    "glob.glob",
    "shutil.",
    "subprocess.",
    "pty.",
    "ctypes.",
    "signal.",
    "resource.",
    "mmap.",
    "gc.get_",
    "sys.addaudithook",
    "sys._current_frames",
    "sys._getframe",
    "sys.settrace",
    "sys.setprofile",
    "code.__new__",
    "function.__new__",
    "marshal.",
    "pickle.",
    "builtins.input",
    "webbrowser.",
    "urllib.Request",
)
CLONE_NEWNET, CLONE_NEWUSER = 0x40000000, 0x10000000
NOBODY = 65534


def _leave_the_network() -> None:
    import ctypes  # only here: the user's code must not find it

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        libc.unshare(CLONE_NEWUSER | CLONE_NEWNET)  # unprivileged; failing that, the hook refuses sockets


def _limit(cpu_seconds: int, memory_bytes: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.getuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)


def _make_hook(refused: tuple, allowed: frozenset):
    """The hook, holding what it checks in its closure: nothing the user's code can reach."""
    modules = sys.modules

    def hook(event: str, args) -> None:
        if event == "open":
            raise PermissionError("the code node cannot open files")
        if event == "import":
            name = args[0]
            if name not in modules and name.split(".")[0] not in allowed:
                raise ImportError(f"module {name!r} is not available in the code node")
            return
        if event in ("object.__setattr__", "object.__delattr__") and str(args[1]).startswith("__"):
            raise PermissionError("the code node cannot change the interpreter's objects")
        if event.startswith(refused):
            raise PermissionError(f"the code node cannot do that ({event})")

    return hook


class Args:
    def __init__(self, params: dict):
        self.params = params


def _answer(payload: dict) -> None:
    text = json.dumps(payload, ensure_ascii=False, default=str)
    _real_stdout.write(text)
    _real_stdout.flush()


def main() -> None:
    request = json.loads(_request)
    _leave_the_network()
    for name in ALLOWED_MODULES:
        __import__(name)
    loop = asyncio.new_event_loop()
    _limit(int(request["cpu_seconds"]), int(request["memory_bytes"]))
    logs = io.StringIO()
    sys.stdout = sys.stderr = logs
    for name in ("ctypes", "_ctypes", "resource"):
        sys.modules.pop(name, None)
    sys.addaudithook(_make_hook(REFUSED_EVENTS, frozenset(ALLOWED_MODULES)))
    namespace = {"Args": Args, "Output": dict, "__name__": "__code_node__"}
    try:
        exec(compile(request["code"], "<code node>", "exec"), namespace)
        entry = namespace.get("main")
        if entry is None:
            raise NameError("the code defines no main(args)")
        result = entry(Args(request["params"]))
        if asyncio.iscoroutine(result):
            result = loop.run_until_complete(result)
        if not isinstance(result, dict):
            raise TypeError(f"main must return a dict, not {type(result).__name__}")
        _answer({"ok": True, "output": result, "logs": logs.getvalue()[-10000:]})
    except MemoryError:
        _answer({"ok": False, "error": "MemoryError: the code used more memory than it may"})
    except BaseException as exc:  # the user's code failed: report it, whatever it was
        failure = f"{type(exc).__name__}: {exc}"[:2000]
        _answer({"ok": False, "error": failure, "logs": logs.getvalue()[-10000:]})


if __name__ == "__main__":
    main()
