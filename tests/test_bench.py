"""The benchmark commands run end to end and print the documented JSON (figures are not asserted:
speed is measured by running them, never by timed tests)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kiosk.cli import main


def _clip(shared_data: Path) -> Path:
    clip = shared_data / "clips" / "kettlebell-oblique" / "swing-russian.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} not found")
    return clip


def _run_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(args) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_bench_pipeline_prints_its_schema(
    model_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _run_json(
        ["bench", "pipeline", str(_clip(shared_data)), "--frames", "30", "--rounds", "2", "--json"], capsys
    )
    assert set(doc) == {"frames", "invoke_fps", "pipeline_fps", "ratio", "stage_ms"}
    assert doc["frames"] == 30
    assert set(doc["stage_ms"]) == {"decode", "preprocess", "infer", "score"}
    assert doc["invoke_fps"] > 0 and doc["pipeline_fps"] > 0
    assert doc["ratio"] == pytest.approx(doc["pipeline_fps"] / doc["invoke_fps"], abs=0.002)


def test_bench_pipeline_reports_the_round_with_the_median_ratio(monkeypatch: pytest.MonkeyPatch) -> None:
    from kiosk.bench import pipeline as bench

    ratios = iter([0.95, 0.7, 0.88])

    def one_round(*args: object) -> dict:
        return {"ratio": next(ratios), "context": {}}

    monkeypatch.setattr("kiosk.backends.open_backend", lambda *a: type("B", (), {"input_size": 192})())
    monkeypatch.setattr("kiosk.models.find_model", lambda: Path("m.tflite"))
    monkeypatch.setattr("kiosk.bench.common.VideoFileSource", _Probe)
    monkeypatch.setattr(bench, "reference_inputs", lambda video, backend: [])
    monkeypatch.setattr(bench, "_round", one_round)
    doc = bench.measure(Path("v.mp4"), runtime="auto", threads=0, frames=0, drill=None, rounds=3)
    assert doc["ratio"] == 0.88 and doc["context"]["rounds"] == [0.95, 0.7, 0.88]


def _bench_kiosk(shared_data: Path, capsys, monkeypatch: pytest.MonkeyPatch, *extra: str) -> dict:
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    args = ["bench", "kiosk", str(_clip(shared_data)), "--size", "640x360", "--json", *extra]
    return _run_json(args, capsys)


def test_bench_kiosk_prints_its_schema(
    model_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = _bench_kiosk(shared_data, capsys, monkeypatch, "--frames", "30")
    assert set(doc) == {
        "frames", "fps", "invoke_fps", "ratio", "latency_ms_p50", "latency_ms_p95", "render_ms_p50",
        "dropped", "rss_mb",
    }  # fmt: skip
    assert doc["frames"] == 30 and doc["dropped"] == 0  # a file read as fast as possible drops nothing
    assert doc["latency_ms_p50"] <= doc["latency_ms_p95"]
    assert doc["render_ms_p50"] > 0 and doc["rss_mb"] > 0


def test_bench_kiosk_realtime_measures_latency_from_when_frames_arrive(
    model_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file's frame times are media seconds, not the monotonic clock: latency must be measured
    # from when each frame was handed over (it once came out as the machine's uptime).
    doc = _bench_kiosk(shared_data, capsys, monkeypatch, "--frames", "20", "--realtime")
    assert doc["frames"] >= 2
    assert 0 < doc["latency_ms_p50"] <= doc["latency_ms_p95"] < 10_000


def test_bench_soak_prints_its_schema(
    model_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    args = ["bench", "soak", str(_clip(shared_data)), "--size", "640x360", "--minutes", "0.1", "--every", "1"]
    doc = _run_json([*args, "--json"], capsys)
    assert set(doc) == {
        "minutes", "frames", "samples", "rss_mb_first", "rss_mb_last", "rss_mb_max", "growth_mb_per_hour",
        "threads_max", "fds_max",
    }  # fmt: skip
    assert doc["frames"] > 0 and doc["samples"] >= 3
    assert 0 < doc["rss_mb_first"] <= doc["rss_mb_max"] and doc["rss_mb_last"] <= doc["rss_mb_max"]
    assert doc["threads_max"] >= 3 and doc["fds_max"] >= 3  # the pipeline's threads; stdio at least


def test_soak_growth_is_the_slope_of_the_later_readings() -> None:
    from kiosk.bench.soak import growth_per_hour

    # A warm-up jump in the first half, then 0.5 MB a minute: 30 MB an hour.
    rows = [(60.0 * i, (150.0 if i < 3 else 100.0) + 0.5 * i, 8, 20) for i in range(10)]
    assert growth_per_hour(rows) == pytest.approx(30.0)
    assert growth_per_hour(rows[:5]) is not None
    assert growth_per_hour(rows[:4]) is None  # under three readings in the second half


@pytest.mark.parametrize("bench", ["pipeline", "kiosk"])
def test_a_truncated_video_is_measured_over_the_frames_it_has(
    bench: str, model_path: Path, shared_data: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pipeline reopens a failed source (right for a camera): over a truncated file, a benchmark
    # once replayed the good part forever. The file now ends where it can no longer be read.
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(_clip(shared_data).read_bytes()[:400_000])
    extra = ["--size", "640x360"] if bench == "kiosk" else []
    assert main(["bench", bench, str(truncated), "--frames", "300", "--json", *extra]) == 0
    assert json.loads(capsys.readouterr().out)["frames"] == 250  # of 553: what the first 400 kB hold


def test_bench_soak_refuses_an_unreadable_video_at_once(tmp_path: Path, capsys) -> None:
    # The looping camera reopens a failed video: soak once logged camera errors for all of --minutes
    # (an hour by default) and then reported success.
    video = tmp_path / "text.mp4"
    video.write_text("not a video")
    assert main(["bench", "soak", str(video), "--minutes", "0.05", "--every", "1"]) == 2
    err = capsys.readouterr().err
    assert "not a readable video" in err and len(err.strip().splitlines()) == 1


class _Probe:
    """A `VideoFileSource` standing in for the probe: `read` raises `error`, or returns at once."""

    error: BaseException | None = None
    frame_count, fps = 10, 30.0

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def read(self, timeout: float) -> object:
        if self.error is not None:
            raise self.error
        return SimpleNamespace(size=(64, 64))

    def __enter__(self) -> _Probe:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _soak_without_a_model(monkeypatch: pytest.MonkeyPatch, **measure: Any) -> dict:
    """`bench soak`'s measure with the model, the video and the kiosk stood in for; the kiosk's
    `run` returns at once, as it does when Ctrl-C (SIGINT, handled by the kiosk) stops it."""
    from kiosk.bench import soak

    if not (soak.PROC / "status").is_file():
        pytest.skip("bench soak reads /proc (Linux only)")

    class App:
        pipeline = SimpleNamespace(stats=lambda: SimpleNamespace(processed=0))

        def run(self) -> int:
            return 0

    @contextmanager
    def kiosk_app(*args: object, **kwargs: object) -> Iterator[App]:
        yield App()

    monkeypatch.setattr("kiosk.backends.open_backend", lambda *a: SimpleNamespace(input_size=192))
    monkeypatch.setattr("kiosk.models.find_model", lambda: Path("m.tflite"))
    monkeypatch.setattr("kiosk.bench.common.VideoFileSource", _Probe)
    monkeypatch.setattr(soak, "kiosk_app", kiosk_app)
    options = {"minutes": 1.0, "every_s": 30.0, "size": (640, 360), "runtime": "auto", "threads": 0}
    return soak.measure(Path("v.mp4"), drill=None, **{**options, **measure})


def test_bench_soak_stopped_before_its_first_reading_says_it_was_interrupted(monkeypatch) -> None:
    from kiosk.errors import InputError

    with pytest.raises(InputError, match="interrupted after 0 s, before the first reading") as caught:
        _soak_without_a_model(monkeypatch)
    assert "--every" not in str(caught.value)  # not "take them more often": nothing was wrong with them


def test_bench_soak_on_a_video_without_frames_is_an_input_error(monkeypatch) -> None:
    from kiosk.errors import InputError
    from kiosk.sources import EndOfStream

    monkeypatch.setattr(_Probe, "error", EndOfStream("v.mp4"))
    with pytest.raises(InputError, match="no decodable frames"):
        _soak_without_a_model(monkeypatch)
