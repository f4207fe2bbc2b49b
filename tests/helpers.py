"""Small shared helpers for the engine tests."""

from __future__ import annotations

import math

import numpy as np

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


def rolled(keypoints: np.ndarray, deg: float, frame_size: tuple[int, int]) -> np.ndarray:
    """Keypoints as a camera rolled by `deg` would record them: the picture turned clockwise about
    its centre (in image coordinates, y down), scores unchanged."""
    w, h = frame_size
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    out = np.array(keypoints, np.float32, copy=True)
    x, y = out[..., 0] - w / 2, out[..., 1] - h / 2
    out[..., 0], out[..., 1] = c * x - s * y + w / 2, s * x + c * y + h / 2
    return out
