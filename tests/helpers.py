"""Small shared helpers for the engine tests."""

from __future__ import annotations

import math

import numpy as np

from kiosk.analyze import analyze_track
from kiosk.body import SCORE, X, Y
from kiosk.drills import DEFAULT_DRILL
from kiosk.metrics import DEFAULT_SETUP, FrameMetrics, MetricsCore, Setup
from kiosk.performer import Performance, RepSpec, perform
from kiosk.reps import RepResult
from kiosk.track import PoseTrack


def run_engine(
    track: PoseTrack, drill: str = DEFAULT_DRILL, *, setup: Setup = DEFAULT_SETUP
) -> tuple[list[RepResult], str | None]:
    """All reps in the track, and the side that faced the camera most ("left"/"right"/None)."""
    found = analyze_track(track, drill, setup=setup)
    return found.reps, found.side


def update_pose(core: MetricsCore, pose: np.ndarray, valid: np.ndarray, t: float) -> FrameMetrics:
    """`MetricsCore.update` for a (17, 3) pose array and a (17,) validity mask."""
    weights = [s if ok else 0.0 for s, ok in zip(pose[:, SCORE].tolist(), valid.tolist(), strict=True)]
    return core.update(pose[:, X].tolist(), pose[:, Y].tolist(), weights, t)


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
