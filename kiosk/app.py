"""`hinge-kiosk run`: the kiosk a person walks up to.

    capture thread --[latest frame]--> inference thread --[latest result]--> display thread (here)
                                       pose, engine, snapshot                 flow, screens, audio,
                                              \\--[every snapshot, in order]--/  history, sd_notify

The pipeline (`kiosk.pipeline`) owns capture and inference: latest-frame-wins slots, dropped
frames counted, a stalled or failed source reopened. The engine scores on the inference thread and
each frame's verdict is copied into a `FrameSnapshot`, which goes two ways: with its picture in the
pipeline's result slot (the display draws the newest pose on the image it was estimated on), and
onto a queue the display drains completely, so the flow sees every rep and every cue even when the
display shows only the newest frame. Capture time travels with each frame; latency is measured from
it to the return of `present()`.

Without a camera or a pose model the kiosk runs the built-in demo, labelled on screen with the
reason; without any display it runs headless (SDL's dummy driver) and says so. Configuration
problems and history errors are shown on screen while the kiosk keeps running on defaults.
SIGTERM and SIGINT end the loop cleanly: sd_notify STOPPING, the open set and session closed in the
history, the writer drained.

Per loop (one displayed frame) the display thread: waits on the result slot (at most 1/30 s),
drains the snapshot queue into the flow (O(1) each), draws (~3-6 ms on the software renderer at
1080p, textures cached), presents, and polls the store's futures. The one frame-sized allocation is
the picture of a video file or USB camera, converted to BGRA by swscale when it is first drawn (at
most `display.max_fps` a second, at the size it is shown when that is smaller; freed when the next
replaces it); the display copies nothing else.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kiosk.argtypes import window_size
from kiosk.config import Config, arg_type, load_config
from kiosk.drills import DRILLS
from kiosk.engine import HingeEngine
from kiosk.errors import InputError, KioskError, file_in_the_way
from kiosk.flow import Flow, FlowSettings, FrameSnapshot, Screen
from kiosk.metrics import Setup
from kiosk.reps import Phase, RepResult
from kiosk.sdnotify import FlowWatchdog, Notifier
from kiosk.sources import (
    CameraAppeared,
    CameraWatch,
    Frame,
    FrameSource,
    NeedsRestart,
    libcamera_available,
)

if TYPE_CHECKING:
    from kiosk.pipeline import Result
    from kiosk.pose import Prepared

log = logging.getLogger("kiosk")

FRAME_S = 1.0 / 30.0  # the display redraws at least this often (animations, timers)
FRESH_WAIT_S = 1.0 / 60.0  # a due draw holds at least this long for a result expected soon (`ResultPace`)
PACE_SLACK_S = 0.002  # held beyond when the next result is expected (or a quarter of the interval, if more)
PACE_GAP_MAX_S = 1.0  # a longer gap between results is a pause (a source reopened), not their pace
PACE_WEIGHT = 0.25  # of each new gap in the running estimate of the interval between results
TICK_AFTER_S = 0.25  # no frame for this long: the flow's clock advances without one
# Asleep (display.sleep_after_s), the black screen is redrawn this often: window events are still
# read, and someone stepping into view wakes it within this long of the model seeing them.
SLEEP_DRAW_S = 0.25
LOST_AFTER_S = 1.0  # no frame for this long after a source error: show the camera screen
RETRY_S = 2.0  # the pipeline's pause before reopening a failed source
STAMPS = 64  # capture times remembered (frames in flight are far fewer)
SNAPSHOT_BACKLOG = 2048  # snapshots waiting for the display; 30 s of frames at 60 fps
SAMPLES = 4096  # latency and render-time samples kept for percentiles
PROBE_S = 15.0  # in the demo for want of a camera, look for one this often
# An error on a pass of the display loop (a bug, a display driver hiccup) is logged and the next pass
# tried, a pause apart; failing on every pass for this long, the kiosk exits for the service to
# restart it (`EXIT_PIPELINE_FAILED`) rather than show a frozen screen.
LOOP_FAILING_EXIT_S = 10.0
LOOP_RETRY_S = 0.05
PRUNE_EVERY_S = 24 * 3600.0  # history older than store.keep_days goes this often, not only at start
HEADLESS_DRIVERS = ("dummy", "offscreen")  # SDL video drivers that show nothing
# Exit status when only a fresh process can get the camera (EX_TEMPFAIL): it is held by a driver call
# that never returns, or it came up after libcamera listed this process's cameras. The service
# restarts the kiosk.
EXIT_CAMERA_RESTART = 75
# Exit status when the pipeline cannot go on in this process: pose or scoring has failed on every
# frame for `camera.stall_timeout_s`, or a live source ended. The service restarts the kiosk
# (EX_SOFTWARE); without this, the screen would freeze on its last frame.
EXIT_PIPELINE_FAILED = 70
FAILURE_LOG_S = 10.0  # a failure repeated on every frame is logged this often, with a count


# --------------------------------------------------------------------------------------- inputs


class CaptureTap:
    """Wraps every source the pipeline opens: turns frames by `camera.rotation`, remembers each
    frame's capture time on the monotonic clock (cameras stamp frames with it; files and anything
    else are stamped when the frame is handed over), and keeps a reopened file's media time running
    on from where the last opening stopped (plus the time it was away: the flow's clock ran on
    meanwhile), so the engine and the flow never see time go back."""

    def __init__(self, rotation: int = 0, clock: Callable[[], float] = time.monotonic) -> None:
        self.rotation = rotation
        self.clock = clock
        self._stamps: list[tuple[int, int, float]] = [(0, -1, math.nan)] * STAMPS
        self.last_t = -math.inf  # the newest media time handed out by a source without a clock
        self.last_arrival = -math.inf  # ... and when (monotonic)

    def wrap(self, source: FrameSource) -> FrameSource:
        return _TappedSource(source, self)

    def record(self, frame: Frame, t: float) -> None:
        self._stamps[frame.index % STAMPS] = (id(frame), frame.index, t)

    def capture_time(self, frame: Frame) -> float:
        """When `frame` was captured (monotonic seconds); NaN if it is no longer remembered."""
        ident, index, t = self._stamps[frame.index % STAMPS]
        return t if ident == id(frame) and index == frame.index else math.nan


class _TappedSource(FrameSource):
    """One source as the pipeline sees it through a `CaptureTap`."""

    def __init__(self, inner: FrameSource, tap: CaptureTap) -> None:
        self.inner = inner
        self.tap = tap
        self.name, self.live, self.clocked = inner.name, inner.live, inner.clocked
        self._offset: float | None = None  # added to a clockless source's media time

    def read(self, timeout: float = 1.0) -> Frame:
        frame = self.inner.read(timeout)
        arrived = self.tap.clock()
        frame = frame.rotated(self.tap.rotation // 90)
        tap = self.tap
        if not self.clocked:
            if self._offset is None:  # a reopened file starts its media time at 0 again
                away = max(FRAME_S, arrived - tap.last_arrival)
                self._offset = max(0.0, tap.last_t + away - frame.t) if tap.last_t > -math.inf else 0.0
            frame.t += self._offset
            tap.last_t, tap.last_arrival = frame.t, arrived
        tap.record(frame, frame.t if self.clocked else arrived)
        return frame

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:  # skipped / dropped counters for the pipeline's stats
        return getattr(self.inner, name)


class SizedEstimator:
    """Passes frames to a pose estimator and remembers their size, which the engine needs."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.frame_size: tuple[int, int] | None = None

    def estimate(self, frame: Frame, prepared: Prepared | None = None) -> np.ndarray:
        self.frame_size = frame.size
        return self.inner.estimate(frame, prepared)

    def __getattr__(self, name: str) -> Any:  # input_size, next_crop, prepare, timings, crop, reset
        return getattr(self.inner, name)


@dataclass
class Inputs:
    """Where frames and poses come from, and whether this is the demo (and why)."""

    source_factory: Callable[[], FrameSource]
    estimator: SizedEstimator
    tap: CaptureTap
    demo: str = ""  # "" live; else the on-screen reason
    demo_session: bool = False  # the performer's script: its shorter session settings apply
    description: str = ""  # for logs and sd_notify
    # Running the demo for want of a camera: True once a camera can be opened (tried now and then).
    camera_ready: Callable[[], bool] | None = None


def performer_inputs(reason: str, start_s: float = 0.0, portrait: bool = False) -> Inputs:
    """The synthetic performer as camera and model (filmed upright for a portrait screen)."""
    from kiosk.demo import FRAME_SIZE, DemoCamera, demo_script

    size = (FRAME_SIZE[1], FRAME_SIZE[0]) if portrait else FRAME_SIZE
    camera = DemoCamera(demo_script(frame_size=size), start_s=start_s)
    tap = CaptureTap()
    return Inputs(
        lambda: tap.wrap(camera.reopen()),
        SizedEstimator(camera.estimator),
        tap,
        reason,
        True,
        "demo performer",
    )


def open_inputs(
    cfg: Config, *, demo: bool, source: str | None, demo_start_s: float = 0.0, portrait: bool = False
) -> Inputs:
    """The camera (or video) and the model; the built-in demo when either is missing.

    `demo` alone: the performer. A video `source`: that video, looped, labelled "Recorded video"
    with or without `demo`: its endless loop is no visitor, so it never writes the real history.
    A video named on the command line that cannot be read is an `InputError`, not the demo: the
    person who typed it is there to read why.
    """
    if demo and not source:
        return performer_inputs("Animated stand-in", demo_start_s, portrait)
    from kiosk.backends import open_backend
    from kiosk.models import find_model
    from kiosk.pose import PoseEstimator
    from kiosk.sources import IMAGE_SUFFIXES, is_media_file, open_source

    spec = source or cfg.camera.source
    is_file = is_media_file(spec)
    if source and is_file and not Path(source).is_file():
        raise InputError(f"--source {source}: {'not a file' if Path(source).exists() else 'no such file'}")
    if is_file and Path(spec).suffix.lower() in IMAGE_SUFFIXES:  # one frame: nothing to coach
        why = f"{spec} is a still image; the kiosk needs a camera or a video (analyze judges a picture)"
        if source:
            raise InputError(f"--source {why}")
        log.warning("camera.source: %s: running the built-in demo", why)
        return performer_inputs("camera.source is a picture", demo_start_s, portrait)
    try:
        model = find_model(cfg.pose.model_dir or None)
    except KioskError as exc:
        log.warning("no pose model (%s): running the built-in demo", exc)
        return performer_inputs("No pose model: hinge-kiosk models fetch", demo_start_s, portrait)
    try:
        backend = open_backend(model, cfg.pose.runtime, cfg.pose.threads)
    except KioskError as exc:  # no runtime, a corrupt file, the wrong model: the log says which
        log.warning("the pose model cannot run (%s): running the built-in demo", exc)
        return performer_inputs("Pose model cannot run: see the log", demo_start_s, portrait)

    def opener() -> FrameSource:
        return open_source(
            spec,
            model_input=backend.input_size,
            size=(cfg.camera.width, cfg.camera.height),
            fps=cfg.camera.fps,
            realtime=True,
            loop=is_file,
        )

    # A Pi camera that comes up later is invisible to this process (see `CameraAppeared`): note which
    # camera devices exist before libcamera lists its cameras.
    watch = CameraWatch() if spec in ("auto", "picamera2") and libcamera_available() else None
    try:
        first: FrameSource | None = opener()
    except KioskError as exc:
        if source and is_file:
            raise InputError(f"--source {source}: {exc}") from None
        log.warning("no camera (%s): running the built-in demo", exc)
        if is_file:
            return performer_inputs("Cannot read the video", demo_start_s, portrait)
        fallback = performer_inputs("No camera found", demo_start_s, portrait)
        fallback.camera_ready = lambda: _can_open(opener, watch)
        return fallback
    tap = CaptureTap(0 if is_file else cfg.camera.rotation)

    def factory() -> FrameSource:
        nonlocal first
        opened, first = first, None
        return tap.wrap(opened if opened is not None else opener())

    label = "Recorded video" if demo or is_file else ""
    return Inputs(factory, SizedEstimator(PoseEstimator(backend)), tap, label, False, spec)


def _can_open(opener: Callable[[], FrameSource], watch: CameraWatch | None = None) -> bool:
    """True when the camera opens now (it is closed again: the kiosk restarts live to use it).
    `NeedsRestart` passes through, from the opener (a camera held by a stuck call of ours) or from
    `watch` (a camera device that came up since libcamera listed this process's cameras): only a new
    process gets those cameras."""
    try:
        opener().close()
    except NeedsRestart:
        raise
    except KioskError:
        if watch is not None:
            watch.check()
        return False
    return True


# ------------------------------------------------------------------------------------- scoring


class Scorer:
    """The pipeline's scoring stage (runs on the inference thread): engine step, then a snapshot
    for the display slot and for the flow's queue. A new drill or frame size makes a new engine."""

    def __init__(self, cfg: Config, drill: str, sizes: SizedEstimator) -> None:
        s = cfg.session
        self._kwargs: dict[str, Any] = {
            "setup": Setup(s.wall_distance_in, float(s.user_height_cm) or None, cfg.camera.roll_deg),
            "min_score": cfg.pose.min_score,
            "min_audio_gap_s": cfg.audio.min_cue_interval_s,
        }
        self._sizes = sizes
        self._drill = drill
        self._wanted = drill
        self._engine: HingeEngine | None = None
        self._engine_size: tuple[int, int] | None = None
        self.snapshots: deque[FrameSnapshot] = deque(maxlen=SNAPSHOT_BACKLOG)
        self.snapshots_lost = 0  # the oldest pushed out of a full queue (the display thread stalled)

    def use_drill(self, drill: str) -> None:
        """Switch drill from the next frame on (called from the display thread)."""
        self._wanted = drill

    def __call__(self, pose: np.ndarray, t: float) -> FrameSnapshot:
        size = self._sizes.frame_size
        if self._engine is None or self._wanted != self._drill or size != self._engine_size:
            self._drill = self._wanted
            self._engine = HingeEngine(self._drill, frame_size=size, **self._kwargs)
            self._engine_size = size
        snap = FrameSnapshot.from_result(self._engine.step(pose, t), self._drill)
        if len(self.snapshots) == self.snapshots.maxlen:
            self.snapshots_lost += 1
        self.snapshots.append(snap)
        return snap


# ------------------------------------------------------------------------------------- history


class HistoryPort:
    """The flow's port to the outside: the session history (through the background writer),
    the engine's drill, and the progress screen's data."""

    def __init__(
        self,
        writer: Any,
        scorer: Scorer,
        image: Callable[[RepResult], np.ndarray | None],
        flow_time: Callable[[], float],
    ) -> None:
        from kiosk.display import Progress

        self.writer = writer
        self.scorer = scorer
        self.image = image
        self.flow_time = flow_time  # the frames' clock now: dates an event the flow reports late
        self.progress = Progress()
        self._session: Any = None
        self._set: Any = None
        self._set_number = 0
        self._pending: tuple[Future, Future, Future] | None = None

    def _wall(self, t: float) -> float:
        """Wall-clock time of frame time `t`: now, less how long ago `t` was (a rep held back until
        the next one showed it was a rep is reported late)."""
        ago = self.flow_time() - t
        return time.time() - (ago if math.isfinite(ago) and ago > 0.0 else 0.0)

    def start_session(self, drill: str, t: float) -> None:
        self._session = self.writer.open_session(drill, self._wall(t))

    def start_set(self, number: int, drill: str, target_reps: int, t: float) -> None:
        self._set = self.writer.open_set(self._session, drill, target_reps, self._wall(t))
        self._set_number = number

    def add_rep(self, rep: RepResult, t: float) -> None:
        """Saves a counted rep, numbered as the screen shows it, and logs it (the journal's record)."""
        if not rep.judged:
            log.info("set %d rep %d: not judged (too few side-on frames)", self._set_number, rep.index)
        else:
            faults = f" ({', '.join(rep.faults)})" if rep.faults else ""
            log.info("set %d rep %d: score %d%s", self._set_number, rep.index, rep.score, faults)
        if self._set is not None:
            self.writer.add_rep(self._set, rep.as_dict(), self._wall(t), image=self.image(rep))

    def end_set(self, t: float) -> None:
        if self._set is not None:
            self.writer.close_set(self._set, self._wall(t))
            self._set = None

    def end_session(self, t: float) -> None:
        if self._session is not None:
            self.writer.close_session(self._session, self._wall(t))
            self._session = None
        self.refresh_progress()

    def use_drill(self, drill: str) -> None:
        self.scorer.use_drill(drill)

    def refresh_progress(self) -> None:
        now = time.time()
        w = self.writer
        self._pending = (w.today(now), w.recent_sets(now, 7, 8), w.daily_totals(now, 7))

    def poll(self) -> None:
        """Take the progress data once the writer has read it (never blocks)."""
        pending = self._pending
        if pending is None or not all(f.done() for f in pending):
            return
        self._pending = None
        if any(f.exception() is not None for f in pending):
            return  # the writer's error shows on screen
        self.progress.today, self.progress.recent, self.progress.days = (f.result() for f in pending)


def open_history(cfg: Config, demo: bool) -> tuple[Any, tempfile.TemporaryDirectory[str] | None]:
    """The background writer: the real history, or a throwaway one seeded for the demo."""
    from kiosk.store import StoreWriter, resolve_db_path

    if demo:
        tmp = tempfile.TemporaryDirectory(prefix="hinge-demo-")
        writer = StoreWriter(Path(tmp.name) / "sessions.db")
        _seed_demo_history(writer)
        return writer, tmp
    try:
        path = resolve_db_path(cfg.store.path)
    except KioskError as exc:  # sessions go where they would with no store.path, not nowhere
        path = resolve_db_path("")
        log.error("history: %s; keeping it in %s meanwhile", exc, path)
    writer = StoreWriter(path, save_images=cfg.store.save_images)
    writer.prune(time.time(), cfg.store.keep_days)
    return writer, None


def _seed_demo_history(writer: Any) -> None:
    from kiosk.demo import demo_history_sets

    for start, drill, reps in demo_history_sets(time.time()):
        session = writer.open_session(drill, start)
        set_ = writer.open_set(session, drill, len(reps), start)
        for rep in reps:
            writer.add_rep(set_, rep, start + rep["end_s"] - reps[0]["start_s"])
        end = start + reps[-1]["end_s"] - reps[0]["start_s"]
        writer.close_set(set_, end)
        writer.close_session(session, end)


# ------------------------------------------------------------------------------------ the loop


@dataclass
class LoopStats:
    """Measured by the display loop, for diagnostics and `bench kiosk`."""

    latency_s: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    render_s: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    shown: int = 0  # results drawn
    frames: int = 0  # snapshots fed to the flow (every processed frame)
    reps: int = 0
    first_frame_at: float = math.nan  # perf_counter when the first and the last snapshot reached
    last_frame_at: float = math.nan  # the flow, for the processing rate

    def percentile_ms(self, samples: deque[float], q: float) -> float:
        """The `q`th percentile of `samples` (seconds) in ms, unmeasured ones left out; NaN if none."""
        finite = [s for s in samples if math.isfinite(s)]
        return 1000.0 * float(np.percentile(finite, q)) if finite else math.nan


class ResultPace:
    """When the pipeline's next result should land, learnt from the results the display took.

    A draw that falls due while a result waits can show that one, already up to a result interval
    old, or hold on for the next. Holding pays when the next is close: the picture is then the
    newest there is, and the draws after it fall in step with the results (a 30 fps camera and a
    30 fps screen lock together). Holding in vain shows the old one later still, so a draw holds
    only while the next result is expected within `FRAME_S`.
    """

    def __init__(self) -> None:
        self.interval = math.nan  # seconds between results, a running average
        self._seq = -1
        self._done_at = math.nan

    def took(self, seq: int, done_at: float) -> None:
        """The display took result `seq`, ready at `done_at` (results skipped between are allowed for)."""
        if self._seq >= 0 and seq > self._seq:
            gap = (done_at - self._done_at) / (seq - self._seq)
            if 0.0 < gap <= PACE_GAP_MAX_S:
                known = math.isfinite(self.interval)
                self.interval = self.interval + PACE_WEIGHT * (gap - self.interval) if known else gap
        self._seq, self._done_at = seq, done_at

    def hold_for_next(self, waiting_done_at: float, now: float) -> float:
        """How long a due draw should wait for the result after the one waiting (ready at
        `waiting_done_at`): 0 when the next is not expected within `FRAME_S`, so the waiting one is
        shown at once; else until it is expected, with some slack, and at least `FRESH_WAIT_S`
        (results a few ms apart come too irregularly to time: a 12 ms hiccup is five intervals)."""
        if not math.isfinite(self.interval) or not math.isfinite(waiting_done_at):
            return FRESH_WAIT_S
        due_in = waiting_done_at + self.interval - now
        if due_in > FRAME_S:
            return 0.0
        return min(FRAME_S, max(FRESH_WAIT_S, due_in + max(PACE_SLACK_S, 0.25 * self.interval)))


class Screenshots:
    """Saves one PNG per distinct screen, at a moment that shows what the screen is for."""

    def __init__(self, folder: Path | None, suffix: str = "") -> None:
        self.folder = folder
        self.suffix = suffix
        self.saved: dict[str, Path] = {}
        self._since: dict[str, float] = {}
        self._current = ""
        self._requested: Path | None = None

    def name(self, scene: Any, now: float) -> str | None:
        """The screen's name if this frame is worth keeping, else None."""
        from kiosk.display import widgets

        flow: Flow = scene.flow
        screen = flow.screen
        name = "camera-lost" if scene.camera is not None else "asleep" if scene.asleep else screen.value
        if name != self._current:
            self._current = name
            self._since[name] = now
        if self.folder is None or name in self.saved:
            return None
        age = now - self._since[name]
        snap = scene.snap
        if screen is Screen.ACTIVE and name == "active":
            moving = (
                snap is not None and snap.phase in (Phase.DESCENDING, Phase.ASCENDING) and snap.depth > 0.6
            )
            good = moving and snap.cue is not None and snap.cue.kind == "form" and len(flow.set_reps) >= 1
            return name if good or age > 25.0 else None
        if screen in (Screen.REST, Screen.DONE) and name == screen.value:
            clip = flow.set_clip if screen is Screen.REST else flow.session_clip
            paused = clip.count > 0 and widgets.replay_time(clip, scene.now - flow.screen_since)[1]
            return name if (paused and age > 2.0) or age > 9.0 else None
        if screen is Screen.CHOOSE:
            return name if flow.hold > 0.55 or age > 5.0 else None
        return name if age > (0.8 if screen is Screen.PLACEMENT else 1.6) else None

    def request(self, path: Path) -> None:
        """Save the next screen drawn to `path` (the development key)."""
        self._requested = path

    def take(self, display: Any, scene: Any, now: float) -> None:
        """Save the screen if `name` picks this frame; a folder that stops taking them (a full
        disk) ends the screenshots with a log line, never the run."""
        if self._requested is not None:
            path, self._requested = self._requested, None
            try:
                log.info("screenshot: %s", display.screenshot(path))
            except OSError as exc:
                log.error("screenshot: cannot save %s (%s)", path, exc)
        name = self.name(scene, now)
        if name is not None and self.folder is not None:
            path = self.folder / f"{name}{self.suffix}.png"
            try:
                self.saved[name] = display.screenshot(path)
            except OSError as exc:
                log.error("screenshot: cannot save %s (%s); taking no more", path, exc)
                self.folder = None
                return
            log.info("screenshot: %s", self.saved[name])


class App:
    """The kiosk: pipeline, flow, display, audio, history and service notifications."""

    def __init__(
        self,
        cfg: Config,
        inputs: Inputs,
        display: Any,
        *,
        problems: tuple[str, ...] = (),
        audio: Any = None,
        writer: Any = None,
        notifier: Notifier | None = None,
        dev_keys: bool = False,
        seconds: float | None = None,
        screenshot_dir: Path | None = None,
        until_end: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from kiosk.display import Scene
        from kiosk.pipeline import Pipeline

        self.cfg = cfg
        self.inputs = inputs
        self.display = display
        self.audio = audio
        self.writer = writer
        self.notifier = notifier or Notifier(None)
        self.dev_keys = dev_keys
        self.seconds = seconds
        self.until_end = until_end
        self.clock = clock
        session = cfg.session
        self.scorer = Scorer(cfg, session.drill, inputs.estimator)
        self.port = (
            HistoryPort(writer, self.scorer, self._rep_image, lambda: self.flow.t)
            if writer is not None
            else None
        )
        settings = FlowSettings(
            drill=session.drill,
            drill_select=session.drill_select,
            set_size=session.set_size,
            set_count=session.set_count,
            rest_s=session.rest_s,
            idle_timeout_s=session.idle_timeout_s,
        )
        self.flow = Flow(settings, self.port or _NoPort(self.scorer))
        self.pipeline = Pipeline(
            inputs.source_factory,
            inputs.estimator,
            self.scorer,
            retry_s=RETRY_S,
            clock=clock,
        )
        self.scene = Scene(flow=self.flow, mirror=cfg.display.mirror, demo=inputs.demo, problems=problems)
        if cfg.display.show_level:
            self.scene.plumb_roll_deg = cfg.camera.roll_deg
        if self.port is not None:
            self.scene.progress = self.port.progress
        self.watchdog = FlowWatchdog(self.notifier, cfg.camera.stall_timeout_s)
        portrait = display is not None and display.layout.portrait
        self.screenshots = Screenshots(screenshot_dir, "-portrait" if portrait else "")
        self.stats = LoopStats()
        self.show_diagnostics = cfg.display.show_fps
        self._draw_period = 1.0 / cfg.display.max_fps
        self._next_draw = -math.inf
        self._stop = threading.Event()
        self.exit_status = 0
        self._seq = -1
        self._pace = ResultPace()
        self._ready = False
        self._last_result = -math.inf
        self._last_snap_t = math.nan
        self._last_snap_mono = -math.inf
        self._problem: tuple[str, float] | None = None
        self._failing_since = math.nan  # first pose or scoring failure since the last result
        self._failures = 0  # ... and how many since
        self._failure_logged = -math.inf
        self._unprepared_logged = -math.inf
        self._snapshots_lost = 0  # of `Scorer.snapshots_lost`, already logged
        self._status = ""
        self._diag_at = -math.inf
        self._bottom: Frame | None = None
        self._bottom_depth = -1.0
        self._held_bottom: tuple[float, Frame] | None = None  # (end_s, picture) of a rep held back
        self.camera_found = False  # the demo stood in for a camera that has now appeared
        self._leaving = False  # ... and the loop ended to start again on it
        self._stop_asked = False  # stop() was called: a signal, the close button, an exit for a restart
        self.standby = False  # nobody for camera.standby_after_s: the model looks at fewer frames
        self._probe: threading.Thread | None = None
        self._probe_restart: NeedsRestart | None = None  # the probe found a camera only a new process opens
        self._next_probe = -math.inf
        self._next_prune = clock() + PRUNE_EVERY_S  # open_history pruned at start
        self._loop_failing_since = math.nan  # the first of the display loop's failing passes in a row
        self._loop_failure_logged = -math.inf

    # -------------------------------------------------------------------------------- control

    def stop(self, *_: object) -> None:
        """Ask the loop to end (signal handlers, the window's close button, an exit for a restart);
        `--seconds` ends it on its own."""
        self._stop_asked = True
        self._stop.set()

    @property
    def leaving_for_camera(self) -> bool:
        """The demo ended to start again on a camera that appeared, and nothing asked it to stop
        (a stop asked for while it left wins: systemd would otherwise wait out its stop timeout)."""
        return self._leaving and not self._stop_asked

    def run(self) -> int:
        """Run until a signal, the window's close button, `seconds`, or (with `until_end`) the end
        of a finite source; then shut down cleanly. Returns the exit status: 0, or
        `EXIT_CAMERA_RESTART` when only a new process can get the camera back, or
        `EXIT_PIPELINE_FAILED` when only a new process can get frames through again."""
        main_thread = threading.current_thread() is threading.main_thread()
        previous = {}
        if main_thread:
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, self.stop)
        start = self.clock()
        deadline = start + self.seconds if self.seconds is not None else math.inf
        if self.port is not None:
            self.port.refresh_progress()
        self.notifier.status(f"starting: {self.inputs.description or 'camera'}")
        self.pipeline.start()
        try:
            while not self._stop.is_set():
                try:
                    self._iteration()
                except Exception:  # the mirror stays up; failing on every pass exits (see there)
                    self._loop_failed()
                else:
                    self._loop_failing_since = math.nan
                if self.clock() >= deadline:
                    break
                if self.pipeline.finished and not self.scorer.snapshots:
                    if not self.until_end:  # a live source never ends; only a new process helps
                        self._exit_for_pipeline("the frame source ended")
                    break
        finally:
            self._shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.exit_status

    def _iteration(self) -> None:
        """One pass of the display loop: the newest result, the flow fed with every frame, the
        screen drawn at most `display.max_fps` times a second, then the housekeeping."""
        result = self._next_result()
        now = self.clock()
        self._next_draw = max(self._next_draw + self._draw_period, now)
        self._feed_flow(now)
        self._pipeline_events(now)
        if result is not None:
            self._take(result, now)
        elif now - self._last_snap_mono > TICK_AFTER_S and math.isfinite(self._last_snap_t):
            self.flow.tick(self._last_snap_t + (now - self._last_snap_mono))
            self._announce(now)
        self._camera_status(now)
        self.scene.now = now
        self._keep_history(now)
        self._diagnostics(now)
        if self.display is not None:
            self._render(result, now)
        if self.audio is not None:
            self.audio.update(now)
        self._standby()
        self.watchdog.tick(now)
        self._report_status()
        self._look_for_camera(now)

    def _next_result(self) -> Result | None:
        """The result to show, waiting until a draw is due: always the newest, and the flow still
        sees every frame (the scorer queues them), only the picture skips."""
        if self.display is None:
            return self.pipeline.wait(self._seq, FRAME_S)
        wait = self._next_draw - self.clock()
        if wait > 0:
            self._stop.wait(wait)
        # When a draw is due, a result that came in during the wait has already aged by up to a
        # result interval; the next one, if it is expected soon, is shown the moment it lands
        # instead (`ResultPace`). The cadence holds: the next draw is scheduled from this one's
        # due time.
        waiting = self.pipeline.latest(self._seq)
        if waiting is None:
            return self.pipeline.wait(self._seq, FRAME_S)
        hold = self._pace.hold_for_next(waiting.done_at, self.clock())
        return (self.pipeline.wait(waiting.seq, hold) if hold > 0.0 else None) or waiting

    def _take(self, result: Result, now: float) -> None:
        """A new result: the camera is alive, the picture and pose go into the scene."""
        scene = self.scene
        self._seq = result.seq
        self._pace.took(result.seq, result.done_at)
        self._last_result = now
        self._problem = None
        self._failing_since, self._failures = math.nan, 0
        frame = result.frame
        if self.display is not None:
            # Converted only if the flow's screen (fed before this) shows it, at the size it is shown.
            shown = self.display.picture_size(frame.size, self.flow.screen)
            scene.frame = None if shown is None else frame.picture_for(shown)
            scene.frame_size = frame.size
        scene.snap = result.score
        self.watchdog.frame(now)
        if not self._ready:
            # Sent until it goes through (a full socket buffer would otherwise lose it and
            # systemd would stop the kiosk at its start timeout); without systemd, said once.
            sent = self.notifier.ready(f"running: {self.inputs.description or 'camera'}")
            self._ready = sent or not self.notifier.enabled
        if self.cfg.store.save_images:
            self._track_bottom(result.score, result.frame)

    def _keep_history(self, now: float) -> None:
        """The session store's health on screen, its pruning, and progress read back from it."""
        if self.writer is not None:
            error = self.writer.error
            self.scene.store_error = "" if error is None else str(error)
            if now >= self._next_prune:  # queued: the writer thread does it
                self._next_prune = now + PRUNE_EVERY_S
                self.writer.prune(time.time(), self.cfg.store.keep_days)
        if self.port is not None:
            self.port.poll()

    def _render(self, result: Result | None, now: float) -> None:
        """Draw and present the scene, timed; then the development keys."""
        display = self.display
        t0 = time.perf_counter()
        display.draw(self.scene)
        drawn = time.perf_counter() - t0
        # Pictures are read before `present`: after it, a GPU renderer's back buffer is undefined.
        self.screenshots.take(display, self.scene, now)
        t1 = time.perf_counter()
        display.present()
        self.stats.render_s.append(drawn + time.perf_counter() - t1)
        if result is not None:
            self.stats.shown += 1
            self.stats.latency_s.append(self.clock() - self.inputs.tap.capture_time(result.frame))
        for action in display.events(self.dev_keys):
            self._act(action, now)

    def _feed_flow(self, now: float) -> None:
        lost = self.scorer.snapshots_lost
        if lost > self._snapshots_lost:
            log.error(
                "the display thread fell %d frame(s) behind the model; their results were dropped unseen "
                "(a rep among them is lost)",
                lost - self._snapshots_lost,
            )
            self._snapshots_lost = lost
        queue = self.scorer.snapshots
        flow = self.flow
        stats = self.stats
        if queue:
            stats.last_frame_at = time.perf_counter()
            if stats.frames == 0:
                stats.first_frame_at = stats.last_frame_at
        while queue:
            snap = queue.popleft()
            flow.step(snap)
            stats.frames += 1
            self._last_snap_t = snap.t
            self._last_snap_mono = now
            if snap.rep is not None:
                stats.reps += 1
            if snap.rep is not None and flow.held_back is snap.rep and self.cfg.store.save_images:
                self._hold_bottom(snap.rep)
            speak = flow.cue_to_give(snap.speak)
            if speak is not None and self.audio is not None:
                self.audio.say(speak.id, now)
            self._announce(now)

    def _look_for_camera(self, now: float) -> None:
        """In the demo for want of a camera, try the camera every `PROBE_S` on a helper thread (an
        open can block); once it opens, end the loop so `main` starts again, live."""
        ready = self.inputs.camera_ready
        if ready is None or self.flow.in_session:  # never cut someone's set short
            return
        if self._probe is not None:
            if not self._probe.is_alive():
                self._probe = None
                if self._probe_restart is not None:
                    self._exit_for_camera(self._probe_restart)
                elif self.camera_found:
                    log.info("a camera is connected: leaving the demo")
                    self._leaving = True
                    self._stop.set()
            return
        if now >= self._next_probe:
            self._next_probe = now + PROBE_S

            def probe() -> None:
                try:
                    self.camera_found = ready()
                except NeedsRestart as exc:  # held by a stuck call of ours, or came up too late
                    self._probe_restart = exc

            self._probe = threading.Thread(target=probe, name="camera-probe", daemon=True)
            self._probe.start()

    def _announce(self, now: float) -> None:
        if self.flow.say is not None and self.audio is not None:
            self.audio.say(self.flow.say, now)

    def _pipeline_events(self, now: float) -> None:
        for event in self.pipeline.events():
            if event.kind in ("error", "stall", "restart"):
                log.warning("camera: %s", event.message)
                if event.kind != "restart" or self._problem is None:
                    self._problem = (event.message, event.t)
            elif event.kind == "failed":
                self._pose_failed(event, now)
            elif event.kind == "unprepared" and now - self._unprepared_logged >= FAILURE_LOG_S:
                self._unprepared_logged = now  # the same failure on every frame: once a while
                log.warning("%s; the inference thread prepares the frame instead", event.message)
            elif event.kind == "end":
                log.info("%s", event.message)
        hung = self.pipeline.hung()
        if hung is not None and not self._stop.is_set():
            self._exit_for_camera(hung)

    def _pose_failed(self, event: Any, now: float) -> None:
        """A frame lost to a failure of pose or scoring: logged (a failure on every frame, with a
        count, every `FAILURE_LOG_S`); failing for `camera.stall_timeout_s` with no frame getting
        through ends the run for the service to restart."""
        if self._failures == 0:
            self._failing_since = now
        self._failures += 1
        if now - self._failure_logged >= FAILURE_LOG_S:
            self._failure_logged = now
            log.error("%s (%d frame(s) lost since the last good one)", event.message, self._failures)
        failing_s = now - self._failing_since
        if failing_s >= self.cfg.camera.stall_timeout_s and not self._stop.is_set():
            self._exit_for_pipeline(f"pose or scoring has failed on every frame for {failing_s:.0f} s")

    def _loop_failed(self) -> None:
        """A pass of the display loop raised: log it (with its traceback, once in a while), pause,
        and exit for a restart once every pass has failed for `LOOP_FAILING_EXIT_S`."""
        now = self.clock()
        if self._loop_failing_since != self._loop_failing_since:
            self._loop_failing_since = now
        if now - self._loop_failure_logged >= LOOP_FAILING_EXIT_S:
            self._loop_failure_logged = now
            log.exception("the display loop failed; carrying on")
        if now - self._loop_failing_since >= LOOP_FAILING_EXIT_S:
            self._exit_for_pipeline(
                f"the display loop has failed on every pass for {LOOP_FAILING_EXIT_S:.0f} s"
            )
        self._stop.wait(LOOP_RETRY_S)

    def _exit_for_pipeline(self, why: str) -> None:
        log.error("%s; exiting so the service restarts the kiosk", why)
        self.exit_status = EXIT_PIPELINE_FAILED
        self.stop()

    def _exit_for_camera(self, why: str | NeedsRestart) -> None:
        """End the run with `EXIT_CAMERA_RESTART`: a camera held by a stuck call of ours, or one that
        came up after this process listed its cameras, is reached only by a new process. Sessions so
        far are saved on the way out."""
        level = logging.INFO if isinstance(why, CameraAppeared) else logging.ERROR  # news, not a fault
        log.log(level, "camera: %s; exiting so the service restarts the kiosk", why)
        self.exit_status = EXIT_CAMERA_RESTART
        self.stop()

    def _camera_status(self, now: float) -> None:
        from kiosk.display import CameraStatus

        problem = self._problem
        if problem is None or now - self._last_result < LOST_AFTER_S:
            self.scene.camera = None
            return
        message, at = problem
        retry = max(0.0, at + RETRY_S - now)
        status = self.scene.camera
        if status is None:
            status = self.scene.camera = CameraStatus(message, retry)
        status.message, status.retry_in_s = message, retry
        self.watchdog.waiting(f"camera lost, retrying: {message}")

    def _diagnostics(self, now: float) -> None:
        if not self.show_diagnostics:
            self.scene.diagnostics = ""
            return
        if now - self._diag_at < 0.5:
            return
        self._diag_at = now
        s = self.pipeline.stats()
        lat = self.stats.percentile_ms(self.stats.latency_s, 50)
        rend = self.stats.percentile_ms(self.stats.render_s, 50)
        self.scene.diagnostics = (
            f"{s.fps:.0f} fps  infer {s.stage_ms.get('infer', 0.0):.0f} ms  latency {lat:.0f} ms  "
            f"render {rend:.1f} ms  dropped {s.dropped}"
        )

    def _act(self, event: Any, now: float) -> None:
        """Do what a window event (`kiosk.display.Action`) asks."""
        if event.action == "quit":
            self.stop()
        elif event.action == "skip":
            self.flow.skip()
        elif event.action == "drill":
            self.flow.choose(event.arg)
        elif event.action == "diagnostics":
            self.show_diagnostics = not self.show_diagnostics
        elif event.action == "audio-lost" and self.audio is not None:
            self.audio.device_lost(now)
        elif event.action == "audio-found" and self.audio is not None:
            self.audio.device_found(now)
        elif event.action == "screenshot":  # saved with the next screen drawn
            self.screenshots.request(Path(f"hinge-{time.strftime('%Y%m%d-%H%M%S')}.png"))

    def _standby(self) -> None:
        """Go on standby once nobody has been in view for `camera.standby_after_s`, and off it as
        soon as someone is (see `Pipeline.set_rate`): a kiosk is left on all night. After
        `display.sleep_after_s` the screen goes black too, except while the camera is lost: a
        black screen would hide the one problem that stops anyone from waking it."""
        flow = self.flow
        idle = flow.idle_for if flow.screen in (Screen.ATTRACT, Screen.PROGRESS) else 0.0
        after = self.cfg.camera.standby_after_s
        standby = after > 0 and idle >= after
        if standby is not self.standby:
            self.standby = standby
            fps = self.cfg.camera.standby_fps
            self.pipeline.set_rate(fps if standby else None)
            log.info("standby: %s", f"nobody in view, looking {fps} times a second" if standby else "off")
        sleep = self.cfg.display.sleep_after_s
        asleep = sleep > 0 and idle >= sleep and self.scene.camera is None
        if asleep is not self.scene.asleep:
            self.scene.asleep = asleep
            self._draw_period = SLEEP_DRAW_S if asleep else 1.0 / self.cfg.display.max_fps
            if not asleep:
                self._next_draw = min(self._next_draw, self.clock())  # the next screen at once
            log.info("screen: %s", f"black, nobody in view for {sleep:g} s" if asleep else "awake")

    def _report_status(self) -> None:
        flow = self.flow
        screen = flow.screen
        if screen is Screen.ACTIVE:
            text = f"set {flow.set_number} of {flow.settings.set_count}: {len(flow.set_reps)} reps"
        else:
            text = screen.value
        notes = [note for note, on in (("standby", self.standby), ("screen black", self.scene.asleep)) if on]
        if notes:
            text += f" ({', '.join(notes)})"
        if self.scene.camera is not None:
            text = "camera lost, retrying"
        if text != self._status:
            self._status = text
            self.notifier.status(text)

    def _track_bottom(self, snap: FrameSnapshot, frame: Frame) -> None:
        """Keep the deepest picture of the rep under way (only with store.save_images)."""
        if snap.phase in (Phase.DESCENDING, Phase.ASCENDING):
            if snap.depth > self._bottom_depth:
                self._bottom, self._bottom_depth = frame, snap.depth
        elif snap.phase is Phase.STANDING and snap.rep is None:
            self._bottom_depth = -1.0

    def _hold_bottom(self, rep: RepResult) -> None:
        """The flow held `rep` back: set its picture aside, for if it is counted after the next rep."""
        self._held_bottom = (rep.end_s, self._bottom) if self._bottom is not None else None
        self._bottom, self._bottom_depth = None, -1.0

    def _rep_image(self, rep: RepResult) -> np.ndarray | None:
        """The deepest picture of `rep` (RGB; the history's writer thread encodes it), when the operator
        opted in."""
        if not self.cfg.store.save_images:
            return None
        held = self._held_bottom
        if held is not None and held[0] == rep.end_s:
            frame, self._held_bottom = held[1], None
        elif self._bottom is not None:
            frame, self._bottom, self._bottom_depth = self._bottom, None, -1.0
        else:
            return None
        return frame.rgb

    def _shutdown(self) -> None:
        if self.leaving_for_camera:
            # The process goes on live (`main`): STOPPING=1 would have systemd wait out its stop
            # timeout, ignoring the live kiosk's pings, then kill it.
            self.notifier.status("a camera appeared: switching from the demo to it")
        else:
            self.notifier.stopping("stopping")
        self.pipeline.stop()
        try:  # whatever fails here, the writer below still saves what it holds
            self._feed_flow(self.clock())
            self.flow.end(self._last_snap_t if math.isfinite(self._last_snap_t) else 0.0)
        except Exception:
            log.exception("closing the session failed; saving what the history has")
        if self.writer is not None and not self.writer.close(timeout=10.0):
            log.error("history: the writer did not finish within 10 s; the last writes may be lost")
        if self.audio is not None:
            self.audio.close()
        if self.display is not None:
            self.display.close()


class _NoPort:
    """A flow port without history (benchmarks): only the drill reaches the engine."""

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer

    def use_drill(self, drill: str) -> None:
        self.scorer.use_drill(drill)

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


# ---------------------------------------------------------------------------------- the command


def _logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main(args: argparse.Namespace) -> int:
    """`hinge-kiosk run`: the kiosk until stopped; from the demo to live when a camera appears."""
    while True:
        app, tmp = build(args)
        try:
            status = app.run()
        finally:
            if tmp is not None:
                tmp.cleanup()
        if not app.leaving_for_camera:
            return status


def _screenshot_folder(value: str) -> Path:
    """`--screenshot-dir`, created and tried before the run: a folder that cannot take the PNGs is
    a typo to report now, not a failure a few seconds into the run."""
    if not value.strip():
        raise InputError("--screenshot-dir is empty: give a folder (. for this one)")
    folder = Path(value)
    blocker = file_in_the_way(folder)
    if blocker is not None:
        raise InputError(f"--screenshot-dir {value}: {blocker} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise InputError(
            f"--screenshot-dir {value}: cannot save pictures there ({exc.strerror or exc})"
        ) from None
    return folder


def build(
    args: argparse.Namespace, *, demo_start_s: float = 0.0
) -> tuple[App, tempfile.TemporaryDirectory[str] | None]:
    """The kiosk for `run`'s arguments, and the demo's throwaway history folder (the caller
    removes it after `run`). `demo_start_s` starts the demo's loop later (tests skip ahead)."""
    _logging()
    overrides: dict[str, Any] = {}
    if args.drill:
        overrides["session.drill"] = args.drill
    if args.source:
        overrides["camera.source"] = args.source
    if args.windowed is not None:
        overrides["display.fullscreen"] = False
        if args.windowed:
            overrides["display.width"], overrides["display.height"] = args.windowed
    performer = args.demo and not args.source
    if performer:
        from kiosk.demo import DEMO_SESSION

        overrides.update(
            {f"session.{k}": v for k, v in DEMO_SESSION.items() if not (args.drill and k == "drill_select")}
        )
    loaded = load_config(args.config, overrides)
    cfg = loaded.config
    for problem in loaded.problems:
        log.warning("config: %s", problem)
    if args.seconds is not None and not 0 < args.seconds < math.inf:  # NaN fails too
        raise InputError(f"--seconds {args.seconds}: must be a positive number of seconds")
    screenshot_dir = _screenshot_folder(args.screenshot_dir) if args.screenshot_dir is not None else None

    display, headless = _open_display(cfg)
    try:  # the window is closed on the way out of anything that fails before the app owns it
        inputs = open_inputs(
            cfg,
            demo=args.demo,
            source=args.source,
            demo_start_s=demo_start_s,
            portrait=display.layout.portrait,
        )
        if inputs.demo_session and not performer:
            # Fell back to the performer: its script needs its own session shape.
            from dataclasses import replace

            from kiosk.demo import DEMO_SESSION

            cfg = replace(cfg, session=replace(cfg.session, **DEMO_SESSION))
        from kiosk.audio import CuePlayer

        audio = CuePlayer(enabled=cfg.audio.enabled, volume=cfg.audio.volume, device=cfg.audio.device)
        writer, tmp = open_history(cfg, demo=bool(inputs.demo))
        app = App(
            cfg,
            inputs,
            display,
            problems=tuple(loaded.problems),
            audio=audio,
            writer=writer,
            notifier=Notifier.from_env(),
            dev_keys=not cfg.display.fullscreen and not headless,
            seconds=args.seconds,
            screenshot_dir=screenshot_dir,
        )
    except BaseException:
        display.close()
        raise
    log.info(
        "running: %s, drill %s, %s display %dx%d%s",
        inputs.description,
        cfg.session.drill,
        display.driver,
        *display.size,
        f", demo ({inputs.demo})" if inputs.demo else "",
    )
    return app, tmp


def _open_display(cfg: Config) -> tuple[Any, bool]:
    """The screen; SDL's dummy driver (headless, said once on stderr) when there is none, or when
    SDL could only find a driver that shows nothing. When a real driver was asked for by name (the
    service asks for kmsdrm) and fails, `DisplayUnavailable` instead: at boot the screen may still be
    off or waking, and a kiosk that went on headless would stay dark until someone restarted it;
    exiting lets the service try again."""
    from kiosk.display import DisplayUnavailable, headless_environment, open_display

    d = cfg.display
    size = (d.width, d.height)
    asked = os.environ.get("SDL_VIDEODRIVER", "")
    try:
        # No vsync: pygame holds the GIL inside present(), so waiting there for the screen's
        # refresh would stall the inference thread. The loop paces itself on the result slot.
        display = open_display(size, fullscreen=d.fullscreen, orientation=d.orientation, vsync=False)
    except DisplayUnavailable as exc:
        if asked and asked not in HEADLESS_DRIVERS:
            raise DisplayUnavailable(
                f"SDL_VIDEODRIVER={asked}: {exc}; check that the screen is connected and switched on "
                "(the service tries again)"
            ) from None
        reason = str(exc)
    else:
        if display.driver not in HEADLESS_DRIVERS or display.driver == asked:
            return display, False
        reason = f"no display found (SDL fell back to its {display.driver} driver)"
        display.close()
    print(
        f"hinge-kiosk: {reason}. Running headless: coaching, sound and history work, nothing is shown. "
        "Add --screenshot-dir DIR to save a picture of each screen; Ctrl-C stops.",
        file=sys.stderr,
    )
    headless_environment()
    return open_display(size, fullscreen=False, orientation=d.orientation), True


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run",
        help="run the kiosk (the built-in demo when there is no camera or model)",
        description="Run the mirror: fullscreen coaching from the camera; the built-in demo when there is "
        "no camera or no pose model, headless when there is no display.",
    )
    p.add_argument(
        "--demo", action="store_true", help="drive the kiosk with the built-in synthetic performer"
    )
    p.add_argument(
        "--source",
        metavar="SPEC",
        type=arg_type("camera.source"),
        help="camera or video instead of camera.source (auto, picamera2, "
        "/dev/videoN or a video file, looped)",
    )
    p.add_argument("--drill", choices=list(DRILLS), help="drill to coach (default: session.drill)")
    p.add_argument(
        "--config",
        metavar="FILE",
        help="site configuration file (default: $HINGE_KIOSK_CONFIG, else /etc/hinge-kiosk/config.toml)",
    )
    p.add_argument(
        "--windowed",
        nargs="?",
        const=(),
        type=window_size,
        metavar="WxH",
        help="a window instead of fullscreen (development; keyboard shortcuts on)",
    )
    p.add_argument("--seconds", type=float, metavar="N", help="exit with status 0 after N seconds")
    p.add_argument("--screenshot-dir", metavar="DIR", help="save a PNG of each distinct screen shown")
    p.set_defaults(func=main)
