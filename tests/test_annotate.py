"""`analyze VIDEO --annotate OUT.mp4`: the clip comes back with the overlay, frame for frame."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from kiosk.annotate import HOLD_S, MAX_HEIGHT, annotate_video
from kiosk.body import CHAINS, Side
from kiosk.cli import main
from kiosk.demo import FigurePainter
from kiosk.display import theme as th
from kiosk.performer import Performer, RepSpec, Scenario
from kiosk.track import PoseTrack


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def encode(path: Path, frames: list[np.ndarray], fps: int) -> None:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=fps)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def near(a: np.ndarray, b: tuple[int, int, int], tol: int = 40) -> bool:
    return bool(np.all(np.abs(a.astype(int) - np.array(b)) <= tol))


@pytest.mark.parametrize("frame_size", [(320, 240), (960, 1440)])
def test_annotating_a_synthetic_clip_draws_the_overlay_on_every_frame(
    tmp_path: Path, frame_size: tuple[int, int]
) -> None:
    """No model needed: the performer films itself, and its own keypoints are the track. A video
    taller than MAX_HEIGHT comes back at that height, the overlay still on the body."""
    sc = Scenario(
        reps=(RepSpec(fault="rounded_back", bottom_s=0.8), RepSpec()),
        stand_s=1.5,
        frame_size=frame_size,
        noise_px=0.5,
        dropout=0.0,
        seed=2,
    )
    perf = Performer(sc)
    painter = FigurePainter(sc.frame_size, perf.body_px, perf.floor_y, sc.facing)
    n = round(perf.duration_s * 30)
    ts = np.arange(n) / 30.0
    video = tmp_path / "clip.mp4"
    encode(video, [painter.paint(perf.clean_pose_at(t)) for t in ts], 30)
    kps = np.stack([perf.pose_at(t) for t in ts]).astype(np.float32)
    track = PoseTrack(kps, ts, sc.frame_size, str(video))

    out = annotate_video(video, track, tmp_path / "out.mp4", "hinge")
    frames = decode(out)
    assert len(frames) == n + round(HOLD_S * 30)
    h, w = frames[0].shape[:2]
    scale = min(1.0, MAX_HEIGHT / frame_size[1])
    picture_w = round(frame_size[0] * scale)
    assert h == round(frame_size[1] * scale) <= MAX_HEIGHT
    assert h % 2 == 0 and w % 2 == 0 and w > picture_w  # the picture plus a side panel
    # Unmirrored: the dowel sits on the lifter's own ear, shoulder and hip, orange at the
    # bottom of the rounded rep, on frames the source does not have it.
    bottom = round(perf.truth[0].bottom_s * 30)
    chain = CHAINS[Side.RIGHT]  # facing +x: the camera sees the right side
    for part in (chain.ear, chain.shoulder, chain.hip):
        x, y = (round(v * scale) for v in perf.clean_pose_at(ts[bottom])[part, :2])
        assert near(frames[bottom][y, x], th.BAD, 60), part
    # The side panel holds the kiosk's panels (title, counter, strip, gauge, cue) on black.
    side = frames[5][:, picture_w + 4 :].astype(int)
    panel = np.all(np.abs(side - np.array(th.PANEL)) <= 6, axis=-1).mean()
    assert panel > 0.25, panel


def test_analyze_annotate_on_a_real_clip(shared_data: Path, tmp_path: Path) -> None:
    from kiosk.errors import ModelError
    from kiosk.models import find_model

    try:
        find_model()
    except ModelError as exc:
        pytest.skip(f"pose model not installed: {exc}")
    clip = shared_data / "clips" / "barbell-deadlift-side" / "good.mp4"
    out = tmp_path / "good-annotated.mp4"
    assert main(["analyze", str(clip), "--annotate", str(out), "--json"]) == 0
    with av.open(str(clip)) as c:
        source_frames = sum(1 for _ in c.decode(video=0))
    frames = decode(out)
    assert len(frames) == source_frames + round(HOLD_S * 30)
    original = decode(clip)
    # The overlay changed the picture somewhere on most frames (the skeleton is drawn on the lifter).
    changed = sum(
        1
        for a, b in zip(frames, original, strict=False)
        if np.abs(a[:, : b.shape[1]].astype(int) - b).max() > 80
    )
    assert changed > 0.8 * source_frames


def test_annotate_refuses_a_pose_track(tmp_path: Path) -> None:
    from kiosk.errors import InputError

    track = PoseTrack(np.zeros((2, 17, 3), np.float32), np.array([0.0, 0.1]), (64, 48), "t.npz")
    with pytest.raises(InputError, match="needs a video"):
        annotate_video(tmp_path / "t.npz", track, tmp_path / "o.mp4", "hinge")


def test_annotating_a_video_over_itself_is_refused_and_the_recording_kept(tmp_path: Path, capsys) -> None:
    video = tmp_path / "set.mp4"
    encode(video, [np.full((64, 64, 3), 90, np.uint8)] * 10, 10)
    before = video.read_bytes()
    link = tmp_path / "same.mp4"
    link.symlink_to(video)
    for out in (video, link):
        assert main(["analyze", str(video), "--annotate", str(out)]) == 2
        assert "the input itself" in capsys.readouterr().err
    assert video.read_bytes() == before


def test_a_clip_whose_frame_rate_varies_keeps_its_timing(tmp_path: Path) -> None:
    """Phone video slows its frame rate in dim light: 30 fps, then 10. Laid end to end at one rate,
    the slow part replayed three times too fast, and a tempo on the review was wrong."""
    from fractions import Fraction

    times = [i / 30 for i in range(45)] + [1.5 + i / 10 for i in range(1, 31)]
    video = tmp_path / "vfr.mp4"
    with av.open(str(video), "w") as c:
        s = c.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=30)
        s.height, s.width, s.pix_fmt = 240, 320, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        for t in times:
            f = av.VideoFrame.from_ndarray(np.full((240, 320, 3), 60, np.uint8), format="rgb24")
            f.pts, f.time_base = round(1000 * t), Fraction(1, 1000)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    kps = np.zeros((len(times), 17, 3), np.float32)
    track = PoseTrack(kps, np.array(times), (320, 240), str(video))
    out = annotate_video(video, track, tmp_path / "out.mp4", "hinge")
    with av.open(str(out)) as c:
        shown = [float(f.time) for f in c.decode(video=0)]
    assert len(shown) == len(times) + round(HOLD_S * round(track.fps))  # the hold: its median rate
    assert np.allclose(shown[: len(times)], times, atol=0.002)
    assert shown[-1] == pytest.approx(times[-1] + HOLD_S, abs=0.002)


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_an_annotation_stopped_halfway_leaves_no_fragment(
    sig: str, shared_data: Path, model_path: Path, tmp_path: Path
) -> None:
    """Ctrl-C, or `timeout`/`kill` (SIGTERM, which SDL would otherwise take as a quit event nobody
    reads, finishing the run): the command stops, and the half-written video under its temporary
    name goes with it."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out.mp4"
    clip = shared_data / "clips" / "kettlebell-oblique" / "swing-american.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "analyze", str(clip), "--annotate", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # not ignored, as in a shell's job
    )
    deadline = time.monotonic() + 120
    while (
        not list(tmp_path.glob(".out.partial-*.mp4")) and proc.poll() is None and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    assert proc.poll() is None, "the annotation finished before it could be stopped"
    proc.send_signal(getattr(signal, sig))
    code = proc.wait(timeout=30)
    assert code == {"SIGINT": 130, "SIGTERM": 143}[sig]
    assert list(tmp_path.iterdir()) == []  # no fragment, and no out.mp4
