"""The crop for the next frame: MoveNet's rule plus guards so a moving limb is never cut off."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.body import BodyPart
from kiosk.croptrack import CropParams, CropTracker, crop_for_pose, holds
from kiosk.preprocess import CropBox

W, H = 1280, 720
FULL = CropBox.full_frame(W, H)


def standing(cx: float = 640.0, cy: float = 400.0, scale: float = 1.0, score: float = 0.8) -> np.ndarray:
    """A person standing side-on, hips at (cx, cy); `scale` 1 is about 300 px tall."""
    offsets = {
        BodyPart.NOSE: (10, -150),
        BodyPart.LEFT_EYE: (8, -155),
        BodyPart.RIGHT_EYE: (8, -155),
        BodyPart.LEFT_EAR: (-5, -150),
        BodyPart.RIGHT_EAR: (-5, -150),
        BodyPart.LEFT_SHOULDER: (0, -110),
        BodyPart.RIGHT_SHOULDER: (0, -110),
        BodyPart.LEFT_ELBOW: (5, -55),
        BodyPart.RIGHT_ELBOW: (5, -55),
        BodyPart.LEFT_WRIST: (10, 0),
        BodyPart.RIGHT_WRIST: (10, 0),
        BodyPart.LEFT_HIP: (0, 0),
        BodyPart.RIGHT_HIP: (0, 0),
        BodyPart.LEFT_KNEE: (5, 75),
        BodyPart.RIGHT_KNEE: (5, 75),
        BodyPart.LEFT_ANKLE: (0, 150),
        BodyPart.RIGHT_ANKLE: (0, 150),
    }
    pose = np.zeros((17, 3), np.float32)
    for part, (dx, dy) in offsets.items():
        pose[part] = (cx + dx * scale, cy + dy * scale, score)
    return pose


def inside(box: CropBox, x: float, y: float) -> bool:
    return box.x0 <= x <= box.x0 + box.size and box.y0 <= y <= box.y0 + box.size


def test_crop_is_centred_on_the_hips_and_sized_by_movenets_rule() -> None:
    pose = standing()
    box = crop_for_pose(pose, (W, H))
    assert box.centre == pytest.approx((640.0, 400.0))
    # Torso: shoulders 110 px above the hips -> 1.9 x 110 = 209; body: ankles/head 155 px -> 1.2 x 155 = 186.
    assert box.size == pytest.approx(2 * 1.9 * 110)


def test_without_a_visible_torso_the_whole_frame_is_searched() -> None:
    pose = standing()
    pose[[BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP], 2] = 0.1
    assert crop_for_pose(pose, (W, H)) == FULL
    assert crop_for_pose(np.zeros((17, 3), np.float32), (W, H)) == FULL


def test_a_body_that_needs_more_than_the_frame_uses_the_whole_frame() -> None:
    assert crop_for_pose(standing(scale=3.5), (W, H)) == FULL
    # As tall as this landscape frame is not enough: the square crop still trims the width.
    assert crop_for_pose(standing(scale=2.5), (W, H)).size < W


def test_a_tiny_or_degenerate_pose_gives_a_crop_no_smaller_than_the_minimum() -> None:
    pose = standing(scale=0.01)
    box = crop_for_pose(pose, (W, H))
    assert box.size == pytest.approx(0.1 * W)


def test_only_one_confident_hip_and_shoulder_is_enough_side_on() -> None:
    pose = standing()
    pose[[BodyPart.RIGHT_HIP, BodyPart.RIGHT_SHOULDER], 2] = 0.05
    pose[BodyPart.RIGHT_HIP, :2] = (0, 0)  # a far-side guess somewhere else must not move the centre
    box = crop_for_pose(pose, (W, H))
    assert box.centre == pytest.approx((640.0, 400.0))


def test_a_fast_limb_counts_where_it_is_heading() -> None:
    pose = standing()
    still = crop_for_pose(pose, (W, H))
    velocity = np.zeros((17, 2))
    velocity[BodyPart.LEFT_WRIST] = (6000.0, 0.0)  # px/s: a swing
    moving = crop_for_pose(pose, (W, H), velocity=velocity, interval_s=1 / 30)
    predicted_x = pose[BodyPart.LEFT_WRIST, 0] + 6000.0 * 1.5 / 30
    assert moving.size > still.size
    assert inside(moving, predicted_x, pose[BodyPart.LEFT_WRIST, 1])


def test_a_keypoint_at_the_crop_edge_grows_the_next_crop() -> None:
    pose = standing()
    found_in = CropBox(640 - 160, 400 - 160, 320)  # the ankles (y = 550) sit 10 px from its bottom
    grown = crop_for_pose(pose, (W, H), found_in=found_in)
    assert grown.size == pytest.approx(crop_for_pose(pose, (W, H)).size * 1.25)
    # The same keypoint at a crop edge that lies beyond the frame cannot hide more: no growth.
    low = standing(cy=560)  # ankles at y = 710
    past_frame = CropBox(440, 350, 400)  # bottom edge at 750, below the frame
    assert crop_for_pose(low, (W, H), found_in=past_frame).size == crop_for_pose(low, (W, H)).size


def test_the_crop_function_leaves_its_inputs_alone() -> None:
    pose = standing()
    velocity = np.ones((17, 2))
    before = pose.copy(), velocity.copy()
    crop_for_pose(pose, (W, H), velocity=velocity, interval_s=0.1)
    np.testing.assert_array_equal(pose, before[0])
    np.testing.assert_array_equal(velocity, before[1])


# --------------------------------------------------------------------------------------- tracker


def test_tracker_follows_loses_and_resets() -> None:
    tracker = CropTracker((W, H))
    assert tracker.crop == FULL and not tracker.tracking
    box = tracker.update(standing(), 0.0)
    assert box != FULL and tracker.tracking
    assert tracker.update(np.zeros((17, 3), np.float32), 0.033) == FULL  # lost: search the whole frame
    tracker.update(standing(), 0.066)
    tracker.reset()
    assert tracker.crop == FULL


def test_tracker_holds_a_steady_crop_through_small_jitter_and_moves_for_real_motion() -> None:
    tracker = CropTracker((W, H))
    first = tracker.update(standing(), 0.0)
    rng = np.random.default_rng(0)
    for i in range(1, 20):
        jitter = standing()
        jitter[:, :2] += rng.normal(0, 2.0, (17, 2))
        assert tracker.update(jitter, i / 30) == first
    moved = tracker.update(standing(cx=900), 20 / 30)
    assert moved != first and moved.centre[0] == pytest.approx(900, abs=1)


def test_hold_needs_cover_and_no_excess() -> None:
    params = CropParams()
    wanted = CropBox(100, 100, 200)
    assert holds(CropBox(95, 100, 210), wanted, params, (W, H))
    assert not holds(CropBox(150, 100, 200), wanted, params, (W, H))  # shifted: margin lost
    assert not holds(CropBox(0, 0, 400), wanted, params, (W, H))  # covers, but wastes resolution
    assert not holds(FULL, wanted, params, (W, H))


def test_velocity_needs_two_recent_confident_poses() -> None:
    before, after = standing(), standing()
    after[BodyPart.LEFT_WRIST, 0] += 100  # the wrist swings out at 3000 px/s
    tracker = CropTracker((W, H))
    tracker.update(before, 0.0)
    fast = tracker.update(after, 1 / 30)
    slow = CropTracker((W, H))
    slow.update(before, 0.0)
    stale = slow.update(after, 2.0)  # 2 s later: no usable velocity
    assert fast.size > stale.size


# --------------------------------------------------------------------------- the limb guarantee


@st.composite
def poses(draw: st.DrawFn) -> np.ndarray:
    """Random poses: a visible torso somewhere, every keypoint inside the frame, random scores."""
    cx = draw(st.floats(50, W - 50))
    cy = draw(st.floats(50, H - 50))
    pose = np.zeros((17, 3), np.float32)
    for i in range(17):
        pose[i, 0] = np.clip(cx + draw(st.floats(-400, 400)), 0, W)
        pose[i, 1] = np.clip(cy + draw(st.floats(-300, 300)), 0, H)
        pose[i, 2] = draw(st.floats(0, 1))
    pose[BodyPart.LEFT_HIP, 2] = max(pose[BodyPart.LEFT_HIP, 2], 0.5)
    pose[BodyPart.LEFT_SHOULDER, 2] = max(pose[BodyPart.LEFT_SHOULDER, 2], 0.5)
    return pose


@settings(max_examples=200)
@given(pose=poses(), vx=st.floats(-3000, 3000), vy=st.floats(-3000, 3000))
def test_no_confident_keypoint_or_its_next_position_falls_outside_the_crop(
    pose: np.ndarray, vx: float, vy: float
) -> None:
    velocity = np.tile([vx, vy], (17, 1))
    dt = 1 / 30
    box = crop_for_pose(pose, (W, H), velocity=velocity, interval_s=dt)
    confident = pose[:, 2] > 0.2
    for x, y in pose[confident, :2]:
        assert inside(box, x, y)
        ahead_x, ahead_y = x + vx * 1.5 * dt, y + vy * 1.5 * dt
        if 0 <= ahead_x <= W and 0 <= ahead_y <= H:
            assert inside(box, ahead_x, ahead_y)


@settings(max_examples=100)
@given(first=poses(), second=poses())
def test_a_held_crop_still_contains_every_confident_keypoint(first: np.ndarray, second: np.ndarray) -> None:
    tracker = CropTracker((W, H))
    tracker.update(first, 0.0)
    box = tracker.update(second, 1.0)  # no velocity (too far apart): only the hold can keep a crop
    for x, y in second[second[:, 2] > 0.2, :2]:
        assert inside(box, x, y)


def test_keypoints_at_no_finite_place_never_size_a_crop() -> None:
    pose = standing()
    pose[int(BodyPart.NOSE), 0] = np.inf  # confident, but garbage
    pose[int(BodyPart.LEFT_WRIST), 1] = np.nan
    box = crop_for_pose(pose, (W, H))
    assert all(math.isfinite(v) for v in (box.x0, box.y0, box.size))
    hips = [int(BodyPart.LEFT_HIP), int(BodyPart.RIGHT_HIP)]
    pose[hips, 0] = np.nan  # no hip at a finite place: no torso to crop around
    assert crop_for_pose(pose, (W, H)) == FULL
