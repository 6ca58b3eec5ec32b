"""An optional event trace, for fault-injection tests and debugging: with ``DAILIES_TRACE=FILE`` every
director node start and every step of a multi-file transaction appends one line to FILE
(``<unix time> <pid> <event>``). ``bench/torture.py`` reads it to kill a process inside a chosen
phase. Off (no file, no cost beyond one environment lookup) unless the variable is set."""

from __future__ import annotations

import functools
import os
import time

ENV = "DAILIES_TRACE"


def enabled() -> bool:
    return bool(os.environ.get(ENV))


def event(name: str) -> None:
    """Append ``name`` to the trace file, if tracing is on (flushed, not fsynced: a kill keeps it)."""
    path = os.environ.get(ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"{time.time():.6f} {os.getpid()} {name}\n")


class Traced:
    """``obj`` whose public methods record ``node <name>`` when called (for the graph's node objects)."""

    def __init__(self, obj):
        self._obj = obj

    def __getattr__(self, name: str):
        attr = getattr(self._obj, name)
        if name.startswith("_") or not callable(attr):
            return attr

        @functools.wraps(attr)
        def call(*args, **kwargs):
            event(f"node {name}")
            return attr(*args, **kwargs)

        return call


def traced(obj):
    """``obj`` itself when tracing is off, else a :class:`Traced` proxy."""
    return Traced(obj) if enabled() else obj
