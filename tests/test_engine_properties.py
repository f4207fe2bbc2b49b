"""Garbage in never raises, and never produces a fault or a cue from low-confidence points."""

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kiosk.drills import DRILLS
from kiosk.engine import HingeEngine
from kiosk.metrics import MAX_ROLL_DEG, Setup
from kiosk.performer import RepSpec, perform

floats = st.floats(allow_nan=True, allow_infinity=True, width=32)
poses = arrays(np.float32, (17, 3), elements=floats)
wild = arrays(np.float32, (17, 3), elements=st.floats(-1e6, 1e6, width=32))
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


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


def test_a_real_set_with_its_form_points_unconfident_gives_no_faults():
    """The body is seen, but ears/shoulders/hips are below the threshold: no form verdicts."""
    perf = perform(reps=tuple(RepSpec(fault="rounded_back") for _ in range(4)), seed=4)
    engine = HingeEngine("hinge", min_score=0.3, frame_size=perf.track.frame_size)
    for kp, t in zip(perf.track.keypoints, perf.track.t, strict=True):
        kp = kp.copy()
        kp[[3, 4, 5, 6, 11, 12], 2] = 0.1
        r = engine.step(kp, t)
        assert r.cue is None or r.cue.kind == "placement"
        assert r.rep is None or not r.rep.faults


def test_out_of_frame_points_are_harmless():
    perf = perform(reps=(RepSpec(),) * 3, seed=1)
    engine = HingeEngine("hinge", frame_size=perf.track.frame_size)
    for kp, t in zip(perf.track.keypoints, perf.track.t, strict=True):
        kp = kp.copy()
        kp[15:, :2] = (-5000.0, 9000.0)
        r = engine.step(kp, t)
        assert math.isfinite(r.depth)
