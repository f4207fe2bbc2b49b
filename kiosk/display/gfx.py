"""Drawing primitives on an SDL renderer, with every texture made once and reused.

The camera image goes up as a streaming texture and is scaled by the renderer. Mirroring too,
when the renderer is accelerated (KMS/DRM, X11, Wayland: the GPU flips for free). SDL's software
renderer (the dummy driver, a machine without a GPU) mirrors through its rotate path, measured at
12 ms for a 607x1080 picture and 50 ms full-screen on the dev machine; there the picture is
mirrored as it is copied for upload into a buffer kept between frames (`Canvas._copy_for_upload`:
1.75 ms for 1080p), and dimmed there for the idle screens. The display never resamples a picture
in software. A video frame larger than its place on the screen arrives already smaller
(`Frame.picture_for`): swscale scales it in the same pass that converts it from YUV, for about what
converting it whole costs (1.0 ms either way for a 1080x1920 phone video on the stage), and the
display then copies and uploads a seventh of the pixels.

Everything else is small textures drawn many times: a white disc (joints, dots, caps, panel
corners), a white band with soft edges (thick lines, rotated by the renderer), a texture per ring
(arcs take whole quarters of it), and text rendered once per (string, size) into a white texture
that is tinted at draw time. Panels are filled rectangles with quarter-disc corners. A frame whose
strings did not change creates no texture and no Surface.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pygame
from pygame._sdl2.video import Renderer, Texture

from kiosk.display.theme import Color

# SDL blend modes: draw colours with alpha over what is already there, or replace it.
BLEND = 1
NO_BLEND = 0
WHITE: Color = (255, 255, 255)
SHAPE_COLORS = 64  # tinted shape textures kept (the theme has a dozen colours)
TEXT_CACHE = 256  # rendered strings kept (a screen shows ~40; timers and counters add a few a second)
# Where each quarter of a ring sits in its texture (in halves), clockwise from 12 o'clock.
_QUARTERS = ((1, 0), (1, 1), (0, 1), (0, 0))
RING_CACHE = 8  # ring textures kept (up to 0.7 MB each at 1080p; a screen shows two or three)
_SUPER = 4  # supersampling of the shape textures drawn at start-up
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))


def _shape_texture(renderer: Renderer, surface: pygame.Surface) -> Texture:
    """A static texture with linear filtering (smooth when scaled or rotated)."""
    tex = Texture(renderer, surface.get_size(), static=True, scale_quality=1)
    tex.update(surface)
    tex.blend_mode = BLEND
    return tex


def _disc_surface(size: int) -> pygame.Surface:
    big = pygame.Surface((size * _SUPER, size * _SUPER), pygame.SRCALPHA)
    pygame.draw.circle(big, (255, 255, 255, 255), (size * _SUPER // 2,) * 2, size * _SUPER // 2 - _SUPER)
    return pygame.transform.smoothscale(big, (size, size))


def _band_surface(height: int) -> pygame.Surface:
    """A horizontal band, opaque in the middle with one-texel soft edges (thick lines)."""
    surf = pygame.Surface((4, height), pygame.SRCALPHA)
    surf.fill((255, 255, 255, 255))
    for x in range(4):
        surf.set_at((x, 0), (255, 255, 255, 96))
        surf.set_at((x, height - 1), (255, 255, 255, 96))
    return surf


def _ring_surface(radius: float, width: float, color: Color) -> pygame.Surface:
    """A ring in `color`, centred in a square surface of even side (so it splits into exact
    quadrants). Its coverage is drawn at 2 to 4 times the size and area-filtered down (anti-aliased
    edges); the colour is set exactly, as smoothscale's fixed-point filter darkens it a little."""
    side = 2 * math.ceil(radius + width / 2.0 + 2.0)
    scale = max(2, min(_SUPER, 800 // side))  # a big ring at 2x: its scratch stays under 3 MB
    big = pygame.Surface((side * scale, side * scale), pygame.SRCALPHA)
    c = side * scale // 2
    pygame.draw.circle(big, (255, 255, 255, 255), (c, c), round((radius + width / 2.0) * scale))
    pygame.draw.circle(big, (0, 0, 0, 0), (c, c), round(max(0.0, radius - width / 2.0) * scale))
    coverage = pygame.surfarray.pixels_alpha(pygame.transform.smoothscale(big, (side, side)))
    top = max(1, int(coverage.max()))
    surf = pygame.Surface((side, side), pygame.SRCALPHA)
    surf.fill((*color, 0))
    alpha = pygame.surfarray.pixels_alpha(surf)
    np.multiply(coverage, 255.0 / top, out=alpha, casting="unsafe")  # a covered pixel: 255
    del alpha  # unlocks the surface
    return surf


def _font_file(bold: bool) -> str | None:
    """DejaVu Sans (on Raspberry Pi OS and most Linux desktops), else pygame's own font."""
    for folder in FONT_DIRS:
        path = folder / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
        if path.is_file():
            return str(path)
    return None


class Canvas:
    """One renderer's drawing surface, in screen pixels; `u` is the layout unit (theme)."""

    def __init__(self, renderer: Renderer, size: tuple[int, int], *, accelerated: bool) -> None:
        if not pygame.font.get_init():
            pygame.font.init()
        self.renderer = renderer
        self.width, self.height = size
        self.u = min(size) / 1000.0
        self.accelerated = accelerated
        renderer.draw_blend_mode = BLEND
        self._fonts: dict[tuple[int, bool], pygame.font.Font] = {}
        self._font_files = (_font_file(bold=False), _font_file(bold=True))
        self._texts: OrderedDict[tuple[str, int, bool, tuple[Color, Color] | None], Texture] = OrderedDict()
        # Tests set this to a list to learn which strings were drawn where (None: no recording).
        self.recorder: list[tuple[str, pygame.Rect]] | None = None
        self._wraps: OrderedDict[tuple[str, int, int, bool], tuple[str, ...]] = OrderedDict()
        self._fits: OrderedDict[tuple[str, int, int, int, bool], tuple[int, tuple[str, ...]]] = OrderedDict()
        self._disc_shape = _disc_surface(128)
        self._band_shape = _band_surface(32)
        # Shape textures per colour: a texture keeps its colour, so SDL's software renderer never
        # rebuilds its blit mapping for a colour change (that costs more than the drawing itself).
        self._discs: dict[Color, Texture] = {}
        self._bands: dict[Color, Texture] = {}
        self._rings: OrderedDict[tuple[float, float, Color], Texture] = OrderedDict()
        self._camera: Texture | None = None
        self._camera_key: tuple[int, int] = (0, 0)
        self._camera_source: np.ndarray | None = None
        self._camera_dim: Color = WHITE  # the tint baked into the uploaded picture (software renderer)
        # Software renderer: the mirrored / dimmed copy of the picture, reused frame after frame.
        self._camera_copy: np.ndarray | None = None
        self._rect = pygame.Rect(0, 0, 0, 0)  # scratch, reused by every draw call

    def release(self) -> None:
        """Drop every texture this canvas made (before its renderer goes: see `Display.close`)."""
        self._texts.clear()
        self._discs.clear()
        self._bands.clear()
        self._rings.clear()
        self._camera = None
        self._camera_key = (0, 0)
        self._camera_source = None

    def _shape(self, cache: dict[Color, Texture], shape: pygame.Surface, color: Color) -> Texture:
        tex = cache.get(color)
        if tex is None:
            if len(cache) >= SHAPE_COLORS:
                cache.clear()
            tinted = shape.copy()
            tinted.fill((*color, 255), special_flags=pygame.BLEND_RGBA_MULT)
            tex = cache[color] = _shape_texture(self.renderer, tinted)
        return tex

    def px(self, units: float) -> int:
        """Units (thousandths of the short side) to pixels."""
        return max(1, round(units * self.u))

    # ---------------------------------------------------------------------------- basics

    def clear(self, color: Color = (0, 0, 0)) -> None:
        r = self.renderer
        r.draw_color = (*color, 255)
        r.clear()

    def rect(self, rect: pygame.Rect | Sequence[float], color: Color, alpha: int = 255) -> None:
        r = self.renderer
        r.draw_color = (*color, alpha)
        r.fill_rect(rect)

    def outline(self, rect: pygame.Rect, color: Color, width: int = 2, alpha: int = 255) -> None:
        x, y, w, h = rect
        self.rect((x, y, w, width), color, alpha)
        self.rect((x, y + h - width, w, width), color, alpha)
        self.rect((x, y + width, width, h - 2 * width), color, alpha)
        self.rect((x + w - width, y + width, width, h - 2 * width), color, alpha)

    def panel(
        self, rect: pygame.Rect | Sequence[float], color: Color, alpha: int = 255, radius: int | None = None
    ) -> None:
        """A rounded rectangle: three rectangles and four quarter discs that do not overlap, so a
        translucent panel blends evenly. Fills are SDL's fastest path (an opaque one is a memset);
        SDL's software renderer blends modulated textures three times slower than it fills."""
        x, y, w, h = (round(v) for v in rect)
        if w <= 0 or h <= 0:
            return
        r = min(self.px(18) if radius is None else radius, w // 2, h // 2)
        ren = self.renderer
        ren.draw_color = (*color, alpha)
        if alpha >= 255:
            ren.draw_blend_mode = NO_BLEND
        if r <= 0:
            ren.fill_rect((x, y, w, h))
        else:
            # Bands top, middle, bottom: a software fill pays per row, so each row is filled once.
            ren.fill_rect((x + r, y, w - 2 * r, r))
            ren.fill_rect((x, y + r, w, h - 2 * r))
            ren.fill_rect((x + r, y + h - r, w - 2 * r, r))
        ren.draw_blend_mode = BLEND
        if r > 0:
            tex = self._shape(self._discs, self._disc_shape, color)
            tex.alpha = alpha
            q = tex.width // 2
            tex.draw(srcrect=(0, 0, q, q), dstrect=(x, y, r, r))
            tex.draw(srcrect=(q, 0, q, q), dstrect=(x + w - r, y, r, r))
            tex.draw(srcrect=(0, q, q, q), dstrect=(x, y + h - r, r, r))
            tex.draw(srcrect=(q, q, q, q), dstrect=(x + w - r, y + h - r, r, r))

    def disc(self, center: Sequence[float], radius: float, color: Color, alpha: int = 255) -> None:
        tex = self._shape(self._discs, self._disc_shape, color)
        tex.alpha = alpha
        d = 2.0 * radius
        tex.draw(dstrect=(center[0] - radius, center[1] - radius, d, d))

    def visible_part(
        self, p0: Sequence[float], p1: Sequence[float], pad: float
    ) -> tuple[float, float] | None:
        """The part of segment p0-p1 inside the canvas grown by `pad`, as parameters (t0, t1) along
        it (Liang-Barsky); None when none of it is, or a coordinate is not finite. Lines are clipped
        before drawing because the software renderer turns a whole rotated line in memory: a point
        far off screen (a wild keypoint) would cost length squared pixels, gigabytes."""
        x0, y0 = p0[0], p0[1]
        dx, dy = p1[0] - x0, p1[1] - y0
        if not math.isfinite(x0 + y0 + dx + dy):
            return None
        t0, t1 = 0.0, 1.0
        for p, q in (
            (-dx, x0 + pad),
            (dx, self.width + pad - x0),
            (-dy, y0 + pad),
            (dy, self.height + pad - y0),
        ):
            if p == 0.0:
                if q < 0.0:
                    return None
            elif p < 0.0:
                t0 = max(t0, q / p)
            else:
                t1 = min(t1, q / p)
        return (t0, t1) if t0 < t1 else None

    def line(
        self, p0: Sequence[float], p1: Sequence[float], width: float, color: Color, alpha: int = 255
    ) -> None:
        """A thick anti-aliased line with square ends (add `disc`s for round ones), clipped to the
        canvas."""
        part = self.visible_part(p0, p1, width)
        if part is None:
            return
        t0, t1 = part
        if t0 > 0.0 or t1 < 1.0:
            x0, y0, ex, ey = p0[0], p0[1], p1[0] - p0[0], p1[1] - p0[1]
            p0, p1 = (x0 + ex * t0, y0 + ey * t0), (x0 + ex * t1, y0 + ey * t1)
        dx, dy = p1[0] - p0[0], p1[1] - p0[1]
        length = math.hypot(dx, dy)
        if length < 0.5:
            return
        if abs(dx) < 0.5 or abs(dy) < 0.5:  # upright or level: a plain fill, no rotation
            half = width / 2.0
            if abs(dx) < 0.5:
                self.rect((p0[0] - half, min(p0[1], p1[1]), width, abs(dy)), color, alpha)
            else:
                self.rect((min(p0[0], p1[0]), p0[1] - half, abs(dx), width), color, alpha)
            return
        tex = self._shape(self._bands, self._band_shape, color)
        tex.alpha = alpha
        half = width / 2.0
        tex.draw(
            dstrect=(p0[0], p0[1] - half, length, width),
            angle=math.degrees(math.atan2(dy, dx)),
            origin=(0, half),
        )

    def stroke(
        self, p0: Sequence[float], p1: Sequence[float], width: float, color: Color, alpha: int = 255
    ) -> None:
        """A thick line with round caps."""
        self.line(p0, p1, width, color, alpha)
        self.disc(p0, width / 2.0, color, alpha)
        self.disc(p1, width / 2.0, color, alpha)

    def dashed(
        self,
        p0: Sequence[float],
        p1: Sequence[float],
        width: float,
        dash: float,
        color: Color,
        alpha: int = 255,
    ) -> None:
        part = self.visible_part(p0, p1, width)
        if part is None:
            return
        dx, dy = p1[0] - p0[0], p1[1] - p0[1]
        length = math.hypot(dx, dy)
        if length < 1.0:
            return
        ux, uy = dx / length, dy / length
        # Only the dashes on screen; they keep their places along the whole line as it moves.
        period = 2.0 * dash
        pos = math.floor(part[0] * length / period) * period
        length *= part[1]
        while pos < length:
            end = min(length, pos + dash)
            self.line(
                (p0[0] + ux * pos, p0[1] + uy * pos),
                (p0[0] + ux * end, p0[1] + uy * end),
                width,
                color,
                alpha,
            )
            pos += 2.0 * dash

    def triangle(
        self, a: Sequence[float], b: Sequence[float], c: Sequence[float], color: Color, alpha: int = 255
    ) -> None:
        r = self.renderer
        r.draw_color = (*color, alpha)
        r.fill_triangle(a, b, c)

    def arc(
        self,
        center: Sequence[float],
        radius: float,
        width: float,
        start_deg: float,
        sweep_deg: float,
        color: Color,
        alpha: int = 255,
    ) -> None:
        """An arc clockwise from `start_deg` (0 = 12 o'clock) over `sweep_deg`, round caps.

        Whole quarters come from one ring texture, made once per ring (a quarter is a plain copy of
        a quarter of it); only what is left of a quarter is drawn as short rotated lines. Drawn all
        as lines, a ring cost SDL's software renderer 60 rotations a frame (1.5 ms at 1920x1080),
        and the rest screen's timer has two."""
        sweep = min(360.0, sweep_deg)
        if sweep <= 0.0:
            return
        done = 0.0
        if start_deg % 90.0 == 0.0 and sweep >= 90.0:
            tex = self._ring(radius, width, color)
            tex.alpha = alpha
            half = tex.width // 2
            x, y = round(center[0]) - half, round(center[1]) - half
            while sweep - done >= 90.0:
                qx, qy = _QUARTERS[round((start_deg + done) / 90.0) % 4]
                sx, sy = qx * half, qy * half
                tex.draw(srcrect=(sx, sy, half, half), dstrect=(x + sx, y + sy, half, half))
                done += 90.0
        cx, cy = center
        if sweep > done:  # the rest as short straight lines, one per 6 degrees or less
            rest = sweep - done
            steps = max(2, math.ceil(rest / 6.0))
            overlap = 0.4 * width / max(1.0, radius)  # radians each line reaches past its ends: no seams
            for i in range(steps):
                a0 = math.radians(start_deg + done + rest * i / steps) - overlap
                a1 = math.radians(start_deg + done + rest * (i + 1) / steps) + overlap
                self.line(
                    (cx + radius * math.sin(a0), cy - radius * math.cos(a0)),
                    (cx + radius * math.sin(a1), cy - radius * math.cos(a1)),
                    width,
                    color,
                    alpha,
                )
        if sweep < 360.0:
            for a in (math.radians(start_deg), math.radians(start_deg + sweep)):
                self.disc((cx + radius * math.sin(a), cy - radius * math.cos(a)), width / 2.0, color, alpha)

    def _ring(self, radius: float, width: float, color: Color) -> Texture:
        key = (round(radius * 2.0) / 2.0, round(width * 2.0) / 2.0, color)
        tex = self._rings.get(key)
        if tex is None:
            tex = self._rings[key] = _shape_texture(self.renderer, _ring_surface(*key))
            if len(self._rings) > RING_CACHE:
                self._rings.popitem(last=False)
        else:
            self._rings.move_to_end(key)
        return tex

    # ------------------------------------------------------------------------------- text

    def font(self, px: int, bold: bool = True) -> pygame.font.Font:
        key = (px, bold)
        f = self._fonts.get(key)
        if f is None:
            f = self._fonts[key] = pygame.font.Font(self._font_files[bold], px)
        return f

    def _text_texture(self, text: str, px: int, bold: bool, ground: tuple[Color, Color] | None) -> Texture:
        key = (text, px, bold, ground)
        tex = self._texts.get(key)
        if tex is None:
            font = self.font(px, bold)
            if ground is None:  # white with alpha, tinted per draw
                tex = Texture.from_surface(self.renderer, font.render(text, True, (255, 255, 255)))
                tex.blend_mode = BLEND
            else:  # colour on a known background: an opaque copy, SDL's fastest
                tex = Texture.from_surface(self.renderer, font.render(text, True, ground[0], ground[1]))
                tex.blend_mode = NO_BLEND
            self._texts[key] = tex
            if len(self._texts) > TEXT_CACHE:
                self._texts.popitem(last=False)
        else:
            self._texts.move_to_end(key)
        return tex

    def text_size(self, text: str, px: int, bold: bool = True) -> tuple[int, int]:
        return self.font(px, bold).size(text)

    def line_height(self, px: int, bold: bool = True) -> int:
        return self.font(px, bold).get_linesize()

    def fit(self, text: str, px: int, max_width: float, bold: bool = True) -> int:
        """The largest size up to `px` at which `text` fits in `max_width` (at least half of `px`)."""
        width = self.font(px, bold).size(text)[0]
        if width <= max_width:
            return px
        size = max(px // 2, int(px * max_width / max(1, width)))
        while size > px // 2 and self.font(size, bold).size(text)[0] > max_width:
            size -= 1  # glyph widths do not scale exactly with the size
        return size

    def text(
        self,
        text: str,
        px: int,
        color: Color,
        pos: Sequence[float],
        anchor: str = "topleft",
        alpha: int = 255,
        bold: bool = True,
        bg: Color | None = None,
    ) -> pygame.Rect:
        """Draw one line; `anchor` is a pygame.Rect position name (topleft, center, midright...) of
        the line box. `bg`: the panel colour behind the text, which makes it an opaque copy (much
        cheaper on the software renderer). The returned rectangle is reused by the next call."""
        r = self._rect
        if not text:
            r.update(int(pos[0]), int(pos[1]), 0, 0)
            return r
        ground = None if bg is None or alpha < 255 else (color, bg)
        tex = self._text_texture(text, px, bold, ground)
        r.update(0, 0, tex.width, tex.height)
        setattr(r, anchor, (round(pos[0]), round(pos[1])))
        if ground is None:
            tex.color = color
            tex.alpha = alpha
        tex.draw(dstrect=r)
        if self.recorder is not None:
            self.recorder.append((text, pygame.Rect(r)))
        return r

    def caps(
        self,
        text: str,
        px: int,
        color: Color,
        pos: Sequence[float],
        anchor: str = "bottomleft",
        alpha: int = 255,
        bold: bool = True,
        bg: Color | None = None,
    ) -> pygame.Rect:
        """Numbers and capitals placed by what is drawn: `anchor` refers to the box from the
        capitals' top to the baseline, and only that box (and a hair around it) is painted, so the
        font's empty ascent and descent never cover a neighbour. Returns the cap box."""
        font = self.font(px, bold)
        ascent = font.get_ascent()
        cap = font.metrics("H")[0][3]
        box = pygame.Rect(0, 0, font.size(text)[0], cap)
        setattr(box, anchor, (round(pos[0]), round(pos[1])))
        if not text:
            return box
        ground = None if bg is None or alpha < 255 else (color, bg)
        tex = self._text_texture(text, px, bold, ground)
        hair = max(1, round(0.05 * px))
        src = pygame.Rect(0, max(0, ascent - cap - hair), tex.width, cap + 2 * hair)
        dst = pygame.Rect(box.x, box.y - hair, src.w, src.h)
        if ground is None:
            tex.color = color
            tex.alpha = alpha
        tex.draw(srcrect=src, dstrect=dst)
        if self.recorder is not None:
            self.recorder.append((text, dst))
        return box

    def wrap(self, text: str, px: int, max_width: int, bold: bool = True) -> tuple[str, ...]:
        """`text` broken into lines no wider than `max_width` (cached). A word wider than a line (a
        device path, an address) is broken where it reaches the edge: cut off, it could not be read."""
        key = (text, px, max_width, bold)
        lines = self._wraps.get(key)
        if lines is not None:
            return lines
        font = self.font(px, bold)
        out: list[str] = []
        line = ""
        for word in (piece for whole in text.split() for piece in _pieces(font, whole, max_width)):
            trial = f"{line} {word}" if line else word
            if line and font.size(trial)[0] > max_width:
                out.append(line)
                line = word
            else:
                line = trial
        if line:
            out.append(line)
        lines = tuple(out)
        self._wraps[key] = lines
        if len(self._wraps) > TEXT_CACHE:
            self._wraps.popitem(last=False)
        return lines

    def fit_lines(
        self, text: str, px: int, max_width: int, max_lines: int, bold: bool = True
    ) -> tuple[int, tuple[str, ...]]:
        """The largest size up to `px` (down to two thirds of it) at which `text` wraps into
        `max_lines`, and its lines. Still too long at the smallest size, the last line ends in an
        ellipsis: a sentence cut off without a sign reads as the whole message. Cached: screens ask
        every frame."""
        key = (text, px, max_width, max_lines, bold)
        fitted = self._fits.get(key)
        if fitted is None:
            fitted = self._fits[key] = self._fit_lines(text, px, max_width, max_lines, bold)
            if len(self._fits) > TEXT_CACHE:
                self._fits.popitem(last=False)
        return fitted

    def _fit_lines(
        self, text: str, px: int, max_width: int, max_lines: int, bold: bool
    ) -> tuple[int, tuple[str, ...]]:
        size = px
        while True:
            lines = self.wrap(text, size, max_width, bold)
            if len(lines) <= max_lines:
                return size, lines
            if size <= 2 * px // 3:
                break
            size = max(2 * px // 3, size - max(1, px // 12))
        font = self.font(size, bold)
        last = lines[max_lines - 1]
        while last and font.size(last + "…")[0] > max_width:
            last = last[:-1].rstrip()
        return size, (*lines[: max_lines - 1], last + "…")

    def paragraph(
        self,
        text: str,
        px: int,
        color: Color,
        rect: pygame.Rect,
        align: str = "center",
        line_gap: float = 1.1,
        max_lines: int = 4,
        bold: bool = True,
        bg: Color | None = None,
    ) -> int:
        """Wrapped text inside `rect`, vertically centred, smaller if it needs more than `max_lines`
        (see `fit_lines`); returns the height used."""
        px, lines = self.fit_lines(text, px, rect.w, max_lines, bold)
        step = round(self.font(px, bold).get_linesize() * line_gap)
        total = step * len(lines)
        y = rect.centery - total / 2.0
        for line in lines:
            if align == "center":
                self.text(line, px, color, (rect.centerx, y), "midtop", bold=bold, bg=bg)
            else:
                self.text(line, px, color, (rect.x, y), "topleft", bold=bold, bg=bg)
            y += step
        return total

    # ----------------------------------------------------------------------------- images

    def camera(self, picture: np.ndarray, dst: Sequence[float], mirror: bool, tint: Color = WHITE) -> None:
        """Draw a camera frame scaled into `dst`: C-contiguous uint8, H x W x 3 (RGB) or H x W x 4
        (BGRA, the texture's own layout: uploading it is a copy, where RGB is converted pixel by
        pixel; 0.65 against 2.25 ms for a mirrored 720p frame on the software renderer)."""
        h, w = int(picture.shape[0]), int(picture.shape[1])
        if self._camera is None or self._camera_key != (w, h):
            self._camera = Texture(
                self.renderer, (w, h), streaming=True, scale_quality=1 if self.accelerated else 0
            )
            self._camera_key = (w, h)
            self._camera_source = None
        tex = self._camera
        flip_on_gpu = mirror and self.accelerated
        # The software renderer tints while it scales, pixel by pixel on the screen's pixels (6 ms
        # at 1920x1080 here), so there the picture is dimmed once on upload instead (0.2 ms).
        dim = WHITE if self.accelerated else tint
        if picture is not self._camera_source or dim != self._camera_dim:  # else redraw the texture
            flip = mirror and not self.accelerated
            pixels = picture
            if flip or dim != WHITE:  # a copy (flipped or not): the frame's own pixels stay untouched
                pixels = self._copy_for_upload(picture, flip)
            surf = pygame.image.frombuffer(pixels.data, (w, h), "RGB" if pixels.shape[2] == 3 else "BGRA")
            if dim != WHITE:
                surf.fill(dim, special_flags=pygame.BLEND_RGB_MULT)
            tex.update(surf)
            self._camera_source, self._camera_dim = picture, dim
        tex.color = tint if self.accelerated else WHITE
        tex.draw(dstrect=dst, flip_x=flip_on_gpu)

    def _copy_for_upload(self, picture: np.ndarray, flip: bool) -> np.ndarray:
        """`picture` copied (mirrored when `flip`) into a buffer kept between frames: no per-frame
        allocation of a frame-sized surface, and quicker than pygame's flip (1.75 against 3.0 ms at
        1920x1080, BGRA)."""
        copy = self._camera_copy
        if copy is None or copy.shape != picture.shape:
            copy = self._camera_copy = np.empty_like(picture)
        if picture.shape[2] == 4:  # whole pixels as 32-bit words
            src = picture.view(np.uint32)[..., 0]
            dst = copy.view(np.uint32)[..., 0]
        else:
            src, dst = picture, copy
        np.copyto(dst, src[:, ::-1] if flip else src)
        return copy

    def snapshot(self) -> pygame.Surface:
        """What is on screen now, as a Surface (screenshots, tests, annotated video)."""
        return self.renderer.to_surface()


def _pieces(font: pygame.font.Font, word: str, max_width: int) -> list[str]:
    """`word` in pieces no wider than `max_width` (at least one character each)."""
    if font.size(word)[0] <= max_width:
        return [word]
    pieces, piece = [], ""
    for ch in word:
        if piece and font.size(piece + ch)[0] > max_width:
            pieces.append(piece)
            piece = ch
        else:
            piece += ch
    return [*pieces, piece] if piece else pieces
