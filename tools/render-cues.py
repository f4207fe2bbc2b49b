#!/usr/bin/env python3
"""Render every spoken cue to a short WAV with espeak-ng, for `kiosk.audio` to play.

One file per coach cue (`kiosk.coach.CUES`, the `spoken` words) and per flow announcement
(`kiosk.flow.ANNOUNCEMENTS`), named by id, into kiosk/assets/cues/: mono, 16 kHz, 16-bit, leading
and trailing silence trimmed, 5 ms fades against clicks. `index.json` records the words of each
file; the tests compare it with the tables, so a cue whose wording changed without a re-render is
caught. Needs espeak-ng (`apt-get install espeak-ng`); PyAV (a project dependency) resamples.

    tools/render-cues.py [--out DIR] [--voice en-us] [--speed 160]
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kiosk.audio import CUE_DIR, SAMPLE_RATE  # noqa: E402
from kiosk.coach import CUES  # noqa: E402
from kiosk.flow import ANNOUNCEMENTS  # noqa: E402

SILENCE = 300  # |sample| below this (of 32767) counts as silence when trimming
FADE_S = 0.005


def phrases() -> dict[str, str]:
    """Every id the kiosk may say, with its words."""
    out = {cue_id: cue.spoken for cue_id, cue in CUES.items()}
    out.update(ANNOUNCEMENTS)
    return out


def speak(text: str, voice: str, speed: int) -> tuple[np.ndarray, int]:
    """espeak-ng's rendering of `text`: int16 mono samples and their rate."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text], check=True, capture_output=True
    ).stdout
    with wave.open(io.BytesIO(wav)) as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise SystemExit(f"espeak-ng gave {w.getnchannels()} channels of {w.getsampwidth()} bytes")
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    return samples, rate


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Band-limited resampling through libswresample (PyAV)."""
    if rate == target:
        return samples
    import av

    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="s16", layout="mono", rate=target)
    chunks = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.int16)


def trim(samples: np.ndarray, rate: int) -> np.ndarray:
    """Cut leading and trailing silence (keeping 20 ms) and fade the ends."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > SILENCE)
    if loud.size == 0:
        return samples[:0]
    keep = int(0.02 * rate)
    out = samples[max(0, loud[0] - keep) : loud[-1] + keep].astype(np.float32)
    n = min(int(FADE_S * rate), out.size // 2)
    if n:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        out[:n] *= ramp
        out[-n:] *= ramp[::-1]
    return out.astype(np.int16)


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CUE_DIR, help="output folder (default: %(default)s)")
    parser.add_argument("--voice", default="en-us", help="espeak-ng voice (default: %(default)s)")
    parser.add_argument("--speed", type=int, default=160, help="words per minute (default: %(default)s)")
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("render-cues: espeak-ng is not installed (apt-get install espeak-ng)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    words = phrases()
    for stale in args.out.glob("*.wav"):
        if stale.stem not in words:
            stale.unlink()
    total = 0
    for cue_id, text in words.items():
        samples, rate = speak(text, args.voice, args.speed)
        samples = trim(resample(samples, rate, SAMPLE_RATE), SAMPLE_RATE)
        path = args.out / f"{cue_id}.wav"
        write_wav(path, samples, SAMPLE_RATE)
        total += path.stat().st_size
        print(f"{path.name:28s} {samples.size / SAMPLE_RATE:4.2f} s  {text!r}")
    (args.out / "index.json").write_text(json.dumps(words, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(words)} cues, {total / 1024:.0f} KiB in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
