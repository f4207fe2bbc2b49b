"""Model input from camera frames: a square crop of the source, resampled into a preallocated buffer.

Geometry. Source pixel (i, j) covers the continuous square [i, i+1) x [j, j+1). A `CropBox` is a square in
those continuous source coordinates; it may reach past the frame edges, where the model sees black (the
letterbox of a whole non-square frame is just such a box). Input pixel k of S covers [k, k+1) of the
input, so a point at normalised input position n (MoveNet's output) sits at `x0 + n * size` in the
source. The resampler samples exactly there (pixel centres at `x0 + (k + 0.5) * size / S`), so model
output maps back to source pixels with no half-pixel or rounding drift.

Scaling. Bilinear interpolation is exact for the geometry and free of aliasing down to a factor of 2;
beyond that it skips pixels. So the frame sources also deliver a `lores` copy of each frame, downscaled
by a C-level scaler (the Pi's ISP, or swscale on the decode thread), and `pick_level` samples from the
smallest image that still has at least S pixels across the crop. What remains beyond 2x (a frame with no
lores, a far-away person) is box-averaged by an integer factor first: the same result as an area filter.

Why this scaler (measured on a 2-core x86, LiteRT; the golden checks repeated on 12 shifted copies of
each peer image): nearest-neighbour is fastest (~1.2 ms) but passed the tf-examples image2 check in
only 56 % of shifts against 78-89 % for bilinear or swscale AREA/BICUBIC, whose accuracy is the same
within noise. swscale needs a copy into an AVFrame per crop (2-17 ms from an RGB array); this resampler
takes ~0.5 ms from a lores copy, ~4 ms for an 800 px crop of a full 1080p frame, and no OpenCV.

Decoded video (files, USB cameras) takes a cheaper route still: `SwsCropper` copies the crop's rows out
of the decoder's own YUV planes (no RGB image of the frame is made at all) and has swscale area-scale
and convert them in one pass: 0.35 ms for a 432 px crop of a 404x720 frame, against 0.3 ms for the
lores copy plus 0.5 ms for resampling it. Its crop is the wanted one snapped to the even pixel grid
4:2:0 chroma needs (at most a pixel off), and keypoints map back through the box actually used.
The Pi camera's lores stream (YUV 4:2:0, in exactly the main stream's proportions) is cropped the
same way, so its frames need no RGB conversion for the model either. `InputMaker` picks the route
per frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from kiosk.body import NUM_KEYPOINTS, SCORE, X, Y

if TYPE_CHECKING:
    from kiosk.sources import Frame

# MoveNet's raw output columns.
RAW_Y, RAW_X, RAW_SCORE = 0, 1, 2


@dataclass(frozen=True, slots=True)
class CropBox:
    """A square region of the source frame, in continuous source pixels; may extend past the edges."""

    x0: float
    y0: float
    size: float

    @classmethod
    def full_frame(cls, width: int, height: int) -> CropBox:
        """The whole frame, letterboxed (centred, black bars) to a square."""
        side = float(max(width, height))
        return cls((width - side) / 2.0, (height - side) / 2.0, side)

    @classmethod
    def centred(cls, cx: float, cy: float, half: float) -> CropBox:
        return cls(cx - half, cy - half, 2.0 * half)

    @property
    def centre(self) -> tuple[float, float]:
        return self.x0 + self.size / 2.0, self.y0 + self.size / 2.0

    def to_source(self, raw: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """MoveNet rows (y, x, score), normalised to this crop -> pose rows (x, y, score) in source pixels."""
        if out is None:
            out = np.empty((NUM_KEYPOINTS, 3), np.float32)
        out[:, X] = self.x0 + raw[:, RAW_X] * self.size
        out[:, Y] = self.y0 + raw[:, RAW_Y] * self.size
        out[:, SCORE] = raw[:, RAW_SCORE]
        return out

    def mirrored(self, width: int) -> CropBox:
        """The same region of the horizontally flipped frame."""
        return CropBox(width - (self.x0 + self.size), self.y0, self.size)


def pick_level(frame: Frame, box: CropBox, input_size: int) -> tuple[np.ndarray, float, float]:
    """The image of `frame` to sample `box` from and its scale (level pixels per source pixel, x and y).

    The frame's `lores` copy is used when the crop still spans at least `input_size` of its pixels, so
    the cheap resampler never has to upsample what the full frame has; only a crop smaller than that
    makes the frame convert its full-size `rgb`.
    """
    lores = frame.lores
    if lores is not None:
        sx = lores.shape[1] / frame.size[0]
        sy = lores.shape[0] / frame.size[1]
        if box.size * min(sx, sy) >= input_size:
            return lores, sx, sy
    return frame.rgb, 1.0, 1.0


def _box_sum(region: np.ndarray, k: int) -> np.ndarray:
    """Sum k x k blocks (an area filter by an integer factor, left unnormalised so no rounding happens
    before the bilinear stage); the region's size is a multiple of k.

    Summing k*k strided views is several times faster in numpy than a reshape-and-reduce.
    """
    total = region[::k, ::k].astype(np.uint32 if k > 16 else np.uint16)
    for dy in range(k):
        for dx in range(k):
            if dy or dx:
                total += region[dy::k, dx::k]
    return total


@dataclass(frozen=True, slots=True)
class _Plan:
    """One crop's resampling geometry: which rows and columns each output pixel blends, and how much."""

    k: int  # box-sum factor applied first (1: none)
    region: tuple[int, int, int, int]  # rows and columns (y0, y1, x0, x1) of the image the box sums cover
    band: tuple[int, int, int, int]  # rows and columns (r0, r1, c0, c1) any tap reads
    cols_a: np.ndarray  # per-channel value index of each output value's left tap, within the band row
    cols_b: np.ndarray  # ... and of its right tap
    weights_xa: np.ndarray  # (1, 3S) weight of the left taps
    weights_xb: np.ndarray
    rows_a: np.ndarray  # (S,) band row of each output row's upper tap
    rows_b: np.ndarray  # ... and of its lower tap
    weights_a: np.ndarray  # (S, 1) weight of the upper taps, times the box sums' 1 / k^2
    weights_b: np.ndarray


class CropResizer:
    """Bilinear crop-and-resize into one preallocated (S, S, 3) uint8 buffer, black outside the image.

    Takes RGB (H, W, 3) or RGBX (H, W, 4, the fourth byte ignored) images: swscale writes RGBX over
    twice as fast as packed RGB, so the sources' lores copies come that way.

    Separable: every image row any tap reads is blended horizontally once, from its two column taps
    (a gather per tap), then each output row blends its two blended rows vertically (a row copy per
    tap). The arithmetic is the same, in the same order, as a direct gather of the four taps of every
    output pixel, so the output is identical to that. Blending the band of rows once, instead of the
    two tap rows of every output row, gathers each image row once: the per-element column gathers
    are the costly part, and a crop spans at most 2S rows (see `_make_plan`), so that is never
    more gathers than 2S rows' worth, and about half of it for a lores crop.

    Without `out`, the result is the resizer's own buffer, overwritten by the next call. The tap tables
    (S entries per axis) are made when the crop changes and kept while it holds, as it does for most
    frames; the band buffers are sized for the tallest band (2S + 2 rows) up front. Only a crop that
    needs box sums allocates per call (the sums). One resizer per thread.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.out = np.zeros((size, size, 3), np.uint8)
        band = 2 * size + 2  # rows a crop's taps can span (k is chosen so a crop spans <= 2S rows)
        # Gathered taps, as uint8 (a lores or full-size crop) or as the block sums' uint16 / uint32.
        self._gather_bytes = np.empty(band * 3 * size * 4, np.uint8)
        self._band = np.empty((band, 3 * size), np.float32)  # the band's rows, blended horizontally
        self._tmp = np.empty((band, 3 * size), np.float32)
        self._acc = np.empty((size, 3 * size), np.float32)
        self._row = np.empty((size, 3 * size), np.float32)
        self._plan: _Plan | None = None
        self._plan_key: tuple[object, ...] | None = None
        self._centres = np.arange(size, dtype=np.float64) + 0.5
        self._channel = np.tile(np.arange(3, dtype=np.intp), size)

    def __call__(
        self, image: np.ndarray, box: CropBox, sx: float = 1.0, sy: float = 1.0, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Resample `box` (source pixels) from `image`, whose pixels are (sx, sy) per source pixel.

        Writes into `out` (uint8 (S, S, 3), C-contiguous) if given, else into the resizer's own buffer.
        `image` is RGB or RGBX (see the class).
        """
        target = self.out if out is None else out
        key = (box, sx, sy, image.shape)
        if key != self._plan_key:
            self._plan, self._plan_key = self._make_plan(box, sx, sy, image.shape), key
        plan = self._plan
        if plan is None:  # the crop misses the image
            target.fill(0)
            return target
        if plan.k > 1:
            by0, by1, bx0, bx1 = plan.region
            region = image[by0:by1, bx0:bx1]
            pad_y, pad_x = -region.shape[0] % plan.k, -region.shape[1] % plan.k
            if pad_y or pad_x:  # complete a last partial block with edge pixels: it averages real image
                region = np.pad(region, ((0, pad_y), (0, pad_x), (0, 0)), mode="edge")
            image = _box_sum(region, plan.k)
        r0, r1, c0, c1 = plan.band
        band = image[r0:r1, c0:c1].reshape(r1 - r0, -1)  # a view for any image with contiguous rows
        blended = self._blend_x(band, plan)
        acc, row = self._acc, self._row
        np.take(blended, plan.rows_a, axis=0, out=acc, mode="clip")
        acc *= plan.weights_a
        np.take(blended, plan.rows_b, axis=0, out=row, mode="clip")
        row *= plan.weights_b
        acc += row
        acc += 0.5
        np.copyto(target.reshape(self.size, -1), acc, casting="unsafe")
        return target

    def _make_plan(self, box: CropBox, sx: float, sy: float, shape: tuple[int, ...]) -> _Plan | None:
        """The taps and weights for `box` on an image of `shape`; None when the crop misses it.

        Computed once per crop: the tracker holds a crop for many frames, so only the gathers and the
        arithmetic run per frame."""
        x0, y0 = box.x0 * sx, box.y0 * sy
        w, h = box.size * sx, box.size * sy
        height, width = shape[:2]
        if x0 >= width or y0 >= height or x0 + w <= 0 or y0 + h <= 0:
            return None
        k = math.ceil(max(w, h) / (2.0 * self.size))
        gain = 1.0
        region = (0, height, 0, width)
        if k > 1:
            # The part of the image under the crop (plus a block for the taps), in whole blocks.
            bx0 = max(0, (math.floor(x0) // k - 1) * k)
            by0 = max(0, (math.floor(y0) // k - 1) * k)
            bx1 = min(width, (math.ceil(x0 + w) // k + 2) * k)
            by1 = min(height, (math.ceil(y0 + h) // k + 2) * k)
            region = (by0, by1, bx0, bx1)
            x0, y0, w, h = (x0 - bx0) / k, (y0 - by0) / k, w / k, h / k
            height, width = -(-(by1 - by0) // k), -(-(bx1 - bx0) // k)
            gain = 1.0 / (k * k)  # the block sums' normalisation, folded into the weights
        ya, yb, wya, wyb = self._axis(y0, h, height, gain)
        xa, xb, wxa, wxb = self._axis(x0, w, width)
        c0, c1 = int(xa[0]), int(xb[-1]) + 1  # the columns any tap reads (taps ascend)
        r0, r1 = int(ya[0]), int(yb[-1]) + 1  # ... and the rows
        step = shape[2]  # values per pixel: 3 (RGB) or 4 (RGBX)
        cols = [np.repeat(taps - c0, 3) * step + self._channel for taps in (xa, xb)]  # per channel
        return _Plan(
            k=k,
            region=region,
            band=(r0, r1, c0, c1),
            cols_a=cols[0],
            cols_b=cols[1],
            weights_xa=np.repeat(wxa, 3)[None, :],
            weights_xb=np.repeat(wxb, 3)[None, :],
            rows_a=ya - r0,
            rows_b=yb - r0,
            weights_a=wya[:, None],
            weights_b=wyb[:, None],
        )

    def _blend_x(self, band: np.ndarray, plan: _Plan) -> np.ndarray:
        """Each row of `band`: its left column taps * wxa + its right ones * wxb (floats)."""
        n = band.shape[0]
        gather = self._gather_bytes[: n * 3 * self.size * band.itemsize]
        gather = gather.view(band.dtype).reshape(n, 3 * self.size)
        out, tmp = self._band[:n], self._tmp[:n]
        np.take(band, plan.cols_a, axis=1, out=gather, mode="clip")
        np.copyto(out, gather)
        out *= plan.weights_xa
        np.take(band, plan.cols_b, axis=1, out=gather, mode="clip")
        np.copyto(tmp, gather)
        tmp *= plan.weights_xb
        out += tmp
        return out

    def _axis(self, start: float, extent: float, n: int, gain: float = 1.0) -> tuple[np.ndarray, ...]:
        """Tap indices and weights (times `gain`) along one axis; taps outside [0, n) weigh 0 (black)."""
        p = start + self._centres * (extent / self.size) - 0.5
        i0 = np.floor(p)
        f = (p - i0).astype(np.float32)
        i0 = i0.astype(np.intp)
        i1 = i0 + 1
        g = np.float32(gain)
        w0 = np.where((i0 >= 0) & (i0 < n), (np.float32(1.0) - f) * g, np.float32(0.0))
        w1 = np.where((i1 >= 0) & (i1 < n), f * g, np.float32(0.0))
        return np.clip(i0, 0, n - 1), np.clip(i1, 0, n - 1), w0, w1


# Decoded pixel layouts `SwsCropper` copies a crop out of, plane by plane: per plane the horizontal and
# vertical subsampling, and what one sample group of it holds ("Y": luma, "C": a chroma byte). Every
# subsampling is at most 2, so crops snapped to even pixels cut whole sample groups in every plane.
_LAYOUTS: dict[str, tuple[tuple[int, int, str], ...]] = {
    "yuv420p": ((1, 1, "Y"), (2, 2, "C"), (2, 2, "C")),
    "yuv422p": ((1, 1, "Y"), (2, 1, "C"), (2, 1, "C")),
    "yuv444p": ((1, 1, "Y"), (1, 1, "C"), (1, 1, "C")),
    "nv12": ((1, 1, "Y"), (2, 2, "CC")),
    "nv21": ((1, 1, "Y"), (2, 2, "CC")),
    "yuyv422": ((1, 1, "YC"),),  # packed: Y0 U Y1 V, a pair of pixels in 4 bytes
    "uyvy422": ((1, 1, "CY"),),
    "gray": ((1, 1, "Y"),),
}
for _name in ("yuv420p", "yuv422p", "yuv444p"):
    _LAYOUTS["yuvj" + _name[3:]] = _LAYOUTS[_name]  # the full-range (JPEG) variants, laid out the same
    for _bits in (10, 12):  # deeper samples (HDR phone video: HEVC 10-bit), little-endian 16-bit words
        _LAYOUTS[f"{_name}{_bits}le"] = _LAYOUTS[_name]
_FULL_RANGE = frozenset({"yuvj420p", "yuvj422p", "yuvj444p", "gray"})
_GRID = 2  # crops start and end on even pixels
_JPEG_RANGE = 2  # AVColorRange: full-range samples (0-255), where MPEG range is 1 (16-235)


def _sample_bits(pix_fmt: str) -> int:
    """Bits per sample of a layout in `_LAYOUTS` (8 unless its name says 10 or 12)."""
    return int(pix_fmt[-4:-2]) if pix_fmt.endswith("le") else 8


def sws_croppable(pix_fmt: str) -> bool:
    """Whether `SwsCropper` crops straight from decoded frames of this pixel format."""
    return pix_fmt in _LAYOUTS


def _stored_point(x: float, y: float, turns: int, width: int, height: int) -> tuple[float, float]:
    """Upright continuous coordinates -> those of the image as stored, where `np.rot90(stored, turns)`
    is upright and the stored image is `width` x `height`."""
    if turns == 1:
        return width - y, x
    if turns == 2:
        return width - x, height - y
    if turns == 3:
        return y, height - x
    return x, y


def _upright_point(x: float, y: float, turns: int, width: int, height: int) -> tuple[float, float]:
    """The inverse of `_stored_point`."""
    if turns == 1:
        return y, width - x
    if turns == 2:
        return width - x, height - y
    if turns == 3:
        return height - y, x
    return x, y


def _turned_box(box: CropBox, turns: int, width: int, height: int, to_stored: bool) -> CropBox:
    """A square box mapped between upright and stored coordinates (a rotation maps it to a square)."""
    point = _stored_point if to_stored else _upright_point
    ax, ay = point(box.x0, box.y0, turns, width, height)
    bx, by = point(box.x0 + box.size, box.y0 + box.size, turns, width, height)
    return CropBox(min(ax, bx), min(ay, by), box.size)


@dataclass(frozen=True, slots=True)
class CameraPlanes:
    """A camera's YUV 4:2:0 picture held in numpy planes, which `SwsCropper` reads as it reads a
    decoded video frame: the Pi camera's lores stream, whose crops then skip converting the whole
    stream to RGB and the numpy resampler.

    `planes` are the Y, U and V planes, uint8 2-D; their rows may run past the picture (an ISP's row
    padding), so they can be views straight into the camera's buffer copy.
    """

    width: int
    height: int
    planes: tuple[np.ndarray, np.ndarray, np.ndarray]
    colorspace: int  # AVColorSpace: 1 BT.709, 6 BT.601 (SMPTE 170M), 9 BT.2020
    color_range: int  # AVColorRange: 1 limited (16-235), 2 full


def _format_and_planes(decoded: Any) -> tuple[str, list[np.ndarray]]:
    """The pixel format of a decoded PyAV frame or `CameraPlanes`, and its planes as 2-D arrays of
    samples (`_plane_arrays`)."""
    if isinstance(decoded, CameraPlanes):
        return "yuv420p", list(decoded.planes)
    fmt = decoded.format.name
    return fmt, _plane_arrays(decoded, fmt)


def _plane_arrays(frame: Any, fmt: str) -> list[np.ndarray]:
    """A PyAV frame's planes as 2-D arrays of samples (uint8, or little-endian uint16 past 8 bits),
    each row as long as the plane's stride."""
    dtype = np.dtype(np.uint8) if _sample_bits(fmt) == 8 else np.dtype("<u2")
    return [np.frombuffer(p, dtype).reshape(p.height, p.line_size // dtype.itemsize) for p in frame.planes]


def swscale_on_this_thread() -> dict[str, int]:
    """`reformat` options that keep swscale on the calling thread.

    From PyAV 17, swscale slices every conversion across all cores by default. For our small images
    that costs more than it saves: on the 2-vCPU dev machine a 404x720 frame's lores copy took 2.1 ms
    of CPU that way against 0.7 ms on one thread, CPU taken straight from the pose model's threads.
    Older PyAV scales on one thread and has no such option.
    """
    import av

    major = int(str(av.__version__).split(".")[0])
    return {"threads": 1} if major >= 17 else {}


class SwsCropper:
    """Model input straight from a decoded frame's YUV planes: copy the crop out, let swscale scale it.

    The crop is snapped to even pixels of the frame as stored, copied into a kept AVFrame of its size
    (what falls outside the picture is filled with black), then area-scaled and converted to RGBX by
    swscale on the calling thread, and turned upright. Returns the box actually used, in upright source
    pixels, which is what keypoints must be mapped back through. One cropper per thread.

    The planes may be a smaller copy of the source (a camera's lores stream) as long as it is scaled
    alike in both directions: `scale` is its pixels per source pixel, and the box used is exact at any.

    Per call it allocates one thing: the S x S RGBX frame swscale writes (147 KB at S = 192), as
    PyAV's `reformat` has no output argument. The crop's own frame is kept while its side holds.
    """

    def __init__(self, size: int) -> None:
        from av.video.reformatter import VideoReformatter

        self.size = size
        self._reformatter = VideoReformatter()
        self._crop: Any = None  # the kept AVFrame the crop is copied into
        self._crop_key: tuple[str, int] | None = None
        self._crop_planes: list[np.ndarray] = []
        self._threads = swscale_on_this_thread()

    def __call__(
        self, decoded: Any, turns: int, box: CropBox, out: np.ndarray, scale: float = 1.0
    ) -> CropBox | None:
        """Write `box` (upright source pixels) of `decoded` into `out` (uint8 (S, S, 3)); the box used,
        or None when the frame's pixel format is not one this cropper reads."""
        fmt, planes = _format_and_planes(decoded)
        layout = _LAYOUTS.get(fmt)
        if layout is None:
            return None
        width, height = decoded.width, decoded.height
        scaled = CropBox(box.x0 * scale, box.y0 * scale, box.size * scale)
        stored = _turned_box(scaled, turns, width, height, to_stored=True)
        # Snapped about its centre: the centre moves at most a pixel, the side at most one.
        side = max(_GRID, _GRID * round(stored.size / _GRID))
        cx, cy = stored.centre
        x0 = _GRID * math.floor((cx - side / 2) / _GRID + 0.5)
        y0 = _GRID * math.floor((cy - side / 2) / _GRID + 0.5)
        crop = self._crop_frame(fmt, side)
        # The picture's colour matrix and range go with the crop: VP9 and AV1 decoders mark full-range
        # video on the frame (yuv420p, range JPEG), not by a yuvj format, and a crop converted as
        # limited range would have its contrast stretched (a mid-grey 200 came out as 214).
        crop.colorspace, crop.color_range = decoded.colorspace, decoded.color_range
        shift = _sample_bits(fmt) - 8  # black and neutral chroma scale with the sample depth
        black = (0 if fmt in _FULL_RANGE or decoded.color_range == _JPEG_RANGE else 16) << shift
        # The part of the crop the picture covers, in whole sample groups (a last odd row or column
        # of a subsampled picture counts as outside).
        usable_w, usable_h = width - width % _GRID, height - height % _GRID
        cx0, cy0 = max(x0, 0), max(y0, 0)
        cx1, cy1 = min(x0 + side, usable_w), min(y0 + side, usable_h)
        inside = cx1 > cx0 and cy1 > cy0
        whole = inside and (cx0, cy0, cx1, cy1) == (x0, y0, x0 + side, y0 + side)
        for (sub_x, sub_y, group), src, dst in zip(layout, planes, self._crop_planes, strict=False):
            step = len(group)
            if not whole:
                _fill(dst, group, black, 128 << shift)
            if inside:
                rows = slice(cy0 // sub_y, cy1 // sub_y)
                cols = slice(cx0 // sub_x * step, cx1 // sub_x * step)
                dst_rows = slice((cy0 - y0) // sub_y, (cy1 - y0) // sub_y)
                dst_cols = slice((cx0 - x0) // sub_x * step, (cx1 - x0) // sub_x * step)
                dst[dst_rows, dst_cols] = src[rows, cols]
        rgbx = self._reformatter.reformat(
            crop, width=self.size, height=self.size, format="rgba", interpolation="AREA", **self._threads
        ).to_ndarray()
        upright = np.rot90(rgbx, turns) if turns else rgbx
        for channel in range(3):  # one plane at a time: 0.06 ms, where dropping X in one copy takes 0.4
            out[:, :, channel] = upright[:, :, channel]
        used = _turned_box(CropBox(float(x0), float(y0), float(side)), turns, width, height, to_stored=False)
        return used if scale == 1.0 else CropBox(used.x0 / scale, used.y0 / scale, used.size / scale)

    def _crop_frame(self, fmt: str, side: int) -> Any:
        """The kept AVFrame for crops of this format and side, and views of its planes."""
        if self._crop_key != (fmt, side):
            import av

            self._crop = av.VideoFrame(side, side, fmt)
            self._crop_key = (fmt, side)
            self._crop_planes = _plane_arrays(self._crop, fmt)
        return self._crop


def _fill(plane: np.ndarray, group: str, black: int, neutral: int) -> None:
    """Fill a plane with black: luma at `black`, chroma at `neutral`, in the plane's sample order."""
    if len(group) == 1:
        plane.fill(black if group == "Y" else neutral)
        return
    pattern = np.array([black if c == "Y" else neutral for c in group], plane.dtype)
    usable = plane.shape[1] - plane.shape[1] % len(group)
    plane[:, :usable].reshape(plane.shape[0], -1, len(group))[:] = pattern


class InputMaker:
    """The model input for a crop of any frame, by the cheapest route the frame offers; one per thread.

    A decoded video frame in a layout `SwsCropper` reads, or the Pi camera's lores planes, goes through
    it; anything else (still images, RGB video, a crop too small for the lores planes) through
    `CropResizer` from the frame's lores copy or full image.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._resizer = CropResizer(size)
        self._sws: SwsCropper | None = None

    def __call__(
        self, frame: Frame, box: CropBox, out: np.ndarray | None = None
    ) -> tuple[np.ndarray, CropBox]:
        """(model input, the box it shows). Without `out`, the input is this maker's own buffer,
        overwritten by the next call."""
        target = self._resizer.out if out is None else out
        decoded = frame.decoded
        scale = frame.decoded_scale
        # A smaller copy of the source serves while the crop spans at least S of its pixels (the rule
        # `pick_level` keeps for lores copies); a smaller crop is made from the full-size frame.
        if decoded is not None and (scale >= 1.0 or box.size * scale >= self.size):
            if self._sws is None:
                self._sws = SwsCropper(self.size)
            used = self._sws(decoded, frame.turns, box, target, scale)
            if used is not None:
                return target, used
        image, sx, sy = pick_level(frame, box, self.size)
        return self._resizer(image, box, sx, sy, target), box
