"""Confidence-gated One Euro smoothing of a pose, one filter per coordinate.

The One Euro filter (Casiez, Roussel and Vogel, CHI 2012) is a low-pass filter whose cutoff rises
with speed: still keypoints are smoothed hard (jitter gone), moving ones lightly (little lag). Here
the cutoff is 1 Hz at rest plus 1.5 Hz per leg length per second of speed: a still keypoint's
jitter drops to about a third, and a hinge moving at a leg length a second lags by about 40 ms.

Gating: an observation below `min_score` never updates the filter. The point keeps its last good
value for `hold_s` (a one-frame dropout must not blank the skeleton), then counts as missing, and a
missing point never drives a metric, a fault or a cue. A jump longer than `jump_px` in one frame
is a detector glitch until the next frame finds the point there too (another person): then the
filter restarts at the new place instead of sliding across the screen. Until then the jump counts
as unobserved, so one wild frame (a shoulder read in a corner mid-rep) never reaches the metrics:
restarted there and back, it read as a rep's top and split the rep in two. A point outside
`bounds` (set by the engine: the picture grown by half its long side, more than any crop or
letterbox reaches) is no body part the camera saw: it counts as unobserved, however confident.

Budget: one pass over 17 points in plain Python floats kept in preallocated lists, then one write
into the output arrays: about 15 microseconds a frame on a desktop core. (Vectorising this with
numpy was measured at 50: each numpy call costs about 0.6 microseconds before doing any work, and
the filter needs about 30 of them for only 34 numbers.) No arrays are allocated per frame.
"""

from __future__ import annotations

import math

import numpy as np

from kiosk.body import NUM_KEYPOINTS, SCORE, X, Y

TWO_PI = 2.0 * math.pi
MAX_DT_S = 0.5


class PoseSmoother:
    """Smooths (17, 3) poses; read `pose` (x, y, score) and `valid` after `update`."""

    def __init__(
        self,
        min_score: float = 0.3,
        hold_s: float = 0.25,
        min_cutoff_hz: float = 1.0,
        beta: float = 1.5,
        d_cutoff_hz: float = 1.0,
    ) -> None:
        self.min_score = float(min_score)
        self.hold_s = float(hold_s)
        self.min_cutoff_hz = float(min_cutoff_hz)
        self.beta = float(beta)
        self.d_cutoff_hz = float(d_cutoff_hz)
        # Set by the engine from the body size: `jump_px` (inf disables jump resets until a body
        # is known) and `scale_px`, the leg length that `beta` speeds are measured in, so the
        # filter behaves the same for a lifter near the camera or far from it.
        self.jump_px = math.inf
        self.scale_px = 200.0
        self.bounds = (-math.inf, -math.inf, math.inf, math.inf)  # x_lo, y_lo, x_hi, y_hi
        n = NUM_KEYPOINTS
        self.pose = np.zeros((n, 3), np.float32)  # smoothed x, y and the last good score
        self.valid = np.zeros(n, bool)  # a recent good observation backs this point
        self._pose_x, self._pose_y, self._pose_score = self.pose[:, X], self.pose[:, Y], self.pose[:, SCORE]
        self._x = [0.0] * n
        self._y = [0.0] * n
        self._dx = [0.0] * n
        self._dy = [0.0] * n
        self._score = [0.0] * n
        self._last_good_t = [-math.inf] * n
        self._valid = [False] * n
        self._jumped = [False] * n  # the last observation jumped: to (_jump_x, _jump_y)
        self._jump_x = [0.0] * n
        self._jump_y = [0.0] * n
        self._t = -math.inf

    def reset(self) -> None:
        n = NUM_KEYPOINTS
        self._valid[:] = [False] * n
        self._jumped[:] = [False] * n
        self._score[:] = [0.0] * n
        self._last_good_t[:] = [-math.inf] * n
        self._t = -math.inf
        self.valid[:] = False
        self.pose[:] = 0.0

    def update(self, keypoints: np.ndarray, t: float) -> None:
        """Fold one observation (17, 3) at time `t` (seconds) into the filters."""
        if not math.isfinite(t):
            return
        dt = t - self._t
        if not dt > 0.0:
            # A repeated or backwards timestamp: a very short step rather than a division by
            # zero; the filters barely move.
            dt = 1e-3
        elif dt > MAX_DT_S:
            # The first frame, or a long gap: the old state says little about the new one.
            dt = MAX_DT_S
        self._t = t
        a_d = 1.0 / (1.0 + 1.0 / (TWO_PI * self.d_cutoff_hz * dt))
        gain_d, keep_d = a_d / dt, 1.0 - a_d
        # alpha = 1 / (1 + 1 / (2 pi cutoff dt)) = c / (1 + c) with c = 2 pi dt (min_cutoff + beta speed)
        c_min, c_speed = TWO_PI * dt * self.min_cutoff_hz, TWO_PI * dt * self.beta / self.scale_px
        min_score, hold, jump = self.min_score, self.hold_s, self.jump_px
        x_lo, y_lo, x_hi, y_hi = self.bounds
        xs, ys, dxs, dys = self._x, self._y, self._dx, self._dy
        valid, scores, last_good = self._valid, self._score, self._last_good_t
        jumped, jump_x, jump_y = self._jumped, self._jump_x, self._jump_y
        isfinite, hypot = math.isfinite, math.hypot

        for i, (x, y, s) in enumerate(keypoints.tolist()):
            # A NaN score compares False; x + y is not finite if either is not.
            seen = s >= min_score and isfinite(x + y) and x_lo <= x <= x_hi and y_lo <= y <= y_hi
            restart = not valid[i]
            if seen and not restart and hypot(x - xs[i], y - ys[i]) > jump:
                # Somewhere else entirely: a move if the last frame found it there too, else a
                # glitch, unobserved for now.
                restart = jumped[i] and hypot(x - jump_x[i], y - jump_y[i]) <= jump
                jumped[i], jump_x[i], jump_y[i] = not restart, x, y
                seen = restart
            else:
                jumped[i] = False
            if seen:
                if restart:
                    xs[i], ys[i], dxs[i], dys[i] = x, y, 0.0, 0.0
                else:
                    ex, ey = x - xs[i], y - ys[i]
                    dx = dxs[i] * keep_d + ex * gain_d
                    dy = dys[i] * keep_d + ey * gain_d
                    dxs[i], dys[i] = dx, dy
                    c = c_min + c_speed * hypot(dx, dy)
                    a = c / (1.0 + c)
                    xs[i] += a * ex
                    ys[i] += a * ey
                last_good[i] = t
                valid[i] = True
                scores[i] = s if s <= 1.0 else 1.0
            elif valid[i] and t - last_good[i] > hold:
                valid[i] = False
                scores[i] = 0.0

        self._pose_x[:] = xs
        self._pose_y[:] = ys
        self._pose_score[:] = scores
        self.valid[:] = valid

    @property
    def xs(self) -> list[float]:
        """Smoothed x of each keypoint (read-only view of the filter state)."""
        return self._x

    @property
    def ys(self) -> list[float]:
        return self._y

    @property
    def weights(self) -> list[float]:
        """Each keypoint's last good score, 0 when it counts as missing."""
        return self._score
