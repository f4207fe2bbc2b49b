"""`hinge-kiosk analyze` on pose tracks: the JSON contract and clean errors."""

import dataclasses
import gzip
import json
import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from kiosk.analyze import REP_KEYS
from kiosk.body import BodyPart
from kiosk.errors import InputError
from kiosk.performer import perform
from kiosk.reps import FAULTS
from kiosk.track import PoseTrack, load_track
from tests.helpers import performed, rolled


def analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kiosk", "analyze", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def track_file(tmp_path_factory):
    perf = performed("squatting", n=3)
    path = tmp_path_factory.mktemp("tracks") / "squats.npz"
    perf.track.save(path)
    return path


def test_json_output_is_one_object_with_the_documented_shape(track_file):
    out = analyze(str(track_file), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) == {"input", "frames", "fps", "duration_s", "drill", "side", "reps", "summary"}
    assert doc["drill"] == "hinge" and doc["side"] in ("left", "right")
    assert doc["frames"] > 0 and doc["fps"] == pytest.approx(30.0, abs=0.1)
    assert len(doc["reps"]) == 3
    for rep in doc["reps"]:
        assert tuple(rep) == REP_KEYS
        assert "squatting" in rep["faults"]
        assert isinstance(rep["wall_tap"], bool)
    assert doc["summary"]["reps"] == 3 and doc["summary"]["clean_reps"] == 0
    assert set(doc["summary"]["faults"]) == set(FAULTS)
    assert doc["summary"]["faults"]["squatting"] == 3


def test_drill_without_a_wall_reports_null_wall_tap(track_file):
    doc = json.loads(analyze(str(track_file), "--json", "--drill", "kettlebell-deadlift").stdout)
    assert doc["drill"] == "kettlebell-deadlift"
    assert all(rep["wall_tap"] is None for rep in doc["reps"])


def test_table_output(track_file):
    out = analyze(str(track_file))
    assert out.returncode == 0
    assert "3 reps (0 clean)" in out.stdout and "squatting" in out.stdout


def _write(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


@pytest.mark.parametrize(
    "case, expect",
    [
        ("missing", "no such file"),
        ("shape", "expected (N, 17, 3)"),
        ("nan", "NaN"),
        ("not-npz", "not an .npz"),
        ("no-t", "missing array"),
        (
            "drill",
            "unknown drill 'deadlift-ish'; choose one of: hinge, wall-hinge, kneeling-hinge, "
            "kettlebell-deadlift, or auto",
        ),
        ("save-folder", "does not exist"),
        ("save-in-a-file", "is a file, not a folder"),
        ("save-suffix", "must end in .npz"),
        ("annotate-suffix", "must end in .mp4"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, track_file, case, expect):
    kp = np.zeros((4, 17, 3), np.float32)
    t = np.arange(4) / 30
    size = np.array([640, 480])
    args = {
        "missing": [str(tmp_path / "nope.npz")],
        "shape": [_write(tmp_path / "s.npz", keypoints=kp[:, :, :2], t=t, frame_size=size)],
        "nan": [_write(tmp_path / "n.npz", keypoints=np.where(kp == 0, np.nan, kp), t=t, frame_size=size)],
        "no-t": [_write(tmp_path / "t.npz", keypoints=kp, frame_size=size)],
        "drill": [str(track_file), "--drill", "deadlift-ish"],
        "save-folder": [str(track_file), "--save-track", str(tmp_path / "no" / "such" / "x.npz")],
        "save-in-a-file": [str(track_file), "--save-track", str(track_file / "x.npz")],
        "save-suffix": [str(track_file), "--save-track", str(tmp_path)],
        "annotate-suffix": [str(track_file), "--annotate", str(tmp_path / "out.txt")],
    }.get(case)
    if case == "not-npz":
        bad = tmp_path / "x.npz"
        bad.write_text("not a track")
        args = [str(bad)]
    out = analyze(*args, "--json")
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0] and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "content, expect",
    [
        ('{"frames": 5}', "'frames' must be a list"),
        ('{"frames": [], "metadata": 5}', "'metadata' an object"),
        ("[1, 2]", "not a readable posetrack JSON"),
        ('{"frames": [{"videoTime": 0, "keypoints": [[1, 2]]}]}', "malformed posetrack frame"),
        ('{"frames": [{"videoTime": 0, "keypoints": []}], "metadata": {"videoWidth": 1e400}}', "malformed"),
        ('{"frames": [{"videoTime": 0, "keypoints": [{"name": "hip", "x": 1, "y": 1}]}]}', "found hip"),
        ("{}", "it has no 'frames' field"),
    ],
)
def test_a_malformed_posetrack_json_is_named_not_a_traceback(tmp_path, content, expect):
    path = tmp_path / "bad.posetrack.json"
    path.write_text(content)
    with pytest.raises(InputError, match=re.escape(expect)):
        load_track(path)


def test_points_a_posetrack_json_left_unplaced_are_not_seen_and_the_rest_is_kept(tmp_path):
    def point(name: str, x: str, score: str = "0.9") -> str:
        return '{"name": "' + name + '", "x": ' + x + ', "y": 20, "score": ' + score + "}"

    def frame(t: float, *points: str) -> str:
        return '{"videoTime": ' + str(t) + ', "keypoints": [' + ", ".join(points) + "]}"

    frames = [
        frame(0.0, point("nose", "10"), point("left_hip", "null")),
        frame(0.1, point("nose", "NaN"), point("left_hip", "5")),
        frame(0.2, point("nose", "1e400"), point("left_hip", "5", score="NaN")),
    ]
    path = tmp_path / "holes.posetrack.json"
    path.write_text('{"frames": [' + ", ".join(frames) + "]}")
    track = load_track(path)
    nose, hip = int(BodyPart.NOSE), int(BodyPart.LEFT_HIP)
    assert track.keypoints[0, nose].tolist() == pytest.approx([10, 20, 0.9])
    assert track.keypoints[0, hip, 2] == 0.0 and track.keypoints[1, nose, 2] == 0.0  # not seen
    assert track.keypoints[1, hip].tolist() == pytest.approx([5, 20, 0.9])
    assert track.keypoints[2, nose, 2] == 0.0  # an infinite x: not seen either
    assert track.keypoints[2, hip].tolist() == pytest.approx([5, 20, 0.0])  # a NaN score: unsure


@pytest.mark.parametrize("size", [[np.nan, 5], [np.inf, 480], [0, 480], [640.0, -1.0]])
def test_an_npz_track_with_an_impossible_frame_size_is_refused(tmp_path, size):
    kp = np.zeros((4, 17, 3), np.float32)
    path = _write(tmp_path / "size.npz", keypoints=kp, t=np.arange(4) / 30, frame_size=np.array(size))
    with pytest.raises(InputError, match="frame_size"):
        load_track(path)


def test_camera_roll_levels_a_rolled_recording(tmp_path):
    """A clean set recorded by a camera rolled 6 degrees reads as faulted; `--camera-roll 6` gives
    the level recording's report."""
    perf = performed(None, n=3)
    level = tmp_path / "level.npz"
    tilted = tmp_path / "tilted.npz"
    perf.track.save(level)
    keypoints = rolled(perf.track.keypoints, 6.0, perf.track.frame_size)
    dataclasses.replace(perf.track, keypoints=keypoints).save(tilted)

    def reps(*args: str) -> list[dict]:
        out = analyze(*args, "--json")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)["reps"]

    clean = reps(str(level))
    assert len(clean) == 3 and not any(r["faults"] for r in clean)
    assert any(r["faults"] for r in reps(str(tilted)))
    assert reps(str(tilted), "--camera-roll", "6") == clean
    # The table says when every rep has a fault a roll can fake, and only then.
    hint = "--camera-roll DEG undoes it"
    assert hint in analyze(str(tilted)).stdout
    assert hint not in analyze(str(level)).stdout
    assert hint not in analyze(str(tilted), "--camera-roll", "6").stdout


def test_posetrack_json_recordings_load_by_keypoint_name(shared_data):
    path = shared_data / "tracks" / "kettlebell-swing-side" / "swing-sample-4reps.posetrack.json"
    doc = json.loads(analyze(str(path), "--json").stdout)
    assert doc["frames"] == 165 and doc["summary"]["reps"] == 4


def test_save_track_round_trips_a_track(tmp_path, track_file):
    out_path = tmp_path / "copy.npz"
    assert analyze(str(track_file), "--save-track", str(out_path), "--json").returncode == 0
    with np.load(track_file) as a, np.load(out_path) as b:
        np.testing.assert_array_equal(a["keypoints"], b["keypoints"])
        np.testing.assert_array_equal(a["t"], b["t"])


def test_an_output_that_cannot_be_finished_leaves_the_earlier_file_whole(tmp_path, track_file, monkeypatch):
    """A full disk halfway through: the earlier track of that name stays as it was, and no fragment
    is left beside it (written to a temporary name, renamed once complete)."""
    from kiosk.cli import main
    from kiosk.track import PoseTrack

    out_path = tmp_path / "copy.npz"
    assert main(["analyze", str(track_file), "--save-track", str(out_path), "--json"]) == 0
    before = out_path.read_bytes()

    def fill_the_disk(self, path):
        Path(path).write_bytes(b"PK\x03\x04 a fragment")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(PoseTrack, "save", fill_the_disk)
    assert main(["analyze", str(track_file), "--save-track", str(out_path), "--json"]) == 2
    assert out_path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["copy.npz"]


def test_table_says_why_a_bell_pickup_was_not_counted(tmp_path):
    from kiosk.performer import RepSpec, perform

    perf = perform(reps=(RepSpec(),) * 2, pickup_s=3.0, setdown_s=3.0, drill="kettlebell-deadlift", seed=1)
    path = tmp_path / "set.npz"
    perf.track.save(path)
    out = analyze(str(path), "--drill", "kettlebell-deadlift")
    assert "2 reps" in out.stdout
    assert out.stdout.count("not counted at") == 2
    assert out.stdout.count("held at the bottom") == 2 and "picked up or put down" in out.stdout


def test_reps_seen_too_obliquely_count_but_are_not_called_clean(tmp_path):
    """Seen at 60 degrees from side-on, squats still count as reps, but nobody can tell from that view
    that they were squats: they are reported as not judged, not as clean."""
    path = tmp_path / "oblique.npz"
    performed("squatting", n=3, yaw_deg=60.0).track.save(path)
    out = analyze(str(path), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["summary"]["reps"] == 3
    assert doc["summary"]["unjudged_reps"] == 3 and doc["summary"]["clean_reps"] == 0
    assert all(rep["judged"] is False and rep["faults"] == [] for rep in doc["reps"])
    table = analyze(str(path)).stdout
    assert "3 reps (0 clean, 3 not judged)" in table and "film from the side" in table


@pytest.mark.parametrize(
    "hide, says",
    [
        ((BodyPart.LEFT_ANKLE, BodyPart.RIGHT_ANKLE), "the feet were cut off or unseen in 100%"),
        (tuple(BodyPart), "nobody was seen in any frame"),
        ((), "was the person side-on and standing tall between reps?"),
    ],
    ids=["no feet", "nobody", "standing still"],
)
def test_no_reps_says_what_the_frames_showed(tmp_path, hide, says):
    perf = perform(reps=(), seed=4) if not hide else performed(None, n=3)
    perf.track.keypoints[:, list(hide), 2] = 0.0
    path = tmp_path / "track.npz"
    perf.track.save(path)
    out = analyze(str(path))
    assert out.returncode == 0, out.stderr
    assert " 0 reps " in out.stdout
    assert says in out.stdout


def test_reps_counted_with_the_feet_out_of_the_picture_come_with_a_warning(tmp_path):
    # Cut off at the shins, the model still guesses ankles below the picture, often with scores
    # above the keypoint limit: reps are counted from guesses and real clips lost or gained some.
    perf = performed(None, n=3)
    _, height = perf.track.frame_size
    perf.track.keypoints[:, [BodyPart.LEFT_ANKLE, BodyPart.RIGHT_ANKLE], 1] = height + 12.0
    path = tmp_path / "track.npz"
    perf.track.save(path)
    out = analyze(str(path))
    assert out.returncode == 0, out.stderr
    assert " 3 reps " in out.stdout
    assert "check the counts: the feet were cut off or unseen in 100% of the frames" in out.stdout
    whole = tmp_path / "whole.npz"
    performed(None, n=3).track.save(whole)
    assert "check the counts" not in analyze(str(whole)).stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze", "x.npz", "--threads", "-2"],
        ["analyze", "x.npz", "--threads", "70000"],
        ["bench", "pipeline", "x.mp4", "--threads", "17"],
        ["analyze", "x.npz", "--wall-distance-in", "30"],
        ["analyze", "x.npz", "--user-height-cm", "50"],
        ["analyze", "x.npz", "--camera-roll", "25"],
        ["bench", "core", "--frames", "0"],
        ["bench", "core", "--drill", "lunge"],
        ["bench", "pipeline", "x.mp4", "--frames", "-5"],
        ["bench", "kiosk", "x.mp4", "--size", "10x10"],
        ["run", "--windowed", "abc"],
    ],
    ids=lambda argv: " ".join(argv[:3]),
)
def test_a_bad_option_value_is_refused_before_anything_runs(argv, capsys):
    from kiosk.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "error: argument" in capsys.readouterr().err


def _break_deflate(path, member: str) -> None:
    """Make `member` of the zip at `path` an invalid deflate stream (a block of the reserved type), as a
    flipped bit on a card would, with the archive's structure intact."""
    with zipfile.ZipFile(path) as z:
        offset = z.getinfo(member).header_offset
    data = bytearray(path.read_bytes())
    name_len, extra_len = struct.unpack("<HH", data[offset + 26 : offset + 30])
    data[offset + 30 + name_len + extra_len] = 0xFF
    path.write_bytes(bytes(data))


def _damaged_input(tmp_path, case: str) -> str:
    kp = np.zeros((4, 17, 3), np.float32)
    t, size = np.arange(4) / 30, np.array([640, 480])
    if case == "deep":
        path = tmp_path / "deep.posetrack.json"
        path.write_text("[" * 100_000 + "]" * 100_000)
    elif case == "npz-zlib":
        path = tmp_path / "comp.npz"
        np.savez_compressed(path, keypoints=kp, t=t, frame_size=size)
        _break_deflate(path, "keypoints.npy")
    elif case == "gz-zlib":
        path = tmp_path / "z.posetrack.json.gz"
        data = bytearray(gzip.compress(b'{"frames": []}' * 50))
        data[10] = 0xFF  # the first deflate block, right after gzip's 10-byte header
        path.write_bytes(bytes(data))
    elif case == "subnormal-t":
        return _write(tmp_path / "tsub.npz", keypoints=kp, t=np.arange(4) * 5e-324, frame_size=size)
    else:
        return _write(tmp_path / "cplx.npz", keypoints=kp.astype(np.complex64), t=t, frame_size=size)
    return str(path)


@pytest.mark.parametrize(
    "case, expect",
    [
        ("deep", "RecursionError"),
        ("npz-zlib", "not a readable .npz"),
        ("gz-zlib", "not a readable posetrack JSON"),
        ("subnormal-t", "over 1000 fps"),
        ("complex", "real numbers"),
    ],
)
def test_a_damaged_or_implausible_track_is_one_line_and_exit_2(tmp_path, case, expect):
    # Each once ended in a traceback, or (t in steps of 5e-324) printed `"fps": Infinity`, not JSON.
    out = analyze(_damaged_input(tmp_path, case), "--json")
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0] and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "t, expect",
    [
        (np.arange(4) * 1e300, "reaches 3e+300 s"),  # a duration 300 digits long
        (np.arange(4, dtype=np.uint64) + 2**63, "expected seconds"),
        (np.arange(4) * 1e8, "spans 3e+08 s"),
        (np.arange(4) * 1e-6, "over 1000 fps"),
    ],
)
def test_times_that_are_not_seconds_are_refused(tmp_path, t, expect):
    path = _write(tmp_path / "t.npz", keypoints=np.zeros((4, 17, 3), np.float32), t=t, frame_size=[640, 480])
    with pytest.raises(InputError, match=re.escape(expect)):
        load_track(path)


def test_plausible_clocks_still_load(tmp_path):
    """240 fps, and times on the Unix clock rather than from the first frame, are real recordings."""
    kp = np.zeros((4, 17, 3), np.float32)
    for t in (np.arange(4) / 240, 1.7e9 + np.arange(4) / 30):
        assert len(load_track(_write(tmp_path / "ok.npz", keypoints=kp, t=t, frame_size=[640, 480]))) == 4


def test_a_track_built_in_memory_with_complex_keypoints_is_refused():
    track = PoseTrack(np.zeros((4, 17, 3), np.complex64), np.arange(4) / 30, (640, 480), "mem")
    with pytest.raises(InputError, match="real numbers"):
        track.validate()


def test_the_table_gives_hip_travel_in_cm_for_a_known_height(track_file):
    """Thigh lengths say little to a lifter; told their height, the table turns them into cm."""
    rows = {}
    for height in (None, "180"):
        out = analyze(str(track_file), *(["--user-height-cm", height] if height else []))
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        header = next(i for i, line in enumerate(lines) if line.startswith(" rep "))
        rows[height] = [float(line.split()[6]) for line in lines[header + 1 : header + 4]]
        assert ("in cm" in out.stdout) == (height is not None)
    doc = json.loads(analyze(str(track_file), "--json").stdout)
    thighs = [rep["hip_travel"] for rep in doc["reps"]]
    assert rows[None] == pytest.approx(thighs, abs=0.006)
    assert rows["180"] == pytest.approx([t * 0.245 * 180 for t in thighs], abs=0.6)


def test_every_rep_with_a_fault_read_against_the_vertical_suggests_checking_the_cameras_level() -> None:
    from kiosk.analyze import roll_hint

    def doc(*faults: list[str]) -> dict:
        return {"reps": [{"judged": True, "faults": f} for f in faults]}

    hint = roll_hint(doc(["hyperextension"], ["hyperextension", "shallow"], ["hyperextension"]))
    assert "every rep reads leaning back" in hint and "--camera-roll" in hint
    assert roll_hint(doc(["weight_forward"], ["weight_forward"])) == ""  # too few reps to tell
    assert roll_hint(doc(["weight_forward"], [], ["weight_forward"])) == ""  # one rep was fine
    assert roll_hint(doc(["rounded_back"], ["rounded_back"], ["rounded_back"])) == ""  # not the camera


def test_an_npz_track_whose_frame_size_is_text_says_so(tmp_path):
    kp = np.zeros((4, 17, 3), np.float32)
    path = _write(
        tmp_path / "size.npz", keypoints=kp, t=np.arange(4) / 30, frame_size=np.array(["640", "480"])
    )
    with pytest.raises(InputError, match="'frame_size' holds <U3 values, expected numbers"):
        load_track(path)


def _bottom_still(fault: str | None, **kw) -> PoseTrack:
    """The deepest frame of one performed rep, as the one-frame track a still picture gives."""
    from tests.helpers import performed

    track = performed(fault, n=1, noise_px=0.0, dropout=0.0, **kw).track
    hips = track.keypoints[:, int(BodyPart.LEFT_HIP), 1]
    i = int(np.argmax(hips))  # hips lowest in the picture (y down): the bottom
    return PoseTrack(track.keypoints[i : i + 1], np.zeros(1), track.frame_size, "still.png")


@pytest.mark.parametrize("fault", ["rounded_back", "squatting", None])
def test_a_still_picture_of_the_bottom_of_a_hinge_is_judged_like_a_reps_bottom(fault):
    from kiosk.analyze import still_posture

    still = still_posture(_bottom_still(fault), "hinge")
    assert still["person"] and still["judged"] and still["hip_flex_deg"] > 45
    assert still["faults"] == ([fault] if fault else [])


def test_a_still_picture_seen_from_the_front_is_not_judged():
    import io

    from kiosk.analyze import print_still, report, still_posture

    track = _bottom_still("rounded_back", yaw_deg=70.0)
    doc = report(track, "hinge", [], None)
    doc["still"] = still_posture(track, "hinge")
    assert not doc["still"]["judged"] and doc["still"]["faults"] == []
    out = io.StringIO()
    print_still(doc, out)
    assert "form is read from the side only" in out.getvalue()


def test_analyze_on_a_still_says_what_the_picture_shows(tmp_path):
    path = tmp_path / "still.npz"
    _bottom_still("rounded_back").save(path)
    out = analyze(str(path))
    assert out.returncode == 0
    assert "one picture" in out.stdout and "form: rounded back" in out.stdout
    doc = json.loads(analyze(str(path), "--json").stdout)
    assert doc["still"]["faults"] == ["rounded_back"] and doc["reps"] == []


def test_analyze_takes_the_pose_model_from_the_sites_model_folder(tmp_path, monkeypatch, capsys):
    """An operator who installed the model with `models fetch --dest` and set pose.model_dir gets the
    same model in `analyze` as in the kiosk, not "not installed"."""
    import av

    from kiosk.cli import main

    video = tmp_path / "clip.mp4"
    with av.open(str(video), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for _ in range(3):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8))):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    folder = tmp_path / "site-models"
    folder.mkdir()
    site = tmp_path / "site.toml"
    site.write_text(f'[pose]\nmodel_dir = "{folder}"\n')
    monkeypatch.setenv("HINGE_KIOSK_CONFIG", str(site))
    assert main(["analyze", str(video)]) == 2
    assert f"not installed in {folder}" in capsys.readouterr().err


@pytest.mark.parametrize(("yaw", "judged"), [(18.0, True), (45.0, False)])
def test_a_still_is_read_from_as_far_round_as_a_reps_frames_are(yaw, judged):
    """The same side-on limit as a rep's (`JUDGE_SIDE_RATIO`), not the stricter one placement asks for."""
    from kiosk.analyze import still_posture

    still = still_posture(_bottom_still("rounded_back", yaw_deg=yaw), "hinge")
    assert still["judged"] is judged and still["faults"] == (["rounded_back"] if judged else [])


@pytest.mark.parametrize("facing", [1, -1])
def test_the_side_reported_is_the_one_toward_the_camera_and_a_mirror_turns_it(facing: int) -> None:
    # Turned to face the picture's right, a lifter shows the camera their right side. It was the
    # side the model was surer of, which a re-encode could flip and mirroring could leave alone.
    from kiosk.analyze import analyze_track
    from kiosk.pose import MIRROR

    perf = performed(None, n=3, facing=facing, frame_size=(640, 480), seed=5)
    assert analyze_track(perf.track, "hinge").side == ("right" if facing > 0 else "left")
    mirrored = perf.track.keypoints[:, MIRROR].copy()  # as the model sees a mirrored picture
    mirrored[..., 0] = perf.track.frame_size[0] - mirrored[..., 0]
    track = PoseTrack(mirrored, perf.track.t, perf.track.frame_size, "mirrored")
    assert analyze_track(track, "hinge").side == ("left" if facing > 0 else "right")
    swapped = perf.track.keypoints[:, MIRROR].copy()  # left and right labels swapped, as in a profile
    track = PoseTrack(swapped, perf.track.t, perf.track.frame_size, "swapped")
    assert analyze_track(track, "hinge").side == ("right" if facing > 0 else "left")
