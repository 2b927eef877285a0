"""A memory budget for each test: a test that grows the test process past it fails, naming itself, instead of
the kernel's out-of-memory killer taking the machine (one `make test` was killed at 24 GB in test_agreement.py).

A watchdog thread reads the pytest process's resident memory (RSS, /proc/self/statm) ten times a second. Past the
budget (SPINEMETS_TEST_MEMORY_GB, default 4) it raises MemoryBudgetExceeded in the main thread, which fails the
running test and lets the rest run. Code that never returns to Python (durable-rules' C, one huge allocation)
holds the interpreter lock, so no thread of this process can act while it runs: a small watcher process reads the
same figure, and past one and a half times the budget it prints the running test's name and kills the test
process, which fails `make test` and `.ci/run` with that message instead of the machine running out of memory.

RSS, not RLIMIT_AS: an address-space limit would also bind the Chromium and z3 processes the tests start (they
reserve far more virtual memory than they use), and the pytest process's virtual size is not what kills a
machine. Subprocesses are not counted here; each is its own program with its own limits. Linux only (/proc);
elsewhere the budget is not enforced.
"""
from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ENV_VAR = "SPINEMETS_TEST_MEMORY_GB"
_STATM = Path("/proc/self/statm")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class MemoryBudgetExceeded(Exception):
    """The test grew the test process past its memory budget."""


def budget_bytes() -> int:
    try:
        gigabytes = float(os.environ.get(ENV_VAR, "4"))
    except ValueError:
        gigabytes = 4.0
    return int(gigabytes * 1024 ** 3)


def resident() -> int:
    return int(_STATM.read_text().split()[1]) * _PAGE


class _Watchdog:
    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.test: str | None = None
        self.raised_for: str | None = None
        self._stop = threading.Event()
        self.lock = threading.Lock()
        self._main = threading.main_thread().ident
        self._thread = threading.Thread(target=self._watch, name="memory-budget", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            try:
                used = resident()
            except (OSError, ValueError, IndexError):
                return
            if used > self.budget:
                with self.lock:
                    if self.test is not None and self.raised_for != self.test:
                        self.raised_for = self.test
                        # delivered when the main thread next runs Python code: the test fails with it
                        _async_raise(self._main, MemoryBudgetExceeded)

    def leave(self) -> str | None:
        """The test has returned: no exception may reach pytest's own code after this."""
        with self.lock:
            self.test = None
            _async_raise(self._main, None)  # one set but not yet delivered is withdrawn
            return self.raised_for


def _async_raise(thread: int | None, exception: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread or 0),
                                               ctypes.py_object(exception) if exception else ctypes.c_void_p(0))


# The hard stop runs in a process of its own: a thread of this process needs the interpreter lock, which code in C
# (durable-rules, one huge allocation) holds until it returns, and memory can run out before it does.
_WATCHER = """
import os, sys, time
pid, limit, name_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
page = os.sysconf("SC_PAGE_SIZE")
while True:
    try:
        with open(f"/proc/{pid}/statm") as f:
            used = int(f.read().split()[1]) * page
    except (OSError, ValueError, IndexError):
        sys.exit(0)
    if used > limit:
        try:
            with open(name_file) as f:
                test = f.read().strip() or "the test session"
        except OSError:
            test = "the test session"
        sys.stderr.write(f"\\nmemory budget: {test} grew the test process to {used / 1024 ** 3:.1f} GB, past "
                         f"{limit / 1024 ** 3:.1f} GB (1.5 x SPINEMETS_TEST_MEMORY_GB), inside code that cannot be "
                         "interrupted; the test process is stopped\\n")
        sys.stderr.flush()
        os.kill(pid, 9)
        sys.exit(0)
    time.sleep(0.05)
"""


class _Watcher:
    """The process that stops the test process outright past 1.5 times the budget, naming the running test."""

    def __init__(self, budget: int) -> None:
        import subprocess
        import tempfile

        fd, self.name_file = tempfile.mkstemp(prefix="spinemets-test-running.", suffix=".txt")
        os.close(fd)
        self.process = subprocess.Popen([sys.executable, "-c", _WATCHER, str(os.getpid()), str(int(budget * 1.5)),
                                         self.name_file], stdin=subprocess.DEVNULL)

    def running(self, test: str) -> None:
        Path(self.name_file).write_text(test)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        Path(self.name_file).unlink(missing_ok=True)


_WATCHDOG: _Watchdog | None = None
_HARD: _Watcher | None = None


def pytest_configure(config: Any) -> None:  # noqa: ARG001 - pytest's hook signature
    global _WATCHDOG, _HARD
    if _STATM.exists() and _WATCHDOG is None and budget_bytes() > 0:
        _WATCHDOG = _Watchdog(budget_bytes())
        _HARD = _Watcher(budget_bytes())


def pytest_unconfigure(config: Any) -> None:  # noqa: ARG001
    global _WATCHDOG, _HARD
    if _WATCHDOG is not None:
        _WATCHDOG.stop()
        _WATCHDOG = None
    if _HARD is not None:
        _HARD.stop()
        _HARD = None


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:  # noqa: ARG001
    if _HARD is not None:
        _HARD.running(nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: Any) -> Iterator[None]:
    if _WATCHDOG is not None:
        _WATCHDOG.test = item.nodeid
    outcome = yield
    if _WATCHDOG is not None:
        if _WATCHDOG.leave() == item.nodeid:
            error = outcome.excinfo[1] if outcome.excinfo else None
            if isinstance(error, MemoryBudgetExceeded) or error is None:
                outcome.force_exception(MemoryBudgetExceeded(
                    f"{item.nodeid} grew the test process past its memory budget of "
                    f"{_WATCHDOG.budget / 1024 ** 3:.1f} GB ({ENV_VAR}); bound what it generates or builds"))
