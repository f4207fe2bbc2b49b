"""The real-time pipeline: latest frame wins, drops are counted, stalls restart the source, errors
become events. Fake sources and a fake model; time is injected; no assertion depends on speed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from kiosk.backends import PoseBackend
from kiosk.errors import SourceError
from kiosk.pipeline import STAGES, LatestSlot, Pipeline, PipelineEvent, Result
from kiosk.pose import PoseEstimator
from kiosk.sources import EndOfStream, Frame, FrameSource, FrameTimeout, SourceHung

WAIT = 10.0  # generous upper bound for conditions that normally hold within milliseconds


def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for `condition` (polling); fail naming `what` if it never holds."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.002)


class FakeBackend(PoseBackend):
    """A 32 px 'model' that finds nobody; `gate` can hold an inference until the test releases it."""

    runtime = "fake"

    def __init__(self) -> None:
        self.input_size = 32
        self.calls = 0
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    def infer(self, rgb: np.ndarray) -> np.ndarray:
        assert rgb.shape == (32, 32, 3) and rgb.dtype == np.uint8
        self.calls += 1
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(WAIT)
        return np.zeros((17, 3), np.float32)


def frame(i: int) -> Frame:
    return Frame(np.full((48, 64, 3), i % 256, np.uint8), t=i / 30, index=i)


class ScriptedSource(FrameSource):
    """Plays a script of frames, 'timeout's and exceptions, then `after` ('end' or 'timeout')."""

    def __init__(self, script: list[Any], *, live: bool, after: str = "end", name: str = "fake") -> None:
        self.script = list(script)
        self.live = live
        self.after = after
        self.name = name
        self.timeouts = 0
        self.closed = False

    def read(self, timeout: float = 1.0) -> Frame:
        if self.closed:
            raise SourceError("closed")
        if not self.script:
            if self.after == "end":
                raise EndOfStream(self.name)
            self.timeouts += 1
            time.sleep(0.001)
            raise FrameTimeout("no frame")
        step = self.script.pop(0)
        if step == "timeout":
            self.timeouts += 1
            raise FrameTimeout("no frame")
        if isinstance(step, BaseException):
            raise step
        return step

    def close(self) -> None:
        self.closed = True


class Factory:
    """A source factory handing out prepared sources (or raising prepared errors) in turn."""

    def __init__(self, *items: Any) -> None:
        self.items = list(items)
        self.opened: list[ScriptedSource] = []

    def __call__(self) -> FrameSource:
        item = self.items.pop(0) if len(self.items) > 1 else self.items[0]
        if isinstance(item, BaseException):
            raise item
        self.opened.append(item)
        return item


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A score stage that records which frames (by index) reached it, in order."""

    def __init__(self) -> None:
        self.indexes: list[int] = []

    def __call__(self, pose: np.ndarray, t: float) -> float:
        self.indexes.append(round(t * 30))
        return t


def collect(pipeline: Pipeline) -> list[Result]:
    """The results a consumer polling `wait` sees until the pipeline finishes (the result slot keeps
    only the newest, so a slow consumer may skip some: that is the display's contract)."""
    seen, seq = [], -1
    deadline = time.monotonic() + WAIT
    while not pipeline.finished or pipeline.latest(seq) is not None:
        result = pipeline.wait(seq, 0.5)
        if result is not None:
            seen.append(result)
            seq = result.seq
        assert time.monotonic() < deadline, "pipeline did not finish"
    return seen


def kinds(events: list[PipelineEvent]) -> list[str]:
    return [e.kind for e in events]


def test_a_file_is_processed_whole_in_order() -> None:
    recorder = Recorder()
    source = ScriptedSource([frame(i) for i in range(20)], live=False)
    pipeline = Pipeline(Factory(source), PoseEstimator(FakeBackend()), recorder)
    with pipeline:
        results = collect(pipeline)
    assert recorder.indexes == list(range(20))  # a non-live source loses nothing
    last = results[-1]
    assert last.seq == 19 and last.frame.index == 19 and last.score == pytest.approx(19 / 30)
    assert [r.seq for r in results] == sorted({r.seq for r in results})
    stats = pipeline.stats()
    assert (stats.captured, stats.processed, stats.dropped, stats.errors) == (20, 20, 0, 0)
    assert set(stats.stage_ms) == set(STAGES) and results[-1].pose.shape == (17, 3)
    assert kinds(pipeline.events()) == ["end"]
    assert source.closed and pipeline.join(0)


def test_each_result_says_when_it_was_ready_on_the_pipelines_clock() -> None:
    """The display paces its draws by when results land (`ResultPace`), on the clock it was given."""
    clock = Clock()

    def score(pose: np.ndarray, t: float) -> float:
        clock.now += 0.25  # the injected clock moves while the frame is scored
        return t

    source = ScriptedSource([frame(i) for i in range(3)], live=False)
    with Pipeline(Factory(source), PoseEstimator(FakeBackend()), score, clock=clock) as pipeline:
        results = collect(pipeline)
    assert results[-1].seq == 2
    assert [r.done_at for r in results] == [1000.0 + 0.25 * (r.seq + 1) for r in results]


def test_latest_frame_wins_and_drops_are_counted() -> None:
    backend = FakeBackend()
    backend.gate = threading.Event()
    recorder = Recorder()
    source = ScriptedSource([frame(i) for i in range(10)], live=True)
    pipeline = Pipeline(Factory(source), PoseEstimator(backend), recorder)
    pipeline.start()
    try:
        until(backend.entered.is_set, "the first inference")  # busy on the first frame it got
        until(pipeline._source_done.is_set, "all ten frames handed over")
        backend.gate.set()
        results = collect(pipeline)
    finally:
        pipeline.stop()
    # Whichever frame the model got first, the next one is the newest: none of those in between.
    assert recorder.indexes[-1] == 9 and len(recorder.indexes) <= 2 and results[-1].frame.index == 9
    stats = pipeline.stats()
    assert stats.processed == len(recorder.indexes) and stats.dropped == 10 - stats.processed >= 8


def test_a_rate_passes_over_live_frames_by_their_capture_times() -> None:
    # 90 frames at 30 fps, looked at 5 times a second: frames 0, 6, 12, ... The camera then
    # restarts its clock (frames 0-29 again), which starts the spacing afresh.
    script = [frame(i) for i in range(90)] + [frame(i) for i in range(30)]
    source = ScriptedSource(script, live=True)
    backend = FakeBackend()
    pipeline = Pipeline(Factory(source), PoseEstimator(backend))
    pipeline.set_rate(5)
    with pipeline:
        until(pipeline._source_done.is_set, "every frame handed over")
        collect(pipeline)
    stats = pipeline.stats()
    assert stats.captured == 120 and stats.passed_over == 120 - (15 + 5)
    assert stats.processed + pipeline._frames.dropped == 20  # the rest reached the slot
    assert backend.calls == stats.processed


def test_a_rate_never_holds_back_a_file_or_a_pipeline_asked_for_every_frame() -> None:
    recorder = Recorder()
    pipeline = Pipeline(
        Factory(ScriptedSource([frame(i) for i in range(20)], live=False)),
        PoseEstimator(FakeBackend()),
        recorder,
    )
    pipeline.set_rate(5)  # a file read as fast as possible: nothing is stale, nothing is skipped
    with pipeline:
        collect(pipeline)
    assert recorder.indexes == list(range(20)) and pipeline.stats().passed_over == 0
    live = Pipeline(
        Factory(ScriptedSource([frame(i) for i in range(20)], live=True)), PoseEstimator(FakeBackend())
    )
    live.set_rate(5)
    live.set_rate(None)
    with live:
        until(live._source_done.is_set, "every frame handed over")
        collect(live)
    assert live.stats().passed_over == 0


def test_a_stalled_source_is_restarted_only_once_the_injected_clock_says_so() -> None:
    clock = Clock()
    stalled = ScriptedSource([frame(0), frame(1)], live=True, after="timeout", name="cam-1")
    fresh = ScriptedSource([frame(i) for i in range(100, 105)], live=True, after="timeout", name="cam-2")
    factory = Factory(stalled, fresh)
    recorder = Recorder()
    estimator = PoseEstimator(FakeBackend())
    resets = []
    original_reset = estimator.reset
    estimator.reset = lambda: (resets.append(1), original_reset())  # type: ignore[method-assign]
    pipeline = Pipeline(
        factory, estimator, recorder, stall_s=3.0, retry_s=0.01, read_timeout=0.01, clock=clock
    )
    pipeline.start()
    try:
        until(lambda: stalled.timeouts >= 50, "the source to time out repeatedly")
        assert len(factory.opened) == 1 and pipeline.stats().restarts == 0  # no time has passed
        resets_before = len(resets)  # the first source's own
        clock.now += 3.5
        until(lambda: len(factory.opened) == 2, "the source to be reopened")
        until(lambda: recorder.indexes[-1:] == [104], "the new source's last frame")
        assert stalled.closed
        assert pipeline.stats().restarts == 1
        events = pipeline.events()
        assert kinds(events)[:2] == ["stall", "restart"] and "cam-1" in events[0].message
        assert len(resets) > resets_before  # the new source starts with a fresh crop search
    finally:
        pipeline.stop()


def test_a_camera_that_fails_to_open_or_vanishes_is_retried() -> None:
    gone = SourceError("/dev/video0: camera stopped delivering frames")
    flaky = ScriptedSource([frame(0), frame(1), gone], live=True, after="timeout")
    back = ScriptedSource([frame(i) for i in range(100, 103)], live=True, after="timeout")
    factory = Factory(SourceError("no camera found"), flaky, back)
    recorder = Recorder()
    pipeline = Pipeline(factory, PoseEstimator(FakeBackend()), recorder, retry_s=0.01, read_timeout=0.01)
    pipeline.start()
    try:
        until(lambda: len(factory.opened) == 2, "the camera to come back")
        until(lambda: recorder.indexes[-1:] == [102], "frames after the reconnect")
    finally:
        pipeline.stop()
    events = pipeline.events()
    errors = [e for e in events if e.kind == "error"]
    assert isinstance(errors[0].error, SourceError) and "no camera found" in errors[0].message
    assert errors[1].error is gone and "restart" in kinds(events)
    assert flaky.closed and pipeline.stats().errors == 2


def test_unexpected_source_exceptions_are_events_not_thread_deaths() -> None:
    broken = ScriptedSource([frame(0), RuntimeError("driver bug")], live=True, after="timeout")
    fine = ScriptedSource([frame(1), frame(2)], live=True, after="timeout")
    factory = Factory(broken, fine)
    recorder = Recorder()
    pipeline = Pipeline(factory, PoseEstimator(FakeBackend()), recorder, retry_s=0.01, read_timeout=0.01)
    pipeline.start()
    try:
        until(lambda: len(factory.opened) == 2, "the source to be reopened")
        until(lambda: recorder.indexes[-1:] == [2], "frames after the failure")
    finally:
        pipeline.stop()
    error = next(e for e in pipeline.events() if e.kind == "error")
    assert isinstance(error.error, RuntimeError) and "driver bug" in error.message


def test_a_failing_score_is_an_event_and_the_next_frames_still_come() -> None:
    def score(pose: np.ndarray, t: float) -> float:
        if t == pytest.approx(2 / 30):
            raise ValueError("engine bug")
        return t

    recorder = Recorder()
    source = ScriptedSource([frame(i) for i in range(5)], live=False)
    pipeline = Pipeline(Factory(source), PoseEstimator(FakeBackend()), lambda p, t: recorder(p, score(p, t)))
    with pipeline:
        collect(pipeline)
    assert recorder.indexes == [0, 1, 3, 4]
    assert pipeline.stats().processed == 4
    (error,) = [e for e in pipeline.events() if e.kind == "failed"]  # the source itself is fine
    assert "engine bug" in error.message and pipeline.stats().errors == 1


def test_inputs_are_prepared_on_the_capture_thread_and_buffers_come_back() -> None:
    estimator = PoseEstimator(FakeBackend())
    inline = []
    original_run = estimator._run
    estimator._run = lambda *a: (inline.append(1), original_run(*a))[1]  # type: ignore[method-assign]
    source = ScriptedSource([frame(i) for i in range(30)], live=False)
    pipeline = Pipeline(Factory(source), estimator)
    with pipeline:
        collect(pipeline)
    assert pipeline.stats().processed == 30
    assert len(inline) <= 2  # the crop held, so the prepared inputs were used as they were
    assert pipeline._free_inputs.qsize() == 3


def test_a_failing_preparation_leaves_the_input_to_the_inference_thread() -> None:
    estimator = PoseEstimator(FakeBackend())
    original = estimator.prepare
    calls = []

    def prepare(*args: Any) -> Any:
        calls.append(threading.current_thread().name)
        if len(calls) == 2:  # the second frame's, on the capture thread
            raise MemoryError("no room for a full-resolution copy")
        return original(*args)

    estimator.prepare = prepare  # type: ignore[method-assign]
    recorder = Recorder()
    source = ScriptedSource([frame(i) for i in range(5)], live=False)
    pipeline = Pipeline(Factory(source), estimator, recorder)
    with pipeline:
        collect(pipeline)
    assert recorder.indexes == [0, 1, 2, 3, 4]  # the frame still got its result
    (error,) = [e for e in pipeline.events() if e.kind == "unprepared"]
    assert "preparing a frame failed" in error.message and "MemoryError" in error.message
    assert pipeline._free_inputs.qsize() == 3  # the buffer it held came back


class HungOnClose(ScriptedSource):
    def close(self) -> None:
        self.closed = True
        raise SourceHung("/dev/video0: its decode thread is stuck in the driver; restart the kiosk")


def test_a_source_that_reports_itself_hung_makes_the_pipeline_hung() -> None:
    stuck = HungOnClose([frame(0), SourceError("camera stopped delivering frames")], live=True)
    spare = ScriptedSource([], live=True, after="timeout")
    pipeline = Pipeline(Factory(stuck, spare), PoseEstimator(FakeBackend()), retry_s=0.01, read_timeout=0.01)
    assert pipeline.hung() is None
    pipeline.start()
    try:
        until(lambda: pipeline.hung() is not None, "the hung source to be reported")
    finally:
        pipeline.stop()
    assert "decode thread is stuck" in (pipeline.hung() or "")
    assert "hung" in kinds(pipeline.events())


class BlockingRead(ScriptedSource):
    """A camera whose read never returns (a driver call stuck past every timeout)."""

    def __init__(self) -> None:
        super().__init__([], live=True)
        self.release = threading.Event()
        self.entered = threading.Event()

    def read(self, timeout: float = 1.0) -> Frame:
        self.entered.set()
        self.release.wait(WAIT)
        raise FrameTimeout("released")


def test_a_capture_thread_stuck_in_a_call_is_hung_once_the_clock_says_so() -> None:
    clock = Clock()
    source = BlockingRead()
    pipeline = Pipeline(
        Factory(source),
        PoseEstimator(FakeBackend()),
        stall_s=3.0,
        retry_s=2.0,
        read_timeout=0.01,
        clock=clock,
    )
    pipeline.start()
    try:
        until(source.entered.is_set, "the read to block")
        clock.now += 20.0  # longer than any stall and retry: still within what a driver may take
        assert pipeline.hung() is None
        clock.now += 10.0
        assert "stuck for 30 s" in (pipeline.hung() or "")
    finally:
        source.release.set()
        pipeline.stop()
    assert pipeline.hung() is None  # the thread came back and ended: nothing is stuck


def test_latest_and_stop() -> None:
    source = ScriptedSource([], live=True, after="timeout")
    pipeline = Pipeline(Factory(source), PoseEstimator(FakeBackend()), read_timeout=0.01)
    assert pipeline.latest() is None
    pipeline.start()
    until(lambda: source.timeouts > 5, "reads to start")
    assert pipeline.wait(-1, 0.01) is None
    assert not pipeline.join(0.01)
    pipeline.stop()
    pipeline.stop()
    assert all(not t.is_alive() for t in pipeline._threads)
    assert source.closed
    with pytest.raises(RuntimeError):
        pipeline.start()


def test_latest_slot() -> None:
    slot = LatestSlot()
    assert slot.take(0.0) is None
    assert slot.put(1) is None
    assert slot.put(2) == 1 and slot.dropped == 1
    assert not slot.put_wait(3, 0.0)  # full: a lossless producer waits instead of dropping
    assert slot.take(0.0) == 2
    assert slot.put_wait(3, 0.0) and slot.take(0.0) == 3


def test_frames_a_camera_drops_itself_are_counted_while_it_is_open() -> None:
    source = ScriptedSource([frame(0)], live=True, after="timeout")
    pipeline = Pipeline(Factory(source), PoseEstimator(FakeBackend()), read_timeout=0.01)
    with pipeline:
        until(lambda: pipeline.stats().processed == 1, "the first frame")
        source.dropped = 7  # the camera's own queue overflowed, as a slow consumer makes it
        assert pipeline.stats().dropped == 7  # not only once the camera is closed
    assert pipeline.stats().dropped == 7  # and not twice after
