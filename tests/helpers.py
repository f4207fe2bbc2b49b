"""Small shared helpers for the engine tests."""

from __future__ import annotations

from kiosk.analyze import run_engine
from kiosk.performer import Performance, RepSpec, perform
from kiosk.reps import RepResult


def reps_of(perf: Performance, drill: str = "hinge") -> list[RepResult]:
    reps, _side = run_engine(perf.track, drill)
    return reps


def performed(fault: str | None = None, n: int = 5, **kw) -> Performance:
    """`n` reps with one fault (None = clean), through the synthetic performer."""
    kw.setdefault("seed", 11)
    return perform(reps=tuple(RepSpec(fault=fault) for _ in range(n)), **kw)
