"""What the benchmark scripts share: measuring a child process (peak
memory, CPU time, named steps), the environment and machine they run on,
progress lines, and an interpreter with lifetimes for the comparisons.

Each script runs its measurements in child processes of itself and reads
their results from lines tagged ``RESULT_TAG``; the scripts import this
module from their own folder (``python benchmarks/engine.py`` puts that
folder first on ``sys.path``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RESULT_TAG = "BENCH-RESULT "

LIFETIMES_VENV = Path(__file__).resolve().parent / ".venv-lifetimes"
LIFETIMES_PIN = "lifetimes==0.11.3"
# Tried in order: the pandas, NumPy and PyArrow of this environment first
# (same libraries as the pandas figures), then older ones lifetimes was
# written against.
FALLBACK_PINS = ["pandas<2.2", "numpy<2", "pyarrow<18"]


def status_mib(field: str) -> float | None:
    """A memory field of /proc/self/status (``VmHWM``, ``VmRSS``), MiB."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB.

    ``VmHWM`` belongs to the current address space (reset by exec), so it is
    this process's own peak; ``ru_maxrss`` is the fallback where /proc is absent.
    """
    peak = status_mib("VmHWM")
    if peak is not None:
        return peak
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load() -> float | None:
    """The machine's load over the last minute, said beside every figure."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def child_env() -> dict[str, str]:
    # settings come from the flags only: no TENURE_* from the caller's shell
    return {k: v for k, v in os.environ.items() if not k.startswith("TENURE_")}


def versions(*dists: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in dists:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def sql_path(path: Path) -> str:
    """A path as a SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"


class Log:
    """Progress lines: to stdout, or to stderr when stdout carries the JSON."""

    def __init__(self, to_stderr: bool) -> None:
        self.stream = sys.stderr if to_stderr else sys.stdout

    def __call__(self, *parts: Any) -> None:
        print(*parts, file=self.stream, flush=True)


class Steps:
    """Times named steps in a child: wall and CPU seconds, peak memory so far.

    With ``step_tag``, each step is also printed as it ends, so that a run
    stopped by its timeout still says how far it got; ``extra`` adds fields
    to the result that :meth:`emit` prints."""

    def __init__(
        self,
        step_tag: str | None = None,
        extra: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.steps: list[dict[str, Any]] = []
        self.step_tag = step_tag
        self.extra = extra

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        cpu = cpu_seconds()
        start = time.perf_counter()
        yield
        record = {
            "step": name,
            "seconds": round(time.perf_counter() - start, 3),
            "cpu_s": round(cpu_seconds() - cpu, 2),
            "peak_rss_mib": round(peak_rss_mib(), 1),
        }
        self.steps.append(record)
        if self.step_tag is not None:
            print(self.step_tag + json.dumps(record), flush=True)

    def emit(self, **payload: Any) -> None:
        payload["steps"] = self.steps
        payload["peak_rss_mib"] = round(peak_rss_mib(), 1)
        if self.extra is not None:
            payload.update(self.extra())
        print(RESULT_TAG + json.dumps(payload), flush=True)


def imports_lifetimes(python: str, modules: str = "lifetimes, lifetimes.utils, pyarrow") -> bool:
    try:
        proc = subprocess.run(
            [python, "-c", f"import {modules}"],
            capture_output=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


def lifetimes_python(args: argparse.Namespace, log: Log) -> tuple[str | None, str]:
    """An interpreter that has lifetimes: the one given, this one, or a
    virtual environment next to this script (created when missing)."""
    if args.lifetimes_python:
        return args.lifetimes_python, "given with --lifetimes-python"
    if importlib.util.find_spec("lifetimes") is not None and imports_lifetimes(sys.executable):
        return sys.executable, "this environment"
    python = LIFETIMES_VENV / "bin" / "python"
    if python.exists() and imports_lifetimes(str(python)):
        return str(python), f"{LIFETIMES_VENV}"
    if args.no_setup:
        return None, f"lifetimes is not installed here and {LIFETIMES_VENV} is absent (--no-setup)"
    same = [f"{d}=={v}" for d, v in versions("pandas", "numpy", "pyarrow").items() if d != "python"]
    errors = []
    for pins in (same, FALLBACK_PINS):
        log(f"lifetimes: creating {LIFETIMES_VENV} with {LIFETIMES_PIN} {' '.join(pins)} ...")
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(LIFETIMES_VENV)],
            [str(python), "-m", "pip", "install", "--quiet", LIFETIMES_PIN, *pins],
        ]
        failed = None
        for command in steps:
            proc = subprocess.run(command, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                failed = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
                break
        if failed is None and imports_lifetimes(str(python)):
            return str(python), f"{LIFETIMES_VENV} (created)"
        errors.append(f"{' '.join(pins)}: {' / '.join(failed or ['import failed'])}")
    return None, "could not install lifetimes: " + "; ".join(errors)


# --------------------------------------------------------------------------- commands


def tenure_bin() -> str:
    """The ``tenure`` command of this environment."""
    import shutil

    here = Path(sys.executable).parent / "tenure"
    return str(here) if here.exists() else shutil.which("tenure") or "tenure"


def _children_of() -> dict[int, list[int]]:
    """Every process's children, from /proc (empty where /proc is absent)."""
    tree: dict[int, list[int]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return tree
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        tree.setdefault(ppid, []).append(int(name))
    return tree


def tree_usage(pid: int) -> tuple[float, float]:
    """Resident memory (MiB) and CPU seconds so far of a process and all its
    descendants now (a Spark command's JVM is a child of the Python process)."""
    tree = _children_of()
    rss = cpu = 0.0
    todo = [pid]
    ticks = os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        todo += tree.get(p, [])
        try:
            with open(f"/proc/{p}/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1]) / 1024
                        break
            with open(f"/proc/{p}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return rss, cpu


# Started as ``python -S -c _LAUNCHER USAGE_FILE COMMAND...``: forks and execs
# COMMAND, waits for it and writes its exit code and rusage to USAGE_FILE.
# The fork from this small process gives COMMAND a fresh memory high-water mark.
_LAUNCHER = """
import json, os, sys
usage_file, command = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        sys.stderr.write(f"cannot run {command[0]}: {exc}\\n")
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
rc = os.waitstatus_to_exitcode(status)
with open(usage_file, "w") as out:
    json.dump({"rc": rc, "utime": usage.ru_utime, "stime": usage.ru_stime,
               "maxrss_kib": usage.ru_maxrss}, out)
sys.exit(rc if 0 <= rc < 256 else 1)
"""


def run_command(
    command: list[str],
    *,
    cwd: Path,
    timeout: float,
    env: dict[str, str] | None = None,
    sample_tree: bool = False,
) -> dict[str, Any]:
    """Run one command as a user would, start-up included; its wall seconds,
    exit code, output, CPU seconds and peak resident memory.

    ``peak_rss_mib`` is the kernel's own peak for the process (``ru_maxrss``
    from ``wait4``: exact, including descendants it waited for). Linux keeps
    ``ru_maxrss`` across ``fork`` and ``exec``, so a command started straight
    from this (possibly large) process would report this process's memory as
    its own; it is therefore started by a small launcher (``_LAUNCHER``) that
    forks it and reports the ``wait4`` of that fresh child. With
    ``sample_tree`` the resident memory of the whole process tree is also
    sampled every 0.2 s (``tree_peak_mib``, and its CPU seconds as last seen,
    ``tree_cpu_s``), for commands that start other
    processes and leave them running (Spark's JVM)."""
    import tempfile
    import threading

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        load_before = load()
        started = time.perf_counter()
        usage_file = tempfile.NamedTemporaryFile(suffix=".json", delete=False)
        usage_file.close()
        proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _LAUNCHER, usage_file.name, *command],
            cwd=cwd,
            env=env if env is not None else child_env(),
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        done = threading.Event()
        tree_peak = [0.0, 0.0]  # memory, CPU of the whole tree
        timed_out = [False]

        def sample() -> None:
            while not done.wait(0.2):
                rss, cpu = tree_usage(proc.pid)
                tree_peak[0], tree_peak[1] = max(tree_peak[0], rss), max(tree_peak[1], cpu)

        def stop() -> None:
            timed_out[0] = True
            try:
                os.killpg(proc.pid, 9)  # the command's own session: it and its children
            except OSError:
                pass

        timer = threading.Timer(timeout, stop)
        timer.start()
        sampler = threading.Thread(target=sample, daemon=True) if sample_tree else None
        if sampler is not None:
            sampler.start()
        os.waitpid(proc.pid, 0)
        seconds = time.perf_counter() - started
        try:
            usage = json.loads(Path(usage_file.name).read_text() or "null")
        except (OSError, ValueError):
            usage = None
        os.unlink(usage_file.name)
        if usage is None:  # the launcher was killed (timeout) before it could say
            usage = {"rc": -9, "utime": 0.0, "stime": 0.0, "maxrss_kib": 0}
        proc.returncode = usage["rc"]
        done.set()
        timer.cancel()
        if sampler is not None:
            sampler.join()
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", errors="replace")
        stderr = err.read().decode("utf-8", errors="replace")
    result: dict[str, Any] = {
        "command": command,
        "seconds": round(seconds, 3),
        "rc": proc.returncode,
        "cpu_s": round(usage["utime"] + usage["stime"], 2),
        "peak_rss_mib": round(usage["maxrss_kib"] / 1024, 1),
        "load_before": load_before,
        "load_after": load(),
        "stdout": stdout,
        "stderr_tail": stderr.strip().splitlines()[-12:],
    }
    if sample_tree:
        result["tree_peak_mib"] = round(tree_peak[0], 1)
        result["tree_cpu_s"] = round(max(tree_peak[1], result["cpu_s"]), 2)
    if timed_out[0]:
        result["error"] = f"timed out after {timeout:.0f} s"
    elif proc.returncode != 0:
        result["error"] = f"exit code {proc.returncode}"
    return result


def json_out(result: dict[str, Any]) -> Any:
    """The JSON document a command printed on stdout, or None."""
    try:
        return json.loads(result["stdout"])
    except (KeyError, ValueError):
        return None


def mem_total_gib() -> float | None:
    """The machine's memory in GiB (Linux), None where it cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def machine_line() -> str:
    """Cores, memory, platform: said beside every table."""
    mem = mem_total_gib()
    return (
        f"{os.cpu_count()} cores, {mem} GiB RAM, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )


def source_revision() -> str:
    """The last commit that changed the tenure package measured, and whether
    it has uncommitted changes (read-only git calls)."""
    import tenure

    root = Path(tenure.__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "log", "-1", "--format=%h", "--", "."],
            cwd=root, capture_output=True, text=True, timeout=10, check=True,
        )  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "."],
            cwd=root, capture_output=True, text=True, timeout=10, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return f"{root} (not a git checkout)"
    extra = " with uncommitted changes" if dirty.stdout.strip() else ""
    return f"{root} at {head.stdout.strip()}{extra}"


def fmt_ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "—"
    return f"{a / b:.2f}×"
