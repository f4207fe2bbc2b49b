"""Spoken cues: short WAVs, pre-rendered by `tools/render-cues.py`, played one at a time.

During a rep the person keeps the head in line with the spine and cannot look at the screen, so
the cue has to be heard. The coach decides when a cue is worth saying (and rate-limits it); this
player only makes sure two never overlap: a cue asked for while another plays waits its turn, and
is dropped if the wait grows stale (a correction heard two seconds late is about the wrong rep).
Volume and mute come from the configuration. With no audio device (a Pi without speakers, CI) the
player goes silent with one log line; the screen still shows every cue. It tries the device again
after `RETRY_S`, then less and less often (ALSA prints a line of its own on every failed open), so
a screen's HDMI audio that was off at boot is used once it comes on. A device that goes away while
in use (a screen switched off takes its HDMI audio with it; a USB speaker unplugged) is closed and
looked for in the same way, and SDL's news of a device added makes the player look at once.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections import deque
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CUE_DIR = Path(__file__).resolve().parent / "assets" / "cues"
SAMPLE_RATE = 16000  # the WAVs' rate: mono 16-bit, small and clear enough for speech
MAX_WAIT_S = 2.0  # a waiting cue older than this is dropped
MAX_WAITING = 2
RETRY_S = 30.0  # with no device, try to open one after this long, then twice as long each time ...
RETRY_MAX_S = 600.0  # ... up to this
# Opening the device, even in vain, makes SDL list the devices and report each as added: news of a
# device this soon after our own try is that echo, not a device plugged in (acting on it would try
# again every frame while a listed device cannot open, as a switched-off screen's HDMI audio can).
ECHO_S = 5.0
ALSA_CARDS = Path("/proc/asound/cards")
_CARD_LINE = re.compile(r"\s*\d+\s+\[([^\]]+)\]")


def sound_cards(listing: Path = ALSA_CARDS) -> list[str]:
    """ALSA's sound cards by id, in index order (the default device plays through the first,
    unless PipeWire or an asound.conf says otherwise); none when the kernel lists none."""
    try:
        lines = listing.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    # " 0 [Headphones     ]: bcm2835_headpho - bcm2835 Headphones", then a description line
    return [m.group(1).strip() for m in map(_CARD_LINE.match, lines) if m]


def _default_device_note(cards: list[str]) -> str:
    """What an operator needs to tell where "the default" plays (a Pi 4's is the headphone jack)."""
    if len(cards) < 2:
        return ""
    return f" (sound cards: {', '.join(cards)}; the first is the default, audio.device picks another)"


REPAIR = "Reinstall hinge-kiosk, or render the cues again with tools/render-cues.py."


def _listed_cues(cue_dir: Path) -> list[str]:
    """The cue ids the renderer wrote (`index.json` beside the WAVs); none when it is unreadable."""
    try:
        listed = json.loads((cue_dir / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(cue) for cue in listed] if isinstance(listed, dict) else []


class CuePlayer:
    """Plays cue WAVs by id through `pygame.mixer` on one channel: never two at once."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        volume: float = 0.8,
        device: str = "",
        cue_dir: Path = CUE_DIR,
        mixer: Any = None,
    ) -> None:
        """`device`: an ALSA device name (`audio.device`); "" is the system's default."""
        self.silent_reason = ""
        self.played: list[str] = []  # ids in the order they started (the last few), for status and tests
        self._waiting: deque[tuple[str, float]] = deque(maxlen=MAX_WAITING)
        self._sounds: dict[str, Any] = {}
        self._channel: Any = None
        self._mixer: Any = None
        self._volume, self._cue_dir, self._device = volume, cue_dir, device
        self._next_try = math.inf  # when to look for an audio device again (only while there is none)
        self._retry_s = RETRY_S
        self._tried_at = -math.inf  # when the device was last opened or tried
        if not enabled:
            self.silent_reason = "audio is off in the configuration"
            log.info("audio: off (audio.enabled = false); cues are shown, not spoken")
            return
        if device:
            # SDL's ALSA backend opens the device named here instead of "default".
            os.environ["AUDIODEV"] = device
        if mixer is None:
            import pygame

            mixer = pygame.mixer
        self._module = mixer
        if not self._open():
            self._next_try = -math.inf  # from the first `update`: RETRY_S from then

    def device_lost(self, now: float) -> None:
        """The device in use went away: close it, go silent and look for one again (see `update`)."""
        if self._mixer is None:
            return
        log.warning("audio: the audio device went away; running silent until one is back")
        self.close()
        self._tried_at = now
        self._sounds.clear()
        self._waiting.clear()
        self.silent_reason = "the audio device went away"
        self._retry_s = RETRY_S
        self._next_try = now + self._retry_s

    def device_found(self, now: float) -> None:
        """An output device appeared: with none open, look now instead of at the next retry (unless
        this is the echo of our own try, see `ECHO_S`)."""
        if self._mixer is None and math.isfinite(self._next_try) and now - self._tried_at > ECHO_S:
            self._next_try = now

    def _open(self) -> bool:
        """Open the device and load the cues; False (silent, with a log line) when there is no device."""
        mixer = self._module
        try:
            if not mixer.get_init():
                mixer.init(frequency=SAMPLE_RATE, size=-16, channels=1, buffer=1024)
            mixer.set_num_channels(1)
            self._channel = mixer.Channel(0)
        except Exception as exc:  # pygame.error: no device, no driver, device busy
            device = self._device
            reason = f"cannot open audio device {device} ({exc})" if device else f"no audio device ({exc})"
            if reason != self.silent_reason:
                fix = " Check audio.device against `aplay -L`." if device else ""
                log.warning("audio: %s; running silent, cues are shown on screen.%s", reason, fix)
            self.silent_reason = reason
            return False
        self._mixer = mixer
        self.silent_reason = ""
        if self._device:
            log.info("audio: cues play through %s", self._device)
        else:
            log.info(
                "audio: cues play through the default output device%s",
                _default_device_note(sound_cards(ALSA_CARDS)),
            )
        cue_dir, volume = self._cue_dir, self._volume
        for path in sorted(cue_dir.glob("*.wav")):
            try:
                sound = mixer.Sound(str(path))
            except Exception as exc:
                log.warning("audio: cannot load %s (%s); that cue stays silent. %s", path.name, exc, REPAIR)
                continue
            sound.set_volume(max(0.0, min(1.0, volume)))
            self._sounds[path.stem] = sound
        if not self._sounds:
            self.silent_reason = f"no cue sounds in {cue_dir}"
            log.warning("audio: no cue WAVs in %s; running silent. %s", cue_dir, REPAIR)
            return True
        missing = sorted(f"{cue}.wav" for cue in _listed_cues(cue_dir) if cue not in self._sounds)
        if missing:
            log.warning(
                "audio: %s missing from %s; those cues stay silent. %s", ", ".join(missing), cue_dir, REPAIR
            )
        return True

    @property
    def silent(self) -> bool:
        return bool(self.silent_reason)

    @property
    def busy(self) -> bool:
        return self._channel is not None and bool(self._channel.get_busy())

    def say(self, cue_id: str, now: float) -> None:
        """Say `cue_id` now, or as soon as the current cue ends."""
        if self.silent or cue_id not in self._sounds:
            return
        if self.busy:
            self._waiting.append((cue_id, now))
        else:
            self._play(cue_id)

    def update(self, now: float) -> None:
        """Call every loop: starts a waiting cue once the channel is free; without a device, tries
        to open one now and then (see `RETRY_S`)."""
        if now >= self._next_try:
            self._tried_at = now  # the open in __init__ counts from the first update
            if self._next_try == -math.inf:
                self._next_try = now + self._retry_s
            elif self._open():
                self._next_try = math.inf
                log.info("audio: an audio device is there now; cues are spoken")
            else:
                self._retry_s = min(2.0 * self._retry_s, RETRY_MAX_S)
                self._next_try = now + self._retry_s
        while self._waiting and not self.busy:
            cue_id, asked = self._waiting.popleft()
            if now - asked <= MAX_WAIT_S:
                self._play(cue_id)

    def _play(self, cue_id: str) -> None:
        self._channel.play(self._sounds[cue_id])
        self.played.append(cue_id)
        del self.played[:-8]

    def close(self) -> None:
        if self._mixer is not None:
            self._mixer.quit()
            self._mixer = None
            self._channel = None
