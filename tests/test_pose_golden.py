"""Other projects' golden tests for MoveNet, through our whole path (`track_from_media`, as `analyze
IMAGE --save-track` runs it), on every installed runtime; and the estimator on real video."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from kiosk.backends import open_backend
from kiosk.body import BodyPart
from kiosk.errors import InputError
from kiosk.pose import MIRROR, PoseEstimator, Prepared, track_from_media
from kiosk.preprocess import CropBox, InputMaker
from kiosk.sources import VideoFileSource
from kiosk.track import load_track

TF_TOLERANCE_PX = 21  # tensorflow/examples movenet_test.py: _ALLOWED_DISTANCE
CORAL_TOLERANCE = 0.04  # of the image size
CORAL_MIN_SCORE = 0.4


@pytest.fixture(scope="session")
def peer(shared_data: Path) -> Path:
    folder = shared_data / "peer"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    return folder


def _names() -> list[str]:
    return [part.name.lower() for part in BodyPart]


@pytest.mark.parametrize(("row", "image"), [(0, "image1.png"), (1, "image2.jpeg")])
def test_tf_examples_every_keypoint_within_21_px(
    model_path: Path, peer: Path, runtime: str, row: int, image: str, tmp_path: Path
) -> None:
    folder = peer / "tf-examples-rpi"
    with (folder / "pose_landmark_truth.csv").open() as f:
        truth = np.array([[float(v) for v in r] for r in list(csv.reader(f))[1:]])[row].reshape(17, 2)
    track = track_from_media(folder / image, runtime=runtime, model_path=model_path, progress=False)
    assert len(track) == 1 and track.t[0] == 0.0
    # The file `analyze IMAGE --save-track` writes holds the same keypoints.
    track.save(tmp_path / "t.npz")
    keypoints = load_track(tmp_path / "t.npz").keypoints[0]
    error = np.abs(keypoints[:, :2] - truth).max(axis=1)
    worst = int(error.argmax())
    assert error.max() <= TF_TOLERANCE_PX, (
        f"{runtime} {image}: {_names()[worst]} {error.max():.1f} px off; all: {np.round(error, 1).tolist()}"
    )


def test_coral_squat_confident_keypoints_within_4_percent(model_path: Path, peer: Path, runtime: str) -> None:
    folder = peer / "coral"
    with (folder / "movenet_single_pose_lightning_ptq_reference.csv").open() as f:
        rows = [[float(v) for v in r] for r in list(csv.reader(f))[1:]]
    ref = np.array(rows)  # pose_id, pose_score, keypoint_id, keypoint_score, keypoint_x, keypoint_y
    track = track_from_media(folder / "squat.bmp", runtime=runtime, model_path=model_path, progress=False)
    width, height = track.frame_size
    assert (width, height) == (500, 610)
    found = track.keypoints[0, :, :2] / np.array([width, height])
    confident = ref[:, 3] > CORAL_MIN_SCORE
    error = np.abs(found - ref[:, 4:6]).max(axis=1)
    bad = [f"{_names()[i]} {error[i]:.3f}" for i in np.flatnonzero(confident & (error > CORAL_TOLERANCE))]
    assert not bad, f"{runtime}: {bad}"


# ------------------------------------------------------------------------------------ estimator


def test_mirror_permutation_swaps_sides() -> None:
    assert MIRROR[BodyPart.LEFT_HIP] == BodyPart.RIGHT_HIP and MIRROR[BodyPart.NOSE] == BodyPart.NOSE
    assert sorted(MIRROR.tolist()) == list(range(17)) and (MIRROR[MIRROR] == np.arange(17)).all()


def _clip(shared_data: Path, group: str, name: str) -> Path:
    path = shared_data / "clips" / group / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


def test_video_track_has_container_times_and_source_pixels(
    model_path: Path, shared_data: Path, runtime: str
) -> None:
    clip = _clip(shared_data, "barbell-deadlift-side", "rounded-back.mp4")
    track = track_from_media(clip, runtime=runtime, model_path=model_path, progress=False)
    assert len(track) == 29 and track.frame_size == (600, 600)
    assert track.t[0] == 0.0 and track.fps == pytest.approx(30, abs=0.1)
    track.validate()
    confident = track.keypoints[..., 2] > 0.3
    xy = track.keypoints[..., :2][confident]
    assert ((xy > -20) & (xy < 620)).all()  # source pixels of the 600x600 frame
    hips = track.keypoints[:, [BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP], 2].max(axis=1)
    assert np.median(hips) > 0.5  # the lifter is found


def test_unreadable_media_is_an_input_error(model_path: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        track_from_media(tmp_path / "missing.mp4", model_path=model_path)
    junk = tmp_path / "junk.mov"
    junk.write_bytes(b"\x00\x00\x00\x18ftypqt  " + bytes(200))
    with pytest.raises(InputError, match=r"junk\.mov"):
        track_from_media(junk, model_path=model_path)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(InputError, match=r"broken\.jpg"):
        track_from_media(broken, model_path=model_path)


def test_a_photo_cut_short_is_analysed_with_a_warning(
    model_path: Path, peer: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = tmp_path / "cut.jpeg"
    data = (peer / "tf-examples-rpi" / "image2.jpeg").read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    track = track_from_media(cut, model_path=model_path)
    assert len(track) == 1
    assert "cut.jpeg: damaged: the picture did not decode cleanly" in capsys.readouterr().err
    track_from_media(peer / "tf-examples-rpi" / "image2.jpeg", model_path=model_path)
    assert "damaged" not in capsys.readouterr().err


def _near_side_confidence(poses: np.ndarray) -> float:
    """Mean confidence of the near-side ear, shoulder and hip (the keypoints the engine judges)."""
    total = []
    for left, right in ((3, 4), (5, 6), (11, 12)):
        side = left if poses[:, left, 2].mean() >= poses[:, right, 2].mean() else right
        total.append(poses[:, side, 2].mean())
    return float(np.mean(total))


def test_crop_tracking_sees_the_lifter_better_than_the_whole_frame(
    model_path: Path, shared_data: Path
) -> None:
    # A portrait phone clip where the lifter fills half the frame height: cropping must pay off.
    clip = _clip(shared_data, "kettlebell-oblique", "swing-russian.mp4")
    backend = open_backend(model_path, "auto")
    results = {}
    for tracking in (False, True):
        estimator = PoseEstimator(backend, crop_tracking=tracking)
        with VideoFileSource(clip) as source:
            poses = [estimator.estimate(f) for f, _ in zip(source, range(90), strict=False)]
        results[tracking] = _near_side_confidence(np.stack(poses))
    assert results[True] > results[False] + 0.03, results


def test_a_prepared_input_is_used_only_for_the_crop_it_was_made_for(
    model_path: Path, shared_data: Path
) -> None:
    clip = _clip(shared_data, "barbell-deadlift-side", "good.mp4")
    backend = open_backend(model_path, "auto")
    with VideoFileSource(clip) as source:
        frames = [source.read(5.0) for _ in range(6)]
    plain, ahead = PoseEstimator(backend), PoseEstimator(backend)
    maker = InputMaker(backend.input_size)
    for frame in frames:
        expected = plain.estimate(frame)
        box = ahead.next_crop(frame.size)
        prepared = ahead.prepare(frame, box, maker, np.empty((192, 192, 3), np.uint8))
        np.testing.assert_array_equal(ahead.estimate(frame, prepared), expected)
    # An input made for another crop is ignored, not trusted.
    wrong = Prepared(CropBox(0, 0, 50), CropBox(0, 0, 50), np.zeros((192, 192, 3), np.uint8), 0.0)
    last = frames[-1]
    np.testing.assert_array_equal(ahead.estimate(last, wrong), plain.estimate(last))
