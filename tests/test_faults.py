"""Each fault is named on the reps that have it, and clean reps stay clean."""

import pytest

from kiosk.reps import FAULTS
from tests.helpers import performed, reps_of

DRILLS = ("hinge", "kettlebell-deadlift")


@pytest.mark.parametrize("drill", DRILLS)
def test_clean_reps_are_clean(drill):
    reps = reps_of(performed(None, n=8, drill=drill, noise_px=3.0), drill)
    assert len(reps) == 8
    assert sum(1 for r in reps if r.faults) <= 1
    assert min(r.score for r in reps) >= 80


@pytest.mark.parametrize("drill", DRILLS)
@pytest.mark.parametrize("fault", [f for f in FAULTS if f != "shallow"])
def test_fault_is_named(drill, fault):
    reps = reps_of(performed(fault, n=6, drill=drill, noise_px=3.0), drill)
    assert len(reps) == 6
    flagged = sum(1 for r in reps if fault in r.faults)
    assert flagged >= 5, [r.faults for r in reps]
    assert max(r.score for r in reps) < 90


def test_shallow_hinge_misses_the_wall():
    reps = reps_of(performed("shallow", n=5))
    assert len(reps) == 5
    assert all("shallow" in r.faults and r.wall_tap is False for r in reps)


def test_a_deeper_wall_is_harder_to_reach():
    perf = performed(None, n=4)
    from kiosk.analyze import run_engine

    near, _ = run_engine(perf.track, "wall-hinge", wall_distance_in=6.0)
    far, _ = run_engine(perf.track, "wall-hinge", wall_distance_in=12.0)
    assert all(r.wall_tap for r in near)
    assert not any(r.wall_tap for r in far)


def test_kneeling_has_no_knee_or_shin_checks():
    reps = reps_of(performed("squatting", n=4, drill="kneeling-hinge"), "kneeling-hinge")
    assert not any("squatting" in r.faults or "weight_forward" in r.faults for r in reps)


def test_rep_json_has_the_documented_fields():
    rep = reps_of(performed(None, n=1))[0]
    d = rep.as_dict()
    for key in ("index", "start_s", "bottom_s", "end_s", "score", "faults", "hip_angle_deg",
                "knee_angle_deg", "hip_travel", "wall_tap"):
        assert key in d
    assert isinstance(d["score"], int) and 0 <= d["score"] <= 100
