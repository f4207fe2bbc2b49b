"""The engine on real recorded pose tracks (tracks/kettlebell-swing-side in the shared data)."""

import dataclasses
import itertools
import json

import pytest

from kiosk.metrics import Setup
from kiosk.track import load_track
from tests.helpers import rolled, run_engine

# igor-1h-swing: 9 one-handed swings; the recording's authors list when each rep completes.
IGOR_COMPLETIONS = (4.1, 5.63, 7.17, 8.73, 10.27, 11.87, 13.43, 15.0, 16.57)


@pytest.fixture(scope="module")
def swing_dir(shared_data):
    return shared_data / "tracks" / "kettlebell-swing-side"


@pytest.mark.parametrize("name", ["igor-1h-swing.posetrack.json", "swing-sample.posetrack.json"])
def test_nine_swings_each_within_half_a_second(swing_dir, name):
    # The same recording through two BlazePose builds (COCO points taken by name).
    reps, side = run_engine(load_track(swing_dir / name))
    assert len(reps) == 9
    for rep, done in zip(reps, IGOR_COMPLETIONS, strict=True):
        assert abs(rep.end_s - done) <= 0.5, (rep.index, rep.end_s, done)
    assert side in ("left", "right")


def test_four_rep_sample_bottoms_match_the_hand_review(swing_dir):
    truth = json.loads((swing_dir / "swing-sample-4reps.groundtruth.json").read_text())
    bottoms = [a["video_time"] for a in truth["annotations"] if a["position"] == "bottom"]
    reps, _ = run_engine(load_track(swing_dir / "swing-sample-4reps.posetrack.json"))
    assert len(reps) == 4
    for rep, bottom in zip(reps, bottoms, strict=True):
        assert abs(rep.bottom_s - bottom) <= 0.3


def test_movenet_swing_track_gives_a_steady_count(swing_dir):
    """MoveNet Lightning output of a 26 s swing set (no labels): 14 swings, evenly spaced."""
    name = "swing-sample_movenet-lightning_2025-12-03.posetrack.json.gz"
    reps, _ = run_engine(load_track(swing_dir / name))
    assert 13 <= len(reps) <= 15
    gaps = [b.end_s - a.end_s for a, b in itertools.pairwise(reps)]
    assert max(gaps) - min(gaps) < 0.5  # a swing rhythm, no doubled or missed reps


def test_pistol_squats_are_never_clean_hinges(swing_dir):
    reps, _ = run_engine(load_track(swing_dir / "pistol-squat-sample.posetrack.json"))
    assert reps, "the squats are deep enough to be counted as attempts"
    assert all("squatting" in r.faults for r in reps)


def test_a_rolled_camera_told_its_roll_gives_the_level_verdicts(swing_dir):
    """The MoveNet swing set as a camera rolled by 4 degrees would record it. Read as recorded, the
    roll passes for the lifter leaning: the verdicts change. Told the roll, the engine gives the
    level camera's reps and verdicts back."""
    track = load_track(swing_dir / "swing-sample_movenet-lightning_2025-12-03.posetrack.json.gz")
    tilted = dataclasses.replace(track, keypoints=rolled(track.keypoints, 4.0, track.frame_size))

    def verdicts(reps):
        return [(round(r.end_s, 3), r.faults, r.score) for r in reps]

    level, _ = run_engine(track)
    as_recorded, _ = run_engine(tilted)
    told, _ = run_engine(tilted, setup=Setup(camera_roll_deg=4.0))
    assert len(level) >= 13
    assert verdicts(as_recorded) != verdicts(level)
    assert verdicts(told) == verdicts(level)
