"""Pose tracks: the contract between seeing (pose estimation) and judging (the engine).

A pose track is an `.npz` with
  keypoints   float32 (N, 17, 3): (x, y, score) per COCO keypoint, in source pixels
  t           float64 (N,): seconds, strictly increasing
  frame_size  int (2,): (width, height) of the source frames
Recorded tracks from other tools (`*.posetrack.json[.gz]`, BlazePose-33 or COCO-17 keypoints named
`left_hip` etc.) load into the same structure by keypoint name.
"""

from __future__ import annotations

import gzip
import json
import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.body import NUM_KEYPOINTS, BodyPart
from kiosk.errors import InputError

# Bounds on a track's clock, in seconds. Frames closer than 1 ms (over 1000 fps) or a recording longer
# than ~115 days mean the times are not seconds. Times on the Unix clock (1.7e9) fit under 1e10 s, where
# float64 still resolves microseconds; far beyond it frame intervals round away.
MIN_FRAME_INTERVAL_S = 1e-3
MAX_SPAN_S = 1e7
MAX_ABS_TIME_S = 1e10
REAL_KINDS = "iuf"  # numpy dtype kinds of real numbers (no bool, complex, text or objects)


@dataclass
class PoseTrack:
    """Keypoints over time for one source."""

    keypoints: np.ndarray  # float32 (N, 17, 3)
    t: np.ndarray  # float64 (N,)
    frame_size: tuple[int, int]  # (width, height)
    source: str = ""

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def fps(self) -> float:
        """Median frame rate; 0.0 for fewer than two frames."""
        if len(self) < 2:
            return 0.0
        dt = float(np.median(np.diff(self.t)))
        return 1.0 / dt if dt > 0 else 0.0

    @property
    def duration_s(self) -> float:
        return float(self.t[-1] - self.t[0]) if len(self) else 0.0

    def validate(self) -> PoseTrack:
        """Raise `InputError` naming the first problem; return self when the track is usable."""
        name = self.source or "pose track"
        kp, t = self.keypoints, self.t
        if kp.ndim != 3 or kp.shape[1:] != (NUM_KEYPOINTS, 3):
            raise InputError(f"{name}: 'keypoints' has shape {kp.shape}, expected (N, 17, 3)")
        if t.ndim != 1 or t.shape[0] != kp.shape[0]:
            raise InputError(f"{name}: 't' has shape {t.shape}, expected ({kp.shape[0]},) to match keypoints")
        if kp.shape[0] == 0:
            raise InputError(f"{name}: the track has no frames")
        _require_real(name, kp, t)
        if not np.isfinite(kp).all():
            bad = int((~np.isfinite(kp)).any(axis=(1, 2)).sum())
            raise InputError(f"{name}: 'keypoints' contains NaN or infinite values in {bad} frame(s)")
        if not np.isfinite(t).all():
            raise InputError(f"{name}: 't' contains NaN or infinite values")
        self._validate_times(name)
        w, h = self.frame_size
        if w <= 0 or h <= 0:
            raise InputError(f"{name}: 'frame_size' is {self.frame_size}, expected positive (width, height)")
        return self

    def _validate_times(self, name: str) -> None:
        """Refuse clocks that are not seconds (nanoseconds, sample counts, garbage): they would give an
        infinite frame rate or a duration hundreds of digits long instead of an error."""
        t = np.asarray(self.t, np.float64)
        if np.abs(t).max() > MAX_ABS_TIME_S:
            raise InputError(
                f"{name}: 't' reaches {np.abs(t).max():.3g} s; expected seconds (within {MAX_ABS_TIME_S:.0e})"
            )
        if len(t) < 2:
            return
        dt = np.diff(t)
        if not (dt > 0).all():
            raise InputError(f"{name}: 't' must be strictly increasing (seconds)")
        if t[-1] - t[0] > MAX_SPAN_S:
            raise InputError(
                f"{name}: 't' spans {t[-1] - t[0]:.3g} s, longer than any recording; expected seconds"
            )
        if np.median(dt) < MIN_FRAME_INTERVAL_S:
            raise InputError(
                f"{name}: frames are {np.median(dt):.3g} s apart (median), over 1000 fps; "
                "expected 't' in seconds"
            )

    def save(self, path: str | Path) -> None:
        """Write the `.npz` contract (uncompressed: tracks are small and load fast)."""
        np.savez(
            Path(path),
            keypoints=np.asarray(self.keypoints, np.float32),
            t=np.asarray(self.t, np.float64),
            frame_size=np.asarray(self.frame_size, np.int64),
        )


def load_track(path: str | Path) -> PoseTrack:
    """Load and validate an `.npz` pose track or a `*.posetrack.json[.gz]` recording."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if not p.is_file():
        raise InputError(f"{p}: not a file")
    name = p.name.lower()
    if name.endswith(".json") or name.endswith(".json.gz"):
        return _load_json(p).validate()
    return _load_npz(p).validate()


def _require_real(name: str, kp: np.ndarray, t: np.ndarray) -> None:
    if kp.dtype.kind not in REAL_KINDS or t.dtype.kind not in REAL_KINDS:
        raise InputError(
            f"{name}: 'keypoints' and 't' must be arrays of real numbers (they are {kp.dtype} and {t.dtype})"
        )


def _load_npz(p: Path) -> PoseTrack:
    if not zipfile.is_zipfile(p):
        raise InputError(f"{p}: not an .npz pose track (expected a numpy .npz archive)")
    try:
        with np.load(p, allow_pickle=False) as z:
            missing = [k for k in ("keypoints", "t", "frame_size") if k not in z.files]
            if missing:
                raise InputError(
                    f"{p}: missing array(s) {', '.join(missing)}; a pose track needs "
                    "keypoints (N,17,3), t (N,) and frame_size (2,)"
                )
            kp = np.asarray(z["keypoints"])
            t = np.asarray(z["t"])
            fs = np.asarray(z["frame_size"]).reshape(-1)
    except InputError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise InputError(f"{p}: not a readable .npz pose track ({exc})") from None
    _require_real(str(p), kp, t)  # before the cast below, which would drop an imaginary part
    if fs.shape != (2,):
        raise InputError(f"{p}: 'frame_size' has shape {fs.shape}, expected (2,) = (width, height)")
    if not np.issubdtype(fs.dtype, np.number):
        raise InputError(
            f"{p}: 'frame_size' holds {fs.dtype} values, expected numbers: (width, height) in pixels"
        )
    if not (np.isfinite(fs).all() and (fs >= 1).all() and (fs < 1e6).all()):
        raise InputError(f"{p}: 'frame_size' is {fs.tolist()}, expected (width, height) in pixels")
    return PoseTrack(kp.astype(np.float32), t.astype(np.float64), (int(fs[0]), int(fs[1])), str(p))


def _load_json(p: Path) -> PoseTrack:
    try:
        opener = gzip.open if p.name.lower().endswith(".gz") else open
        with opener(p, "rt", encoding="utf-8") as f:
            doc = json.load(f)
        frames = doc["frames"]
        meta = doc.get("metadata") or {}
    except KeyError as exc:
        raise InputError(f"{p}: not a posetrack JSON (it has no {exc.args[0]!r} field)") from None
    except (
        OSError,
        ValueError,
        TypeError,
        AttributeError,
        EOFError,
        RecursionError,
        zlib.error,
    ) as exc:
        raise InputError(f"{p}: not a readable posetrack JSON ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(frames, list) or not isinstance(meta, dict):
        raise InputError(f"{p}: not a posetrack JSON ('frames' must be a list and 'metadata' an object)")
    n = len(frames)
    kp = np.zeros((n, NUM_KEYPOINTS, 3), np.float32)
    t = np.zeros(n, np.float64)
    index = {part.key: int(part) for part in BodyPart}
    names: set[str] = set()  # every keypoint name met, to say what a file of unknown names holds
    known = 0
    try:
        for i, fr in enumerate(frames):
            t[i] = float(fr["videoTime"]) if "videoTime" in fr else float(fr["timestamp"]) / 1000.0
            for k in fr.get("keypoints") or ():
                name = k.get("name", "")
                j = index.get(name)
                if j is None:
                    names.add(str(name))
                    continue
                known += 1
                x, y, score = k.get("x"), k.get("y"), k.get("score", k.get("visibility"))
                if x is None or y is None or not (math.isfinite(float(x)) and math.isfinite(float(y))):
                    continue  # a point the recording did not place (null, NaN, inf): not seen
                score = 0.0 if score is None or not math.isfinite(float(score)) else score
                kp[i, j] = (x, y, score)
        width = int(meta.get("videoWidth") or 0)
        height = int(meta.get("videoHeight") or 0)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise InputError(f"{p}: malformed posetrack frame ({exc.__class__.__name__}: {exc})") from None
    if not known and names:
        found = ", ".join(sorted(names)[:4]) + (", ..." if len(names) > 4 else "")
        raise InputError(
            f"{p}: no keypoint name this kiosk knows (found {found}); expected COCO names such as "
            "left_shoulder, right_hip (BlazePose's include them)"
        )
    if width <= 0 or height <= 0:
        seen = kp[..., :2][np.isfinite(kp[..., :2]).all(axis=-1)]
        width = max(1, math.ceil(float(seen[:, 0].max(initial=1.0))))
        height = max(1, math.ceil(float(seen[:, 1].max(initial=1.0))))
    return PoseTrack(kp, t, (width, height), str(p))
