import math

import numpy as np
import pytest

from kiosk.body import NUM_KEYPOINTS
from kiosk.smoothing import PoseSmoother


def pose(x: float, y: float, score: float = 0.9) -> np.ndarray:
    kp = np.zeros((NUM_KEYPOINTS, 3), np.float32)
    kp[:] = (x, y, score)
    return kp


def test_jitter_on_a_still_point_is_reduced_several_fold():
    rng = np.random.default_rng(0)
    sm = PoseSmoother()
    raw, out = [], []
    for i in range(300):
        noisy = pose(100.0, 200.0)
        noisy[:, :2] += rng.normal(0.0, 4.0, size=(NUM_KEYPOINTS, 2))
        sm.update(noisy, i / 30)
        if i > 30:
            raw.append(noisy[0, 0])
            out.append(sm.pose[0, 0])
    assert np.std(out) < np.std(raw) / 2


def test_follows_a_fast_move_with_little_lag():
    sm = PoseSmoother()
    for i in range(60):  # 300 px/s to the right for two seconds
        sm.update(pose(100.0 + 10.0 * i, 200.0), i / 30)
    assert abs(sm.pose[0, 0] - (100.0 + 590.0)) < 30.0


def test_low_confidence_never_moves_a_point_and_it_expires_after_hold():
    sm = PoseSmoother(min_score=0.3, hold_s=0.25)
    sm.update(pose(100.0, 100.0), 0.0)
    for i in range(1, 6):  # a far-away observation, but not confident
        sm.update(pose(500.0, 500.0, score=0.1), i / 30)
    assert sm.pose[0, 0] == 100.0
    assert sm.valid[0]  # held: 5 frames = 0.17 s < 0.25 s
    sm.update(pose(500.0, 500.0, score=0.1), 0.4)
    assert not sm.valid[0]
    assert sm.pose[0, 2] == 0.0


def test_non_finite_input_is_ignored():
    sm = PoseSmoother()
    sm.update(pose(100.0, 100.0), 0.0)
    bad = pose(math.nan, 100.0)
    bad[1] = (math.inf, -math.inf, 0.9)
    bad[2] = (100.0, 100.0, math.nan)
    sm.update(bad, 1 / 30)
    assert np.isfinite(sm.pose).all()
    assert sm.pose[0, 0] == 100.0


def test_a_jump_the_next_frame_confirms_restarts_the_filter_instead_of_sliding():
    sm = PoseSmoother()
    sm.jump_px = 50.0
    for i in range(10):
        sm.update(pose(100.0, 100.0), i / 30)
    sm.update(pose(400.0, 100.0), 10 / 30)
    assert sm.pose[0, 0] == 100.0 and sm.valid[0]  # one frame there could be a glitch: held
    sm.update(pose(405.0, 100.0), 11 / 30)
    assert sm.pose[0, 0] == 405.0  # twice: the point is there (another person, a real move)


def test_a_one_frame_glitch_never_reaches_the_pose():
    sm = PoseSmoother()
    sm.jump_px = 50.0
    for i in range(10):
        sm.update(pose(100.0 + i, 100.0), i / 30)
    before = sm.pose.copy()
    sm.update(pose(400.0, 30.0), 10 / 30)  # a shoulder read in a corner for one frame
    assert (sm.pose == before).all() and sm.valid.all()  # not moved toward the glitch
    sm.update(pose(111.0, 100.0), 11 / 30)
    assert before[0, 0] < sm.pose[0, 0] < 111.0 and sm.pose[0, 1] == 100.0  # smoothing goes on


def test_a_point_flickering_between_two_places_is_held_then_dropped():
    sm = PoseSmoother(hold_s=0.25)
    sm.jump_px = 50.0
    sm.update(pose(100.0, 100.0), 0.0)
    for i in range(1, 12):  # far away every other frame: never twice in a row
        sm.update(pose(400.0 if i % 2 else 100.0, 100.0), i / 30)
        assert sm.pose[0, 0] == 100.0


def test_repeated_or_backwards_timestamps_do_not_blow_up():
    sm = PoseSmoother()
    sm.update(pose(100.0, 100.0), 1.0)
    sm.update(pose(110.0, 100.0), 1.0)
    sm.update(pose(120.0, 100.0), 0.5)
    assert np.isfinite(sm.pose).all()


@pytest.mark.parametrize("y", [9000.0, -5000.0])
def test_a_confident_point_far_below_or_above_the_picture_counts_as_unseen(y: float) -> None:
    # Bounds as the engine sets them for a 640x480 picture: grown by half its long side. A point
    # thousands of pixels below or above it, though well within its width, is no body part the
    # camera saw; one just past the bottom edge (inside a crop's reach) is.
    sm = PoseSmoother()
    sm.bounds = (-320.0, -320.0, 960.0, 800.0)
    sm.update(pose(300.0, y), 0.0)
    assert not sm.valid.any()
    sm.update(pose(300.0, 700.0), 1 / 30)
    assert sm.valid.all() and sm.pose[0, 1] == 700.0
