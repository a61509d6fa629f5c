"""Simulated episodes in worker processes (``sim collect`` / ``sim eval --workers N``).

Each worker is a process with its own MuJoCo worlds and its own policy: it builds its
state once (``setup(*setup_args)``), then runs one job at a time as the parent hands
them out, so a slow job never holds up the others. An episode depends only on its job
(scenario, seed, instruction, start time), never on the worker or the order, and every
worker, like a run with one worker, runs torch on one thread, so the results per seed
are the same numbers as a sequential run; the parent returns them in job order.

A worker that dies (killed, out of memory, a crash in native code) loses only the job
it was running: that job comes back as a ``Failure`` naming the worker and its exit,
and the remaining jobs go to the workers still alive. An exception in a job is that
job's ``Failure`` and the worker goes on; an exception while a worker sets up (a
checkpoint that does not load) is raised here, as a run with one worker raises it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterable


@dataclass(frozen=True)
class Failure:
    """A job that gave no result, and why."""

    job: Any
    reason: str


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def check_workers(workers: int) -> int:
    """``workers`` if this machine can run them, else a ValueError naming ``--workers``."""
    cpus = available_cpus()
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f'--workers must be at least 1, got {workers}')
    if workers > cpus:
        raise ValueError(f'--workers {workers} is more than this machine can run at once '
                         f'({cpus} CPUs here); use --workers {cpus} or fewer')
    return workers


def single_threaded() -> None:
    """One torch thread per process: the numbers are the same in every worker layout."""
    import torch

    torch.set_num_threads(1)


def no_state() -> None:
    """The default ``setup``: jobs that need no state."""
    return None


def _worker(conn: Connection, setup: Callable, setup_args: tuple, run: Callable) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when work stops
    single_threaded()
    try:
        state = setup(*setup_args)
    except Exception as exc:  # noqa: BLE001 - the parent raises it as its own
        try:
            conn.send(('setup', exc))
        except Exception:  # noqa: BLE001 - an exception that does not pickle
            conn.send(('setup', RuntimeError(f'{type(exc).__name__}: {exc}')))
        return
    conn.send(('ready', None))
    while True:
        message = conn.recv()
        if message is None:
            return
        index, job = message
        try:
            conn.send(('ok', (index, run(state, job))))
        except Exception as exc:  # noqa: BLE001 - the job's failure, reported with its job
            last = traceback.extract_tb(exc.__traceback__)[-1:]
            where = f' ({last[0].filename}:{last[0].lineno})' if last else ''
            conn.send(('error', (index, f'{type(exc).__name__}: {exc}{where}')))


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f'killed by {signal.Signals(-code).name}'
        except ValueError:
            return f'killed by signal {-code}'
    return f'exit code {code}'


def run_jobs(jobs: list, run: Callable[[Any, Any], Any], *, workers: int = 1,
             setup: Callable[..., Any] = no_state, setup_args: Iterable = (),
             progress: Callable[[int, Any], None] | None = None, keep: bool = True,
             job_timeout_s: float = 600.0) -> list:
    """``run(state, job)`` for every job, ``state = setup(*setup_args)`` once per worker;
    the results (or ``Failure``) in job order. ``workers=1`` runs here, in this process.
    ``progress(index, result)`` sees each as it comes; with ``keep=False`` only it does
    (the list holds None: large results are not all held at once). A worker whose job
    runs longer than ``job_timeout_s`` (wall clock) is killed and the job reported failed.

    ``run`` and ``setup`` must be module-level functions (workers are spawned).
    """
    check_workers(workers)
    results: list = [None] * len(jobs)

    def finish(index: int, value: Any) -> None:
        if keep:
            results[index] = value
        if progress is not None:
            progress(index, value)

    if workers == 1 or len(jobs) <= 1:
        single_threaded()
        state = setup(*setup_args)
        for i, job in enumerate(jobs):
            try:
                value = run(state, job)
            except Exception as exc:  # noqa: BLE001 - as a worker reports it
                value = Failure(job, f'{type(exc).__name__}: {exc}')
            finish(i, value)
        return results
    _Pool(jobs, finish, job_timeout_s).run(min(workers, len(jobs)), setup, tuple(setup_args),
                                           run)
    return results


class _Pool:
    """Worker processes that take one job at a time until none is left."""

    def __init__(self, jobs: list, finish: Callable[[int, Any], None],
                 job_timeout_s: float) -> None:
        self.jobs, self.finish, self.job_timeout_s = jobs, finish, job_timeout_s
        self.pending = list(range(len(jobs)))[::-1]  # pop() from the end: the first first
        self.busy: dict[Connection, int | None] = {}
        self.started: dict[Connection, float] = {}
        self.procs: dict[Connection, Any] = {}

    def run(self, workers: int, setup: Callable, setup_args: tuple, run: Callable) -> None:
        self._start(workers, setup, setup_args, run)
        try:
            while self.procs:
                self._kill_hung(time.monotonic())
                if not self.procs:
                    break
                # Process.sentinel is Python 3.3+ (vermin mistakes it for a 3.15 name)
                sentinels = {self.procs[c].sentinel: c for c in self.procs}  # novermin
                for ready in wait([*self.procs, *sentinels],
                                  timeout=min(self.job_timeout_s, 5.0)):
                    conn = sentinels.get(ready, ready)
                    if conn in self.procs:
                        self._receive(conn)
        finally:
            for proc in self.procs.values():
                proc.kill()
        for index in self.pending:  # every worker died before these began
            self.finish(index, Failure(self.jobs[index], 'not run: every worker died'))

    def _start(self, workers: int, setup: Callable, setup_args: tuple, run: Callable) -> None:
        context = multiprocessing.get_context('spawn')
        # The software renderer (llvmpipe) would start a thread per CPU in every worker:
        # one each, as many workers as CPUs. The workers take it from the environment at
        # their start; this process keeps its own (a later run here renders as before).
        own = os.environ.get('LP_NUM_THREADS')
        os.environ.setdefault('LP_NUM_THREADS', '1')
        try:
            for _ in range(workers):
                parent, child = context.Pipe()
                proc = context.Process(target=_worker, args=(child, setup, setup_args, run),
                                       daemon=True)
                proc.start()
                child.close()
                self.busy[parent], self.procs[parent] = None, proc
        finally:
            if own is None:
                os.environ.pop('LP_NUM_THREADS', None)

    def _kill_hung(self, now: float) -> None:
        """A worker whose job runs too long (native code that never returns) is killed."""
        for conn in list(self.procs):
            if self.busy.get(conn) is not None and \
                    now - self.started[conn] > self.job_timeout_s:
                self.procs[conn].kill()
                self.procs[conn].join(timeout=5)
                index = self.busy.pop(conn)
                self.finish(index, Failure(
                    self.jobs[index], f'worker pid {self.procs.pop(conn).pid} was killed: '
                                      f'this run took more than {self.job_timeout_s:g} s'))

    def _receive(self, conn: Connection) -> None:
        """A worker's message: a result, a failure, or its end; then its next job."""
        try:
            kind, payload = conn.recv()
        except (EOFError, OSError):  # the worker is gone
            proc = self.procs.pop(conn)
            proc.join(timeout=5)
            index = self.busy.pop(conn)
            if index is not None:
                self.finish(index, Failure(self.jobs[index], f'worker pid {proc.pid} died '
                                           f'({_exit_reason(proc.exitcode)}) during this run'))
            return
        if kind == 'setup':  # a worker cannot start (a bad checkpoint): say why
            raise payload
        if kind == 'ok':
            self.finish(*payload)
        elif kind == 'error':
            index, reason = payload
            self.finish(index, Failure(self.jobs[index], reason))
        self._hand_out(conn)
        if self.busy[conn] is None:  # no more work: this worker ends
            self.procs.pop(conn).join(timeout=30)
            self.busy.pop(conn)

    def _hand_out(self, conn: Connection) -> None:
        if self.pending:
            index = self.pending.pop()
            self.busy[conn], self.started[conn] = index, time.monotonic()
            conn.send((index, self.jobs[index]))
        else:
            self.busy[conn] = None
            conn.send(None)
