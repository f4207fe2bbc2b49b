"""Drills: recognising the drill of a recorded set (`analyze` without `--drill`)."""

import math

import pytest

from kiosk.drills import recognise_drill


@pytest.mark.parametrize(
    "heights, drill",
    [
        ([0.45, 0.42, 0.48, 0.50], "kettlebell-deadlift"),  # hands to a bell on the floor
        ([1.25, 1.30, 1.20], "hinge"),  # swings: hands between the thighs
        ([2.0, 1.9, 0.5], "hinge"),  # one pick-up from the floor does not make a deadlift set
        ([0.45, 0.5, math.nan], "kettlebell-deadlift"),  # a rep with the hands unseen does not vote
        ([0.45, math.nan, math.nan], "hinge"),  # hands seen on too few reps to tell
        ([], "hinge"),
    ],
)
def test_a_set_with_the_hands_to_the_floor_is_recognised_as_a_deadlift(heights, drill):
    assert recognise_drill(heights) == drill
