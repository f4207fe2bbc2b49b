"""Drills: each drill's limits on the movement, and recognising the drill of a recorded set
(`analyze` without `--drill`)."""

import math

import pytest

from kiosk.drills import recognise_drill
from kiosk.performer import Posture, RepSpec, perform
from tests.helpers import reps_of


@pytest.mark.parametrize(
    "heights, drill",
    [
        ([0.45, 0.42, 0.48, 0.50], "kettlebell-deadlift"),  # hands to a bell on the floor
        ([1.25, 1.30, 1.20], "hinge"),  # swings: hands between the thighs
        ([0.52, 0.58, 0.55, 0.57], "kettlebell-deadlift"),  # a barbell from the floor: a little higher
        ([0.76, 0.80, 0.78], "hinge"),  # arms hanging free in a deep bodyweight hinge
        ([2.0, 1.9, 0.5], "hinge"),  # one pick-up from the floor does not make a deadlift set
        ([0.45, 0.5, math.nan], "kettlebell-deadlift"),  # a rep with the hands unseen does not vote
        ([0.45, math.nan, math.nan], "hinge"),  # hands seen on too few reps to tell
        ([], "hinge"),
    ],
)
def test_a_set_with_the_hands_to_the_floor_is_recognised_as_a_deadlift(heights, drill):
    assert recognise_drill(heights) == drill


@pytest.mark.parametrize(
    ("bottom", "squatting"),
    [(Posture(knee=45.0, trunk=42.0), False), (Posture(knee=48.0, trunk=28.0), True)],
    ids=["hips_lead", "knees_nearly_as_much"],
)
def test_a_bodyweight_hinge_with_the_knees_bending_nearly_as_much_as_the_hips_is_a_squat(
    bottom: Posture, squatting: bool
) -> None:
    # A squat bends the knees about as much as the hips, a hinge mostly the hips. Both bottoms bend
    # the knees about 45 degrees, the shins 11-16 degrees from vertical; with the trunk 42 degrees
    # forward the knees bend 0.6 as much as the hips, with it more upright (28) 0.8 as much.
    reps = reps_of(perform(reps=tuple(RepSpec(bottom=bottom) for _ in range(4)), seed=1))
    assert len(reps) == 4
    assert all(("squatting" in r.faults) is squatting for r in reps)
