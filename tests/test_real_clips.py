"""Video in, verdicts out: real clips through MoveNet (crop tracking) and the engine.

The side-view barbell pulls are single concentric pulls (no full rep), so they test the form
measures frame by frame; the 30-45 degree oblique clips test that reps are still counted from a
view the mirror would ask to change ("turn sideways")."""

from __future__ import annotations

import statistics
from pathlib import Path

import av
import numpy as np
import pytest

from kiosk.analyze import judge_track
from kiosk.backends import open_backend
from kiosk.body import BodyPart
from kiosk.engine import HingeEngine
from kiosk.pose import PoseEstimator, track_from_media
from kiosk.reps import ROUNDED_ALIGNMENT
from kiosk.sources import Frame, VideoFileSource
from kiosk.track import PoseTrack
from tests.helpers import run_engine

_TRACKS: dict[Path, PoseTrack] = {}


@pytest.fixture(scope="module")
def clip_track(shared_data, model_path):
    def track(relative: str) -> PoseTrack:
        path = shared_data / "clips" / relative
        if path not in _TRACKS:
            _TRACKS[path] = track_from_media(path, progress=False)
        return _TRACKS[path]

    return track


def bent_alignment(track: PoseTrack) -> tuple[float, int]:
    """Median alignment over side-on frames with the trunk leaning forward (the working pull)."""
    engine = HingeEngine("kettlebell-deadlift", frame_size=track.frame_size)
    values = []
    for kp, t in zip(track.keypoints, track.t, strict=True):
        m = engine.step(kp, float(t)).metrics
        if m.side_on and m.trunk_angle > 20.0 and m.alignment == m.alignment:
            values.append(m.alignment)
    return statistics.median(values), len(values)


def test_rounded_back_pull_reads_rounded(clip_track):
    value, n = bent_alignment(clip_track("barbell-deadlift-side/rounded-back.mp4"))
    assert n >= 10
    assert value > ROUNDED_ALIGNMENT + 0.03  # +0.16 measured: double the limit


@pytest.mark.parametrize("clip", ["good.mp4", "second-lifter.mp4", "rdl-hips-high.mp4"])
def test_flat_back_pulls_read_flat(clip_track, clip):
    value, n = bent_alignment(clip_track(f"barbell-deadlift-side/{clip}"))
    assert n >= 10
    assert value < ROUNDED_ALIGNMENT - 0.03


@pytest.mark.parametrize("clip", ["second-lifter.mp4", "second-lifter-occluded.mp4"])
def test_a_clean_pull_from_the_floor_is_judged_clean(clip_track, clip):
    """A full rep from the side (down to the bar and up) with the knees bent to reach the floor and
    the eyes a little ahead: knees 79-82, shins 8-13 degrees, ratio 0.62-0.64, head -20 to -25. The
    kettlebell deadlift's limits must leave such a lift clean; earlier limits 1-3 degrees away
    flagged it as squatting or head out of line depending on the encode."""
    drill, found = judge_track(clip_track(f"barbell-deadlift-side/{clip}"))
    assert drill == "kettlebell-deadlift"
    assert [(r.judged, r.faults) for r in found.reps] == [(True, ())]


def ten_rep_set(pull: PoseTrack) -> PoseTrack:
    """A side-view set of ten reps made of one real concentric pull (bottom to top): each rep is the
    pull played backwards (the way down), a short stay at the bottom, the pull, and a stand at the
    top, at tempos from 0.8 to 1.25 times the pull's, at the pull's own frame rate. The keypoints and
    their noise are the model's."""
    n = len(pull.t)
    fps = (n - 1) / float(pull.t[-1] - pull.t[0])

    def bounce(first: int, last: int, frames: int) -> list[int]:
        cycle = [*range(first, last), *range(last, first, -1)]
        return [cycle[i % len(cycle)] for i in range(frames)]

    order = bounce(n - 8, n - 1, 60)
    for speed in (1.0, 0.8, 1.25, 0.9, 1.1, 1.2, 0.85, 1.0, 1.15, 0.95):
        m = round(n / speed)
        pull_frames = [round(i * (n - 1) / (m - 1)) for i in range(m)]
        order += [*pull_frames[::-1], *bounce(0, 4, 9), *pull_frames, *bounce(n - 8, n - 1, 30)]
    order += bounce(n - 8, n - 1, 60)
    return PoseTrack(pull.keypoints[order], np.arange(len(order)) / fps, pull.frame_size, pull.source)


@pytest.mark.parametrize("clip", ["rounded-back.mp4", "rdl-hips-high.mp4"])
def test_ten_rep_sets_made_of_real_pulls(clip_track, clip):
    """Counted exactly and judged as the issue's acceptance asks: the rounded set rounded in at least
    7 of 10, the stiff-legged flat-back set (a clean hinge) flagged in at most 2."""
    _, found = judge_track(ten_rep_set(clip_track(f"barbell-deadlift-side/{clip}")), "kettlebell-deadlift")
    assert len(found.reps) == 10
    assert all(r.judged for r in found.reps)
    if clip == "rounded-back.mp4":
        assert sum("rounded_back" in r.faults for r in found.reps) >= 7
    else:
        assert sum(1 for r in found.reps if r.faults) <= 2


@pytest.mark.parametrize(
    "clip, reps",
    [
        ("kettlebell-deadlift.mp4", 5),
        ("good-morning-goblet.mp4", 6),  # the data README lists 6 reps
        ("goblet-squat.mp4", 5),
        ("swing-russian.mp4", 10),  # "about 10 swings"
        ("hip-extension.mp4", 0),  # lying face down on the floor: never a rep
    ],
)
def test_oblique_clips_are_counted(clip_track, clip, reps):
    found, _ = run_engine(clip_track(f"kettlebell-oblique/{clip}"))
    assert abs(len(found) - reps) <= (1 if reps else 0)
    assert all(not r.judged for r in found)  # not side-on: no form verdicts from this view


def _tracked_at_a_third_of_the_rate(path: Path, model_path: Path) -> PoseTrack:
    """The clip as the kiosk sees it when the model keeps up with only every third frame (10 fps from
    a 30 fps camera, about a Raspberry Pi 4's rate): crop tracking follows three times the motion
    between looks, and each rep has a third of the rows."""
    estimator = PoseEstimator(open_backend(model_path))
    poses, times = [], []
    with VideoFileSource(path, realtime=False) as source:
        for frame in source:
            if frame.index % 3 == 0:
                poses.append(estimator.estimate(frame))
                times.append(frame.t)
                size = frame.size
    return PoseTrack(np.stack(poses), np.asarray(times), size, str(path))


@pytest.mark.parametrize(
    "clip", ["kettlebell-deadlift.mp4", "swing-russian.mp4", "good-morning-goblet.mp4", "goblet-squat.mp4"]
)
def test_the_oblique_clips_count_the_same_at_a_pis_model_rate(clip_track, shared_data, model_path, clip):
    path = shared_data / "clips" / "kettlebell-oblique" / clip
    chosen, found = judge_track(clip_track(f"kettlebell-oblique/{clip}"))
    slow_chosen, slow = judge_track(_tracked_at_a_third_of_the_rate(path, model_path))
    assert len(slow.reps) == len(found.reps) > 0
    assert slow_chosen == chosen
    for rep, slow_rep in zip(found.reps, slow.reps, strict=True):
        # Measured up to 0.17 s later: a row is 0.1 s apart, and smoothing lags more at a low rate.
        assert abs(slow_rep.end_s - rep.end_s) <= 0.3


def test_a_quicker_swinger_is_counted_in_full(clip_track):
    # The same ten swings played at 1.4 times their pace: the quickest rep then takes 0.38 s from
    # leaving the top to lockout (0.53 s as filmed), still slower than any glitch counted as one.
    track = clip_track("kettlebell-oblique/swing-russian.mp4")
    quicker = PoseTrack(track.keypoints, track.t / 1.4, track.frame_size, track.source)
    assert len(run_engine(quicker)[0]) == len(run_engine(track)[0]) == 10


@pytest.mark.parametrize(
    "clip, drill",
    [
        ("kettlebell-deadlift.mp4", "kettlebell-deadlift"),  # hands 0.41-0.48 knee heights up
        ("swing-russian.mp4", "hinge"),  # hands between the thighs, about 1.2
        ("good-morning-goblet.mp4", "hinge"),  # bell held at the chest
        ("goblet-squat.mp4", "hinge"),
    ],
)
def test_a_bell_lifted_from_the_floor_is_recognised(clip_track, clip, drill):
    chosen, found = judge_track(clip_track(f"kettlebell-oblique/{clip}"))
    assert chosen == drill
    assert found.reps  # judged as the recognised drill, reps still counted


_TORSO_AND_HEAD = [
    BodyPart.LEFT_EAR,
    BodyPart.RIGHT_EAR,
    BodyPart.LEFT_SHOULDER,
    BodyPart.RIGHT_SHOULDER,
    BodyPart.LEFT_HIP,
    BodyPart.RIGHT_HIP,
]


@pytest.mark.parametrize("clip", ["good.mp4", "rounded-back.mp4", "heel-lift.mp4"])
def test_a_lifter_far_from_a_1080p_camera_is_seen_right_from_the_first_frame(shared_data, model_path, clip):
    """The side-view pull shrunk to a third of a 1080p picture's height (a garage camera a few metres
    off). On the whole frame the body is some 60 px tall in the model's input and its first pose was
    off by 40-217 px (600 px frame); that pose seeds the facing, side-on test and standing height."""
    with av.open(str(shared_data / "clips" / "barbell-deadlift-side" / clip)) as container:
        first = next(container.decode(video=0))
    near = first.to_ndarray(format="rgb24")
    scale = 360 / near.shape[0]
    small = first.reformat(width=round(near.shape[1] * scale), height=360).to_ndarray(format="rgb24")
    picture = np.full((1080, 1920, 3), 90, np.uint8)
    x0, y0 = 1400, 600
    picture[y0 : y0 + 360, x0 : x0 + small.shape[1]] = small

    backend = open_backend(model_path)
    reference = PoseEstimator(backend).estimate_image(near)
    far = PoseEstimator(backend).estimate(Frame(picture, 0.0, 0))
    back = (far[_TORSO_AND_HEAD, :2] - (x0, y0)) / scale
    error = np.hypot(*(back - reference[_TORSO_AND_HEAD, :2]).T)
    assert error.max() < 0.06 * near.shape[0]  # 24 px measured at most, of 600
