"""Crop geometry and resampling: model input pixels sit exactly where `CropBox` says they do."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.preprocess import CropBox, CropResizer, _box_sum, pick_level
from kiosk.sources import Frame

S = 192


def gradient_image(width: int, height: int) -> np.ndarray:
    """R = column index, G = row index (so both must be <= 256), B = 100."""
    img = np.empty((height, width, 3), np.uint8)
    img[..., 0] = np.arange(width, dtype=np.uint8)[None, :]
    img[..., 1] = np.arange(height, dtype=np.uint8)[:, None]
    img[..., 2] = 100
    return img


def sample_centres(start: float, size: float) -> np.ndarray:
    """Source coordinates of the model input's pixel centres along one axis."""
    return start + (np.arange(S) + 0.5) * size / S


@given(
    w=st.integers(16, 4000),
    h=st.integers(16, 4000),
)
def test_full_frame_is_the_centred_letterbox(w: int, h: int) -> None:
    box = CropBox.full_frame(w, h)
    assert box.size == max(w, h)
    assert box.centre == pytest.approx((w / 2, h / 2))
    assert min(box.x0, box.y0) <= 0 and max(box.x0, box.y0) == 0


finite = st.floats(-2000, 2000, allow_nan=False)


@given(
    x0=finite,
    y0=finite,
    size=st.floats(8, 4000),
    raw=st.lists(
        st.tuples(st.floats(-0.2, 1.2), st.floats(-0.2, 1.2), st.floats(0, 1)), min_size=17, max_size=17
    ),
)
def test_model_output_maps_to_source_and_back(x0: float, y0: float, size: float, raw: list) -> None:
    box = CropBox(x0, y0, size)
    raw_rows = np.array(raw, np.float32)
    pose = box.to_source(raw_rows)
    assert pose[:, 0] == pytest.approx(x0 + raw_rows[:, 1] * size, rel=1e-5, abs=1e-2)
    assert pose[:, 1] == pytest.approx(y0 + raw_rows[:, 0] * size, rel=1e-5, abs=1e-2)
    np.testing.assert_array_equal(pose[:, 2], raw_rows[:, 2])
    back = np.empty_like(pose)  # the inverse, worked out by hand: MoveNet's (y, x, score) in the crop
    back[:, 0] = (pose[:, 1] - box.y0) / box.size
    back[:, 1] = (pose[:, 0] - box.x0) / box.size
    back[:, 2] = pose[:, 2]
    np.testing.assert_allclose(back, raw_rows, atol=2e-5 * max(1.0, (abs(x0) + abs(y0)) / size + 1))


@given(x0=finite, size=st.floats(8, 4000), width=st.integers(16, 4000), nx=st.floats(0, 1))
def test_mirroring_is_an_involution_and_mirrors_points(x0: float, size: float, width: int, nx: float) -> None:
    box = CropBox(x0, 10.0, size)
    mirrored = box.mirrored(width)
    twice = mirrored.mirrored(width)
    assert (twice.y0, twice.size) == (box.y0, box.size)
    assert twice.x0 == pytest.approx(box.x0, abs=1e-9 * max(width, size))
    point = box.x0 + nx * size
    assert mirrored.x0 + (1 - nx) * size == pytest.approx(width - point, abs=1e-6 * max(width, size, abs(x0)))


@settings(max_examples=60)
@given(
    width=st.integers(40, 256),
    height=st.integers(40, 256),
    fx=st.floats(0, 1),
    fy=st.floats(0, 1),
    scale=st.floats(0.2, 2.0),
)
def test_resampling_samples_exactly_at_the_declared_centres(
    width: int, height: int, fx: float, fy: float, scale: float
) -> None:
    """On a linear gradient, bilinear interpolation reproduces the coordinate it sampled at."""
    img = gradient_image(width, height)
    size = min(min(width, height) * scale, 2 * S)  # up to 2x: pure bilinear (beyond: next test)
    x0 = fx * (width - size) if size < width else (width - size) / 2
    y0 = fy * (height - size) if size < height else (height - size) / 2
    box = CropBox(x0, y0, size)
    out = CropResizer(S)(img, box)
    u = sample_centres(x0, size) - 0.5  # gradient value at a continuous position is position - 0.5
    v = sample_centres(y0, size) - 0.5
    # Compare where both taps lie inside the image (outside is black by design).
    ix = (u >= 0) & (u <= width - 1)
    iy = (v >= 0) & (v <= height - 1)
    assert np.abs(out[np.ix_(iy, ix)][..., 0] - u[ix][None, :]).max() <= 0.5 + 1e-3
    assert np.abs(out[np.ix_(iy, ix)][..., 1] - v[iy][:, None]).max() <= 0.5 + 1e-3
    assert (out[np.ix_(iy, ix)][..., 2] == 100).all()


@settings(max_examples=30)
@given(scale=st.floats(2.05, 6.0), fx=st.floats(0, 1))
def test_large_reductions_box_average_first_and_keep_the_geometry(scale: float, fx: float) -> None:
    """Beyond 2x the resizer box-averages by an integer factor; a linear gradient stays exact."""
    img = gradient_image(256, 256)
    size = S * scale  # 394..1152 source px: partly outside the 256 px image
    box = CropBox(fx * (256 - size), (256 - size) / 2, size)
    out = CropResizer(S)(img, box)
    u = sample_centres(box.x0, size) - 0.5
    k = int(np.ceil(size / (2 * S)))
    # Away from the image border (where blocks meet the black outside) the gradient is reproduced.
    inner = (u >= k) & (u <= 255 - 2 * k)
    row = out[S // 2]
    assert np.abs(row[inner, 0] - u[inner]).max() <= 0.5 + 1e-3


def test_outside_the_frame_is_black() -> None:
    img = np.full((100, 200, 3), 255, np.uint8)
    out = CropResizer(S)(img, CropBox.full_frame(200, 100))
    v = sample_centres(-50.0, 200.0)
    assert (out[v < -1] == 0).all() and (out[v > 101] == 0).all()
    assert (out[(v > 1) & (v < 99)] == 255).all()
    assert (CropResizer(S)(img, CropBox(500, 500, 50)) == 0).all()  # misses the image entirely


def test_a_bright_spot_maps_back_to_where_it_is() -> None:
    """End to end: find a spot in the model input, map its position back with `to_source`."""
    img = np.zeros((720, 1280, 3), np.uint8)
    cx, cy = 803.0, 411.0  # centre of the 10x10 spot below, in continuous coordinates
    img[406:416, 798:808] = 255
    for box in (CropBox.full_frame(1280, 720), CropBox(650.5, 260.25, 300.0), CropBox(760, 370, 90)):
        out = CropResizer(S)(img, box).astype(np.float64)[..., 0]
        ys, xs = np.mgrid[0:S, 0:S] + 0.5
        raw = np.array([[(out * ys).sum() / out.sum() / S, (out * xs).sum() / out.sum() / S, 1.0]] * 17)
        x, y = box.to_source(raw.astype(np.float32))[0, :2]
        px = box.size / S  # one model input pixel in source pixels
        assert abs(x - cx) <= 0.5 * px and abs(y - cy) <= 0.5 * px


def test_pick_level_uses_lores_only_when_it_has_enough_pixels() -> None:
    rgb = np.zeros((720, 1280, 3), np.uint8)
    lores = np.zeros((216, 384, 3), np.uint8)
    conversions = []

    def make() -> np.ndarray:
        conversions.append(1)
        return rgb

    frame = Frame.deferred(make, (1280, 720), 0.0, 0, lores)
    image, sx, sy = pick_level(frame, CropBox.full_frame(1280, 720), S)
    assert image is lores and sx == pytest.approx(0.3) and sy == pytest.approx(0.3)
    assert not conversions  # the full-size image was never made
    image, sx, sy = pick_level(frame, CropBox(500, 200, 400), S)  # 120 lores px < 192
    assert image is rgb and sx == sy == 1.0
    pick_level(frame, CropBox(500, 200, 300), S)
    assert len(conversions) == 1  # made once, then kept
    assert pick_level(Frame(rgb, 0.0, 0), CropBox.full_frame(1280, 720), S)[0] is rgb


def test_lores_and_full_resolution_give_the_same_input() -> None:
    y, x = np.mgrid[0:720, 0:1280]
    smooth = np.empty((720, 1280, 3), np.uint8)
    smooth[..., 0] = 128 + 100 * np.sin(x / 40.0) * np.cos(y / 50.0)
    smooth[..., 1] = 128 + 100 * np.cos(x / 23.0 + y / 31.0)
    smooth[..., 2] = (x + y) % 256 // 2
    lores = ((_box_sum(smooth, 2) + 2) // 4).astype(np.uint8)  # a 2x area downscale, like the ISP's
    box = CropBox(200.0, -100.0, 900.0)
    from_lores = CropResizer(S)(lores, box, 0.5, 0.5).astype(int)
    from_full = CropResizer(S)(smooth, box).astype(int)
    assert np.abs(from_lores - from_full).mean() < 1.5


def test_out_buffer_and_non_contiguous_frames() -> None:
    padded = np.zeros((300, 416, 3), np.uint8)
    padded[:, :404] = gradient_image(404 % 256 + 1, 300)[:, :1].repeat(404, 1)
    frame = padded[:, :404]  # PyAV-style view with padded rows
    assert not frame.flags["C_CONTIGUOUS"]
    out = np.empty((S, S, 3), np.uint8)
    resizer = CropResizer(S)
    result = resizer(frame, CropBox(0, 0, 300), out=out)
    assert result is out
    np.testing.assert_array_equal(out, resizer(np.ascontiguousarray(frame), CropBox(0, 0, 300)))


def test_box_sum_is_an_exact_area_sum() -> None:
    img = np.random.default_rng(0).integers(0, 256, (60, 90, 3)).astype(np.uint8)
    for k in (2, 3, 5):
        expected = img.reshape(60 // k, k, 90 // k, k, 3).astype(np.int64).sum(axis=(1, 3))
        np.testing.assert_array_equal(_box_sum(img, k), expected)


def test_separable_resampling_matches_a_per_pixel_bilinear_on_noise() -> None:
    """Random pixels (not a gradient, which any blend order reproduces) through a textbook bilinear."""
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (300, 420, 3), dtype=np.uint8)
    padded = np.zeros((302, 422, 3))  # a black border: every tap outside the image lands on it
    padded[1:-1, 1:-1] = img

    def tap(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        return padded[np.clip(yy + 1, 0, 301)][:, np.clip(xx + 1, 0, 421)]

    for box in (CropBox(37.3, -20.6, 310.0), CropBox(-50.0, 10.25, 260.5), CropBox(100.0, 50.0, 200.0)):
        out = CropResizer(S)(img, box).astype(float)
        centres = (np.arange(S) + 0.5) * box.size / S - 0.5
        px, py = box.x0 + centres, box.y0 + centres
        x0, y0 = np.floor(px).astype(int), np.floor(py).astype(int)
        fx, fy = px - x0, py - y0
        want = (
            tap(y0, x0) * ((1 - fy)[:, None] * (1 - fx)[None, :])[..., None]
            + tap(y0, x0 + 1) * ((1 - fy)[:, None] * fx[None, :])[..., None]
            + tap(y0 + 1, x0) * (fy[:, None] * (1 - fx)[None, :])[..., None]
            + tap(y0 + 1, x0 + 1) * (fy[:, None] * fx[None, :])[..., None]
        )
        assert np.abs(out - want).max() <= 1.0, box


@settings(max_examples=40)
@given(
    x0=st.floats(-150, 300),
    y0=st.floats(-150, 300),
    size=st.floats(40, 900),
    seed=st.integers(0, 2**16),
)
def test_an_rgbx_image_gives_the_same_input_as_its_rgb(x0: float, y0: float, size: float, seed: int) -> None:
    # The sources' lores copies come as RGBX (swscale writes it over twice as fast): the fourth byte
    # must never reach the model input.
    rgb = np.random.default_rng(seed).integers(0, 256, (384, 216, 3), dtype=np.uint8)
    rgbx = np.concatenate([rgb, np.full((384, 216, 1), 77, np.uint8)], axis=2)
    box = CropBox(x0, y0, size)
    expected = CropResizer(S)(rgb, box).copy()
    assert np.array_equal(CropResizer(S)(rgbx, box), expected)


def test_a_kept_crop_plan_gives_what_a_fresh_resizer_gives() -> None:
    """The resizer keeps the last crop's taps; switching crops, images, sizes and channel counts in
    any order must give exactly what a resizer that never saw the earlier calls gives."""
    rng = np.random.default_rng(11)
    rgb = rng.integers(0, 256, (300, 500, 3), dtype=np.uint8)
    rgbx = rng.integers(0, 256, (150, 250, 4), dtype=np.uint8)
    other = rng.integers(0, 256, (300, 500, 3), dtype=np.uint8)
    calls = [
        (rgb, CropBox(40.0, 20.0, 250.0), 1.0),
        (rgbx, CropBox(40.0, 20.0, 250.0), 0.5),  # same box, lores RGBX
        (rgb, CropBox(-80.0, -90.0, 480.0), 1.0),  # past the edges, box-summed (k = 2)
        (other, CropBox(-80.0, -90.0, 480.0), 1.0),  # same crop, another picture
        (rgb, CropBox(40.0, 20.0, 250.0), 1.0),
    ]
    kept = CropResizer(S)
    for image, box, scale in calls:
        np.testing.assert_array_equal(
            kept(image, box, scale, scale), CropResizer(S)(image, box, scale, scale)
        )


# ------------------------------------------------------------------ crops straight from decoded video


def smooth_image(width: int, height: int) -> np.ndarray:
    """A picture with detail at every scale a crop resamples well (no finer than ~12 px), distinct
    per channel and per direction, so a crop of the wrong place or orientation cannot match."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    r = 128 + 100 * np.sin(x / 19.0) * np.cos(y / 31.0)
    g = 40 + 180 * (x + 2 * y) / (width + 2 * height)
    b = 128 + 90 * np.sin((x - y) / 23.0)
    return np.clip(np.stack([r, g, b], axis=2), 0, 255).astype(np.uint8)


def decoded_frame(upright: np.ndarray, pix_fmt: str, turns: int) -> Frame:
    """A video frame as a decoder gives it: `pix_fmt` planes stored so that rot90(stored, turns) is
    upright; its `rgb` is what swscale makes of those planes (the reference a crop is compared to)."""
    import av

    stored = np.ascontiguousarray(np.rot90(upright, -turns))
    pix_fmt, _, full = pix_fmt.partition("/")  # "yuv420p/full": full range marked on the frame (VP9, AV1)
    decoded = av.VideoFrame.from_ndarray(stored, format="rgb24").reformat(
        format=pix_fmt, dst_color_range="JPEG" if full else None
    )
    rgb = np.ascontiguousarray(np.rot90(decoded.to_ndarray(format="rgb24"), turns))
    frame = Frame(rgb, 0.0, 0)
    frame.decoded, frame.turns = decoded, turns
    return frame


@pytest.mark.parametrize(
    "pix_fmt",
    [
        "yuv420p",
        "yuv420p/full",
        "yuvj420p",
        "yuv422p",
        "yuv444p",
        "nv12",
        "yuyv422",
        "gray",
        "yuv420p10le",  # HDR phone video (HEVC 10-bit)
        "yuv420p10le/full",
        "yuv422p12le",
    ],
)
@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_a_crop_from_the_decoded_planes_shows_the_box_it_reports(pix_fmt: str, turns: int) -> None:
    from kiosk.preprocess import InputMaker

    upright = smooth_image(330, 250)
    if pix_fmt == "gray":
        upright[...] = upright[..., 1:2]
    frame = decoded_frame(upright, pix_fmt, turns)
    maker = InputMaker(S)
    boxes = [
        CropBox(40.3, 30.7, 150.2),  # inside, off the even grid
        CropBox(101.0, 11.0, 97.0),  # smaller than the input: scaled up
        CropBox(-60.4, -25.1, 211.0),  # past the top-left corner
        CropBox(180.0, 120.0, 240.0),  # past the bottom-right corner
        CropBox.full_frame(330, 250),  # the letterboxed frame
    ]
    for box in boxes:
        out, used = maker(frame, box, np.zeros((S, S, 3), np.uint8))
        # Snapped to the even pixel grid of the picture as stored: the centre moves a pixel at most.
        assert np.hypot(used.centre[0] - box.centre[0], used.centre[1] - box.centre[1]) <= np.sqrt(2)
        assert abs(used.size - box.size) <= 1.0
        # The reference: the bilinear resampler on the same picture, for the box the crop reports.
        expected = CropResizer(S)(frame.rgb, used).astype(int)
        diff = np.abs(out.astype(int) - expected)
        assert diff.mean() < 2.0, (pix_fmt, turns, box, diff.mean())
        # Beyond the picture both are black, and nowhere are they far apart (a wrong place, turn or
        # plane order would be tens of levels off over whole regions).
        assert np.percentile(diff, 99) <= 12, (pix_fmt, turns, box, np.percentile(diff, 99))
        # And the reported box fits the crop better than any box a pixel away from it.
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            moved = CropBox(used.x0 + dx, used.y0 + dy, used.size)
            worse = np.abs(out.astype(int) - CropResizer(S)(frame.rgb, moved).astype(int)).mean()
            assert worse > diff.mean(), (pix_fmt, turns, box, (dx, dy), worse, diff.mean())


@pytest.mark.parametrize(
    "pix_fmt", ["yuv420p", "yuv420p/full", "yuvj420p", "yuv420p10le", "yuv420p10le/full"]
)
def test_a_crop_that_misses_the_decoded_picture_is_black(pix_fmt: str) -> None:
    from kiosk.preprocess import InputMaker

    frame = decoded_frame(smooth_image(200, 120), pix_fmt, 0)
    out, used = InputMaker(S)(frame, CropBox(500.0, 500.0, 60.0), np.full((S, S, 3), 99, np.uint8))
    assert used == CropBox(500.0, 500.0, 60.0) and out.max() <= 1


def test_a_video_layout_the_cropper_does_not_read_goes_through_the_resampler() -> None:
    from kiosk.preprocess import InputMaker

    frame = decoded_frame(smooth_image(200, 120), "gbrp", 0)  # planar RGB (FFV1, H.264 RGB)
    box = CropBox(10.3, 5.1, 90.0)
    out, used = InputMaker(S)(frame, box)
    assert used == box  # not snapped: the resampler takes any box
    np.testing.assert_array_equal(out, CropResizer(S)(frame.rgb, box))
