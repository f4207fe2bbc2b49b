"""Garbage in never raises, and never produces a fault or a cue from low-confidence points; what the
engine shows when it cannot see the body's angles."""

from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kiosk.body import BodyPart
from kiosk.drills import DRILLS
from kiosk.engine import HingeEngine
from kiosk.metrics import MAX_ROLL_DEG, Setup
from kiosk.performer import RepSpec, perform
from kiosk.track import PoseTrack

floats = st.floats(allow_nan=True, allow_infinity=True, width=32)
poses = arrays(np.float32, (17, 3), elements=floats)
wild = arrays(np.float32, (17, 3), elements=st.floats(-1e6, 1e6, width=32))
SETTINGS = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])


def drive(engine, frames, times):
    for kp, t in zip(frames, times, strict=True):
        r = engine.step(kp, t)
        assert r.pose.shape == (17, 3)
        assert np.isfinite(r.pose).all()
        yield r


@SETTINGS
@given(
    st.lists(poses, min_size=1, max_size=40),
    st.sampled_from(list(DRILLS)),
    st.sampled_from([0.0, -MAX_ROLL_DEG, 7.5]),
)
def test_random_nan_inf_poses_never_raise(frames, drill, roll):
    engine = HingeEngine(drill, setup=Setup(camera_roll_deg=roll), frame_size=(640, 480))
    times = [i / 30 for i in range(len(frames))]
    for _ in drive(engine, frames, times):
        pass


@SETTINGS
@given(
    st.lists(wild, min_size=1, max_size=40),
    st.lists(floats, min_size=40, max_size=40),
    st.sampled_from([0.0, MAX_ROLL_DEG]),
)
def test_teleporting_points_and_garbage_timestamps_never_raise(frames, times, roll):
    engine = HingeEngine("hinge", setup=Setup(camera_roll_deg=roll), frame_size=(640, 480))
    for _ in drive(engine, frames, times[: len(frames)]):
        pass


@SETTINGS
@given(st.lists(wild, min_size=30, max_size=90), st.floats(0.0, 0.29))
def test_low_confidence_points_never_make_a_rep_fault_or_cue(frames, score):
    engine = HingeEngine("hinge", min_score=0.3, frame_size=(640, 480))
    for kp in frames:
        kp[:, 2] = score
    for r in drive(engine, frames, [i / 30 for i in range(len(frames))]):
        assert r.rep is None and r.cue is None and r.speak is None and r.reps == 0


def test_a_rounded_set_with_its_ears_unconfident_counts_but_gives_no_faults():
    """Ears below the threshold: the reps still count (shoulders and feet are seen), but the
    alignment they would need is never guessed, so none is faulted."""
    perf = perform(reps=tuple(RepSpec(fault="rounded_back") for _ in range(4)), seed=4)
    engine = HingeEngine("hinge", min_score=0.3, frame_size=perf.track.frame_size)
    reps = []
    for kp, t in zip(perf.track.keypoints, perf.track.t, strict=True):
        kp = kp.copy()
        kp[[BodyPart.LEFT_EAR, BodyPart.RIGHT_EAR], 2] = 0.1
        r = engine.step(kp, t)
        assert r.cue is None or r.cue.kind != "form"
        if r.rep is not None:
            reps.append(r.rep)
    assert len(reps) == 4 and not any(rep.faults for rep in reps)


def test_a_set_with_its_hips_unconfident_is_not_counted_and_asks_for_the_body():
    perf = perform(reps=tuple(RepSpec(fault="rounded_back") for _ in range(4)), seed=4)
    engine = HingeEngine("hinge", min_score=0.3, frame_size=perf.track.frame_size)
    for kp, t in zip(perf.track.keypoints, perf.track.t, strict=True):
        kp = kp.copy()
        kp[[BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP], 2] = 0.1
        r = engine.step(kp, t)
        assert r.rep is None and (r.cue is None or r.cue.kind == "placement")
    assert r.cue is not None and r.cue.id == "step_back"


def test_confident_points_far_outside_the_picture_count_as_unseen():
    """Feet reported thousands of pixels outside the frame (a broken model, a bad track): they are
    never used, so nothing is counted or judged and the lifter is asked to come into view."""
    perf = perform(reps=(RepSpec(),) * 3, seed=1)
    engine = HingeEngine("hinge", frame_size=perf.track.frame_size)
    feet = [BodyPart.LEFT_ANKLE, BodyPart.RIGHT_ANKLE]
    for kp, t in zip(perf.track.keypoints, perf.track.t, strict=True):
        kp = kp.copy()
        kp[feet, :2] = (-5000.0, 9000.0)
        r = engine.step(kp, t)
        assert not r.valid[feet].any() and -0.1 <= r.depth <= 2.0  # a deep hinge reads ~1.5
        assert r.rep is None and (r.cue is None or r.cue.kind == "placement")
    assert r.cue is not None and r.cue.id == "step_back"
    # Just outside the picture (a foot past the bottom edge, inside the crop) still counts as seen.
    w, h = perf.track.frame_size
    kp = perf.track.keypoints[-1].copy()
    kp[BodyPart.LEFT_ANKLE, :2] = (w * 0.5, h * 1.2)
    assert engine.step(kp, perf.track.t[-1] + 0.04).valid[BodyPart.LEFT_ANKLE]


def _count_with_glitches(drill: str, frame_size: tuple[int, int], glitches: dict) -> int:
    """Reps counted over a clean 5-rep performance with one-frame keypoint glitches: `glitches`
    maps a frame index to {keypoint: (x, y)}, read with a confident score."""
    perf = perform(reps=tuple(RepSpec() for _ in range(5)), drill=drill, frame_size=frame_size, seed=1)
    engine = HingeEngine(drill, frame_size=frame_size)
    reps = 0
    for i, (kp, t) in enumerate(zip(perf.track.keypoints, perf.track.t, strict=True)):
        kp = kp.copy()
        for part, (x, y) in glitches.get(i, {}).items():
            kp[part] = (x, y, 0.95)
        reps += engine.step(kp, float(t)).rep is not None
    return reps + (engine.finish(float(perf.track.t[-1]) + 1 / 30).rep is not None)


def test_a_knee_misread_on_single_frames_before_the_set_costs_no_rep():
    # Each misread read a thigh 1.5 times too long; followed, the body's ruler grew until the lifter
    # standing tall no longer read as upright, and two or three reps went uncounted.
    knee = {i: {BodyPart.RIGHT_KNEE: (60.0, 100.0)} for i in (9, 18, 27)}
    for drill in ("hinge", "kettlebell-deadlift"):
        assert _count_with_glitches(drill, (640, 480), knee) == 5, drill


def test_a_shoulder_misread_for_one_frame_mid_rep_does_not_split_the_rep():
    # Restarted in the corner and back, the shoulder read as a rep's top mid-descent: 6 reps.
    assert _count_with_glitches("hinge", (480, 640), {284: {BodyPart.RIGHT_SHOULDER: (33.0, 51.0)}}) == 5


def test_a_knee_misread_for_one_frame_while_kneeling_is_no_rep():
    glitch = {378: {BodyPart.LEFT_KNEE: (460.9, 189.3)}}
    assert _count_with_glitches("kneeling-hinge", (640, 480), glitch) == 5


def _seen_from_the_front(track: PoseTrack) -> PoseTrack:
    """The track as a camera facing the lifter would see it: heights kept, each left/right pair a
    fixed width apart about the body's middle with the surer side's score, the nose in the middle.
    No angle in the body's plane can be read, nor which way the lifter faces."""
    kp = track.keypoints.copy()
    mid_x = float(np.median(kp[:, :, 0]))
    half_width = 0.06 * track.frame_size[1]
    kp[:, BodyPart.NOSE, 0] = mid_x
    for part in BodyPart:
        if part.name.startswith("LEFT_"):
            right = BodyPart["RIGHT_" + part.name.removeprefix("LEFT_")]
            kp[:, part, 0], kp[:, right, 0] = mid_x - half_width, mid_x + half_width
            kp[:, part, 2] = kp[:, right, 2] = np.maximum(kp[:, part, 2], kp[:, right, 2])
    return replace(track, keypoints=kp)


def test_seen_from_the_front_the_depth_gauge_follows_the_shoulders_drop() -> None:
    # With no angle to measure the depth by, the gauge reads how far the shoulders have dropped: a
    # full-depth hinge (trunk about level) fills it, standing tall empties it.
    perf = perform(reps=(RepSpec(),) * 3, seed=1)
    track = _seen_from_the_front(perf.track)
    engine = HingeEngine("hinge", frame_size=track.frame_size)
    depth_at: dict[float, float] = {}
    reps = 0
    for kp, t in zip(track.keypoints, track.t, strict=True):
        r = engine.step(kp, float(t))
        assert r.metrics.facing == 0
        depth_at[float(t)] = r.depth
        reps += r.rep is not None
    assert reps == 3

    def gauge(s: float) -> float:
        return depth_at[min(depth_at, key=lambda t: abs(t - s))]

    for rep in perf.truth:
        assert 0.75 < gauge(rep.bottom_s) < 1.25
        assert abs(gauge(rep.start_s - 0.3)) < 0.1
