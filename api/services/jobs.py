"""Background jobs of the HTTP server: a plan's partition runs in a process of its own.

Why a process: a city's partition is one long numpy/scipy call; a thread cannot be stopped in
the middle of it, a process can. Each job gets a child process (the `forkserver` context: a
clean process that has imported the planning code once, so a job starts in milliseconds and
inherits none of the server's threads or connections; `spawn` where there is no forkserver). The
child runs `api.services.plans.create_plan` and sends its progress and its outcome back through a
pipe, which a watcher thread in the server reads into the job's record.

Cancelling (`cancel`) sends the child SIGTERM, and SIGKILL if it has not ended within a grace
(a long C call delays the Python handler). Nothing half-written can remain: the plan is written
in one transaction at the very end, and an ended child's connection drops, so PostgreSQL rolls
that transaction back. Once the child has begun saving (a second or less), it ignores SIGTERM:
a cancel then waits for the save, and the job ends succeeded (with its plan) and the cancel is
told so (Conflict), never a "cancelled" job whose plan exists.

Status: queued -> running (progress: the step, and the rough fraction done) -> succeeded (the
plan id and its URLs) / failed (the error as problem fields: status, title, detail) / cancelled.

Limits, on purpose for now:
- Jobs live in memory, in the server process that took the POST (one registry per store URL).
  A restart forgets them (a running job's child dies with the server and writes nothing), and
  under `pianqu serve --workers N` (N > 1) a job is known only to the worker that started it,
  so GET /jobs/{id} may miss it: run one worker while jobs matter (a `jobs` table would lift both).
- At most `PIANQU_JOBS_RUNNING` run at once (default: one per core); up to `PIANQU_JOBS_QUEUED`
  more wait (default: four per running slot); beyond, a new job is refused (TooManyJobs, 429).
- The last `KEEP_FINISHED` finished jobs are kept for reading; older ones are forgotten.
"""
from __future__ import annotations

import datetime as dt
import logging
import multiprocessing as mp
import os
import pickle
import secrets
import signal
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from http import HTTPStatus

from sqlalchemy import Engine

from gis.errors import Conflict, NotFound, PianquError

from . import plans

log = logging.getLogger("pianqu.jobs")
KEEP_FINISHED = 200
FINISHED = ("succeeded", "failed", "cancelled")
TERM_GRACE_S = 10.0       # a child saving its plan ends within this after SIGTERM; else SIGKILL


class TooManyJobs(PianquError):
    """Every running slot and every queue place is taken (HTTP 429)."""
    status = 429


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Job:
    id: str
    kind: str
    city: str
    created_by: str | None
    params: plans.PlanParams
    status: str = "queued"
    created_at: dt.datetime = field(default_factory=_now)
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    step: str | None = None
    fraction: float | None = None
    result: dict | None = None
    error: dict | None = None
    cancel_requested: bool = False
    proc: mp.process.BaseProcess | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def view(self) -> dict:
        out = {"id": self.id, "kind": self.kind, "status": self.status, "city": self.city,
               "created_by": self.created_by, "created_at": self.created_at, "started_at": self.started_at,
               "finished_at": self.finished_at, "url": f"/jobs/{self.id}"}
        if self.status == "running":
            out["progress"] = {"step": self.step or "starting", "fraction": self.fraction,
                               "cancel_requested": self.cancel_requested}
            out["pid"] = self.proc.pid if self.proc is not None else None   # the job's own process
        if self.result is not None:
            out["result"] = self.result
        if self.error is not None:
            out["error"] = self.error
        return out


def _problem(status: int, detail: str) -> dict:
    return {"type": f"https://pianqu.dev/problems/{status}", "title": HTTPStatus(status).phrase,
            "status": status, "detail": detail}


def _context():
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["api.services.plans", "gis.db"])
        return ctx
    return mp.get_context("spawn")


def _work(url: str, city: str, params: plans.PlanParams, created_by: str | None, send) -> None:
    """The child: make the plan, report each step, send the outcome; runs in its own process."""
    from gis import db
    saving = False

    def on_term(signum, frame):
        # A cancel ends this process at once (its open transaction dies with its connection)...
        if not saving:
            os._exit(128 + signum)
        # ...except while the plan is being committed: then the save finishes and the job succeeds.
    # A handler, not a blocked signal mask: numpy's worker threads would take a blocked SIGTERM.
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C stops the server, which ends this process

    def progress(step: str) -> None:
        nonlocal saving
        saving = saving or step == plans.SAVING
        send.send(("progress", step))
    try:
        res = plans.create_plan(db.engine(url), city, params, progress=progress, created_by=created_by)
        keep = ("n_districts", "max_deviation", "mean_deviation", "within_tolerance", "non_contiguous", "runtime_s")
        summary = {k: (v.item() if hasattr(v, "item") else v) for k, v in res.items() if k in keep}
        send.send(("succeeded", {"plan": res["plan"], "city": res["city"], "status": res["status"],
                                 "plan_url": f"/plans/{res['plan']}", "report_url": f"/plans/{res['plan']}",
                                 "districts_url": f"/plans/{res['plan']}/districts", **summary}))
    except PianquError as e:
        send.send(("failed", _problem(e.status, str(e))))
    except Exception:  # anything else is a bug: the traceback goes to the server's log, not the client
        logging.getLogger("pianqu.jobs").exception("plan job for city %s failed unexpectedly", city)
        send.send(("failed", _problem(500, "the job met an unexpected error; it is in the server's log")))
    finally:
        send.close()


class JobRegistry:
    """The jobs of one store, in this process (see the module's docstring for what that means)."""

    def __init__(self, url: str, *, max_running: int | None = None, max_queued: int | None = None):
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self.url = url
        self.max_running = max(1, max_running or int(os.environ.get("PIANQU_JOBS_RUNNING") or cores))
        self.max_queued = max(0, max_queued if max_queued is not None
                              else int(os.environ.get("PIANQU_JOBS_QUEUED") or 4 * self.max_running))
        self._ctx = _context()
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._queue: deque[Job] = deque()
        self._running = 0

    # ---- the doors' calls ----------------------------------------------------------------

    def submit(self, city: str, params: plans.PlanParams, created_by: str | None) -> dict:
        """Start a plan job now if a slot is free, else queue it; TooManyJobs when the queue is full."""
        with self._lock:
            if self._running >= self.max_running and len(self._queue) >= self.max_queued:
                raise TooManyJobs(f"{self._running} plan jobs are running and {len(self._queue)} are waiting, "
                                  f"the most this server takes; try again when one has finished")
            job = Job(id=secrets.token_hex(8), kind="plan", city=city, created_by=created_by, params=params)
            self._jobs[job.id] = job
            if self._running < self.max_running:
                self._start(job)
            else:
                self._queue.append(job)
            return job.view()

    def get(self, job_id: str) -> dict:
        with self._lock:
            return self._job(job_id).view()

    def list(self) -> list[dict]:
        with self._lock:
            return [j.view() for j in reversed(self._jobs.values())]

    def cancel(self, job_id: str, wait: float = TERM_GRACE_S) -> dict:
        """Cancel a queued job, or end a running job's process; returns the job once it has ended.
        Conflict for a job that had already finished (or finished while being cancelled)."""
        with self._lock:
            job = self._job(job_id)
            if job.status in ("succeeded", "failed"):
                raise Conflict(f"job {job_id!r} has already {job.status}; only a queued or running job can be "
                               "cancelled")
            if job.status == "cancelled":
                return job.view()
            job.cancel_requested = True
            if job.status == "queued":
                self._queue.remove(job)
                self._finish(job, "cancelled")
                return job.view()
            proc = job.proc
        if proc is not None:        # else the watcher is starting it and ends it when it sees the flag
            proc.terminate()
        if not job.done.wait(wait):
            log.warning("job %s did not end %.0f s after SIGTERM: killing it", job_id, wait)
            with self._lock:
                proc = job.proc
            if proc is not None:
                proc.kill()
            job.done.wait(wait)
        with self._lock:
            if job.status in ("succeeded", "failed"):
                raise Conflict(f"job {job_id!r} {job.status} before it could be cancelled"
                               + (f" (plan {job.result['plan']!r} is saved as a draft)" if job.result else ""))
            return job.view()

    # ---- inside ---------------------------------------------------------------------------

    def _job(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"job {job_id!r} does not exist (jobs are kept in the server's memory: a restarted "
                           "server has forgotten its jobs)")
        return job

    def _start(self, job: Job) -> None:
        """Take a slot and hand the job to a watcher thread (called with the lock held)."""
        self._running += 1
        job.status, job.started_at, job.step, job.fraction = "running", _now(), "starting", 0.0
        threading.Thread(target=self._watch, args=(job,), name=f"pianqu-job-{job.id}", daemon=True).start()

    def _watch(self, job: Job) -> None:
        outcome = None
        try:
            recv, send = self._ctx.Pipe(duplex=False)
            proc = self._ctx.Process(target=_work, args=(self.url, job.city, job.params, job.created_by, send),
                                     name=f"pianqu-job-{job.id}", daemon=True)
            proc.start()
            send.close()                # the child holds the only writing end: EOF when it ends
            with self._lock:
                job.proc = proc
                cancelled = job.cancel_requested
            if cancelled:
                proc.terminate()
            while True:
                try:
                    kind, value = recv.recv()
                except (EOFError, OSError, pickle.UnpicklingError):   # the child has ended (a killed
                    break                                             # child may leave half a message)
                with self._lock:
                    if kind == "progress":
                        job.step, job.fraction = value, plans.STEPS.get(value, job.fraction)
                    else:
                        outcome = (kind, value)
            recv.close()
            proc.join()
            code = proc.exitcode
        except Exception:   # the watcher must always free its slot and settle the job
            log.exception("job %s: the watcher failed", job.id)
            code = None
        with self._lock:
            if outcome is not None:
                kind, value = outcome
                self._finish(job, kind, **({"result": value} if kind == "succeeded" else {"error": value}))
            elif job.cancel_requested:
                self._finish(job, "cancelled")
            else:
                self._finish(job, "failed", error=_problem(
                    500, f"the job's process ended without a result (exit code {code}); the server's log may say why"))
            self._running -= 1
            while self._queue and self._running < self.max_running:
                self._start(self._queue.popleft())

    def _finish(self, job: Job, status: str, result: dict | None = None, error: dict | None = None) -> None:
        job.status, job.finished_at, job.result, job.error = status, _now(), result, error
        job.proc = None
        job.done.set()
        finished = [j for j in self._jobs.values() if j.status in FINISHED]
        for old in finished[:max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[old.id]


_registries: dict[str, JobRegistry] = {}
_registries_lock = threading.Lock()


def registry(engine: Engine) -> JobRegistry:
    """The job registry of this process for the engine's store."""
    url = engine.url.render_as_string(hide_password=False)
    with _registries_lock:
        if url not in _registries:
            _registries[url] = JobRegistry(url)
        return _registries[url]


def start_plan(engine: Engine, city: str | None, params: plans.PlanParams, created_by: str | None = None) -> dict:
    """Check a plan request now (a bad one is refused at once), then run it as a background job."""
    with engine.connect() as conn:
        checked = plans.check_params(conn, city, params)
    return registry(engine).submit(checked["city"], params, created_by)


def get_job(engine: Engine, job_id: str) -> dict:
    return registry(engine).get(job_id)


def list_jobs(engine: Engine) -> list[dict]:
    return registry(engine).list()


def cancel_job(engine: Engine, job_id: str) -> dict:
    return registry(engine).cancel(job_id)
