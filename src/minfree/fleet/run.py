"""Run the doctor over many bundles: in-process, on a local Dask cluster, or on a scheduler.

Bundles are sent in batches (one Dask task per batch) because the doctor takes a few
milliseconds per bundle, less than a task's scheduling cost. Workers must see the same
paths as the client (a shared filesystem when the scheduler is remote). A task that fails
as a whole (a worker killed) turns its bundles into error rows; rows come back in the
order of the bundles.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

from minfree.errors import SourceError, UsageError
from minfree.fleet.discover import Bundle
from minfree.fleet.worker import doctor_rows, error_row

#: Batches per worker: enough for the progress bar to move and the load to balance.
BATCHES_PER_WORKER = 16

#: Dask settings for the workers of a local cluster. A doctor run takes milliseconds, so the
#: workers' sampling profiler (a thread walking the stack every 10 ms) and the 1 ms GIL
#: monitor would cost a noticeable share of the CPU the doctor needs.
LOCAL_WORKER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.gil.enabled": False,
}


def local_cluster(workers: int) -> Any:
    """A LocalCluster of ``workers`` single-threaded processes, quiet and without profiling."""
    import dask
    from dask.distributed import LocalCluster

    with dask.config.set(LOCAL_WORKER_CONFIG):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                            dashboard_address=None, silence_logs=logging.ERROR)

Progress = Callable[[int], None]


def batches(items: Sequence[tuple[str, str]], workers: int,
            size: int | None = None) -> list[list[tuple[str, str]]]:
    """Split into batches of ``size`` (default: about ``BATCHES_PER_WORKER`` per worker).

    >>> [len(b) for b in batches([("p", "n")] * 10, workers=2, size=4)]
    [4, 4, 2]
    """
    if not items:
        return []
    if size is None:
        size = max(1, math.ceil(len(items) / (max(1, workers) * BATCHES_PER_WORKER)))
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def run_sequential(bundles: Sequence[Bundle], *, profile: str = "generic",
                   progress: Progress | None = None) -> list[dict[str, Any]]:
    """Every bundle in this process, one after the other (``--workers 0``, benchmarks)."""
    rows = []
    for bundle in bundles:
        if bundle.error is not None:
            rows.append(error_row(bundle.path, bundle.name, bundle.error))
        else:
            rows.extend(doctor_rows([(bundle.path, bundle.name)], profile))
        if progress:
            progress(1)
    return rows


def run_dask(bundles: Sequence[Bundle], *, scheduler: str | None = None,
             workers: int | None = None, profile: str = "generic",
             progress: Progress | None = None, batch_size: int | None = None,
             client: Any = None) -> list[dict[str, Any]]:
    """Rows for every bundle, computed on Dask.

    ``scheduler``: address of a running ``dask scheduler`` (``tcp://host:8786``); else a
    :class:`~distributed.LocalCluster` of ``workers`` single-threaded processes is started
    and closed again. ``client``: an existing :class:`~distributed.Client` to use instead.
    """
    from dask.distributed import Client, as_completed

    rows: dict[int, dict[str, Any]] = {}
    todo: list[tuple[int, Bundle]] = []
    for index, bundle in enumerate(bundles):
        if bundle.error is not None:
            rows[index] = error_row(bundle.path, bundle.name, bundle.error)
            if progress:
                progress(1)
        else:
            todo.append((index, bundle))
    cluster = None
    own_client = client is None
    try:
        if client is None:
            if scheduler is not None:
                try:
                    client = Client(scheduler, timeout=15)
                except (OSError, TimeoutError, ValueError) as error:
                    raise SourceError(f"cannot reach the Dask scheduler at {scheduler}: "
                                      f"{str(error).splitlines()[0] if str(error) else error}"
                                      ) from None
            else:
                n = workers if workers is not None else 2
                if n < 1:
                    raise UsageError("--workers must be at least 1 for a Dask run")
                cluster = local_cluster(n)
                client = Client(cluster)
        n_workers = max(1, len(client.scheduler_info().get("workers", {})) or (workers or 1))
        pairs = [(b.path, b.name) for _, b in todo]
        positions = [i for i, _ in todo]
        chunks = batches(pairs, n_workers, batch_size)
        starts = []
        at = 0
        for chunk in chunks:
            starts.append(at)
            at += len(chunk)
        futures = client.map(doctor_rows, chunks, profile=profile, pure=False)
        where = {f.key: (start, chunk) for f, start, chunk in zip(futures, starts, chunks,
                                                                   strict=True)}
        for future in as_completed(futures):
            start, chunk = where[future.key]
            try:
                result = future.result()
            except Exception as error:
                message = f"worker failed: {type(error).__name__}: {error}".splitlines()[0]
                result = [error_row(p, n, message) for p, n in chunk]
            for offset, row in enumerate(result):
                rows[positions[start + offset]] = row
            if progress:
                progress(len(chunk))
    finally:
        if own_client and client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    return [rows[i] for i in range(len(bundles))]


def run_fleet(bundles: Sequence[Bundle], *, scheduler: str | None = None,
              workers: int | None = None, profile: str = "generic",
              show_progress: bool | None = None, batch_size: int | None = None
              ) -> list[dict[str, Any]]:
    """Rows for every bundle with a rich progress bar on stderr (when it is a terminal).

    ``workers=0`` runs in this process without Dask.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    bar = Progress("[progress.description]{task.description}", BarColumn(),
                   MofNCompleteColumn(), TimeRemainingColumn(), console=console,
                   disable=not show_progress, transient=False)
    with bar:
        task = bar.add_task("doctor", total=len(bundles))

        def advance(n: int) -> None:
            bar.advance(task, n)

        if workers == 0 and scheduler is None:
            return run_sequential(bundles, profile=profile, progress=advance)
        return run_dask(bundles, scheduler=scheduler, workers=workers, profile=profile,
                        progress=advance, batch_size=batch_size)
