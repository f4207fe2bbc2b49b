"""The mirror's display: a pygame window, an SDL renderer and the screens drawn on it.

`open_display` makes the window (fullscreen on KMS/DRM or a desktop, a window for development,
hidden for offline rendering) and a renderer: accelerated when the platform has one, SDL's software
renderer otherwise (the dummy driver in tests and headless runs). When the configured orientation
disagrees with the screen's shape (a screen mounted upright on a system that still reports it as
landscape), the screens are drawn into a render target of the turned size and the renderer turns
the whole picture a quarter-turn clockwise at present.

Per frame the display clears, uploads the new camera picture (if there is one) into a texture it
keeps, draws the overlays from cached textures and presents. What a frame allocates: a Surface
header around the camera frame's pixels (no copy; on the software renderer the mirrored copy goes
into a buffer kept between frames); textures are made only for strings not drawn recently.
Measured at 1920x1080 on the software renderer: 4-7 ms a frame for a 720p camera (`hinge-kiosk
bench kiosk`). Presenting lets go of the GIL (see `_present_without_gil`), so the pipeline's
threads keep running while SDL draws or waits.
"""

from __future__ import annotations

import ctypes
import gc
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pygame
from pygame._sdl2.video import Renderer, Texture, Window

from kiosk.display.gfx import Canvas
from kiosk.display.layout import Layout
from kiosk.display.screens import CameraStatus, Progress, Scene, Screens
from kiosk.drills import DRILLS
from kiosk.errors import KioskError
from kiosk.flow import Screen

__all__ = ["CameraStatus", "Display", "DisplayUnavailable", "Progress", "Scene", "open_display"]

TITLE = "Hinge Mirror"


class DisplayUnavailable(KioskError):
    """No video device: the caller may run headless instead."""


@dataclass
class Action:
    """What a window event asks of the app: a development shortcut, or news of the audio device."""

    action: str  # "quit" | "skip" | "drill" | "diagnostics" | "screenshot" | "audio-lost" | "audio-found"
    arg: str = ""


DEV_KEYS = {
    pygame.K_ESCAPE: Action("quit"),
    pygame.K_q: Action("quit"),
    pygame.K_SPACE: Action("skip"),
    pygame.K_d: Action("diagnostics"),
    pygame.K_s: Action("screenshot"),
    # 1, 2, ... pick the drills in their listed order.
    **{pygame.K_1 + i: Action("drill", name) for i, name in enumerate(list(DRILLS)[:9])},
}


def _sdl_library() -> ctypes.CDLL | None:
    """The SDL2 library pygame itself loaded (its wheel bundles one), found in this process's memory
    map; None off Linux or when it cannot be identified."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split()[-1] for line in maps if "/libSDL2" in line}
    except OSError:
        return None
    core = sorted(p for p in paths if re.search(r"/libSDL2-2[^/]*\.so[^/]*$", p))
    if not core:
        return None
    try:
        return ctypes.CDLL(core[0])  # the handle of the library already loaded, not a second copy
    except OSError:
        return None


def _present_without_gil(window: Window) -> Callable[[], None] | None:
    """`SDL_RenderPresent` for `window`'s renderer, called through ctypes, which lets go of the GIL.

    pygame's `Renderer.present` holds the GIL for the whole call. That is where the software renderer
    draws everything queued (5-6 ms a frame at 1920x1080 here), and where an accelerated one waits for
    vsync (up to a whole refresh): time in which the pipeline's threads could not even pick up an
    inference result. None (use pygame's) when SDL's own library cannot be reached.
    """
    sdl = _sdl_library()
    if sdl is None:
        return None
    sdl.SDL_GetWindowFromID.restype = ctypes.c_void_p
    sdl.SDL_GetWindowFromID.argtypes = [ctypes.c_uint32]
    sdl.SDL_GetRenderer.restype = ctypes.c_void_p
    sdl.SDL_GetRenderer.argtypes = [ctypes.c_void_p]
    sdl.SDL_RenderPresent.restype = None
    sdl.SDL_RenderPresent.argtypes = [ctypes.c_void_p]
    handle = sdl.SDL_GetWindowFromID(window.id)
    renderer = sdl.SDL_GetRenderer(handle) if handle else None
    if not renderer:
        return None
    present = sdl.SDL_RenderPresent
    return lambda: present(renderer)


class Display:
    """One window and its renderer; `draw(scene)` then `present()` once per loop."""

    def __init__(self, window: Window, renderer: Renderer, *, accelerated: bool, orientation: str) -> None:
        self.window = window
        self.renderer = renderer
        self.accelerated = accelerated
        self._present = _present_without_gil(window) or renderer.present
        w, h = window.size
        portrait_screen = h > w
        want_portrait = portrait_screen if orientation == "auto" else orientation == "portrait"
        self.turned = want_portrait != portrait_screen
        size = (h, w) if self.turned else (w, h)
        self._target = Texture(renderer, size, target=True, scale_quality=1) if self.turned else None
        self.size = size
        self.layout = Layout.for_screen(*size, orientation="portrait" if want_portrait else "landscape")
        self.canvas = Canvas(renderer, size, accelerated=accelerated)
        self.screens = Screens(self.canvas, self.layout)

    @property
    def driver(self) -> str:
        return pygame.display.get_driver()

    def picture_size(self, frame_size: tuple[int, int], screen: Screen) -> tuple[int, int] | None:
        """The size the picture of a frame of `frame_size` is drawn at on `screen` (None: not drawn),
        for converting it at that size (`Frame.picture_for`)."""
        rect = self.screens.picture_rect(frame_size, screen)
        return None if rect is None else rect.size

    def draw(self, scene: Scene) -> None:
        """Draw `scene` (into the turned target when the screen is mounted the other way)."""
        if self._target is not None:
            self.renderer.target = self._target
        self.screens.draw(scene)

    def present(self) -> None:
        """Show what was drawn (waits for the screen's refresh when vsync is on)."""
        r = self.renderer
        if self._target is not None:
            r.target = None
            r.draw_color = (0, 0, 0, 255)
            r.clear()
            w, h = self.window.size
            tw, th = self.size
            self._target.draw(dstrect=((w - tw) / 2, (h - th) / 2, tw, th), angle=90.0)
        self._present()

    def screenshot(self, path: str | Path) -> Path:
        """Save what the last `draw` produced as a PNG (upright, even when the screen is turned).
        A file that cannot be written is an `OSError`, whichever layer found it."""
        if self._target is not None:
            self.renderer.target = self._target
        surface = self.canvas.snapshot()
        if self._target is not None:
            self.renderer.target = None
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        try:
            pygame.image.save(surface, str(p))
        except pygame.error as exc:
            raise OSError(f"{p}: {exc}") from None
        return p

    def events(self, dev_keys: bool) -> list[Action]:
        """Window events since the last call; keys only in development (windowed) mode.

        SDL's audio hotplug events come through the same queue: an output device removed (only the
        one in use is reported) or added, so the cue player can reopen instead of staying silent.
        """
        out: list[Action] = []
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                out.append(Action("quit"))
            elif event.type == pygame.AUDIODEVICEREMOVED and not event.iscapture:
                out.append(Action("audio-lost"))
            elif event.type == pygame.AUDIODEVICEADDED and not event.iscapture:
                out.append(Action("audio-found"))
            elif event.type == pygame.KEYDOWN and dev_keys:
                key = DEV_KEYS.get(event.key)
                if key is not None:
                    out.append(key)
        return out

    def close(self) -> None:
        """Free every texture while its renderer exists, then the window. SDL frees a window's
        textures with the window; a texture object finalised after that frees their memory again,
        and by then it may hold a texture of a newer window ("Parameter 'texture' is invalid")."""
        self.renderer.target = None  # the renderer keeps the texture it draws into
        self.canvas.release()
        self._target = None
        gc.collect()
        self.window.destroy()
        pygame.display.quit()


def open_display(
    size: tuple[int, int] | None,
    *,
    fullscreen: bool,
    orientation: str = "auto",
    vsync: bool = True,
    hidden: bool = False,
) -> Display:
    """Open the window; `DisplayUnavailable` when there is no video device at all."""
    try:
        pygame.display.init()
    except RuntimeError as exc:  # pygame.error
        raise DisplayUnavailable(f"no display available ({exc})") from None
    try:
        if fullscreen:
            window = Window(TITLE, size=size or (1280, 720), fullscreen_desktop=True)
        else:
            window = Window(TITLE, size=size or (1280, 720), hidden=hidden)
    except RuntimeError as exc:
        pygame.display.quit()
        raise DisplayUnavailable(f"cannot open a window ({exc})") from None
    if fullscreen:
        pygame.mouse.set_visible(False)
    try:
        renderer = Renderer(window, accelerated=1, vsync=vsync)
        accelerated = True
    except RuntimeError:  # no GPU renderer here (SDL raises its own RuntimeError subclass)
        renderer = Renderer(window, accelerated=0, vsync=False)
        accelerated = False
    return Display(window, renderer, accelerated=accelerated, orientation=orientation)


def headless_environment() -> None:
    """Point SDL at its dummy video driver (no window, software rendering) before `open_display`."""
    pygame.display.quit()
    os.environ["SDL_VIDEODRIVER"] = "dummy"
