"""The hinge engine: smoothing -> per-frame metrics -> reps -> coach, one call per frame.

`HingeEngine.step(keypoints, t)` is the whole scoring path the kiosk runs on every camera frame
and `analyze` runs on every frame of a pose track. It is pure (no clock reads, no I/O): the frame's
capture time comes in with the keypoints. It returns the same `FrameResult` object every frame,
updated in place, so the display reads a stable reference; it keeps nothing per frame (the few
small temporaries a frame makes are freed at once).

Budget (`hinge-kiosk bench core`): 39 us a frame at the median and 130 us at the 99th percentile
(the frame that judges a finished rep) on the 2-core development machine, and no memory kept per
frame. A Pi runs Python a few times slower: still a small fraction of one inference.
"""

from __future__ import annotations

import math

import numpy as np

from kiosk.body import NUM_KEYPOINTS
from kiosk.coach import MIN_AUDIO_GAP_S, Coach, Cue
from kiosk.drills import DEFAULT_DRILL, Drill, get_drill
from kiosk.metrics import DEFAULT_SETUP, FrameMetrics, MetricsCore, Setup
from kiosk.reps import Phase, RepCounter, RepResult
from kiosk.smoothing import PoseSmoother

# A keypoint that moves more than this many leg lengths in one frame is a detector jump
# (another person, a glitch), not motion: its filter restarts rather than sliding there.
JUMP_LEGS = 1.0
# Shoulder drop of a full-depth hinge (trunk about level), for the depth gauge off the side view.
DROP_FULL_DEPTH = 0.35


class FrameResult:
    """Everything the display, audio and store need about the latest frame."""

    __slots__ = (
        "cue",
        "depth",
        "drop",
        "dropped",
        "metrics",
        "phase",
        "pose",
        "rep",
        "reps",
        "speak",
        "t",
        "valid",
    )

    def __init__(self, pose: np.ndarray, valid: np.ndarray, metrics: FrameMetrics) -> None:
        self.t = math.nan
        self.pose = pose  # (17, 3) smoothed x, y, score; read-only for consumers
        self.valid = valid  # (17,) bool: points backed by a recent confident observation
        self.metrics = metrics
        self.phase = Phase.IDLE
        self.rep: RepResult | None = None  # set only on the frame a rep finishes
        self.dropped = ""  # on the frame a movement under way was not counted: why
        self.reps = 0  # reps counted so far
        self.depth = 0.0  # 0..1+: progress toward the wall (or full depth), for the gauge
        self.drop = math.nan  # how far the shoulders are below standing height (0..~0.5)
        self.cue: Cue | None = None  # what the screen shows now
        self.speak: Cue | None = None  # set only on the frame a cue should be said


class HingeEngine:
    """One lifter at a time, one drill; a new drill takes a new engine. A new visitor needs none:
    the metrics learn a body of another size afresh, and the counter re-learns the standing height.

    The engine keeps no history: each finished rep appears once, as `result.rep`, and whoever
    needs the set (the display, the store, `analyze`) keeps it."""

    def __init__(
        self,
        drill: str | Drill = DEFAULT_DRILL,
        *,
        setup: Setup = DEFAULT_SETUP,
        min_score: float = 0.3,
        frame_size: tuple[int, int] | None = None,
        min_audio_gap_s: float = MIN_AUDIO_GAP_S,
    ) -> None:
        self.drill = get_drill(drill) if isinstance(drill, str) else drill
        self.smoother = PoseSmoother(min_score=min_score)
        if frame_size is not None:
            w, h = frame_size
            margin = 0.5 * max(w, h)
            self.smoother.bounds = (-margin, -margin, w + margin, h + margin)
        self.core = MetricsCore(self.drill, setup, frame_size)
        self.counter = RepCounter(self.drill, self.core.wall_thighs)
        self.coach = Coach(self.drill, min_audio_gap_s=min_audio_gap_s)
        self._input = np.zeros((NUM_KEYPOINTS, 3), np.float32)
        self.result = FrameResult(self.smoother.pose, self.smoother.valid, self.core.metrics)

    def step(self, keypoints: np.ndarray, t: float) -> FrameResult:
        """Score one frame: `keypoints` (17, 3) = (x, y, score) in source pixels, `t` seconds."""
        r = self.result
        r.rep = None
        r.speak = None
        t = float(t)
        if not math.isfinite(t):
            return r  # an unusable timestamp: keep showing the last verdict
        if t < r.t:  # time went backwards: the filters' and the coach's timers are on another line
            self.smoother.reset()
            self.coach.reset()
        np.copyto(self._input, keypoints, casting="unsafe")
        self.smoother.update(self._input, t)
        sm = self.smoother
        m = self.core.update(sm.xs, sm.ys, sm.weights, t)
        if m.leg_px > 0:
            self.smoother.jump_px = JUMP_LEGS * m.leg_px
            self.smoother.scale_px = m.leg_px
        rep = self.counter.update(m)
        self._publish(m, rep, t)
        return r

    def finish(self, t: float) -> FrameResult:
        """End of input (a track or video ends): a rep waiting out its settle time counts."""
        rep = self.counter.finish()
        self._publish(self.core.metrics, rep, t)
        return self.result

    def _publish(self, m: FrameMetrics, rep: RepResult | None, t: float) -> None:
        self.coach.update(m, self.counter.phase, rep, t, self.counter.dropped, self.counter.drop)
        r = self.result
        r.t = t
        r.phase = self.counter.phase
        r.rep = rep
        r.dropped = self.counter.dropped
        r.reps = self.counter.count
        r.drop = self.counter.drop
        if math.isfinite(m.depth):
            r.depth = m.depth
        elif math.isfinite(r.drop):
            r.depth = r.drop / DROP_FULL_DEPTH
        else:
            r.depth = 0.0
        r.cue = self.coach.cue
        r.speak = self.coach.speak
