"""Tuning CPython's cyclic garbage collector for a process that streams many runs.

Every run keeps its chunks for replay (PROTOCOL.md §3): one tracked dict per chunk, alive for the
whole run, so a run of 20,000 deltas moves 20,000 objects into the collector's oldest generation.
With CPython's defaults, that triggers a full collection every few runs, and a full collection
visits every tracked object of the process: the modules, classes and functions of pydantic,
SQLAlchemy, starlette and the app, most of what a server holds. :func:`tune_gc` moves everything
alive at start-up out of the collector's way (``gc.freeze()``, the approach Instagram described
for its Django servers) and makes young collections rarer. Numbers: ``docs/performance.md``.
"""

from __future__ import annotations

import gc
import logging

__all__ = ("DEFAULT_GEN0_THRESHOLD", "tune_gc")

_log = logging.getLogger("streamwise")

#: The youngest generation's threshold :func:`tune_gc` sets (CPython's default is 700).
DEFAULT_GEN0_THRESHOLD = 10_000

_tuned = False


def tune_gc(*, gen0_threshold: int | None = DEFAULT_GEN0_THRESHOLD) -> bool:
    """Tune the garbage collector once, after start-up, for a long-running streaming process.

    Call it once the application is imported and built (agents, workflows, storage, the ASGI
    app) and before it serves: in a server's start-up hook, say. It

    1. runs a full collection (``gc.collect()``), so that no garbage is frozen;
    2. freezes every object alive now (``gc.freeze()``): later collections skip them, so a full
       collection visits only what was made since (the runs and their chunks), not the whole
       process; frozen objects are never freed, which is right for what lives as long as the
       process;
    3. sets the youngest generation's threshold to ``gen0_threshold`` (CPython's default: 700),
       so that fewer short-lived objects are visited and fewer survivors reach the oldest
       generation; the older generations keep their thresholds.

    ``streamwise serve``, ``streamwise dev`` and any server of :func:`create_asgi_app
    <streamwise.server.create_asgi_app>` call it at start-up unless ``ServerSettings.gc_tuning``
    is off (``STREAMWISE_GC_TUNING=0``, ``--no-gc-tuning``). Nothing else in streamwise calls it:
    ``agent.stream()`` and the other library calls never touch the collector.

    Only the first call in a process does anything; later calls return False and change
    nothing, so several apps (or an app and its host) may all call it.

    Args:
        gen0_threshold: the youngest generation's new threshold; None keeps the current one.

    Returns:
        True when this call tuned the collector, False when an earlier call had.
    """
    global _tuned
    if gen0_threshold is not None and gen0_threshold < 1:
        raise ValueError(f"gen0_threshold must be at least 1 (or None), got {gen0_threshold}")
    if _tuned:
        return False
    _tuned = True
    gc.collect()
    gc.freeze()
    if gen0_threshold is not None:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(gen0_threshold, gen1, gen2)
    _log.info(
        "garbage collector tuned: %d objects frozen, thresholds %s",
        gc.get_freeze_count(),
        gc.get_threshold(),
    )
    return True
