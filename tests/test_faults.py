"""Each fault is named on the reps that have it, and clean reps stay clean."""

import numpy as np
import pytest

from kiosk.metrics import Setup
from kiosk.performer import Posture, RepSpec, perform
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
    from tests.helpers import run_engine

    reps, _ = run_engine(performed("shallow", n=5).track, "hinge", setup=Setup(user_height_cm=170.0))
    assert len(reps) == 5
    assert all("shallow" in r.faults and r.wall_tap is False for r in reps)


def test_without_the_users_height_the_tap_never_asks_for_more_than_the_wall():
    """The kiosk cannot see the wall: a lifter touching it must get the tap whatever their height,
    and a 170 cm lifter gets it at most 3 cm (0.08 of a 42 cm thigh) early."""
    from kiosk.drills import get_drill
    from kiosk.metrics import MetricsCore

    def tap(height_cm: float | None) -> float:
        return MetricsCore(get_drill("wall-hinge"), Setup(9.0, height_cm)).wall_thighs

    assert all(tap(None) <= tap(cm) for cm in (150.0, 170.0, 190.0, 195.0))
    assert 0.0 < tap(170.0) - tap(None) < 0.08


def test_a_deeper_wall_is_harder_to_reach():
    perf = performed(None, n=4)
    from tests.helpers import run_engine

    near, _ = run_engine(perf.track, "wall-hinge", setup=Setup(6.0, 170.0))
    far, _ = run_engine(perf.track, "wall-hinge", setup=Setup(12.0, 170.0))
    assert all(r.wall_tap for r in near)
    assert not any(r.wall_tap for r in far)


def test_kneeling_has_no_knee_or_shin_checks():
    reps = reps_of(performed("squatting", n=4, drill="kneeling-hinge"), "kneeling-hinge")
    assert not any("squatting" in r.faults or "weight_forward" in r.faults for r in reps)


def test_rep_json_has_the_documented_fields():
    rep = reps_of(performed(None, n=1))[0]
    d = rep.as_dict()
    for key in ("index", "start_s", "bottom_s", "end_s", "score", "faults", "hip_angle_deg",
                "knee_angle_deg", "hip_travel", "wall_tap"):  # fmt: skip
        assert key in d
    assert isinstance(d["score"], int) and 0 <= d["score"] <= 100


# Kettlebell deadlift sets like the ones the mirror is accepted on: ten reps each, one fault class
# per set, with varied tempo, a bell picked up first and set down last. Bottom postures cover a
# range of each pattern, from clearly faulty to borderline. The last correct one bends the knees
# like a real clean pull from the floor (knees 80, eyes a little ahead: see `kiosk.drills`).
KB_SETS = {
    "correct": [
        Posture(knee=k, trunk=t, head=h, com=0.05)
        for k, t, h in ((50, 62, 5), (62, 57, 12), (70, 62, -10), (80, 60, -20))
    ],
    "squatting": [Posture(knee=k, trunk=t, com=0.15) for k, t in ((90, 48), (90, 60), (110, 40), (115, 35))],
    "rounded_back": [
        Posture(knee=k, trunk=t, head=h, rounding=r, com=0.05)
        for k, t, h, r in ((50, 62, 25, 20), (50, 62, 35, 30), (50, 62, 45, 20), (75, 58, 30, 25))
    ],
}


@pytest.mark.parametrize(
    "drill, kind",
    [
        ("kettlebell-deadlift", "correct"),
        # Faulty sets are caught whichever standing drill judges them; a clean kettlebell deadlift
        # may bend the knees more than the bodyweight hinge drill allows, by design.
        *((d, k) for d in DRILLS for k in ("squatting", "rounded_back")),
    ],
)
@pytest.mark.parametrize("variant", [0, 1, 2, 3])
def test_kettlebell_deadlift_sets_meet_the_acceptance_criteria(drill, kind, variant):
    rng = np.random.default_rng(variant)
    fault = None if kind == "correct" else kind
    reps = tuple(
        RepSpec(
            fault=fault,
            bottom=KB_SETS[kind][variant],
            down_s=float(rng.uniform(0.8, 1.6)),
            bottom_s=float(rng.uniform(0.05, 0.6)),
            up_s=float(rng.uniform(0.7, 1.3)),
            rest_s=float(rng.uniform(0.3, 1.5)),
        )
        for _ in range(10)
    )
    perf = perform(
        reps=reps,
        drill="kettlebell-deadlift",
        pickup_s=2.8,
        setdown_s=2.8,
        noise_px=3.0,
        dropout=0.05,
        height_frac=float(rng.uniform(0.45, 0.8)),
        facing=int(rng.choice([-1, 1])),
        seed=variant,
    )
    found = reps_of(perf, drill)
    assert len(found) == 10
    squat = sum("squatting" in r.faults for r in found)
    rounded = sum("rounded_back" in r.faults for r in found)
    if kind == "squatting":
        assert squat >= 9
    elif kind == "rounded_back":
        assert rounded >= 7
    else:
        assert sum(1 for r in found if r.faults) <= 2


@pytest.mark.parametrize("fps", [30.0, 240.0])
def test_a_phone_slow_motion_video_is_judged_on_the_whole_rep(fps):
    """A 5 s rep filmed in slow motion at 240 fps is 1200 frames: the verdict keeps rows no closer
    than `ROW_DT_S`, so it still sees the lockout, where leaning back shows. Keeping every frame, the
    buffer filled 4.3 s in and the lean went unseen."""
    slow = RepSpec(fault="hyperextension", down_s=6.0, bottom_s=0.5, up_s=1.0)
    found = reps_of(perform(reps=(slow, slow), fps=fps, seed=11))
    assert [r.faults for r in found] == [("hyperextension",)] * 2
    assert all(r.end_s - r.start_s > 4.5 for r in found)
