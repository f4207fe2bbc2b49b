"""Frame sources: timestamps, lores copies, pacing, timeouts and typed errors."""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import CancelledError, Future
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import av
import numpy as np
import pytest

from kiosk import sources
from kiosk.errors import InputError, SourceError
from kiosk.preprocess import CameraPlanes, CropBox, CropResizer, InputMaker, swscale_on_this_thread
from kiosk.sources import (
    CameraSource,
    EndOfStream,
    Frame,
    FrameTimeout,
    ImageSource,
    Picamera2Source,
    SourceHung,
    VideoFileSource,
    camera_lores_size,
    lores_size,
    open_source,
)

FPS = 10
N_FRAMES = 12


def frame_image(i: int, width: int, height: int) -> np.ndarray:
    """A frame whose bright column sits at x = 20 + 10 i: readable back after lossy compression."""
    img = np.full((height, width, 3), 40, np.uint8)
    img[:, 20 + 10 * i : 28 + 10 * i] = (250, 250, 250)
    img[: height // 4, :, 0] = 200  # a red band on top: catches swapped colour channels
    return img


def bright_column(rgb: np.ndarray) -> float:
    row = rgb[rgb.shape[0] // 2, :, 1].astype(float)
    return float(np.argmax(row > 150))


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1280x720, 10 fps, 12-frame H.264 clip made with PyAV."""
    path = tmp_path_factory.mktemp("video") / "tiny.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.options = {"crf": "18"}
        for i in range(N_FRAMES):
            frame = av.VideoFrame.from_ndarray(frame_image(i, 1280, 720), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture(scope="module")
def png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("image") / "still.png"
    with av.open(str(path), "w", format="image2") as out:
        stream = out.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = 300, 200, "rgba"
        rgba = np.zeros((200, 300, 4), np.uint8)
        rgba[..., 0], rgba[..., 3] = 255, 128  # red, half transparent
        for packet in stream.encode(av.VideoFrame.from_ndarray(rgba, format="rgba")):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_lores_size_is_about_twice_the_model_input_high_with_even_sides() -> None:
    assert lores_size(1280, 720, 192) == (682, 384)  # landscape: sized by the height a person spans
    assert lores_size(1920, 1080, 192) == (682, 384)
    assert lores_size(404, 720, 192) == (216, 384)
    assert lores_size(600, 600, 192) == (384, 384)
    assert lores_size(640, 360, 192) is None  # small enough already


@pytest.mark.parametrize(
    ("main", "lores"),
    [
        ((1280, 720), (704, 396)),
        ((1920, 1080), (704, 396)),
        ((1536, 864), (704, 396)),
        ((1332, 990), (592, 440)),  # 74:55, doubled to keep both sides even
        ((1280, 960), (512, 384)),
        ((2028, 1520), (1014, 760)),  # 507:380 leaves nothing smaller
        ((640, 480), (640, 480)),  # small already: the main size
        ((1000, 999), (1000, 999)),  # no smaller size in proportion
    ],
)
def test_the_camera_lores_keeps_the_main_streams_proportions(
    main: tuple[int, int], lores: tuple[int, int]
) -> None:
    w, h = camera_lores_size(*main, 192)
    assert (w, h) == lores
    assert w * main[1] == h * main[0]  # one scale for both directions
    assert (w == main[0] or w % 2 == h % 2 == 0) and (h >= 384 or (w, h) == main)


def test_video_file_frames_times_and_model_inputs(video: Path) -> None:
    with VideoFileSource(video) as source:
        assert not source.live and source.fps == pytest.approx(FPS)
        frames = list(source)
    assert len(frames) == N_FRAMES
    assert [f.index for f in frames] == list(range(N_FRAMES))
    np.testing.assert_allclose([f.t for f in frames], np.arange(N_FRAMES) / FPS, atol=1e-6)
    maker = InputMaker(192)
    for i, f in enumerate(frames):
        assert f.rgb.shape == (720, 1280, 3) and f.rgb.dtype == np.uint8 and f.rgb.flags["C_CONTIGUOUS"]
        # 8-bit video: the model's crops come from the decoder's planes, so no lores copy is made.
        assert f.decoded is not None and f.turns == 0 and f.lores is None
        assert bright_column(f.rgb) == pytest.approx(20 + 10 * i, abs=2)
        box = CropBox.full_frame(*f.size)
        model_input, used = maker(f, box)
        assert bright_column(model_input) == pytest.approx((20 + 10 * i - used.x0) * 192 / used.size, abs=1.5)
        assert f.rgb[10, 10, 0] > 150 and f.rgb[10, 10, 2] < 100  # RGB order, not BGR
        assert f.decode_s > 0


def test_video_frames_convert_to_full_size_only_when_asked(
    video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversions: list[str] = []
    convert = sources._Converter.convert

    def counting(self: Any, av_frame: Any, fmt: str, *args: Any) -> np.ndarray:
        conversions.append(fmt)
        return convert(self, av_frame, fmt, *args)

    monkeypatch.setattr(sources._Converter, "convert", counting)
    with VideoFileSource(video) as source:
        frames = list(source)
    assert not conversions  # size and the model's planes need no full-size conversion
    assert frames[3].size == (1280, 720) and frames[3].decoded is not None
    assert bright_column(frames[3].rgb) == pytest.approx(50, abs=2)
    assert frames[3].rgb is frames[3].rgb and conversions == ["rgb24"]  # made once, then kept
    # The screen's picture: BGRA, the same image as the RGB one.
    picture = frames[3].picture_for(None)
    assert picture.shape == (720, 1280, 4) and picture.flags["C_CONTIGUOUS"] and conversions[-1] == "bgra"
    assert np.abs(picture[..., 2::-1].astype(int) - frames[3].rgb).max() <= 2
    assert (picture[..., 3] == 255).all()
    # Threads racing for the first conversion share one result.
    results: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: results.append(frames[5].rgb)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert conversions.count("rgb24") == 2 and all(r is results[0] for r in results)


def test_a_video_picture_is_converted_at_the_size_it_is_shown(video: Path) -> None:
    with VideoFileSource(video) as source:
        frames = list(source)
    frame = frames[3]
    full = frame.picture_for(None)
    small = frame.picture_for((641, 361))  # a quarter of the pixels
    # Rounded down to even sizes (swscale's quick path), the same picture scaled.
    assert small.shape == (360, 640, 4) and small.flags["C_CONTIGUOUS"]
    assert frame.picture_for((641, 361)) is small  # redrawn, not converted again
    halved = full[..., :3].reshape(360, 2, 640, 2, 3).mean(axis=(1, 3))
    assert np.abs(small[..., :3] - halved).mean() < 2
    assert bright_column(small[..., 2::-1]) == pytest.approx(bright_column(frame.rgb) / 2, abs=1.5)
    assert (small[..., 3] == 255).all()
    # Never made larger than the frame (the renderer scales up), nor scaled when that would save
    # less than half the pixels: converting at the same size is far quicker.
    assert frame.picture_for((2560, 1440)).shape == (720, 1280, 4)
    assert frame.picture_for((1268, 714)).shape == (720, 1280, 4)
    assert frame.picture_for((904, 508)).shape == (508, 904, 4)
    assert frame.picture_for((1268, 714), scale_below=1.0).shape == (714, 1268, 4)  # asked to, it does
    assert frame.picture_for(None).shape == (720, 1280, 4)
    # A camera mounted on its side: the size asked is upright.
    turned = frame.rotated(1)
    assert turned.size == (720, 1280)
    upright = turned.picture_for((360, 640))
    assert upright.shape == (640, 360, 4)
    assert np.abs(upright.astype(int) - np.rot90(small, -1)).max() <= 1


@pytest.mark.parametrize("width", [404, 402, 408])
def test_the_screen_picture_is_whole_for_widths_swscale_converts_in_blocks(
    tmp_path: Path, width: int
) -> None:
    # 404 and 402 are 4 and 2 past a multiple of 16: swscale's BGRA converter leaves the last
    # columns as leftovers there (a stripe of noise down the mirrored picture's edge).
    path = tmp_path / "narrow.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, 240, "yuv420p"
        stream.options = {"crf": "18"}
        for i in range(2):
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(frame_image(i, width, 240), format="rgb24")
            ):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with VideoFileSource(path) as source:
        frame = source.read(5.0)
        picture, rgb = frame.picture_for(None), frame.rgb
    assert picture.shape == (240, width, 4)
    assert np.abs(picture[..., 2::-1].astype(int) - rgb).max() <= 3  # every column, the edge included
    assert (picture[..., 3] == 255).all()


def test_a_bgra_copy_swscale_gets_wrong_beyond_mending_is_made_from_rgb(
    video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "_wrong_tail", lambda width, *rest: width)  # wrong everywhere
    with VideoFileSource(video) as source:
        frame = source.read(5.0)
        picture, rgb = frame.picture_for(None), frame.rgb
    assert picture.shape == (720, 1280, 4) and (picture[..., 2::-1] == rgb).all()
    assert (picture[..., 3] == 255).all()


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuvj420p", "nv12", "yuv420p10le", "yuv422p"])
def test_the_bgra_probe_passes_right_conversions_of_any_depth(pix_fmt: str) -> None:
    # At most the few leftover columns: a sound conversion must not be sent the slow way round
    # (a probe of random samples once told a 10-bit clip's conversion paths apart everywhere).
    options = tuple(swscale_on_this_thread().items())
    assert sources._wrong_tail(640, pix_fmt, "bgra", options) == 0
    assert sources._wrong_tail(404, pix_fmt, "bgra", options) <= sources.MAX_MENDED_COLUMNS


def test_the_bgra_probe_of_a_4k_video_stays_small() -> None:
    # The probe once converted a whole test frame: 74 MB of peak memory for 1080p, four times that for
    # 4K, pushing the kiosk's peak over its budget at start-up.
    import tracemalloc

    options = tuple(swscale_on_this_thread().items())
    tracemalloc.start()
    try:
        sources._wrong_tail.__wrapped__(3840, "yuv420p", "bgra", options)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20


def test_the_camera_watch_names_devices_that_came_up_since_it_last_looked(tmp_path: Path) -> None:
    v4l, media = tmp_path / "video4linux", tmp_path / "media"
    v4l.mkdir()
    for name in ("video0", "video1"):  # the ISP and codec nodes a Pi has without a camera
        (v4l / name).touch()
    watch = sources.CameraWatch((str(v4l), str(media)))  # a folder that does not exist lists nothing
    watch.check()
    (v4l / "video1").unlink()  # a device that went is no news
    watch.check()
    media.mkdir()
    (media / "media4").touch()
    (v4l / "v4l-subdev0").touch()
    with pytest.raises(sources.CameraAppeared, match=r"media4, v4l-subdev0 came up after the kiosk started"):
        watch.check()
    watch.check()  # told once
    (v4l / "video1").touch()  # back again: news again
    with pytest.raises(sources.CameraAppeared, match="video1"):
        watch.check()


def test_a_camera_that_came_up_late_is_a_source_error_only_a_restart_cures() -> None:
    assert issubclass(sources.CameraAppeared, sources.NeedsRestart)
    assert issubclass(sources.SourceHung, sources.NeedsRestart)
    assert issubclass(sources.NeedsRestart, SourceError)
    assert sources.libcamera_available() is (importlib.util.find_spec("picamera2") is not None)


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc to count threads")
def test_conversions_run_on_the_calling_thread(video: Path) -> None:
    # PyAV 17+ spreads each swscale conversion over every core unless told otherwise, taking CPU
    # from the pose model; only the source's own decoding thread may appear.
    before = _os_threads()
    with VideoFileSource(video) as source:
        frames = list(source)
        for frame in frames[:3]:
            assert frame.rgb is not None and frame.picture_for(None) is not None
        assert _os_threads() <= before + 1


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv420p10le", "gbrp"])
def test_video_stored_on_its_side_is_turned_upright_and_so_are_its_model_inputs(
    monkeypatch: pytest.MonkeyPatch, pix_fmt: str
) -> None:
    # A phone's portrait video: stored 1280x720 with a display matrix of a quarter turn.
    stored = av.VideoFrame.from_ndarray(frame_image(0, 1280, 720), format="rgb24").reformat(format=pix_fmt)
    monkeypatch.setattr(sources, "_turns", lambda av_frame, mirrored=None: 1)
    frame = sources._Converter(192).frame(stored, 0.0, 0, time.perf_counter())
    assert frame.size == (720, 1280)
    if pix_fmt != "gbrp":  # cropped straight from the planes, turned as it goes
        assert frame.decoded is stored and frame.turns == 1 and frame.lores is None
    else:  # a layout the cropper does not read (planar RGB): a lores copy, 384 high as upright
        assert frame.decoded is None and frame.lores is not None and frame.lores.shape == (384, 216, 4)
    assert frame.rgb.shape == (1280, 720, 3) and frame.picture_for(None).shape == (1280, 720, 4)
    assert frame.rgb[-1, 0, 0] > 150  # the red band along the stored top is now on the left
    model_input, _ = InputMaker(192)(frame, CropBox.full_frame(*frame.size))
    assert model_input[-1, 60, 0] > 150 and model_input[-1, 130, 0] < 100  # the band is on the left


@pytest.mark.parametrize("hflip", [False, True])
@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_every_display_orientation_comes_out_upright(tmp_path: Path, degrees: int, hflip: bool) -> None:
    # The eight orientations a video's display matrix can give. A mirrored one read as a
    # half turn too many: a selfie camera's video came out upside down, and no rep was found.
    upright = np.zeros((64, 48, 3), np.uint8)
    upright[:32] = 255  # the top half is white
    stored = np.ascontiguousarray(np.rot90(upright[:, ::-1] if hflip else upright, k=-degrees // 90))
    path = tmp_path / "oriented.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.height, stream.width = stored.shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.set_display_rotation(degrees, hflip=hflip)  # shown: `stored` turned, then mirrored
        for i in range(3):
            picture = av.VideoFrame.from_ndarray(stored, format="rgb24")
            picture.pts = i
            container.mux(stream.encode(picture))
        container.mux(stream.encode())
    with VideoFileSource(path) as source:
        rgb = next(iter(source)).rgb
    assert rgb.shape == (64, 48, 3)
    assert rgb[:16].mean() > 200 and rgb[-16:].mean() < 50


def test_a_video_s_side_data_is_read_from_its_first_frame_only(
    video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Reading a frame's side data ties the frame in a reference cycle: done on every frame, frames
    # waited for the garbage collector and the kiosk's memory grew by 100 MB.
    calls = []
    real = sources._mirrored
    monkeypatch.setattr(sources, "_mirrored", lambda av_frame: calls.append(1) or real(av_frame))
    with VideoFileSource(video) as source:
        frames = len(list(source))
    assert frames > 1 and len(calls) == 1


def test_side_data_pyav_cannot_list_leaves_the_rotation_as_read() -> None:
    class SideData:
        def get(self, key: str) -> None:
            raise ValueError("31 is not a valid Type")  # PyAV, on a JPEG's unknown side data

    class Decoded:
        rotation = -90
        side_data = SideData()

    assert sources._turns(Decoded(), sources._mirrored(Decoded())) == 3


def test_a_png_with_a_named_colour_profile_is_read_without_crashing(tmp_path: Path) -> None:
    # PyAV 18 frees the profile's name (side-data metadata) as if it owned it: listing the side data
    # of such a frame crashed the process when the frame was freed. Run in a child process, as a
    # crash would take the test run with it.
    import subprocess
    import zlib

    png = tmp_path / "profiled.png"
    frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 90, np.uint8), format="rgb24")
    with av.open(str(png), "w", format="image2") as out:
        stream = out.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "rgb24"
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    data = png.read_bytes()
    iccp = b"sRGB built-in\0\0" + zlib.compress(b"\0" * 132)  # a name, then a (dummy) profile
    chunk = len(iccp).to_bytes(4, "big") + b"iCCP" + iccp
    chunk += zlib.crc32(b"iCCP" + iccp).to_bytes(4, "big")
    png.write_bytes(data[:33] + chunk + data[33:])  # right after the 8-byte signature and IHDR
    script = (
        "import gc, sys\n"
        "from kiosk.sources import ImageSource, VideoFileSource\n"
        "picture = ImageSource(sys.argv[1]).read().rgb\n"
        "with VideoFileSource(sys.argv[1], realtime=False) as video:\n"
        "    frames = list(video)\n"
        "del frames\n"
        "gc.collect()\n"
        "print(picture.shape)\n"
    )
    command = [sys.executable, "-c", script, str(png)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "(48, 64, 3)"


def test_a_photo_cut_short_is_read_and_said_to_be_damaged(tmp_path: Path) -> None:
    # FFmpeg decodes what there is of a JPEG and greys the rest, with no error but in its log.
    whole, cut = tmp_path / "whole.jpg", tmp_path / "cut.jpg"
    rows = np.linspace(0, 255, 96, dtype=np.uint8)[:, None, None]
    _jpeg_with_orientation(whole, np.broadcast_to(rows, (96, 128, 3)), 1)
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    assert ImageSource(whole).damage == ""
    damaged = ImageSource(cut)
    assert damaged.damage and damaged.read().rgb.shape == (96, 128, 3)
    assert ImageSource(cut).damage == damaged.damage  # told again, not squashed as a repeat
    import av.logging

    assert av.logging.get_level() is None  # FFmpeg's log is caught only around the decode


def _jpeg_with_orientation(path: Path, stored: np.ndarray, orientation: int, order: str = "big") -> None:
    """A JPEG of `stored` whose EXIF (byte order `order`) says how to show it."""
    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream("mjpeg", rate=1)
        stream.height, stream.width = stored.shape[:2]
        stream.pix_fmt = "yuvj444p"
        container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(stored), format="rgb24")))
        container.mux(stream.encode())
    o = "big" if order == "big" else "little"

    def n(value: int, size: int) -> bytes:
        return value.to_bytes(size, o)  # type: ignore[arg-type]

    ifd = n(2, 2) + n(0x010F, 2) + n(2, 2) + n(1, 4) + n(0, 4)  # Make, then Orientation
    ifd += n(0x0112, 2) + n(3, 2) + n(1, 4) + n(orientation, 2) + n(0, 2) + n(0, 4)
    tiff = (b"MM" if order == "big" else b"II") + n(42, 2) + n(8, 4) + ifd
    app1 = b"Exif\x00\x00" + tiff
    data = path.read_bytes()
    path.write_bytes(data[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + data[2:])


# What each EXIF orientation asks a viewer to do to the stored picture, and its undoing.
_EXIF_STORED = {
    1: lambda up: up,
    2: lambda up: up[:, ::-1],  # mirrored left-right
    3: lambda up: up[::-1, ::-1],  # upside down
    4: lambda up: up[::-1],  # mirrored top-bottom
    5: lambda up: up.transpose(1, 0, 2),  # mirrored across the main diagonal
    6: lambda up: np.rot90(up, 1),  # shown turned clockwise
    7: lambda up: np.rot90(up, 2).transpose(1, 0, 2),  # mirrored across the other diagonal
    8: lambda up: np.rot90(up, -1),  # shown turned anticlockwise
}


@pytest.mark.parametrize("order", ["big", "little"])
@pytest.mark.parametrize("orientation", sorted(_EXIF_STORED))
def test_every_exif_orientation_of_a_photo_comes_out_upright(
    tmp_path: Path, orientation: int, order: str
) -> None:
    # FFmpeg reads a mirroring orientation (2, 4, 7) as a turn, and PyAV cannot list a JPEG's side
    # data to show the mirror: such photos came out upside down until the EXIF was read directly.
    upright = np.zeros((64, 48, 3), np.uint8)
    upright[:32] = 255  # the top half is white
    path = tmp_path / f"o{orientation}.jpg"
    _jpeg_with_orientation(path, _EXIF_STORED[orientation](upright), orientation, order)
    assert sources.exif_mirrors(path) is (orientation in (2, 4, 5, 7))
    rgb = ImageSource(path).read().rgb
    assert rgb.shape == (64, 48, 3)
    assert rgb[:16].mean() > 200 and rgb[-16:].mean() < 50


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:30],  # cut inside the EXIF
        lambda b: b[:4] + b"\xff\xff" + b[6:],  # a segment length running off the end
        lambda b: b.replace(b"MM\x00*", b"XX\x00*"),  # no byte order
        lambda b: b.replace(b"MM\x00*\x00\x00\x00\x08", b"MM\x00*\x00\x00\xff\x08"),  # IFD0 past the end
    ],
)
def test_a_damaged_exif_block_is_read_as_no_orientation(tmp_path: Path, damage: Any) -> None:
    path = tmp_path / "damaged.jpg"
    _jpeg_with_orientation(path, np.zeros((16, 16, 3), np.uint8), 2)
    path.write_bytes(damage(path.read_bytes()))
    assert sources.exif_mirrors(path) is None


def test_files_without_exif_have_no_orientation(png: Path, video: Path) -> None:
    assert sources.exif_mirrors(png) is None and sources.exif_mirrors(video) is None


def test_a_rotated_frame_turns_both_images_clockwise() -> None:
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[0, 0] = 255  # top-left
    frame = Frame(rgb, 1.5, 7, np.ascontiguousarray(rgb[::2, ::2]), 0.01)
    turned = frame.rotated(1)
    assert turned.size == (4, 6) and (turned.t, turned.index, turned.decode_s) == (1.5, 7, 0.01)
    assert turned.rgb.shape == (6, 4, 3) and turned.rgb[0, 3, 0] == 255  # top-left went top-right
    assert turned.lores is not None and turned.lores.shape == (3, 2, 3) and turned.lores[0, 1, 0] == 255
    assert frame.rotated(4) is frame
    assert frame.rotated(2).rgb[3, 5, 0] == 255
    # Decoded planes stay as stored; the quarter turns that make them upright add up.
    frame.decoded, frame.turns = object(), 1
    assert frame.rotated(1).decoded is frame.decoded and frame.rotated(1).turns == 0
    assert frame.rotated(3).turns == 2
    assert turned.picture_for(None) is turned.rgb  # no separate screen picture: the RGB image is drawn
    bgra = np.zeros((4, 6, 4), np.uint8)
    bgra[0, 0] = (0, 0, 255, 255)  # red, top-left
    asked: list[Any] = []

    def make_picture(shown: Any, scale_below: float) -> np.ndarray:
        asked.append(shown)
        return bgra

    video_like = Frame.deferred(lambda: rgb, (6, 4), 0.0, 0, make_picture=make_picture).rotated(1)
    whole = video_like.picture_for(None)
    assert whole.shape == (6, 4, 4) and tuple(whole[0, 3]) == (0, 0, 255, 255)
    video_like.picture_for((2, 3))
    assert asked == [None, (3, 2)]  # asked of the frame as stored: sideways


def test_a_video_whose_timestamps_are_all_equal_is_spaced_at_its_declared_rate(tmp_path: Path) -> None:
    # Equal timestamps make the container's average rate nonsense (120 fps here); the frames must
    # still be spaced at the rate the stream declares, or a set would last a fraction of a second.
    path = tmp_path / "equal-pts.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(N_FRAMES):
            frame = av.VideoFrame.from_ndarray(frame_image(i, 320, 240), format="rgb24")
            frame.pts = 0
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with VideoFileSource(path) as source:
        times = [frame.t for frame in source]
    assert len(times) == N_FRAMES and source.fps == FPS
    assert np.diff(times) == pytest.approx(1.0 / FPS)


def test_end_of_stream_repeats_and_iteration_stops(video: Path) -> None:
    source = VideoFileSource(video)
    for _ in range(N_FRAMES):
        source.read(5.0)
    with pytest.raises(EndOfStream):
        source.read(5.0)
    with pytest.raises(EndOfStream):
        source.read(5.0)
    source.close()
    source.close()


def test_loop_keeps_time_increasing(video: Path) -> None:
    with VideoFileSource(video, loop=True) as source:
        times = [source.read(5.0).t for _ in range(3 * N_FRAMES)]
    assert (np.diff(times) > 0).all()
    assert times[N_FRAMES] == pytest.approx(N_FRAMES / FPS, abs=1e-6)


class FakeClock:
    """A clock that only moves when slept on (or told to)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _wait_for_decoder(source: VideoFileSource, frames: int) -> None:
    deadline = time.monotonic() + 10
    while source._queue.qsize() < frames and time.monotonic() < deadline:
        time.sleep(0.01)


def test_realtime_paces_to_timestamps_and_skips_to_the_newest_due_frame(video: Path) -> None:
    clock = FakeClock()
    with VideoFileSource(video, realtime=True, clock=clock, sleep=clock.sleep) as source:
        assert source.live
        first = source.read(5.0)
        start = clock.now
        second = source.read(5.0)
        assert second.index == 1 and clock.now - start == pytest.approx(1 / FPS)
        _wait_for_decoder(source, 3)
        clock.now += 0.25  # the reader was busy for 2.5 frame intervals
        late = source.read(5.0)
        assert late.index == 3 and source.skipped == 1  # frame 2 was overtaken by frame 3
        assert first.index == 0


def test_realtime_read_times_out_instead_of_sleeping_past_the_deadline(video: Path) -> None:
    clock = FakeClock()
    with VideoFileSource(video, realtime=True, clock=clock, sleep=clock.sleep) as source:
        source.read(5.0)
        with pytest.raises(FrameTimeout):
            source.read(0.02)  # next frame due in 0.1 s
        assert source.read(5.0).index == 1  # kept, not lost


class Blocking(sources._ThreadedSource):
    """A producer that hangs (a driver stuck in the kernel), or fails."""

    def __init__(self, fail: Exception | None = None) -> None:
        super().__init__("blocking", depth=1, latest_only=True)
        self.release = threading.Event()
        self.fail = fail
        self._start()

    def _frames(self) -> Iterator[Frame]:
        if self.fail is not None:
            raise self.fail
        self.release.wait(10)
        yield Frame(np.zeros((4, 4, 3), np.uint8), 0.0, 0)

    def _failure(self, exc: Exception) -> SourceError:
        return SourceError(f"wrapped: {exc}")


def test_a_stuck_producer_never_blocks_a_read() -> None:
    source = Blocking()
    with pytest.raises(FrameTimeout):
        source.read(0.05)
    source.release.set()
    assert source.read(5.0).index == 0
    source.close()


def test_producer_failures_arrive_typed() -> None:
    source = Blocking(fail=OSError(19, "No such device"))
    with pytest.raises(SourceError, match="wrapped"):
        source.read(5.0)
    source.close()


class SlowDecoder(sources._ThreadedSource):
    """A file whose every frame takes longer to decode than a read waits (4K HEVC on a Pi 4), scaled
    down: reads wait 0.02 s, frames take 0.1 s. `die`: the thread ends without handing anything over."""

    def __init__(self, frames: int, die: bool = False) -> None:
        super().__init__("slow.mp4", depth=3, latest_only=False)
        self.frames, self.die = frames, die
        self._start()

    def read(self, timeout: float = 0.02) -> Frame:
        return super().read(timeout)

    def _frames(self) -> Iterator[Frame]:
        if self.die:
            raise SystemExit  # not caught by the producer loop: the thread just ends
        for i in range(self.frames):
            time.sleep(0.1)
            yield Frame(np.zeros((2, 2, 3), np.uint8), float(i), i)

    def _failure(self, exc: Exception) -> SourceError:
        return SourceError(str(exc))


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_iterating_waits_for_a_slow_decoder_but_not_for_a_dead_one() -> None:
    with SlowDecoder(3) as source:
        assert [frame.index for frame in source] == [0, 1, 2]
    with SlowDecoder(3, die=True) as dead, pytest.raises(FrameTimeout):
        list(dead)


def test_latest_only_drops_old_frames() -> None:
    class Burst(sources._ThreadedSource):
        def __init__(self) -> None:
            super().__init__("burst", depth=1, latest_only=True)
            self.done = threading.Event()
            self._start()

        def _frames(self) -> Iterator[Frame]:
            for i in range(5):
                yield Frame(np.zeros((2, 2, 3), np.uint8), float(i), i)
            self.done.set()
            self._stop.wait(10)  # a camera that goes quiet until closed
            yield from ()

        def _failure(self, exc: Exception) -> SourceError:
            return SourceError(str(exc))

    source = Burst()
    assert source.done.wait(5)
    assert source.read(1.0).index == 4 and source.dropped == 4
    source.close()


def test_unreadable_inputs_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        VideoFileSource(tmp_path / "missing.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 50)
    with pytest.raises(InputError, match="not a readable video"):
        VideoFileSource(text)
    with pytest.raises(InputError, match="not a file"):
        VideoFileSource(tmp_path)
    audio = tmp_path / "tone.wav"
    with av.open(str(audio), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            out.mux(packet)
    with pytest.raises(InputError, match="no video stream"):
        VideoFileSource(audio)


def test_a_video_cut_short_ends_where_it_can_no_longer_be_read(video: Path, tmp_path: Path) -> None:
    # An interrupted copy. Without its index (an MP4's moov at the end) there is nothing to read:
    # an input error at once. A file that carries its index as it goes (MKV) plays up to the cut.
    cut = tmp_path / "cut.mp4"
    data = video.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="not a readable video"):
        VideoFileSource(cut)
    whole = tmp_path / "whole.mkv"
    with av.open(str(whole), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(60):
            picture = av.VideoFrame.from_ndarray(frame_image(i, 320, 240), format="rgb24")
            picture.pts = i
            out.mux(stream.encode(picture))
        out.mux(stream.encode())
    data = whole.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    read = 0
    with VideoFileSource(cut) as source, pytest.raises(EndOfStream):
        while True:
            source.read(5.0)  # a bounded wait: a source that hung would raise SourceTimeout
            read += 1
    assert 10 <= read < 60


def _damaged_copy(tmp_path: Path, packets: slice, start_s: int = 0) -> tuple[Path, int]:
    """A 60-frame clip (its timeline starting at `start_s`) with the packets `packets` (in file order)
    overwritten, and the frame count."""
    clean = tmp_path / "clean.mp4"
    with av.open(str(clean), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"g": "10"}
        for i in range(60):
            picture = av.VideoFrame.from_ndarray(frame_image(i, 320, 240), format="rgb24")
            picture.pts, picture.time_base = 30 * start_s + i, Fraction(1, 30)
            for p in stream.encode(picture):
                out.mux(p)
        for p in stream.encode():
            out.mux(p)
    with av.open(str(clean)) as container:
        where = [(p.pos, p.size) for p in container.demux(video=0) if p.size]
    data = bytearray(clean.read_bytes())
    for pos, size in where[packets]:
        data[pos : pos + size] = b"\xff" * size
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    return damaged, len(where)


def test_a_damaged_stretch_of_a_video_costs_its_own_frames_not_the_rest(tmp_path: Path) -> None:
    """A phone clip with a glitch halfway: the decoder refuses a packet, and every frame after it
    still comes, with the damage counted and placed for the report."""
    damaged, total = _damaged_copy(tmp_path, slice(30, 31))
    with VideoFileSource(damaged) as source:
        times = [frame.t for frame in source]
    assert total - 10 <= len(times) < total  # at most the group of pictures that leans on it
    assert times[-1] == pytest.approx((total - 1) / 30, abs=0.05)  # to the end of the clip
    assert all(b > a for a, b in itertools.pairwise(times))
    assert source.damaged >= 1 and 0.5 <= source.damaged_at <= 1.1  # the last good frame before it


def test_a_video_with_nothing_decodable_is_still_an_input_error(tmp_path: Path) -> None:
    damaged, _ = _damaged_copy(tmp_path, slice(None))
    with pytest.raises(InputError, match="damaged or truncated"), VideoFileSource(damaged) as source:
        list(source)


def test_still_image(png: Path) -> None:
    source = ImageSource(png)
    frame = source.read()
    assert frame.rgb.shape == (200, 300, 3) and frame.t == 0.0 and frame.lores is None
    assert tuple(frame.rgb[0, 0]) == (255, 0, 0)  # alpha dropped, colours kept
    with pytest.raises(EndOfStream):
        source.read()


def test_a_broken_image_is_an_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(InputError, match=r"broken\.png"):
        ImageSource(bad)


def test_open_source_dispatch(video: Path, png: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(open_source(str(png)), ImageSource)
    source = open_source(str(video), realtime=False)
    assert isinstance(source, VideoFileSource) and not source.live
    source.close()
    with pytest.raises(SourceError, match=r"/dev/video99: no such camera"):
        open_source("99")


def test_auto_with_no_camera_says_what_to_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import fails, as off a Pi
    monkeypatch.setattr(sources.glob, "glob", lambda pattern: [])
    with pytest.raises(SourceError, match="no camera found") as info:
        open_source("auto")
    assert "picamera2 is not available" in str(info.value) and "no /dev/video*" in str(info.value)


# ----------------------------------------------------------------------------------- USB camera


def test_camera_source_stamps_arrival_time_and_reports_a_vanished_camera(
    video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A video file stands in for /dev/video0; it then 'vanishes' with an I/O error mid-stream."""
    real_open = sources._open_container

    class Vanishing:
        def __init__(self, container: Any) -> None:
            self._c = container
            self.streams = container.streams

        def decode(self, stream: Any) -> Iterator[Any]:
            for i, frame in enumerate(self._c.decode(stream)):
                if i == 3:
                    raise OSError(19, "No such device")
                yield frame

        def close(self) -> None:
            self._c.close()

    opened: dict[str, Any] = {}

    def fake_open(path: str, **kwargs: Any) -> Any:
        opened.update(kwargs)
        return Vanishing(real_open(str(video)))

    monkeypatch.setattr(sources, "_open_container", fake_open)
    monkeypatch.setattr(sources.os.path, "exists", lambda p: True)
    camera = CameraSource("/dev/video0", size=(640, 360), fps=30, input_format="mjpeg")
    assert opened == {
        "format": "v4l2",
        "options": {"video_size": "640x360", "framerate": "30", "input_format": "mjpeg"},
    }
    assert camera.live
    got = []
    with pytest.raises(SourceError, match="stopped delivering frames"):
        while True:
            got.append(camera.read(5.0))
    camera.close()
    assert got, "frames before the failure are delivered"
    assert all(abs(f.t - time.monotonic()) < 10 for f in got)  # media time is not a capture clock
    assert got[-1].decoded is not None and got[-1].size == (1280, 720)


def test_camera_permission_and_busy_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources.os.path, "exists", lambda p: True)

    def denied(path: str, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(sources, "_open_container", denied)
    with pytest.raises(SourceError, match="'video' group"):
        CameraSource("/dev/video0")

    def busy(path: str, **kwargs: Any) -> Any:
        raise av.error.OSError(16, "Device or resource busy")

    monkeypatch.setattr(sources, "_open_container", busy)
    with pytest.raises(SourceError, match="other program"):
        CameraSource("/dev/video0")


def test_a_camera_stuck_in_its_driver_is_reported_hung_and_not_reopened_as_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The driver stops delivering without the device going away: the capture thread blocks in it."""
    driver = threading.Event()  # set when the test ends: the stuck call returns
    opened: list[Any] = []

    class StuckContainer:
        def __init__(self) -> None:
            codec = SimpleNamespace(width=640, height=360)
            self.streams = SimpleNamespace(video=[SimpleNamespace(codec_context=codec, thread_count=0)])
            self.closed = False

        def decode(self, stream: Any) -> Iterator[Any]:
            driver.wait(10)
            yield from ()

        def close(self) -> None:
            self.closed = True

    def fake_open(path: str, **kwargs: Any) -> Any:
        opened.append(StuckContainer())
        return opened[-1]

    monkeypatch.setattr(sources, "_open_container", fake_open)
    monkeypatch.setattr(sources.os.path, "exists", lambda p: True)
    monkeypatch.setattr(sources, "_HUNG_DEVICES", set())
    monkeypatch.setattr(sources, "_CLOSE_TIMEOUT_S", 0.1)
    try:
        camera = CameraSource("/dev/video0")
        with pytest.raises(FrameTimeout):
            camera.read(0.05)
        with pytest.raises(SourceHung, match=r"/dev/video0: .*restarts to free it"):
            camera.close()
        assert not opened[0].closed  # the device stays open: only the stuck thread could close it
        camera.close()  # twice: no second wait, no second error
        with pytest.raises(SourceHung, match="restarts to free it"):
            open_source("/dev/video0")
        monkeypatch.setitem(sys.modules, "picamera2", None)
        monkeypatch.setattr(sources.glob, "glob", lambda pattern: ["/dev/video0"])
        with pytest.raises(SourceHung):
            open_source("auto")
        assert len(opened) == 1  # refused at once, not "busy; close the other program using it"
    finally:
        driver.set()


def test_usb_camera_asks_for_mjpeg_then_falls_back(video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = sources._open_container
    asked: list[str | None] = []

    def no_mjpeg(path: str, **kwargs: Any) -> Any:
        fmt = kwargs.get("options", {}).get("input_format")
        asked.append(fmt)
        if fmt == "mjpeg":
            raise av.error.OSError(22, "Invalid argument")
        return real_open(str(video))

    monkeypatch.setattr(sources, "_open_container", no_mjpeg)
    monkeypatch.setattr(sources.os.path, "exists", lambda p: True)
    camera = sources.open_usb_camera("/dev/video0", size=(640, 360), fps=30)
    try:
        assert asked == ["mjpeg", None]
        assert camera.read(5.0).rgb.shape[2] == 3
    finally:
        camera.close()


# ------------------------------------------------------------------------------------ picamera2


def lores_picture(width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """I420 planes (BT.709, limited range, as picamera2's video configuration gives at 720p) of a
    picture with detail at every scale a crop resamples, distinct per channel and direction."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    rgb = np.stack(
        [
            128 + 100 * np.sin(x / 19.0) * np.cos(y / 31.0),
            40 + 180 * (x + 2 * y) / (width + 2 * height),
            128 + 90 * np.sin((x - y) / 23.0),
        ],
        axis=2,
    )
    picture = av.VideoFrame.from_ndarray(np.clip(rgb, 0, 255).astype(np.uint8), format="rgb24")
    i420 = picture.reformat(format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG")
    return tuple(  # type: ignore[return-value]
        np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, : p.width].copy() for p in i420.planes
    )


def lores_rgb(
    planes: tuple[np.ndarray, ...], colorspace: str = "ITU709", color_range: str = "MPEG"
) -> np.ndarray:
    """What swscale makes of unpadded I420 planes: the reference a crop of the camera is held to."""
    width = planes[0].shape[1]
    i420 = np.concatenate([p.reshape(-1) for p in planes]).reshape(-1, width)
    frame = av.VideoFrame.from_ndarray(i420, format="yuv420p")
    return frame.reformat(format="rgb24", src_colorspace=colorspace, src_color_range=color_range).to_ndarray()


def picamera2_yuv420(planes: tuple[np.ndarray, ...], stride: int) -> np.ndarray:
    """`planes` as picamera2's `make_array` returns YUV420: (H*3/2, stride) bytes, the Y plane in rows
    of `stride`, then U and V in rows of stride/2 each (picamera2/request.py, `Helpers.make_array`),
    the padding filled with junk."""
    height = planes[0].shape[0]
    flat = np.full(height * 3 // 2 * stride, 7, np.uint8)
    offset = 0
    for plane, row in zip(planes, (stride, stride // 2, stride // 2), strict=True):
        rows, width = plane.shape
        flat[offset : offset + rows * row].reshape(rows, row)[:, :width] = plane
        offset += rows * row
    return flat.reshape(height * 3 // 2, stride)


class FakeRequest:
    def __init__(self, camera: FakePicamera2) -> None:
        self.camera = camera
        self.released = False

    def make_array(self, name: str) -> np.ndarray:
        config = self.camera.camera_config[name]
        w, h = config["size"]
        if name == "main":  # picamera2 strips the padding of RGB rows
            img = np.full((h, w, 4), 255, np.uint8)
            img[..., :3] = (10, 20, 200)  # "XRGB8888" arrives as B, G, R, 255: red here
            return img
        planes = self.camera.lores_planes or lores_picture(w, h)
        return picamera2_yuv420(planes, config["stride"])

    def get_metadata(self) -> dict:
        return {"SensorTimestamp": 123_456_789_000}

    def release(self) -> None:
        self.released = True


class FakePicamera2:
    """picamera2 (picamera2/picamera2.py) where it matters here.

    `configure` fills in each stream's row `stride` (libcamera's). `capture_request(wait=False)`
    queues a job that the next frame completes; `wait(job, timeout)` is the job's future's result.
    `stop()`, with the event loop running, queues its own job behind the pending ones and waits for
    it without a timeout; `cancel_all_and_flush()` cancels and drops the pending jobs; `close()` ends
    the event loop first, so the stop inside it runs directly, whatever is pending.
    """

    cameras: ClassVar[list] = [{"Model": "imx708"}]
    instances: ClassVar[list] = []
    chroma_align: ClassVar[int] = 32  # bytes a U or V row is padded to; a Pi 5 pads to 64
    lores_granted: ClassVar[tuple[int, int] | None] = None  # the lores size libcamera adjusts to
    # picamera2's choice for 720p video: BT.709 matrix, limited range (libcamera's Python enums)
    colour_space: ClassVar[Any] = SimpleNamespace(
        ycbcrEncoding=SimpleNamespace(name="Rec709"), range=SimpleNamespace(name="Limited")
    )

    def __init__(self, camera_num: int = 0) -> None:
        self.requests: list[FakeRequest] = []
        self.jobs: list[Future] = []  # pending: waiting for a frame
        self.stalled = False  # no frames come (a loose ribbon)
        self.close_blocks = False  # libcamera's stop stuck in the driver
        self.unblock = threading.Event()  # set when the test ends: frees whatever blocked (or 10 s)
        self.started = self.closed = self.stop_blocked = False
        self.lores_planes: tuple[np.ndarray, ...] | None = None  # what the lores shows (else a test picture)
        FakePicamera2.instances.append(self)

    @classmethod
    def global_camera_info(cls) -> list:
        return cls.cameras

    def create_video_configuration(self, **kwargs: Any) -> dict:
        return kwargs

    def configure(self, config: dict) -> None:
        self.config = config
        main, lores = dict(config["main"]), dict(config["lores"])
        lores["size"] = self.lores_granted or lores["size"]
        main["stride"] = main["size"][0] * 4
        chroma = -(-lores["size"][0] // 2 // self.chroma_align) * self.chroma_align
        lores["stride"] = 2 * chroma  # YUV420: the Y row is twice the chroma row
        self.camera_config = {**config, "main": main, "lores": lores, "colour_space": self.colour_space}

    def start(self) -> None:
        self.started = True

    def capture_request(self, wait: Any = None) -> Future:
        assert wait is False
        job: Future = Future()
        if self.stalled:
            self.jobs.append(job)
        else:
            request = FakeRequest(self)
            self.requests.append(request)
            job.set_result(request)
        return job

    def fail_pending(self, exc: Exception) -> None:
        """The pending jobs end in `exc`."""
        for job in self.jobs:
            job.set_exception(exc)
        self.jobs.clear()

    def wait(self, job: Future, timeout: float | None = None) -> FakeRequest:
        assert timeout is not None, "a read must never wait forever"
        return job.result(timeout=timeout)

    def cancel_all_and_flush(self) -> None:
        for job in self.jobs:
            job.set_exception(CancelledError())
        self.jobs.clear()

    def stop(self) -> None:
        if self.started and self.jobs:  # our stop job waits behind a capture that never completes
            self.stop_blocked = True
            assert self.unblock.wait(10), "stop() waited forever behind the stalled capture"
        self.started = False

    def close(self) -> None:
        if self.close_blocks:
            self.unblock.wait(10)
        self.started, self.closed = False, True


@pytest.fixture
def fake_picamera2(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakePicamera2]]:
    FakePicamera2.instances = []
    FakePicamera2.cameras = [{"Model": "imx708"}]
    FakePicamera2.chroma_align = 32
    FakePicamera2.lores_granted = None
    monkeypatch.setitem(sys.modules, "picamera2", SimpleNamespace(Picamera2=FakePicamera2))
    monkeypatch.setattr(sources, "_HUNG_DEVICES", set())
    yield FakePicamera2
    for cam in FakePicamera2.instances:
        cam.unblock.set()


def test_picamera2_dual_streams(fake_picamera2: type[FakePicamera2]) -> None:
    source = Picamera2Source(main_size=(1280, 720), fps=30, buffer_count=3)
    cam = fake_picamera2.instances[0]
    assert cam.config["main"] == {"size": (1280, 720), "format": "XRGB8888"}
    assert cam.config["lores"] == {"size": (704, 396), "format": "YUV420"}  # in the main's proportions
    assert cam.config["buffer_count"] == 3 and cam.config["queue"] is False
    assert cam.config["controls"]["FrameDurationLimits"] == (33333, 33333)
    frame = source.read(1.0)
    assert frame.t == pytest.approx(123.456789) and frame.index == 0
    assert frame.size == (1280, 720) and frame.picture_for(None).shape == (720, 1280, 4)  # drawn as it came
    assert frame.rgb.shape == (720, 1280, 3) and tuple(frame.rgb[0, 0]) == (200, 20, 10)
    # The model crops the lores planes; no RGB copy of the lores is made.
    assert frame.lores is None and isinstance(frame.decoded, CameraPlanes)
    assert (frame.decoded.width, frame.decoded.height) == (704, 396)
    assert frame.decoded_scale == pytest.approx(0.55)
    assert frame.decoded.colorspace == 1 and frame.decoded.color_range == 1  # BT.709, limited
    assert cam.requests[0].released
    assert source.read(1.0).index == 1
    source.close()
    assert cam.closed and not cam.started
    source.close()


@pytest.mark.parametrize("turns", [0, 1])  # 1: a camera mounted on its side, for a portrait mirror
def test_a_crop_of_the_pi_cameras_lores_shows_the_box_it_reports(
    fake_picamera2: type[FakePicamera2], turns: int
) -> None:
    from tests.test_preprocess import S

    source = Picamera2Source(main_size=(1280, 720))
    frame = source.read(1.0).rotated(turns)
    assert frame.decoded_scale == pytest.approx(0.55)
    # The lores, in lores pixels, turned as the frame is (rotated's turns are clockwise).
    reference = np.ascontiguousarray(np.rot90(lores_rgb(lores_picture(704, 396)), -turns))
    maker = InputMaker(S)
    boxes = (CropBox(300.7, 10.2, 620.0), CropBox(-150.0, -40.0, 900.0), CropBox.full_frame(*frame.size))
    for box in boxes if turns == 0 else (CropBox(10.2, 300.7, 620.0), CropBox.full_frame(*frame.size)):
        out, used = maker(frame, box, np.zeros((S, S, 3), np.uint8))
        # Snapped to even lores pixels: under 2 lores pixels (3.6 main pixels) off.
        assert (
            np.hypot(used.centre[0] - box.centre[0], used.centre[1] - box.centre[1]) <= 2 * np.sqrt(2) / 0.55
        )
        assert abs(used.size - box.size) <= 2 / 0.55

        def resampled(b: CropBox) -> np.ndarray:
            return CropResizer(S)(reference, CropBox(b.x0 * 0.55, b.y0 * 0.55, b.size * 0.55)).astype(int)

        diff = np.abs(out.astype(int) - resampled(used)).mean()
        assert diff < 2.0, (box, diff)
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):  # a main pixel (0.55 lores) away fits worse
            moved = CropBox(used.x0 + dx, used.y0 + dy, used.size)
            assert np.abs(out.astype(int) - resampled(moved)).mean() > diff, (box, (dx, dy))
    # A crop spanning fewer lores pixels than the model input is made from the main stream.
    small = CropBox(200.0, 300.0, 300.0)
    out, used = maker(frame, small)
    assert used == small
    np.testing.assert_array_equal(out, CropResizer(S)(frame.rgb, small))
    source.close()


def test_picamera2_lores_rows_padded_by_a_pi_5_give_the_same_input(
    fake_picamera2: type[FakePicamera2],
) -> None:
    # A Pi 4 pads each chroma row to 32 bytes, a Pi 5 to 64 and the Y row to twice that: a 704-wide
    # lores then has 768-byte rows, 64 columns of padding (filled with junk here) on every row.
    pi4 = Picamera2Source(main_size=(1280, 720))
    fake_picamera2.chroma_align = 64
    pi5 = Picamera2Source(main_size=(1280, 720))
    assert fake_picamera2.instances[1].camera_config["lores"]["stride"] == 768
    box = CropBox.full_frame(1280, 720)
    unpadded, used4 = InputMaker(192)(pi4.read(1.0), box)
    padded, used5 = InputMaker(192)(pi5.read(1.0), box)
    assert used4 == used5 and np.array_equal(padded, unpadded)  # no junk columns
    pi4.close()
    pi5.close()


def test_a_full_range_camera_stream_is_converted_as_full_range(fake_picamera2: type[FakePicamera2]) -> None:
    fake_picamera2.colour_space = SimpleNamespace(
        ycbcrEncoding=SimpleNamespace(name="Rec601"), range=SimpleNamespace(name="Full")
    )  # sYCC, as picamera2's preview and still configurations ask for
    source = Picamera2Source(main_size=(1280, 720))
    grey = (
        np.full((396, 704), 200, np.uint8),
        np.full((198, 352), 128, np.uint8),
        np.full((198, 352), 128, np.uint8),
    )
    fake_picamera2.instances[0].lores_planes = grey
    out, _ = InputMaker(192)(source.read(1.0), CropBox(200.0, 100.0, 400.0))
    assert np.abs(out.astype(int) - 200).max() <= 3  # swscale rounds; read as limited range: 214
    source.close()


def test_a_lores_out_of_proportion_is_not_used(
    fake_picamera2: type[FakePicamera2], caplog: pytest.LogCaptureFixture
) -> None:
    fake_picamera2.lores_granted = (704, 384)  # libcamera rounded the height
    source = Picamera2Source(main_size=(1280, 720))
    assert "not in the same proportions" in caplog.text
    frame = source.read(1.0)
    assert frame.decoded is None and frame.lores is None
    box = CropBox(300.7, 10.2, 620.0)
    out, used = InputMaker(192)(frame, box)
    assert used == box  # from the main stream, exactly where asked
    np.testing.assert_array_equal(out, CropResizer(192)(frame.rgb, box))
    source.close()


def test_picamera2_timeout_and_failure(fake_picamera2: type[FakePicamera2]) -> None:
    source = Picamera2Source()
    cam = fake_picamera2.instances[0]
    cam.stalled = True
    with pytest.raises(FrameTimeout):
        source.read(0.1)
    cam.fail_pending(RuntimeError("Camera frontend has timed out!"))
    with pytest.raises(SourceError, match="ribbon cable"):
        source.read(0.1)
    source.close()


def test_closing_a_stalled_picamera2_cancels_the_pending_capture_and_never_hangs(
    fake_picamera2: type[FakePicamera2],
) -> None:
    source = Picamera2Source()
    cam = fake_picamera2.instances[0]
    cam.stalled = True
    with pytest.raises(FrameTimeout):
        source.read(0.05)  # the capture job stays pending: the camera never completes it
    job = cam.jobs[0]
    closer = threading.Thread(target=source.close, daemon=True)
    closer.start()
    closer.join(5.0)
    assert not closer.is_alive() and not cam.stop_blocked, "close() waited behind the stalled capture"
    assert cam.closed and not cam.jobs and source._job is None
    with pytest.raises(CancelledError):
        job.result(0)
    with pytest.raises(SourceError, match="closed"):
        source.read(0.05)


def test_a_picamera2_that_cannot_close_is_reported_hung_and_not_reopened(
    fake_picamera2: type[FakePicamera2], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "_CLOSE_TIMEOUT_S", 0.1)
    source = Picamera2Source()
    cam = fake_picamera2.instances[0]
    cam.stalled = cam.close_blocks = True
    with pytest.raises(FrameTimeout):
        source.read(0.05)
    with pytest.raises(SourceHung, match=r"picamera2:0: .*restarts to free it"):
        source.close()
    assert not cam.closed  # given up on: the camera's close is still stuck, and was not waited for
    source.close()  # twice: nothing left to do
    with pytest.raises(SourceHung, match="restarts to free it"):
        Picamera2Source()
    assert len(fake_picamera2.instances) == 1  # refused before touching the camera


def test_picamera2_without_a_camera(fake_picamera2: type[FakePicamera2]) -> None:
    fake_picamera2.cameras = []
    with pytest.raises(SourceError, match="no Raspberry Pi camera detected"):
        Picamera2Source()


def test_a_broken_picamera2_install_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A numpy from pip shadowing Raspberry Pi OS's breaks picamera2's compiled dependencies.
    package = tmp_path / "picamera2"
    package.mkdir()
    (package / "__init__.py").write_text(
        'raise ValueError("numpy.dtype size changed, may indicate binary incompatibility")\n'
    )
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SourceError, match=r"numpy\.dtype size changed") as info:
        Picamera2Source()
    assert "--system-site-packages" in str(info.value) and "numpy" in str(info.value)


# --------------------------------------------------------------------------------- shared clips


def test_a_real_clip(shared_data: Path) -> None:
    clip = shared_data / "clips" / "kettlebell-oblique" / "swing-russian.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} not found")
    with VideoFileSource(clip) as source:
        frames = [source.read(5.0) for _ in range(10)]
    assert frames[0].t == 0.0
    assert np.diff([f.t for f in frames]) == pytest.approx(np.full(9, 1 / 30), abs=1e-3)
    assert frames[0].rgb.shape == (720, 404, 3) and frames[0].decoded.format.name == "yuv420p"


def test_a_picamera2_whose_flush_fails_or_is_missing_is_still_closed(
    fake_picamera2: type[FakePicamera2], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_flush(self: FakePicamera2) -> None:
        raise RuntimeError("camera in an odd state")

    monkeypatch.setattr(FakePicamera2, "cancel_all_and_flush", broken_flush)
    source = Picamera2Source()
    cam = fake_picamera2.instances[0]
    with pytest.raises(RuntimeError, match="odd state"):  # reported to the caller, as before
        source.close()
    assert cam.closed
    monkeypatch.delattr(FakePicamera2, "cancel_all_and_flush")  # a picamera2 from before it existed
    source = Picamera2Source()
    source.close()
    assert fake_picamera2.instances[-1].closed


def test_analyze_says_where_a_video_was_damaged(tmp_path: Path, model_path: Path, capsys) -> None:
    from kiosk.pose import track_from_media

    damaged, total = _damaged_copy(tmp_path, slice(30, 31), start_s=10)  # a clip cut from a longer one
    track = track_from_media(damaged, model_path=model_path, progress=False)
    assert total - 10 <= len(track.t) < total and track.t[0] == 0.0
    err = capsys.readouterr().err
    said = re.search(
        r"damaged: 1 packet\(s\) could not be decoded and were passed over, the first near (\S+) s", err
    )
    assert said and 0.5 <= float(said.group(1)) <= 1.1, err  # on the track's clock, not the file's


def test_an_empty_file_is_called_empty(tmp_path: Path) -> None:
    empty = tmp_path / "copy.mp4"
    empty.touch()
    with pytest.raises(InputError, match=r"copy\.mp4: the file is empty \(0 bytes\)"):
        VideoFileSource(empty)
