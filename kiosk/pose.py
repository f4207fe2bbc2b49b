"""Pose estimation: frames in, (17, 3) poses in source pixels out.

`PoseEstimator` strings the stages together for one stream of frames: pick the crop (`croptrack`),
resample it into the model input (`preprocess`), run the model (`backends`) and map the keypoints back
to source pixels. A body found on the whole frame (a still image, or the first frame a person is
seen in a video) gets a second pass on the crop around it. Still images run that crop twice, once as
is and once mirrored (left and right swapped back), and merge the two. On the peer golden images that
merge is what keeps every keypoint inside the tolerance across image shifts and both runtimes; a
single pass passes or fails by a few pixels of luck.

`track_from_media` turns a video file or a still image into a `PoseTrack`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from kiosk.backends import PoseBackend, open_backend
from kiosk.body import NUM_KEYPOINTS, SCORE, BodyPart, X, Y
from kiosk.croptrack import CropParams, CropTracker, crop_for_pose
from kiosk.errors import InputError
from kiosk.preprocess import CropBox, InputMaker
from kiosk.sources import Frame
from kiosk.track import PoseTrack


def _mirror_permutation() -> np.ndarray:
    """Keypoint order of a mirrored image: each LEFT_* takes the RIGHT_* slot and vice versa."""
    order = []
    for part in BodyPart:
        name = part.name
        if name.startswith("LEFT_"):
            name = "RIGHT_" + name[5:]
        elif name.startswith("RIGHT_"):
            name = "LEFT_" + name[6:]
        order.append(int(BodyPart[name]))
    return np.array(order, np.intp)


MIRROR = _mirror_permutation()
# Mirrored and direct estimates of a keypoint further apart than this (fraction of the crop) disagree
# on what they saw (a far-side limb taken for the near one); the more confident one is kept.
AGREEMENT = 0.05


@dataclass(slots=True)
class Prepared:
    """A model input made ahead of time (on another thread) for the crop `wanted`; used if the tracker
    still wants that crop. `box` is what the input shows (the wanted crop, or it snapped to a pixel
    grid), which keypoints are mapped back through."""

    wanted: CropBox
    box: CropBox
    input: np.ndarray  # uint8 (S, S, 3)
    preprocess_s: float


@dataclass(slots=True)
class StageTimes:
    """Seconds spent in each stage by the last `estimate` / `estimate_image` call (one object per
    estimator, zeroed by each call)."""

    preprocess_s: float = 0.0
    infer_s: float = 0.0

    def zero(self) -> None:
        self.preprocess_s = self.infer_s = 0.0


def merge_estimates(a: np.ndarray, b: np.ndarray, gate_px: float) -> np.ndarray:
    """Merge two estimates of the same pose: score-weighted mean where they agree within `gate_px`,
    else the more confident one. Scores: mean where they agree, max otherwise."""
    out = np.empty((NUM_KEYPOINTS, 3), np.float32)
    wa, wb = a[:, SCORE : SCORE + 1], b[:, SCORE : SCORE + 1]
    mean = (a[:, :2] * wa + b[:, :2] * wb) / np.maximum(wa + wb, 1e-6)
    agree = np.hypot(a[:, X] - b[:, X], a[:, Y] - b[:, Y]) <= gate_px
    best = np.where((a[:, SCORE] >= b[:, SCORE])[:, None], a[:, :2], b[:, :2])
    out[:, :2] = np.where(agree[:, None], mean, best)
    out[:, SCORE] = np.where(agree, (a[:, SCORE] + b[:, SCORE]) / 2, np.maximum(a[:, SCORE], b[:, SCORE]))
    return out


class PoseEstimator:
    """Crop-tracking MoveNet on one stream of frames. Not thread-safe: one per inference thread."""

    def __init__(
        self, backend: PoseBackend, *, crop_params: CropParams | None = None, crop_tracking: bool = True
    ) -> None:
        """`crop_tracking=False` runs every frame on the whole frame (for comparisons)."""
        self.backend = backend
        self.input_size = backend.input_size
        self.crop_params = crop_params or CropParams()
        self.crop_tracking = crop_tracking
        self.timings = StageTimes()
        self.crop: CropBox | None = None  # the crop the last pose was estimated on
        self._maker = InputMaker(self.input_size)
        self._tracker: CropTracker | None = None

    def reset(self) -> None:
        """Forget the tracked person: the next frame is searched whole (new source, long gap)."""
        if self._tracker is not None:
            self._tracker.reset()

    def next_crop(self, frame_size: tuple[int, int]) -> CropBox:
        """The crop the next frame of this size will be estimated on; safe to call from another thread."""
        tracker = self._tracker
        if not self.crop_tracking or tracker is None or tracker.frame_size != frame_size:
            return CropBox.full_frame(*frame_size)
        return tracker.crop

    def prepare(self, frame: Frame, box: CropBox, maker: InputMaker, out: np.ndarray) -> Prepared:
        """Make the model input for `box` into `out` with the caller's own `maker` (any thread)."""
        start = time.perf_counter()
        _, used = maker(frame, box, out)
        return Prepared(box, used, out, time.perf_counter() - start)

    def estimate(self, frame: Frame, prepared: Prepared | None = None) -> np.ndarray:
        """Pose (17, 3) = (x, y, score) in the frame's pixels; `frame.t` (seconds) feeds the tracker.

        Crops come from the decoder's (or the Pi camera's lores) planes or a `lores` copy when those
        have enough pixels, which is what makes preprocessing cheap (`InputMaker`). `prepared` is
        this frame's model input made ahead of time; it is used when it was made for the crop the
        tracker still wants.
        """
        self.timings.zero()
        size = frame.size
        if self._tracker is None or self._tracker.frame_size != size:
            self._tracker = CropTracker(size, self.crop_params)
        box = self.next_crop(size)
        if prepared is not None and prepared.wanted == box:
            self.timings.preprocess_s = prepared.preprocess_s
            pose = self._infer(prepared.input, prepared.box)
            self.crop = prepared.box
        else:
            pose = self._run(frame, box)
        if self.crop_tracking and not self._tracker.tracking:
            # Found on the whole frame, a body far from the camera fills a fraction of the input
            # and its keypoints are rough (a 1080p picture with the lifter a third of its height
            # gave shoulders 86 px apart from the side). The first pose seeds the standing height
            # and the facing, so it gets the crop's second pass, as a still image does.
            around = crop_for_pose(pose, size, self.crop_params)
            if around != box:
                pose = self._run(frame, around)
        self._tracker.update(pose, frame.t)
        return pose

    def estimate_image(self, frame_rgb: np.ndarray) -> np.ndarray:
        """Pose of a still image: whole-image pass, then the crop around the body, direct and mirrored."""
        self.timings.zero()
        size = (int(frame_rgb.shape[1]), int(frame_rgb.shape[0]))
        full = CropBox.full_frame(*size)
        image = Frame(frame_rgb, 0.0, 0)
        first = self._run(image, full)
        box = crop_for_pose(first, size, self.crop_params)
        direct = first if box == full else self._run(image, box)
        mirrored = self._run(Frame(frame_rgb[:, ::-1], 0.0, 0), box.mirrored(size[0]))[MIRROR]
        mirrored[:, X] = size[0] - mirrored[:, X]
        self.crop = box
        return merge_estimates(direct, mirrored, AGREEMENT * box.size)

    def _run(self, frame: Frame, box: CropBox) -> np.ndarray:
        """Pose on the crop `box` of `frame`; `self.crop` becomes the box the input showed."""
        start = time.perf_counter()
        model_input, used = self._maker(frame, box)
        self.timings.preprocess_s += time.perf_counter() - start
        self.crop = used
        return self._infer(model_input, used)

    def _infer(self, model_input: np.ndarray, box: CropBox) -> np.ndarray:
        start = time.perf_counter()
        raw = self.backend.infer(model_input)
        self.timings.infer_s += time.perf_counter() - start
        return box.to_source(raw)


# ------------------------------------------------------------------------------------------ media


class _Progress:
    """A one-line progress bar on a terminal; silent when disabled."""

    def __init__(self, label: str, total: int, stream: TextIO, enabled: bool) -> None:
        self.label, self.total, self.stream, self.enabled = label, total, stream, enabled
        self._start = time.monotonic()
        self._last = 0.0

    def update(self, done: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < 0.1:
            return
        self._last = now
        rate = done / max(now - self._start, 1e-6)
        if self.total > 0:
            frac = min(1.0, done / self.total)
            bar = "#" * int(frac * 30)
            text = f"{self.label} [{bar:<30}] {done}/{self.total} frames, {rate:.0f} fps"
        else:
            text = f"{self.label} {done} frames, {rate:.0f} fps"
        self.stream.write("\r" + text)
        self.stream.flush()

    def finish(self, done: int) -> None:
        if self.enabled:
            self._last = 0.0
            self.update(done)
            self.stream.write("\n")
            self.stream.flush()


def track_from_media(
    path: str | Path,
    *,
    runtime: str = "auto",
    threads: int = 0,
    model_path: str | Path | None = None,
    model_dir: str | Path | None = None,
    progress: bool = True,
) -> PoseTrack:
    """Estimate the pose in every frame of a video file, or in a still image (one frame at t = 0).

    Times are the container's, in seconds from the first frame. `progress` draws a bar on stderr for
    videos when stderr is a terminal. The model is `model_path`, else the one installed in `model_dir`
    (the default folder when None). Unreadable or unsupported input raises `InputError`; a missing or
    broken model `ModelError`.
    """
    from kiosk.models import find_model
    from kiosk.sources import IMAGE_SUFFIXES, ImageSource, VideoFileSource

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file" if not p.exists() else f"{p}: not a file")
    if p.suffix.lower() in IMAGE_SUFFIXES:
        still = ImageSource(p)
        if still.damage:
            print(
                f"{p}: damaged: the picture did not decode cleanly (FFmpeg: {still.damage}); a file cut "
                "short shows grey where it ends, and the pose read from it may be wrong",
                file=sys.stderr,
            )
        image = still.read()
        estimator = PoseEstimator(open_backend(model_path or find_model(model_dir), runtime, threads))
        pose = estimator.estimate_image(image.rgb)
        return PoseTrack(pose[None], np.zeros(1), image.size, str(p))

    with VideoFileSource(p, realtime=False) as source:  # the file is checked before the model loads
        estimator = PoseEstimator(open_backend(model_path or find_model(model_dir), runtime, threads))
        bar = _Progress(p.name, source.frame_count, sys.stderr, progress and sys.stderr.isatty())
        poses: list[np.ndarray] = []
        times: list[float] = []
        frame_size: tuple[int, int] | None = None
        for frame in source:
            if frame_size is None:
                frame_size = frame.size
            poses.append(estimator.estimate(frame))
            times.append(frame.t)
            bar.update(len(poses))
        bar.finish(len(poses))
        if source.damaged:
            print(
                f"{p}: damaged: {source.damaged} packet(s) could not be decoded and were passed over, "
                f"the first near {source.damaged_at:.1f} s; reps there may be missing or cut short",
                file=sys.stderr,
            )
    if frame_size is None:
        raise InputError(f"{p}: the video has no decodable frames")
    return PoseTrack(np.stack(poses).astype(np.float32), np.asarray(times, np.float64), frame_size, str(p))
