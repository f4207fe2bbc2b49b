"""The drills the mirror coaches, each with its own thresholds.

Reps are counted on `drop`: how far the shoulders have come down toward the feet, as a fraction of
their standing height (0 standing tall). It needs no side view: height survives any camera yaw. For
an adult the shoulders sit about 0.78 H above the ankles and the trunk is about 0.29 H long, so a
trunk leaning forward by angle a alone gives drop = 0.37 (1 - cos a): 0.09 at 40 degrees, 0.19 at
60, 0.37 with the trunk level, plus a little from soft knees.

Form angles are flexion in degrees (0 = straight). Thresholds come from what the movements look
like, with margins wider than keypoint noise (about 5 degrees per frame for MoveNet, side view):

- A hip hinge bends mostly at the hip: soft knees (about 15-30 degrees of knee flexion against
  60-90 degrees at the hip), shins close to vertical, hips travelling back.
- A squat bends knee and hip about equally (knee/hip flexion ratio near 1), shins lean forward and
  the hips drop toward knee height.
- A kettlebell deadlift from the floor sits between them: more knee bend than a bodyweight hinge
  (a ratio around 0.5-0.65 on real footage) but the hips still lead and stay above the knees.
The kettlebell deadlift's squat limits sit midway between real clean pulls from the floor and
squat patterns. Clean: a coach's kettlebell deadlifts (30-45 degree view, angles corrected for the
yaw) and 33 re-encoded and re-framed copies of a barbell pull from the side read a ratio up to
0.69, shins up to 20 degrees (7-20 for the one lift: ankle and knee keypoints are the noisiest;
17 at most with the knees past 85), knees up to 89 and thighs up to 75 degrees from vertical. A
squat pattern reaches the handle, 25-30 cm off the floor, with the trunk more upright, which drops
the hips to knee height: a body model with the trunk 30-40 degrees from vertical gives a ratio of
0.85-1.0, shins 20-30, knees from 110, thighs from 90 (real goblet squats read 1.04, 24-29, 135
and 108-114 even from the oblique view). A clean lift is now 5-11
degrees (0.09 of ratio) from each limit, against 0-3 with the earlier limits, set on synthetic
lifts; the shin-and-knee test alone keeps a 3 degree margin, and needs both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from kiosk.errors import InputError


@dataclass(frozen=True)
class Drill:
    """What a drill checks and the thresholds it uses."""

    name: str
    title: str
    # One-sentence set-up instruction shown on the placement screen.
    instruction: str
    # A virtual wall behind the heels the hips should tap (the wall-tap depth check).
    has_wall: bool
    # Done on the knees: no knee or shin checks; hips travel back toward the heels.
    kneeling: bool
    # Drop that starts a descent, and that a movement must reach to count as a rep at all (below
    # it, it was a shuffle, a nod or an adjustment); drop at or below which the lifter is back
    # at the top (lockout).
    start_drop: float
    rep_min_drop: float
    lockout_drop: float
    # Hip flexion of a full-depth rep; less is `shallow`. Drills with a wall also need the wall
    # tap; the kneeling hinge also needs the hips `depth_travel` thigh lengths back over the heels.
    depth_deg: float
    depth_travel: float
    # Squatting, judged at the bottom of the rep, is any of: knee-dominant (knee flexion over
    # hip flexion above `squat_ratio`); knees travelling forward (shins past `squat_shin_deg`)
    # with a deep knee bend (past `squat_knee_deg`); hips dropping toward knee height (thighs
    # within `squat_thigh_deg` of horizontal); or simply more knee bend than the drill allows
    # (`max_knee_deg`: soft knees in a bodyweight hinge, a deeper bend to reach a bell).
    squat_ratio: float
    squat_shin_deg: float
    squat_knee_deg: float
    squat_thigh_deg: float
    max_knee_deg: float
    # A bottom held longer than this is a set-up or set-down (picking a bell up, putting it
    # down, stretching), not a working rep. Paused reps are taught (two or three seconds at the
    # bottom, which the counter reads as up to 4 s with the slow end of the way down and the start
    # of the way up: 3.3-3.9 s on sets built from real pulls), so the limit sits a second past
    # them; a quicker set-up is told from a paused rep by comparison with the set's other reps
    # (`kiosk.reps.SetUpFilter`) ...
    max_dwell_s: float
    # ... unless the hands stay well above the knees (a dowel held along the back): nothing is being
    # picked up, and a pause at the bottom to feel the hamstrings is part of the drill.
    max_dwell_hands_up_s: float
    # A bell may be lifted from the floor in this drill, so a quicker hold at the bottom may still be
    # one picked up or put down (`kiosk.reps.SetUpFilter`). Against a wall or on the knees, no bell.
    bell_from_floor: bool


HINGE = Drill(
    name="hinge",
    title="Hip hinge",
    instruction="Stand side-on, soft knees, and push your hips straight back",
    has_wall=True,
    kneeling=False,
    start_drop=0.05,
    rep_min_drop=0.08,
    lockout_drop=0.04,
    depth_deg=60.0,
    depth_travel=0.0,
    squat_ratio=0.72,
    squat_shin_deg=17.0,
    squat_knee_deg=55.0,
    squat_thigh_deg=18.0,
    max_knee_deg=65.0,
    max_dwell_s=5.0,
    max_dwell_hands_up_s=6.0,
    bell_from_floor=True,  # the default drill: a visitor may well bring a kettlebell
)


# The same movement against a real wall: the wall is the depth check, so a little less hip bend
# passes when the hips do reach it.
WALL_HINGE = replace(
    HINGE,
    name="wall-hinge",
    title="Wall hinge",
    instruction="Stand a few inches in front of a wall and tap it with your hips",
    depth_deg=55.0,
    bell_from_floor=False,
)

DRILLS: dict[str, Drill] = {
    d.name: d
    for d in (
        HINGE,
        WALL_HINGE,
        Drill(
            name="kneeling-hinge",
            title="Kneeling hinge",
            instruction="Kneel side-on, tall, and send your hips back toward your heels",
            has_wall=False,
            kneeling=True,
            start_drop=0.05,
            rep_min_drop=0.08,
            lockout_drop=0.04,
            depth_deg=50.0,
            depth_travel=0.25,
            squat_ratio=math.inf,
            squat_shin_deg=math.inf,
            squat_knee_deg=math.inf,
            squat_thigh_deg=0.0,
            max_knee_deg=math.inf,
            max_dwell_s=4.0,
            max_dwell_hands_up_s=6.0,
            bell_from_floor=False,
        ),
        Drill(
            name="kettlebell-deadlift",
            title="Kettlebell deadlift",
            instruction="Bell between your feet: hips back, flat back, stand up tall",
            has_wall=False,
            kneeling=False,
            start_drop=0.05,
            rep_min_drop=0.12,
            lockout_drop=0.04,
            depth_deg=65.0,
            depth_travel=0.0,
            squat_ratio=0.78,
            squat_shin_deg=20.0,
            squat_knee_deg=85.0,
            squat_thigh_deg=10.0,
            max_knee_deg=100.0,
            max_dwell_s=5.0,
            max_dwell_hands_up_s=5.0,  # the bell is in the hands: they are never up
            bell_from_floor=True,
        ),
    )
}

DEFAULT_DRILL = "hinge"

# `analyze` without a drill recognises it: a lift whose hands go down near the floor at the bottom
# is a bell (or bar) from the floor. Hand height is in knee heights above the ankles (see
# `kiosk.metrics`). A kettlebell handle sits 20-30 cm up, about half a knee height: hands on a floor
# bell read 0.41-0.48 on real kettlebell deadlifts, 0.49-0.58 on barbell pulls. Arms hanging free in
# a deep bodyweight hinge reach 0.6-0.8 (that movement is a deadlift without the bell, so either
# verdict is fair), swings (hands between the thighs) 1.1-1.4, dowel hinges, good mornings and
# squats 1.7-2.7. The limit keeps real floor pulls 20% clear and most free-arm hinges out.
AUTO_DRILL = "auto"
HANDS_NEAR_FLOOR = 0.7


def recognise_drill(hand_heights: Sequence[float]) -> str:
    """The drill a set of reps looks like from each rep's median hand height at the bottom (NaN
    where unseen): `kettlebell-deadlift` when most measured reps took the hands near the floor,
    else the default hinge."""
    seen = [h for h in hand_heights if h == h]
    low = sum(1 for h in seen if h < HANDS_NEAR_FLOOR)
    if 2 * len(seen) >= len(hand_heights) and 2 * low > len(seen):
        return "kettlebell-deadlift"
    return DEFAULT_DRILL


def get_drill(name: str, others: tuple[str, ...] = ()) -> Drill:
    """The drill called `name`; `InputError` listing the known drills otherwise (and `others`, the
    caller's other choices, such as analyze's "auto")."""
    try:
        return DRILLS[name]
    except KeyError:
        known = ", ".join(DRILLS) + "".join(f", or {other}" for other in others)
        raise InputError(f"unknown drill {name!r}; choose one of: {known}") from None
