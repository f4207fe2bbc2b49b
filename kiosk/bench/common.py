"""What the video benchmarks share: the bare-invoke reference and their command-line arguments.

Both `bench pipeline` and `bench kiosk` compare a real path against the model alone, in the same run on
the same backend (same runtime and threads). The reference is a bare loop of `infer` over model inputs
made the way the pipeline makes them (crop tracking on the clip's first frames). It is timed in two
halves, one before and one after the real path, so a machine that speeds up or slows down during the
run (a shared VM, thermal throttling) moves both sides alike instead of skewing the ratio.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from kiosk.argtypes import whole
from kiosk.config import add_setting_option
from kiosk.drills import DRILLS
from kiosk.errors import InputError
from kiosk.sources import EndOfStream, Frame, FrameSource, VideoFileSource

WARMUP_INVOKES = 5
# Model inputs made for the bare loop: enough distinct ones for a steady rate, few enough (11 MB at
# 192 x 192 x 3) not to inflate the memory figure of what is being measured.
KEEP_INPUTS = 100
T = TypeVar("T")


class RecordingBackend:
    """Passes through to a backend, keeping copies of the first `keep` model inputs."""

    def __init__(self, backend: Any, keep: int = KEEP_INPUTS) -> None:
        self.backend = backend
        self.runtime = backend.runtime
        self.input_size = backend.input_size
        self.inputs: list[np.ndarray] = []
        self._keep = keep

    def infer(self, rgb: np.ndarray) -> np.ndarray:
        if len(self.inputs) < self._keep:
            self.inputs.append(rgb.copy())
        return self.backend.infer(rgb)


def reference_inputs(video: Path, backend: Any, keep: int = KEEP_INPUTS) -> list[np.ndarray]:
    """The model inputs crop-tracking pose estimation makes from the first `keep` frames of `video`.

    Made in a child process: the decoder and frames of this pre-pass would otherwise stay in this
    process's heap (about 30 MB for a 1080p clip) and count in the memory figure being measured.
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        job = pool.submit(_make_inputs, str(video), str(backend.model_path), backend.runtime, keep)
        return job.result()


def _make_inputs(video: str, model_path: str, runtime: str, keep: int) -> list[np.ndarray]:
    from kiosk.backends import open_backend
    from kiosk.pose import PoseEstimator

    backend = open_backend(model_path, runtime, 1)
    recorder = RecordingBackend(backend, keep)
    estimator = PoseEstimator(recorder)
    with VideoFileSource(video, model_input=backend.input_size) as source:
        for frame, _ in zip(source, range(keep), strict=False):
            estimator.estimate(frame)
    if not recorder.inputs:
        raise InputError(f"{video}: the video has no decodable frames")
    return recorder.inputs


def _invoke_seconds(backend: Any, inputs: list[np.ndarray], count: int) -> float:
    start = time.perf_counter()
    for i in range(count):
        backend.infer(inputs[i % len(inputs)])
    return time.perf_counter() - start


@dataclass(frozen=True)
class Bracketed(Generic[T]):
    """What `bracketed` measured."""

    result: T  # what the real path returned
    invoke_fps: float  # the bare loop's calls per second
    cores_busy: float  # CPU seconds over wall seconds during the real path (all threads): a run
    # bound by CPU shows every core busy, a stalled one does not


def bracketed(backend: Any, inputs: list[np.ndarray], count: int, real: Callable[[], T]) -> Bracketed[T]:
    """Run `real()` between two halves of a bare `infer` loop over `inputs` (`count` calls in all,
    after a warm-up), timing the CPU and wall time of `real` on the way."""
    for x in inputs[:WARMUP_INVOKES]:
        backend.infer(x)
    count = max(count, 2 * len(inputs))
    before = _invoke_seconds(backend, inputs, count // 2)
    cpu, wall = time.process_time(), time.perf_counter()
    result = real()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    after = _invoke_seconds(backend, inputs, count - count // 2)
    return Bracketed(result, count / (before + after), cpu / wall if wall > 0 else math.nan)


class OpenOnce:
    """A benchmark's source factory: the video is opened once. The pipeline reopens a source that
    failed, which is right for a camera; a damaged file would replay its good part forever, so a
    second opening calls `on_failure` (which ends the run) and fails."""

    def __init__(self, factory: Callable[[], FrameSource], name: str) -> None:
        self.factory, self.name = factory, name
        self.on_failure: Callable[[], None] = lambda: None
        self.opened = self.failed = False

    def __call__(self) -> FrameSource:
        if self.opened:
            self.failed = True
            self.on_failure()
            raise InputError(
                f"{self.name}: the video failed partway (damaged or truncated?); nothing measured"
            )
        self.opened = True
        return self.factory()


def video_once(
    video: Path,
    frames: int,
    model_input: int,
    *,
    realtime: bool = False,
    wrap: Callable[[Any], Any] | None = None,
) -> OpenOnce:
    """The benchmarks' source: the first `frames` frames of `video` (`wrap`ped), opened once."""

    def open_video() -> FrameSource:
        source = FirstFrames(VideoFileSource(video, realtime=realtime, model_input=model_input), frames)
        return wrap(source) if wrap is not None else source

    return OpenOnce(open_video, str(video))


class FirstFrames(FrameSource):
    """The first `limit` frames of `source` (all of them when `limit` <= 0)."""

    def __init__(self, source: FrameSource, limit: int) -> None:
        self.source, self.limit = source, limit
        self.name, self.live, self.clocked = source.name, source.live, source.clocked
        self.count = 0

    def read(self, timeout: float = 1.0) -> Frame:
        if 0 < self.limit <= self.count:
            raise EndOfStream(self.name)
        frame = self.source.read(timeout)
        self.count += 1
        return frame

    def close(self) -> None:
        self.source.close()

    def __getattr__(self, name: str) -> Any:  # the source's skipped / dropped counters
        return getattr(self.source, name)


@dataclass(frozen=True)
class VideoProbe:
    frame_size: tuple[int, int]
    frame_count: int
    fps: float


def probe_video(video: Path) -> VideoProbe:
    """Decode the first frame before any slow work: a video with none is an `InputError` now, not a
    run that reopens it for its whole length (a looping camera) or a traceback."""
    with VideoFileSource(video) as probe:
        try:
            size = probe.read(5.0).size
        except EndOfStream:
            raise InputError(f"{video}: the video has no decodable frames") from None
        return VideoProbe(size, probe.frame_count, probe.fps)


def add_video_arguments(parser: argparse.ArgumentParser, frames: bool = True) -> None:
    """VIDEO and the options every video benchmark takes (`--frames` where it runs the video once)."""
    parser.add_argument("video", metavar="VIDEO", help="a video file (e.g. a clip from ../shared/data/clips)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_setting_option(parser, "--threads", "pose.threads", "interpreter threads")
    add_setting_option(parser, "--runtime", "pose.runtime", "pose runtime")
    if frames:
        parser.add_argument(
            "--frames", type=whole(0), default=0, help="stop after this many frames (default: 0, all)"
        )
    parser.add_argument(
        "--drill", choices=list(DRILLS), default=None, help="drill the engine scores (default: session.drill)"
    )


def video_path(text: str) -> Path:
    video = Path(text)
    if not video.is_file():
        raise InputError(f"{video}: no such video file")
    return video


@contextmanager
def kiosk_app(
    video: Path,
    backend: Any,
    tap: Any,
    source_factory: Callable[[], Any],
    *,
    size: tuple[int, int],
    drill: str | None,
    save_images: bool = False,
    **app_options: Any,
) -> Iterator[Any]:
    """The kiosk as `hinge-kiosk run` builds it (pipeline threads, engine, flow, screens), on the frames
    `source_factory` opens, drawn on a `size` window of SDL's dummy display (unless SDL_VIDEODRIVER names
    another), without sound, its history (with each rep's still when `save_images`) written into a
    temporary folder for the run."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    from kiosk.app import App, Inputs, SizedEstimator
    from kiosk.config import load_config
    from kiosk.display import open_display
    from kiosk.pose import PoseEstimator
    from kiosk.store import StoreWriter

    inputs = Inputs(source_factory, SizedEstimator(PoseEstimator(backend)), tap, description=str(video))
    overrides: dict[str, Any] = {
        "display.fullscreen": False,
        "audio.enabled": False,
        "store.save_images": save_images,
    }
    if drill:
        overrides["session.drill"] = drill
    cfg = load_config(overrides=overrides).config
    display = open_display(size, fullscreen=False, vsync=False)
    with tempfile.TemporaryDirectory(prefix="hinge-bench-") as tmp:
        writer = StoreWriter(Path(tmp) / "sessions.db", save_images=save_images)
        yield App(cfg, inputs, display, writer=writer, **app_options)
