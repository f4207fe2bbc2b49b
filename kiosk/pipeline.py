"""The real-time pipeline the kiosk and `bench pipeline` run: capture -> pose -> score, never behind.

    source (own decode thread) -> capture thread ---------> [frame slot] -> inference thread -> [result slot]
                                  preprocess (crop+resize)                  invoke, score          -> display

Both slots hold one item and the newest wins: a slow stage makes the pipeline skip frames (counted as
dropped), never fall behind on a queue of stale ones. A file read as fast as possible (a non-`live`
source) is the exception: there nothing is stale, so nothing is dropped. The capture thread takes the
next frame only once the slot is empty (inference has just started on the one before), so a frame
waits at most one inference period for its turn, as from a camera, instead of two; decoding still
runs ahead on the source's thread.

Each frame's model input is made on the capture thread, for the crop the tracker wants at that moment,
while the inference thread is still busy with the previous frame (`invoke` releases the GIL). The
tracker holds its crop while the person stays inside it, so that input is nearly always the right one;
when the crop did move, the inference thread makes the input again.

Per-frame budget of each loop:
- capture: one `source.read` (bounded by `read_timeout`; decoding runs on the source's own thread),
  the crop-and-resize (on the 2-vCPU dev machine, alone: 0.35 ms by swscale from decoded video's
  planes, 0.3 ms from the Pi camera's lores planes, 0.5 ms by the numpy resampler from a lores copy;
  about twice that beside inference; not yet measured on a Pi) and an O(1) slot swap: well inside
  a camera's 33 ms frame interval at 30 fps.
- inference: invoke (4-15 ms x86 LiteRT; 50-100 ms Pi 4) + score (< 1 ms), plus the crop-and-resize
  only when the crop moved. Whatever exceeds the frame interval is absorbed by dropping frames.
- consumer (display): `latest()` is a non-blocking O(1) read of the result slot.

Resting: `set_rate(fps)` has the capture thread pass over a live source's frames beyond `fps` a
second (by their capture times), before the crop and the model: the source has still decoded or
converted them. The kiosk rests so while nobody has been in view for a while: a few looks a second
still see someone walk up, and the model, the bulk of the work, no longer runs flat out all night on
a Pi's four cores. Frames passed over are counted apart from drops, which mean the pipeline fell
behind.

Failures never kill a thread: they become `PipelineEvent`s. A source that delivers nothing for
`stall_s` seconds, or fails, is closed and reopened through the factory (after `retry_s` when opening
fails). One thing a thread cannot recover from is a driver call that never returns: the device stays
held by the stuck call, so every reopen fails. `hung()` says when that has happened (a source raised
`SourceHung`, or the capture thread stopped coming round its loop) and the app restarts the process.
The clock that decides stalls is injectable, so tests drive it without sleeping.
"""

from __future__ import annotations

import math
import queue
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kiosk.errors import KioskError
from kiosk.pose import PoseEstimator, Prepared
from kiosk.preprocess import CropBox, InputMaker
from kiosk.sources import EndOfStream, Frame, FrameSource, FrameTimeout, SourceHung

STALL_S = 3.0  # a live source that gives no frame for this long is reopened (at 30 fps: 90 missed)

ScoreFn = Callable[[np.ndarray, float], Any]
STAGES = ("decode", "preprocess", "infer", "score")
# Beyond its stall time and retry pause, one round of the capture loop may spend this long in calls
# with their own bounded waits: closing a source (2 s for a decode thread), opening a camera (a few
# seconds for libcamera). Silent for longer, the capture thread is stuck in a call that does not return.
HUNG_ALLOWANCE_S = 20.0


@dataclass(slots=True)
class Result:
    """One processed frame, as the display gets it."""

    seq: int  # increases by one per result
    frame: Frame  # the frame the pose was estimated on (draw on this image, not a newer one)
    pose: np.ndarray  # (17, 3) x, y, score in frame pixels
    # What the score callable returned. HingeEngine.step returns the same FrameResult object every
    # call, updated in place: read it before the next result, or make the callable return a snapshot.
    score: Any
    crop: CropBox | None  # where the model looked
    done_at: float = math.nan  # when it was ready, on the pipeline's clock (the display paces by it)


@dataclass(frozen=True, slots=True)
class PipelineEvent:
    """Something the app may show: an error, a stall and restart, or the end of a file."""

    # "error" (the source failed), "stall", "restart", "hung", "end" (a file played out),
    # "failed" (pose or scoring raised on a frame: the camera is fine, the frame is lost), or
    # "unprepared" (the capture thread could not make the model input: the inference thread tries).
    kind: str
    message: str
    error: BaseException | None = None
    t: float = 0.0  # pipeline clock


@dataclass(frozen=True)
class PipelineStats:
    """Counters since `start` and medians over the recent window of results."""

    captured: int  # frames delivered by the source(s)
    processed: int  # frames that got a result
    dropped: int  # frames replaced in the slot before inference took them (plus those the source skipped)
    passed_over: int  # live frames passed over on purpose by `set_rate`
    restarts: int  # source reopenings after a stall or failure
    errors: int
    fps: float  # results per second over the recent window
    stage_ms: dict[str, float] = field(default_factory=dict)  # medians over the recent window


class LatestSlot:
    """A one-item mailbox. `put` replaces an unread item (a drop); `put_wait` waits for room instead."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Any = None
        self._full = False
        self.dropped = 0

    def put(self, item: Any) -> Any:
        """Put `item`; return the unread item it replaced (counted as dropped), else None."""
        with self._cond:
            replaced = self._item if self._full else None
            if self._full:
                self.dropped += 1
            self._item, self._full = item, True
            self._cond.notify_all()
            return replaced

    def put_wait(self, item: Any, timeout: float) -> bool:
        """Put once the slot is empty; False (nothing put) if it stayed full for `timeout` seconds."""
        with self._cond:
            if not self._cond.wait_for(lambda: not self._full, timeout):
                return False
            self._item, self._full = item, True
            self._cond.notify_all()
            return True

    def wait_empty(self, timeout: float) -> bool:
        """Wait until the slot is empty; False if it stayed full for `timeout` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._full, timeout)

    def take(self, timeout: float) -> Any:
        """The item, emptying the slot; None if nothing came within `timeout` seconds."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._full, timeout):
                return None
            item, self._item, self._full = self._item, None, False
            self._cond.notify_all()
            return item


def _skipped(source: FrameSource | None) -> int:
    """Frames a source skipped (a paced file running late) or dropped (a camera's own queue)."""
    return int(getattr(source, "skipped", 0)) + int(getattr(source, "dropped", 0)) if source else 0


@dataclass(slots=True)
class _Captured:
    generation: int  # which opening of the source it came from
    frame: Frame
    prepared: Prepared | None  # its model input, made on the capture thread for the crop then wanted


class Pipeline:
    """Runs `source_factory()`'s frames through `estimator` and `score` on two threads.

    `score(pose, t)` is the judging stage (the engine's `HingeEngine.step`); None skips it.
    """

    def __init__(
        self,
        source_factory: Callable[[], FrameSource],
        estimator: PoseEstimator,
        score: ScoreFn | None = None,
        *,
        stall_s: float = STALL_S,
        retry_s: float = 2.0,
        read_timeout: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        window: int = 300,
    ) -> None:
        self._factory = source_factory
        self._estimator = estimator
        self._score = score
        self._stall_s, self._retry_s, self._read_timeout = stall_s, retry_s, read_timeout
        self._clock = clock
        self._frames = LatestSlot()
        self._results_cond = threading.Condition()
        self._latest: Result | None = None
        self._stop = threading.Event()
        self._source_done = threading.Event()
        self._done = threading.Event()
        self._events: deque[PipelineEvent] = deque(maxlen=100)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._captured = self._processed = self._restarts = self._errors = self._passed_over = 0
        self._rest_gap_s = 0.0  # `set_rate`: least time between frames looked at (0: every frame)
        self._looked_t = -math.inf  # capture time of the last live frame looked at
        self._source_skipped = 0  # frames the sources closed so far skipped or dropped themselves
        self._source: FrameSource | None = None  # the open one, whose own counts are still running
        self._generation = 0
        self._beat = clock()  # when the capture loop last came round
        self._hung: str | None = None
        # (time, then seconds per stage in STAGES' order) of the last `window` results
        self._recent: deque[tuple[float, float, float, float, float]] = deque(maxlen=window)
        # Model inputs in flight: one being written, one in the slot, one being inferred.
        size = estimator.input_size
        self._free_inputs: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()
        for _ in range(3):
            self._free_inputs.put(np.zeros((size, size, 3), np.uint8))

    # ------------------------------------------------------------------------------------ control

    def start(self) -> Pipeline:
        if self._threads:
            raise RuntimeError("pipeline already started")
        self._threads = [
            threading.Thread(target=self._capture_loop, name="pipeline-capture", daemon=True),
            threading.Thread(target=self._inference_loop, name="pipeline-inference", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 3.0) -> None:
        """Stop both threads and close the source; safe to call twice."""
        self._stop.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)

    def __enter__(self) -> Pipeline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def finished(self) -> bool:
        """True once a finite source has ended and its last frame has a result (or after `stop`)."""
        return self._done.is_set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until `finished` (a file played to its end); False if `timeout` passed first."""
        return self._done.wait(timeout)

    # ----------------------------------------------------------------------------------- consumer

    def latest(self, after_seq: int = -1) -> Result | None:
        """The newest result if it is newer than `after_seq`, else None; never blocks."""
        result = self._latest
        return result if result is not None and result.seq > after_seq else None

    def wait(self, after_seq: int = -1, timeout: float = 1.0) -> Result | None:
        """Like `latest`, but waits up to `timeout` seconds for a newer result (analysis, benchmarks)."""
        with self._results_cond:
            self._results_cond.wait_for(
                lambda: (self._latest is not None and self._latest.seq > after_seq) or self._done.is_set(),
                timeout,
            )
        return self.latest(after_seq)

    def set_rate(self, fps: float | None) -> None:
        """Look at no more than `fps` frames a second of a live source; None: every frame it can.

        Takes effect from the next frame; files read as fast as possible are never rested."""
        self._rest_gap_s = 1.0 / fps if fps else 0.0

    def hung(self) -> str | None:
        """Why the capture thread can no longer recover, or None: a source reported a device held by
        a stuck call of ours, or the thread has not come round its loop for longer than any of its
        steps can take. Only a new process frees such a device."""
        if self._hung is not None:
            return self._hung
        if not self._threads or self._source_done.is_set():
            return None
        silent = self._clock() - self._beat
        if silent > self._stall_s + self._retry_s + HUNG_ALLOWANCE_S:
            return f"the camera thread has been stuck for {silent:.0f} s inside the camera driver"
        return None

    def events(self) -> list[PipelineEvent]:
        """Events since the last call, oldest first."""
        with self._lock:
            out = list(self._events)
            self._events.clear()
        return out

    def stats(self) -> PipelineStats:
        with self._lock:
            recent = list(self._recent)
            captured, processed, passed_over = self._captured, self._processed, self._passed_over
            restarts, errors, skipped = self._restarts, self._errors, self._source_skipped
            skipped += _skipped(self._source)
        stage_ms: dict[str, float] = {}
        fps = 0.0
        if recent:
            for column, name in enumerate(STAGES, start=1):
                stage_ms[name] = 1000.0 * statistics.median(r[column] for r in recent)
            span = recent[-1][0] - recent[0][0]
            fps = (len(recent) - 1) / span if span > 0 else 0.0
        return PipelineStats(
            captured=captured,
            processed=processed,
            dropped=self._frames.dropped + skipped,
            passed_over=passed_over,
            restarts=restarts,
            errors=errors,
            fps=fps,
            stage_ms=stage_ms,
        )

    # ------------------------------------------------------------------------------------ threads

    def _event(self, kind: str, message: str, error: BaseException | None = None) -> None:
        if isinstance(error, SourceHung):  # wherever it came from: opening, reading or closing
            kind = "hung"
            self._hung = message
        with self._lock:
            self._events.append(PipelineEvent(kind, message, error, self._clock()))
            if kind in ("error", "failed"):
                self._errors += 1

    def _open_source(self) -> FrameSource | None:
        """Open a source through the factory; None (after an event and a pause) when that fails."""
        try:
            return self._factory()
        except KioskError as exc:
            self._event("error", str(exc), exc)
        except Exception as exc:
            self._event("error", f"opening the source failed: {type(exc).__name__}: {exc}", exc)
        self._stop.wait(self._retry_s)
        return None

    def _close_source(self, source: FrameSource) -> None:
        with self._lock:
            self._source_skipped += _skipped(source)
            self._source = None
        try:
            source.close()
        except Exception as exc:
            self._event("error", f"closing {source.name} failed: {exc}", exc)

    def _prepare(self, frame: Frame, maker: InputMaker) -> Prepared | None:
        """Make the frame's model input now, on the capture thread, for the crop the tracker wants.

        Overlaps preprocessing with the inference of the previous frame (invoke releases the GIL); the
        crop usually still holds when this frame's turn comes (the tracker keeps steady crops), else the
        inference thread redoes it. None when every input buffer is in use.
        """
        try:
            buffer = self._free_inputs.get_nowait()
        except queue.Empty:
            return None
        try:
            box = self._estimator.next_crop(frame.size)
            return self._estimator.prepare(frame, box, maker, buffer)
        except Exception:
            self._free_inputs.put(buffer)
            raise

    def _release(self, item: _Captured | None) -> None:
        if item is not None and item.prepared is not None:
            self._free_inputs.put(item.prepared.input)

    def _capture_loop(self) -> None:
        maker = InputMaker(self._estimator.input_size)
        source: FrameSource | None = None
        last_frame = self._clock()
        try:
            while not self._stop.is_set():
                self._beat = self._clock()
                if source is None:
                    source = self._source = self._open_source()
                    if source is None:
                        continue
                    last_frame = self._clock()
                    with self._lock:
                        self._generation += 1
                if not source.live and not self._frames.wait_empty(self._read_timeout):
                    last_frame = self._clock()  # waiting on inference, not on the source: no stall
                    continue  # a file: read the next frame only when inference is about to want it
                try:
                    frame = source.read(self._read_timeout)
                except FrameTimeout:
                    if self._clock() - last_frame >= self._stall_s:
                        message = f"{source.name}: no frame for {self._stall_s:g} s; restarting it"
                        self._event("stall", message)
                        self._restart(source)
                        source = None
                    continue
                except EndOfStream:
                    self._event("end", f"{source.name}: end of input")
                    break
                except KioskError as exc:
                    self._event("error", str(exc), exc)
                    self._restart(source)
                    source = None
                    self._stop.wait(self._retry_s)
                    continue
                except Exception as exc:
                    self._event("error", f"{source.name}: {type(exc).__name__}: {exc}", exc)
                    self._restart(source)
                    source = None
                    self._stop.wait(self._retry_s)
                    continue
                last_frame = self._clock()
                with self._lock:
                    self._captured += 1
                if source.live and self._rate_passes_over(frame.t):
                    with self._lock:
                        self._passed_over += 1
                    continue
                try:
                    prepared = self._prepare(frame, maker)
                except Exception as exc:  # the inference thread makes the input itself
                    self._event("unprepared", f"preparing a frame failed: {type(exc).__name__}: {exc}", exc)
                    prepared = None
                item = _Captured(self._generation, frame, prepared)
                if source.live:
                    self._release(self._frames.put(item))
                else:
                    while not self._stop.is_set() and not self._frames.put_wait(item, 0.1):
                        pass
        finally:
            if source is not None:
                self._close_source(source)
            self._source_done.set()

    def _rate_passes_over(self, t: float) -> bool:
        """Whether `set_rate` passes over a frame captured at `t`. A clock that went back (a camera
        reopened) starts afresh."""
        gap = self._rest_gap_s
        if gap > 0.0 and self._looked_t <= t < self._looked_t + gap:
            return True
        self._looked_t = t
        return False

    def _restart(self, source: FrameSource) -> None:
        self._close_source(source)
        with self._lock:
            self._restarts += 1
        self._event("restart", f"reopening the source after {source.name} failed")

    def _inference_loop(self) -> None:
        generation, seq = 0, 0
        try:
            while not self._stop.is_set():
                item: _Captured | None = self._frames.take(0.05)
                if item is None:
                    if self._source_done.is_set():
                        break
                    continue
                if item.generation != generation:  # a new source: nothing to track from before
                    self._estimator.reset()
                    generation = item.generation
                try:
                    result = self._process(item, seq)
                except Exception as exc:
                    self._event("failed", f"pose or scoring failed: {type(exc).__name__}: {exc}", exc)
                    continue
                finally:
                    self._release(item)
                seq += 1
                with self._results_cond:
                    self._latest = result
                    self._results_cond.notify_all()
        finally:
            self._done.set()
            with self._results_cond:
                self._results_cond.notify_all()

    def _process(self, item: _Captured, seq: int) -> Result:
        """Pose and score one frame. Per frame this keeps a `Result`, the (17, 3) pose in it and one
        tuple of stage times: the result crosses to the display thread, which may hold it for any
        time, so its pose is its own (a reused buffer would be rewritten under the drawing)."""
        frame = item.frame
        pose = self._estimator.estimate(frame, item.prepared)
        timings = self._estimator.timings
        start = time.perf_counter()
        scored = self._score(pose, frame.t) if self._score is not None else None
        score_s = time.perf_counter() - start
        now = self._clock()
        with self._lock:
            self._processed += 1
            self._recent.append((now, frame.decode_s, timings.preprocess_s, timings.infer_s, score_s))
        return Result(seq, frame, pose, scored, self._estimator.crop, now)
