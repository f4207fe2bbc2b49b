"""Confidence-gated One Euro smoothing of a pose, one filter per coordinate.

The One Euro filter (Casiez, Roussel and Vogel, CHI 2012) is a low-pass filter whose cutoff rises
with speed: still keypoints are smoothed hard (jitter gone), moving ones lightly (little lag).

Gating: an observation below `min_score` never updates the filter. The point keeps its last good
value for `hold_s` (a one-frame dropout must not blank the skeleton), then counts as missing, and a
missing point never drives a metric, a fault or a cue. A jump longer than `jump_px` in one frame
(another person, a detector glitch) restarts that point's filter at the new place instead of
sliding across the screen.

Budget: about 20 numpy calls on (17, 2) arrays, all into preallocated buffers; nothing is
allocated per frame.
"""

from __future__ import annotations

import math

import numpy as np

from kiosk.body import NUM_KEYPOINTS, SCORE

TWO_PI = 2.0 * math.pi


class PoseSmoother:
    """Smooths (17, 3) poses in place; read `pose` (x, y, score) and `valid` after `update`."""

    def __init__(
        self,
        min_score: float = 0.3,
        hold_s: float = 0.25,
        min_cutoff_hz: float = 1.2,
        beta: float = 0.02,
        d_cutoff_hz: float = 1.0,
    ) -> None:
        self.min_score = float(min_score)
        self.hold_s = float(hold_s)
        self.min_cutoff_hz = float(min_cutoff_hz)
        self.beta = float(beta)
        self.d_cutoff_hz = float(d_cutoff_hz)
        # Set by the engine from the body size; inf disables jump resets until a body is known.
        self.jump_px = math.inf
        n = NUM_KEYPOINTS
        self.pose = np.zeros((n, 3), np.float32)  # smoothed x, y and the last good score
        self.valid = np.zeros(n, bool)  # a recent good observation backs this point
        self._x = np.zeros((n, 2), np.float64)  # filtered position
        self._dx = np.zeros((n, 2), np.float64)  # filtered speed, px/s
        self._last_good_t = np.full(n, -math.inf)
        self._t = -math.inf
        # Scratch buffers for the hot path.
        self._obs = np.zeros((n, 2), np.float64)
        self._score = np.zeros(n, np.float64)
        self._good = np.zeros(n, bool)
        self._fresh = np.zeros(n, bool)
        self._tmp = np.zeros((n, 2), np.float64)
        self._tmp1 = np.zeros(n, np.float64)
        self._alpha = np.zeros(n, np.float64)
        self._finite = np.zeros((n, 3), bool)
        self._bool1 = np.zeros(n, bool)

    def reset(self) -> None:
        self.valid[:] = False
        self.pose[:] = 0.0
        self._last_good_t[:] = -math.inf
        self._t = -math.inf

    def update(self, keypoints: np.ndarray, t: float) -> None:
        """Fold one observation (17, 3) at time `t` (seconds) into the filters."""
        if not math.isfinite(t):
            return
        dt = t - self._t
        if not dt > 0.0:
            # A repeated or backwards timestamp: treat as a very short step rather than dividing
            # by zero; the filters barely move.
            dt = 1e-3
        self._t = t

        obs, good, tmp, tmp1 = self._obs, self._good, self._tmp, self._tmp1
        # Gate: finite coordinates and a finite score at or above the threshold.
        np.isfinite(keypoints, out=self._finite)
        np.all(self._finite, axis=1, out=good)
        np.copyto(obs, keypoints[:, :2], where=good[:, None])
        np.copyto(self._score, keypoints[:, SCORE], where=good)
        np.greater_equal(self._score, self.min_score, out=self._bool1)
        np.logical_and(good, self._bool1, out=good)

        # Points with no live filter (never seen, or missing) start fresh at the observation.
        fresh = self._fresh
        np.logical_not(self.valid, out=fresh)
        if math.isfinite(self.jump_px):
            np.subtract(obs, self._x, out=tmp)
            np.hypot(tmp[:, 0], tmp[:, 1], out=tmp1)
            np.greater(tmp1, self.jump_px, out=self._bool1)
            np.logical_or(fresh, self._bool1, out=fresh)
        np.logical_and(fresh, good, out=fresh)
        np.copyto(self._x, obs, where=fresh[:, None])
        np.copyto(self._dx, 0.0, where=fresh[:, None])

        # Speed estimate, low-passed at the fixed derivative cutoff.
        a_d = 1.0 / (1.0 + 1.0 / (TWO_PI * self.d_cutoff_hz * dt))
        np.subtract(obs, self._x, out=tmp)
        tmp *= a_d / dt
        self._tmp1[:] = 1.0 - a_d
        np.multiply(self._dx, self._tmp1[:, None], out=self._dx, where=good[:, None])
        np.add(self._dx, tmp, out=self._dx, where=good[:, None])

        # Position, low-passed with a cutoff that rises with speed.
        np.hypot(self._dx[:, 0], self._dx[:, 1], out=tmp1)
        tmp1 *= self.beta
        tmp1 += self.min_cutoff_hz
        # alpha = 1 / (1 + 1 / (2 pi cutoff dt))
        tmp1 *= TWO_PI * dt
        np.reciprocal(tmp1, out=tmp1)
        tmp1 += 1.0
        np.reciprocal(tmp1, out=self._alpha)
        np.subtract(obs, self._x, out=tmp)
        tmp *= self._alpha[:, None]
        np.add(self._x, tmp, out=self._x, where=good[:, None])

        # Publish: good points refresh their time and score; others hold until `hold_s` passes.
        np.copyto(self._last_good_t, t, where=good)
        np.subtract(t, self._last_good_t, out=tmp1)
        np.less_equal(tmp1, self.hold_s, out=self.valid)
        self.pose[:, :2] = self._x
        np.copyto(self.pose[:, SCORE], self._score, where=good)
        np.logical_not(self.valid, out=self._bool1)
        np.copyto(self.pose[:, SCORE], 0.0, where=self._bool1)
