"""Where to look next: the crop for frame N+1 from the body found in frame N.

MoveNet's authors run the model on a square crop around the person rather than the whole frame, so
the body fills the 192 px input (their "cropping algorithm"): centre the crop on the hips and make it
big enough for the torso with a wide margin and for every confident keypoint with a small one; when
the torso is not visible, or the body would need more than the frame, go back to the whole frame.

On top of that, two guards so a limb moving out is never cut off (a swing's arms, a hinge's head):
- each confident keypoint also counts at the position it is heading for by the time the next frame
  arrives (its velocity times the last frame interval, with a margin);
- a confident keypoint close to the edge of the crop it was found in may belong to a limb that already
  reaches past it, so the next crop grows.

Pure: poses (x, y, score in source pixels) and timestamps in, `CropBox` out; no I/O, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kiosk.body import SCORE, BodyPart, X, Y
from kiosk.preprocess import CropBox

_HIPS = (int(BodyPart.LEFT_HIP), int(BodyPart.RIGHT_HIP))
_SHOULDERS = (int(BodyPart.LEFT_SHOULDER), int(BodyPart.RIGHT_SHOULDER))
_TORSO = _SHOULDERS + _HIPS


@dataclass(frozen=True)
class CropParams:
    """Tuning of the crop; the first three are MoveNet's published values."""

    min_score: float = 0.2  # a keypoint counts for the crop above this score
    torso_expansion: float = 1.9  # crop half-size >= this x the largest hip-centre-to-torso-joint distance
    body_expansion: float = 1.2  # ... and >= this x the largest hip-centre-to-any-keypoint distance
    lead: float = 1.5  # extrapolate motion this many frame intervals ahead
    max_velocity_gap_s: float = 0.5  # older previous poses give no usable velocity
    edge_band: float = 0.08  # a keypoint this close to its crop's edge (fraction of the crop) is leaving
    edge_growth: float = 1.25  # ... and then the next crop is this much bigger
    min_fraction: float = 0.1  # never crop smaller than this fraction of the frame's long side
    hold: float = 0.1  # keep the current crop while it holds the new one shrunk by this fraction ...
    max_oversize: float = 1.3  # ... and is at most this much bigger than the new one


def _seen(row: list[float], min_score: float) -> bool:
    """A keypoint that counts for the crop: confident, at a finite place (garbage never sizes a crop)."""
    return row[SCORE] > min_score and math.isfinite(row[X]) and math.isfinite(row[Y])


def _torso_visible(rows: list[list[float]], min_score: float) -> bool:
    """MoveNet's condition for cropping: at least one hip and one shoulder are confident (and at a
    finite place)."""
    return any(_seen(rows[i], min_score) for i in _HIPS) and any(
        _seen(rows[i], min_score) for i in _SHOULDERS
    )


def crop_for_pose(
    pose: np.ndarray,
    frame_size: tuple[int, int],
    params: CropParams = CropParams(),
    *,
    velocity: np.ndarray | None = None,
    interval_s: float = 0.0,
    found_in: CropBox | None = None,
) -> CropBox:
    """The crop to run the next frame on, given this frame's `pose` (source pixels).

    `velocity` (17, 2) px/s and `interval_s` extrapolate moving keypoints; `found_in` is the crop this
    pose was estimated on (to spot keypoints at its edge). The whole frame when the torso is not found.
    """
    moving = None if velocity is None else velocity.tolist()
    return _crop(pose.tolist(), frame_size, params, moving, interval_s, found_in)


def _crop(
    rows: list[list[float]],
    frame_size: tuple[int, int],
    params: CropParams,
    velocity: list[list[float]] | None,
    interval_s: float,
    found_in: CropBox | None,
) -> CropBox:
    """`crop_for_pose` on plain lists: it runs between two invokes on the inference thread, where
    seventeen points cost less as Python floats than as some forty small numpy calls (a tracker
    update takes 0.08 against 0.22 ms alone on the 2-vCPU dev machine, 0.15 against 0.44 beside
    the model)."""
    width, height = frame_size
    full = CropBox.full_frame(width, height)
    if not _torso_visible(rows, params.min_score):
        return full
    confident = [i for i, row in enumerate(rows) if _seen(row, params.min_score)]
    hips = [rows[i] for i in _HIPS if _seen(rows[i], params.min_score)]
    cx = sum(row[X] for row in hips) / len(hips)
    cy = sum(row[Y] for row in hips) / len(hips)

    torso = [(rows[i][X], rows[i][Y]) for i in _TORSO if _seen(rows[i], params.min_score)]
    torso_range = _max_offset(torso, cx, cy)
    points = [(rows[i][X], rows[i][Y]) for i in confident]
    body_range = _max_offset(points, cx, cy)
    if velocity is not None and interval_s > 0:
        ahead = params.lead * interval_s
        heading = [
            (x + velocity[i][0] * ahead, y + velocity[i][1] * ahead)
            for i, (x, y) in zip(confident, points, strict=True)
        ]
        body_range = max(body_range, _max_offset(heading, cx, cy))
    half = max(torso_range * params.torso_expansion, body_range * params.body_expansion)

    if found_in is not None and _touches_edge(points, found_in, frame_size, params.edge_band):
        half *= params.edge_growth
    half = max(half, params.min_fraction * max(width, height) / 2.0)
    # No point reaching past the frame on every side; and a crop as big as the frame is the frame.
    half = min(half, max(cx, width - cx, cy, height - cy))
    if half >= max(width, height) / 2.0:
        return full
    return CropBox.centred(cx, cy, half)


def _max_offset(points: list[tuple[float, float]], cx: float, cy: float) -> float:
    """The largest distance along x or y of any point from (cx, cy)."""
    return max((max(abs(x - cx), abs(y - cy)) for x, y in points), default=0.0)


def _touches_edge(
    points: list[tuple[float, float]], crop: CropBox, frame_size: tuple[int, int], band: float
) -> bool:
    """Whether a keypoint lies within `band` of a crop edge that is inside the frame.

    An edge beyond the frame border cannot hide anything more, so keypoints there do not count.
    """
    width, height = frame_size
    margin = band * crop.size
    x1, y1 = crop.x0 + crop.size, crop.y0 + crop.size
    left, top = crop.x0 > 0, crop.y0 > 0
    right, bottom = x1 < width, y1 < height
    return any(
        (left and x < crop.x0 + margin)
        or (right and x > x1 - margin)
        or (top and y < crop.y0 + margin)
        or (bottom and y > y1 - margin)
        for x, y in points
    )


def holds(current: CropBox, wanted: CropBox, params: CropParams, frame_size: tuple[int, int]) -> bool:
    """Whether `current` can stay instead of moving to `wanted`: it covers `wanted` (all but `hold` of
    its margin) without being much bigger. A steady crop gives the model the same view of a steady body,
    which keeps the keypoints steady, and lets a crop prepared ahead of time be used as is."""
    full = CropBox.full_frame(*frame_size)
    if current == full or wanted == full:
        return False
    if current.size > wanted.size * params.max_oversize:
        return False
    cx, cy = wanted.centre
    half = wanted.size / 2.0 * (1.0 - params.hold)
    return (
        current.x0 <= cx - half
        and current.y0 <= cy - half
        and current.x0 + current.size >= cx + half
        and current.y0 + current.size >= cy + half
    )


class CropTracker:
    """Carries the crop from frame to frame: `crop` for the frame about to be estimated, `update` after.

    Keeps the previous pose and time to estimate keypoint velocity. Not thread-safe (one per estimator).
    """

    def __init__(self, frame_size: tuple[int, int], params: CropParams = CropParams()) -> None:
        self.params = params
        self.frame_size = frame_size
        self._prev: list[list[float]] | None = None  # the last pose with a torso, as rows
        self._prev_t = 0.0
        self.crop = CropBox.full_frame(*frame_size)

    def reset(self, frame_size: tuple[int, int] | None = None) -> None:
        """Forget the person (new source, new set, or a jump in time): next frame is searched whole."""
        if frame_size is not None:
            self.frame_size = frame_size
        self._prev = None
        self.crop = CropBox.full_frame(*self.frame_size)

    @property
    def tracking(self) -> bool:
        """True while the crop follows a person, False while searching the whole frame."""
        return self.crop != CropBox.full_frame(*self.frame_size)

    def update(self, pose: np.ndarray, t: float) -> CropBox:
        """Take the pose just estimated on `self.crop` at time `t`; return (and keep) the next crop."""
        rows = pose.tolist()
        min_score = self.params.min_score
        velocity, interval = None, 0.0
        prev = self._prev
        if prev is not None and 0.0 < t - self._prev_t <= self.params.max_velocity_gap_s:
            interval = t - self._prev_t
            velocity = [
                [(now[X] - then[X]) / interval, (now[Y] - then[Y]) / interval]
                if _seen(now, min_score) and _seen(then, min_score)
                else [0.0, 0.0]
                for now, then in zip(rows, prev, strict=True)
            ]
        wanted = _crop(rows, self.frame_size, self.params, velocity, interval, self.crop)
        if not holds(self.crop, wanted, self.params, self.frame_size):
            self.crop = wanted
        if _torso_visible(rows, min_score):
            self._prev, self._prev_t = rows, t
        else:
            self._prev = None
        return self.crop
