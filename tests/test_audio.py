"""Spoken cues: every cue has a small WAV, cues never overlap, no audio device means silence."""

from __future__ import annotations

import json
import logging
import os
import shutil
import wave

import pytest

from kiosk.audio import CUE_DIR, MAX_WAIT_S, RETRY_S, SAMPLE_RATE, CuePlayer, sound_cards
from kiosk.coach import CUES
from kiosk.flow import ANNOUNCEMENTS


class FakeChannel:
    def __init__(self) -> None:
        self.playing: str | None = None
        self.started: list[str] = []

    def play(self, sound: FakeSound) -> None:
        self.playing = sound.name
        self.started.append(sound.name)

    def get_busy(self) -> bool:
        return self.playing is not None


class FakeSound:
    def __init__(self, path: str) -> None:
        self.name = path.rsplit("/", 1)[-1].removesuffix(".wav")
        self.volume = 1.0

    def set_volume(self, v: float) -> None:
        self.volume = v


class FakeMixer:
    """The part of `pygame.mixer` the player uses, with a channel the test can finish."""

    def __init__(self, fail: str = "") -> None:
        self.fail = fail
        self.channel = FakeChannel()
        self.inited = False

    def get_init(self) -> bool:
        return self.inited

    def init(self, **kwargs: object) -> None:
        if self.fail:
            import pygame

            raise pygame.error(self.fail)
        self.inited = True

    def set_num_channels(self, n: int) -> None:
        pass

    def Channel(self, i: int) -> FakeChannel:  # pygame.mixer's names
        return self.channel

    def Sound(self, path: str) -> FakeSound:
        return FakeSound(path)

    def quit(self) -> None:
        self.inited = False


def test_every_cue_and_announcement_has_a_small_current_wav() -> None:
    wanted = {**{k: c.spoken for k, c in CUES.items()}, **ANNOUNCEMENTS}
    index = json.loads((CUE_DIR / "index.json").read_text())
    assert index == wanted, "cue wording changed: run tools/render-cues.py"
    total = 0
    for cue_id in wanted:
        path = CUE_DIR / f"{cue_id}.wav"
        with wave.open(str(path)) as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, SAMPLE_RATE)
            seconds = w.getnframes() / w.getframerate()
        assert 0.2 < seconds < 3.0, cue_id  # short: the person is mid-rep
        total += path.stat().st_size
    assert total < 1_000_000


def test_cues_never_overlap_and_a_waiting_cue_plays_next() -> None:
    mixer = FakeMixer()
    player = CuePlayer(volume=0.5, mixer=mixer)
    assert not player.silent
    player.say("rounded_back", 0.0)
    player.say("good_rep", 0.3)  # asked while the first still plays
    assert mixer.channel.started == ["rounded_back"]
    player.update(0.5)
    assert mixer.channel.started == ["rounded_back"]  # still busy: nothing new starts
    mixer.channel.playing = None  # the first cue ends
    player.update(0.9)
    assert mixer.channel.started == ["rounded_back", "good_rep"]


def test_a_stale_waiting_cue_is_dropped() -> None:
    mixer = FakeMixer()
    player = CuePlayer(mixer=mixer)
    player.say("squatting", 0.0)
    player.say("shallow", 0.1)
    mixer.channel.playing = None
    player.update(0.1 + MAX_WAIT_S + 0.5)
    assert mixer.channel.started == ["squatting"]


def test_the_configured_device_is_the_one_opened_and_named_when_it_fails(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # SDL's ALSA backend opens $AUDIODEV instead of "default" (the Pi 4's headphone jack).
    monkeypatch.delenv("AUDIODEV", raising=False)
    seen: list[str | None] = []

    class Named(FakeMixer):
        def init(self, **kwargs: object) -> None:
            seen.append(os.environ.get("AUDIODEV"))
            super().init(**kwargs)

    player = CuePlayer(device="default:CARD=vc4hdmi0", mixer=Named())
    assert seen == ["default:CARD=vc4hdmi0"] and not player.silent
    missing = Named(fail="Couldn't open audio device: No such file or directory")
    with caplog.at_level(logging.WARNING, logger="kiosk.audio"):
        player = CuePlayer(device="default:CARD=Nope", mixer=missing)
    assert player.silent and "default:CARD=Nope" in player.silent_reason
    assert any("aplay -L" in r.message and "default:CARD=Nope" in r.message for r in caplog.records)


def test_volume_comes_from_the_configuration() -> None:
    mixer = FakeMixer()
    player = CuePlayer(volume=0.3, mixer=mixer)
    assert {s.volume for s in player._sounds.values()} == {0.3}


def test_muted_in_the_configuration_plays_nothing() -> None:
    mixer = FakeMixer()
    player = CuePlayer(enabled=False, mixer=mixer)
    player.say("go", 0.0)
    assert player.silent and mixer.channel.started == [] and not mixer.inited


def test_no_audio_device_is_silence_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    mixer = FakeMixer(fail="No available audio device")
    with caplog.at_level(logging.WARNING, logger="kiosk.audio"):
        player = CuePlayer(mixer=mixer)
    assert player.silent and "no audio device" in player.silent_reason
    assert any("running silent" in r.message for r in caplog.records)
    player.say("go", 0.0)  # no crash
    player.update(1.0)
    player.close()


def test_a_missing_cue_file_is_named_with_the_fix(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    cues = tmp_path / "cues"
    shutil.copytree(CUE_DIR, cues)
    (cues / "rounded_back.wav").unlink()
    with caplog.at_level(logging.WARNING, logger="kiosk.audio"):
        player = CuePlayer(mixer=FakeMixer(), cue_dir=cues)
    (warning,) = [r.message for r in caplog.records]
    assert "rounded_back.wav missing" in warning and "tools/render-cues.py" in warning
    assert not player.silent  # every other cue still plays
    player.say("good_rep", 0.0)
    player.close()


def test_an_audio_device_that_appears_later_is_used(caplog: pytest.LogCaptureFixture) -> None:
    # A screen's HDMI audio that was off at boot: the kiosk must not stay silent until restarted.
    mixer = FakeMixer(fail="No available audio device")
    player = CuePlayer(mixer=mixer)
    player.update(100.0)  # the first look is RETRY_S after the first update
    player.update(100.0 + RETRY_S)  # still none: the next look comes twice as late
    player.update(100.0 + 2.5 * RETRY_S)
    assert player.silent
    mixer.fail = ""
    player.update(100.0 + 3.0 * RETRY_S - 1.0)
    assert player.silent
    with caplog.at_level(logging.INFO, logger="kiosk.audio"):
        player.update(100.0 + 3.0 * RETRY_S)
    assert not player.silent and any("spoken" in r.message for r in caplog.records)
    player.say("go", 200.0)
    assert mixer.channel.started == ["go"]


def test_real_mixer_on_the_dummy_audio_driver() -> None:
    """pygame.mixer itself, on SDL's dummy audio driver (set by conftest): loads and plays."""
    player = CuePlayer(volume=0.1)
    try:
        if player.silent:
            pytest.skip(f"no mixer here: {player.silent_reason}")
        player.say("go", 0.0)
        assert player.played == ["go"]
    finally:
        player.close()


def test_a_device_that_goes_away_is_closed_and_looked_for_again(caplog: pytest.LogCaptureFixture) -> None:
    # A screen switched off takes its HDMI audio with it: SDL reports the device removed.
    mixer = FakeMixer()
    player = CuePlayer(mixer=mixer)
    player.say("go", 0.0)
    player.say("get_ready", 0.1)  # waiting behind "go"
    assert mixer.channel.started == ["go"]
    with caplog.at_level(logging.WARNING, logger="kiosk.audio"):
        player.device_lost(10.0)
    assert player.silent and "went away" in player.silent_reason
    assert not mixer.inited  # closed, so the next open picks whatever device is there then
    assert any("went away" in r.message for r in caplog.records)
    mixer.fail = "No available audio device"
    player.update(10.0 + RETRY_S)  # still gone
    assert player.silent
    mixer.fail = ""
    mixer.channel = FakeChannel()
    player.device_found(10.0 + RETRY_S + 10.0)  # SDL: an output device was added
    player.update(10.0 + RETRY_S + 10.0)  # looked at once, not after the doubled wait
    assert not player.silent
    player.say("go", 50.0)
    assert mixer.channel.started == ["go"]  # on the new device, the next cue is said at once


def test_device_news_is_ignored_when_audio_is_off_or_working() -> None:
    off = CuePlayer(enabled=False, mixer=FakeMixer())
    off.device_found(1.0)
    off.update(1.0)
    assert off.silent and "configuration" in off.silent_reason
    mixer = FakeMixer()
    working = CuePlayer(mixer=mixer)
    working.device_found(1.0)
    working.update(1.0)
    working.say("go", 1.0)
    assert mixer.channel.started == ["go"]


def test_a_listed_device_that_will_not_open_is_not_tried_every_frame() -> None:
    # Every open, even a failed one, makes SDL report the devices it lists as added. Acting on that
    # echo tried again on every frame (2100 times in 100 s) while a listed device could not open.
    class EchoingMixer(FakeMixer):
        def __init__(self) -> None:
            super().__init__(fail="ALSA: Couldn't open audio device")
            self.tries = 0
            self.echo = False

        def init(self, **kwargs: object) -> None:
            self.tries += 1
            self.echo = True  # SDL queues AUDIODEVICEADDED for each listed device
            super().init(**kwargs)

    mixer = EchoingMixer()
    player = CuePlayer(mixer=mixer)
    for frame in range(100 * 30):  # 100 s at 30 frames a second: events, then update, as the app
        now = frame / 30
        if mixer.echo:
            mixer.echo = False
            player.device_found(now)
        player.update(now)
    assert mixer.tries <= 3  # at start, after RETRY_S, after 2 x RETRY_S (at 90 s)
    player.device_found(200.0)  # a real plug-in, long after the last try: looked at at once
    player.update(200.0)
    assert mixer.tries == 4


def test_the_log_names_the_sound_cards_when_the_default_one_plays(tmp_path, monkeypatch, caplog) -> None:
    # A Pi 4's first card, and so ALSA's default, is the headphone jack, not the screen's HDMI.
    cards = tmp_path / "cards"
    cards.write_text(
        " 0 [Headphones     ]: bcm2835_headpho - bcm2835 Headphones\n"
        "                      bcm2835 Headphones\n"
        " 1 [vc4hdmi0       ]: vc4-hdmi - vc4-hdmi-0\n"
        "                      vc4-hdmi-0\n"
        " 2 [vc4hdmi1       ]: vc4-hdmi - vc4-hdmi-1\n"
        "                      vc4-hdmi-1\n"
    )
    assert sound_cards(cards) == ["Headphones", "vc4hdmi0", "vc4hdmi1"]
    assert sound_cards(tmp_path / "none") == []
    monkeypatch.setattr("kiosk.audio.ALSA_CARDS", cards)
    with caplog.at_level(logging.INFO, logger="kiosk.audio"):
        CuePlayer(mixer=FakeMixer())
        CuePlayer(device="sysdefault:CARD=vc4hdmi0", mixer=FakeMixer())
    lines = [r.message for r in caplog.records if "cues play through" in r.message]
    assert lines[0].endswith(
        "(sound cards: Headphones, vc4hdmi0, vc4hdmi1; the first is the default, audio.device picks another)"
    )
    assert lines[1] == "audio: cues play through sysdefault:CARD=vc4hdmi0"
