import math
from collections.abc import Sequence

import numpy as np
import pytest

from kiosk.body import BodyPart
from kiosk.drills import get_drill
from kiosk.metrics import FrameMetrics, MetricsCore, Setup, com_forward, travel_cm
from kiosk.performer import BOTTOMS, STAND, Posture, posture_keypoints
from tests.helpers import rolled, update_pose


def measure(kp: np.ndarray, drill: str = "hinge", frames: int = 20, frame_size=(640, 480), **setup):
    """Feed the same pose for `frames` frames (slow state settles) and return the metrics; `setup`
    are `Setup` fields."""
    return measure_in_turn([kp], drill, frames, frame_size, **setup)


def measure_in_turn(
    kps: Sequence[np.ndarray], drill: str = "hinge", frames: int = 20, frame_size=(640, 480), **setup
) -> FrameMetrics:
    """`measure` over several poses: each held for `frames` frames in turn, on one clock."""
    core = MetricsCore(get_drill(drill), Setup(**setup), frame_size=frame_size)
    i = 0
    for kp in kps:
        valid = kp[:, 2] > 0.3
        for _ in range(frames):
            m = update_pose(core, kp, valid, i / 30)
            i += 1
    return m


def test_standing_reads_straight():
    m = measure(posture_keypoints(STAND))
    assert m.person and m.in_frame and m.side_on and m.ready
    assert abs(m.hip_flex) < 8 and abs(m.knee_flex) < 8 and abs(m.trunk_angle) < 5
    assert abs(m.alignment) < 0.03
    assert m.lockout and not m.hyperextended


def test_hinge_bottom_angles_match_the_posture():
    post = Posture(knee=22.0, trunk=75.0)
    m = measure(posture_keypoints(post))
    assert m.trunk_angle == pytest.approx(75.0, abs=3)
    assert m.knee_flex == pytest.approx(22.0, abs=3)
    assert m.hip_travel > 0.3  # balanced: the hips went back behind the ankles


@pytest.mark.parametrize("facing", [1, -1])
def test_facing_left_or_right_reads_the_same(facing):
    post = BOTTOMS["squatting"]
    m = measure(posture_keypoints(post, facing=facing))
    ref = measure(posture_keypoints(post, facing=1))
    assert m.facing == facing
    for name in ("hip_flex", "knee_flex", "trunk_angle", "shin_angle", "alignment", "hip_travel"):
        assert getattr(m, name) == pytest.approx(getattr(ref, name), abs=1e-3), name


def test_measures_do_not_depend_on_distance_to_the_camera():
    post = BOTTOMS["rounded_back"]
    near = measure(posture_keypoints(post, body_px=420.0, ankle=(320.0, 470.0)), frame_size=(640, 480))
    far = measure(posture_keypoints(post, body_px=210.0, ankle=(320.0, 400.0)), frame_size=(640, 480))
    for name in ("hip_flex", "alignment", "head_angle", "hip_travel", "com_forward"):
        assert getattr(near, name) == pytest.approx(getattr(far, name), abs=1e-3), name


@pytest.mark.parametrize("roll", [-8.0, 3.0])
@pytest.mark.parametrize("fault", [None, "weight_forward", "hyperextension"])
def test_a_rolled_camera_told_its_roll_measures_as_a_level_one(roll, fault):
    post = BOTTOMS[fault] if fault != "hyperextension" else Posture(trunk=-16.0, knee=2.0)
    level = posture_keypoints(post, body_px=300.0, ankle=(320.0, 400.0))
    tilted = rolled(level, roll, (640, 480))
    ref = measure(level)
    told = measure(tilted, camera_roll_deg=roll)
    untold = measure(tilted)
    assert told.in_frame and told.side_on
    names = ("trunk_angle", "thigh_angle", "shin_angle", "hip_flex", "knee_flex", "alignment", "head_angle")
    for name in (*names, "hip_travel", "com_forward", "knee_forward", "hand_height", "height"):
        assert getattr(told, name) == pytest.approx(getattr(ref, name), abs=1e-3), name
    assert told.hyperextended == ref.hyperextended == (fault == "hyperextension")
    # Unlevelled, the roll reads as the lifter leaning: the trunk by the whole angle, the hips
    # against the ankles by the leg's height times its sine.
    assert untold.trunk_angle - ref.trunk_angle == pytest.approx(roll * untold.facing, abs=0.5)
    assert abs(untold.hip_travel - ref.hip_travel) > 0.05
    # The wall is drawn over the picture as recorded: where the level wall's foot turns to.
    if math.isfinite(ref.wall_x):
        (wall_foot,) = rolled(np.array([[ref.wall_x, ref.ankle_y, 1.0]]), roll, (640, 480))
        assert told.wall_x == pytest.approx(float(wall_foot[0]), abs=0.05)


def test_alignment_sign_rounded_versus_head_cranked_up():
    rounded = measure(posture_keypoints(BOTTOMS["rounded_back"]))
    cranked = measure(posture_keypoints(BOTTOMS["head_out_of_line"]))
    neutral = measure(posture_keypoints(BOTTOMS[None]))
    assert rounded.alignment > 0.1 > neutral.alignment > -0.05 > cranked.alignment
    assert rounded.head_angle > 30 and cranked.head_angle < -30


def test_oblique_view_is_not_side_on():
    assert measure(posture_keypoints(STAND, yaw_deg=5)).side_on
    assert not measure(posture_keypoints(STAND, yaw_deg=45)).side_on


def test_feet_out_of_frame_is_reported():
    kp = posture_keypoints(STAND, ankle=(320.0, 495.0))  # the floor is below the picture
    m = measure(kp)
    assert not m.in_frame and m.missing == "feet"


def test_nobody_in_view():
    kp = posture_keypoints(STAND)
    kp[:, 2] = 0.05
    m = measure(kp)
    assert not m.person and not m.ready
    assert math.isnan(m.hip_flex)


def test_wall_tap_uses_the_configured_distance_and_height():
    post = BOTTOMS[None]
    kp = posture_keypoints(post)
    near_wall = measure(kp, wall_distance_in=6.0, user_height_cm=170.0)
    far_wall = measure(kp, wall_distance_in=12.0, user_height_cm=170.0)
    assert near_wall.wall_reached and not far_wall.wall_reached
    assert travel_cm(1.0, 190.0) == pytest.approx(0.245 * 190.0)  # a thigh is 24.5% of the height


@pytest.mark.parametrize("yaw", [0.0, 45.0])
def test_hand_height_is_in_knee_heights_above_the_ankles_from_any_yaw(yaw):
    from kiosk.body import BodyPart

    kp = posture_keypoints(BOTTOMS[None], yaw_deg=yaw)
    ankle_y = kp[[BodyPart.LEFT_ANKLE, BodyPart.RIGHT_ANKLE], 1].mean()
    knee_y = kp[[BodyPart.LEFT_KNEE, BodyPart.RIGHT_KNEE], 1].mean()
    for height in (0.45, 1.3):  # hands on a floor bell; hands between the thighs in a swing
        kp[[BodyPart.LEFT_WRIST, BodyPart.RIGHT_WRIST], 1] = ankle_y - height * (ankle_y - knee_y)
        assert measure(kp).hand_height == pytest.approx(height, abs=1e-3)
    kp[[BodyPart.LEFT_WRIST, BodyPart.RIGHT_WRIST], 2] = 0.0  # hands not seen: not measured
    assert math.isnan(measure(kp).hand_height)


@pytest.mark.parametrize(
    ("before", "after", "side_on"),
    [(0.0, 19.5, True), (45.0, 19.5, False), (45.0, 14.0, True), (0.0, 25.0, False)],
)
def test_side_on_holds_between_the_turns_it_is_entered_and_left_at_so_it_does_not_flicker(
    before: float, after: float, side_on: bool
) -> None:
    # Turned 19.5 degrees (shoulders 0.3 torso lengths apart in the picture) is between the two
    # readings: a lifter who comes to it from side-on stays side-on, one who comes from an oblique
    # view is not side-on yet, so standing near the edge does not flicker between the two.
    turned = [posture_keypoints(STAND, yaw_deg=yaw) for yaw in (before, after)]
    assert measure_in_turn(turned, frames=45).side_on is side_on


def test_standing_a_little_short_of_straight_is_locked_out_and_the_start_of_a_hinge_is_not() -> None:
    # The tops of real pulls read 4-6 degrees of hip flexion; a lifter who stops with the trunk
    # 12 degrees forward and soft knees (hips bent about 18) is still at the top. Sending the hips
    # back to 27 degrees is the start of the next hinge (a rep bends them past 25).
    top = measure(posture_keypoints(Posture(knee=10.0, trunk=12.0)))
    hips_back = measure(posture_keypoints(Posture(knee=20.0, trunk=12.0, com=0.0)))
    assert 15.0 < top.hip_flex < 19.0 and top.lockout
    assert hips_back.hip_flex > 25.0 and abs(hips_back.trunk_angle) < 13.0 and not hips_back.lockout


def test_leaning_back_is_over_extension_only_with_the_hips_pushed_past_straight() -> None:
    # The same trunk, 16 degrees behind vertical. On straight legs the hips are pushed through,
    # the trunk behind the line of the thighs: over-extension. Sitting back on bent knees, the
    # thighs slope back further than the trunk does and the hips stay bent: not leaning back.
    straight_legs = measure(posture_keypoints(Posture(knee=2.0, trunk=-16.0)))
    sitting_back = measure(posture_keypoints(Posture(knee=70.0, trunk=-16.0)))
    assert straight_legs.hip_flex < -15.0 and straight_legs.hyperextended
    assert sitting_back.hip_flex > 8.0 and not sitting_back.hyperextended


@pytest.mark.parametrize("facing", [1, -1])
def test_a_body_stacked_straight_over_its_ankles_has_its_centre_of_mass_just_ahead_of_them(
    facing: int,
) -> None:
    # Everything above the ankles on the vertical through them: only the feet reach forward of it
    # (the ankle sits a quarter of the way from heel to toe), so the balance point is a little
    # toward the toes, well short of mid-foot.
    x = 300.0
    assert 0.0 < com_forward(facing, x, x, x, x, x, x, x, foot_px=60.0) < 0.05


def test_an_arm_reaching_into_the_picture_is_nobody_and_a_head_and_shoulders_is_someone() -> None:
    kp = posture_keypoints(STAND)
    arm = kp.copy()
    arm[:, 2] = 0.0
    reach = [BodyPart.RIGHT_SHOULDER, BodyPart.RIGHT_ELBOW, BodyPart.RIGHT_WRIST]
    arm[reach, 2] = kp[reach, 2]
    m = measure(arm)
    assert not m.person and m.missing == "body"
    head = kp.copy()
    head[:, 2] = 0.0
    shown = [
        BodyPart.NOSE,
        BodyPart.LEFT_EAR,
        BodyPart.RIGHT_EAR,
        BodyPart.LEFT_SHOULDER,
        BodyPart.RIGHT_SHOULDER,
    ]
    head[shown, 2] = kp[shown, 2]
    m = measure(head)
    assert m.person and m.missing == "hips"  # someone too close: asked to step back


def test_a_head_turned_to_the_mirror_does_not_flip_which_way_the_lifter_faces() -> None:
    # Standing tall, only the nose against the ears tells the facing (shoulders over hips, knees
    # straight). Turned to look at the mirror, the nose reads level with the ears and its jitter
    # votes one way, then the other: the facing holds, where flickering would flip the sign of
    # every angle. Turning round does flip it.
    core = MetricsCore(get_drill("hinge"), frame_size=(640, 480))
    kp = posture_keypoints(STAND)
    valid = kp[:, 2] > 0.3
    for i in range(30):
        update_pose(core, kp, valid, i / 30)
    ears_x = float(kp[[BodyPart.LEFT_EAR, BodyPart.RIGHT_EAR], 0].mean())
    looking = kp.copy()
    facings = set()
    for i in range(30, 150):
        looking[BodyPart.NOSE, 0] = ears_x + (6.0 if i % 2 else -6.0)  # a few pixels either way
        facings.add(update_pose(core, looking, valid, i / 30).facing)
    assert facings == {1}
    turned = posture_keypoints(STAND, facing=-1)
    for i in range(150, 210):
        m = update_pose(core, turned, turned[:, 2] > 0.3, i / 30)
    assert m.facing == -1


def _shank_at(kp: np.ndarray, ankle: BodyPart, knee: BodyPart, deg: float) -> np.ndarray:
    """`kp` with `ankle` turned `deg` from straight below `knee` (toward +x), confident."""
    out = kp.copy()
    shin = float(np.hypot(*(kp[ankle, :2] - kp[knee, :2])))
    a = math.radians(deg)
    out[ankle, :2] = kp[knee, :2] + shin * np.array([math.sin(a), math.cos(a)])
    out[ankle, 2] = 0.8
    return out


@pytest.mark.parametrize("deg", [70.0, 120.0, -90.0])
def test_an_ankle_that_cannot_be_a_foot_leaves_the_measures_to_the_other_leg(deg):
    """A dim, noisy picture has the model put an ankle on the bar or a plate with a passing score: a
    shank turned further than 60 degrees from vertical is no foot on the floor. The other leg's knee and
    ankle then carry the measures, as they do for one seen alone."""
    bottom = posture_keypoints(BOTTOMS[None], body_px=250.0, ankle=(320.0, 330.0))  # room below the feet
    alone = bottom.copy()
    alone[BodyPart.RIGHT_ANKLE, 2] = 0.0
    wild = _shank_at(bottom, BodyPart.RIGHT_ANKLE, BodyPart.RIGHT_KNEE, deg)
    ref, m = measure(alone), measure(wild)
    assert m.ready and m.in_frame
    for name in ("ankle_x", "shin_angle", "knee_flex", "hip_travel", "com_forward"):
        assert getattr(m, name) == pytest.approx(getattr(ref, name), abs=1e-3), name


def test_with_neither_ankle_a_foot_the_feet_are_remembered_and_still_in_the_picture():
    stand = posture_keypoints(STAND)
    wild = _shank_at(stand, BodyPart.LEFT_ANKLE, BodyPart.LEFT_KNEE, 90.0)
    wild = _shank_at(wild, BodyPart.RIGHT_ANKLE, BodyPart.RIGHT_KNEE, 90.0)
    m = measure_in_turn([stand, wild])
    assert math.isnan(m.ankle_x) and math.isnan(m.shin_angle)
    assert m.missing == ""  # seen in the picture: nothing to step back for
    assert m.height == pytest.approx(measure(stand).height, abs=1e-3)  # from where the feet stood


def test_a_steep_shank_is_still_a_foot_and_a_rolled_camera_is_levelled_first():
    """A deep squat's shanks lean about 45 degrees from vertical; at 55 they are still the lifter's
    legs, at 65 no longer. 55 in a picture rolled 15 degrees reads 70 as recorded: the roll the
    camera is set up with is undone first."""

    def shanks(deg: float) -> np.ndarray:
        kp = _shank_at(posture_keypoints(STAND), BodyPart.LEFT_ANKLE, BodyPart.LEFT_KNEE, -deg)
        return _shank_at(kp, BodyPart.RIGHT_ANKLE, BodyPart.RIGHT_KNEE, -deg)

    assert math.isfinite(measure(shanks(55.0)).ankle_x)
    assert math.isnan(measure(shanks(65.0)).ankle_x)
    tilted = rolled(shanks(55.0), 15.0, (640, 480))
    assert math.isfinite(measure(tilted, camera_roll_deg=15.0).ankle_x)
    assert math.isnan(measure(tilted).ankle_x)


def test_kneeling_the_shanks_lie_on_the_floor():
    kneel = posture_keypoints(STAND, kneeling=True)
    m = measure(kneel, drill="kneeling-hinge")
    assert m.ready and math.isfinite(m.ankle_x)
