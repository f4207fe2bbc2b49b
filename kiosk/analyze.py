"""`hinge-kiosk analyze`: run the engine over a pose track, a video or an image, offline.

The same engine the kiosk runs live judges every frame; the output is the per-rep verdict, as a
readable table or as one JSON object on stdout (progress and errors go to stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from kiosk.body import Side
from kiosk.config import add_setting_option
from kiosk.drills import AUTO_DRILL, DEFAULT_DRILL, DRILLS, get_drill, recognise_drill
from kiosk.engine import HingeEngine
from kiosk.errors import InputError, file_in_the_way
from kiosk.metrics import DEFAULT_SETUP, Setup, travel_cm
from kiosk.reps import (
    BENT_HIP_DEG,
    FAULT_NAMES,
    FAULTS,
    HEAD_DOWN_DEG,
    HEAD_UP_DEG,
    HELD_AT_BOTTOM,
    HELD_LONGER_THAN_THE_SET,
    JUDGE_SIDE_RATIO,
    ROUNDED_ALIGNMENT,
    TOO_SHALLOW,
    RepResult,
    is_head_out_of_line,
    is_rounded,
    is_squatting,
    is_weight_forward,
    split_set_ups,
)
from kiosk.track import PoseTrack, load_track

TRACK_SUFFIXES = (".npz", ".json", ".json.gz")
# The keys of a rep in the JSON output, in order.
REP_KEYS = (
    "index",
    "start_s",
    "bottom_s",
    "end_s",
    "score",
    "faults",
    "hip_angle_deg",
    "knee_angle_deg",
    "hip_travel",
    "wall_tap",
    "judged",
)


def is_track(path: str | Path) -> bool:
    return str(path).lower().endswith(TRACK_SUFFIXES)


@dataclass
class Analysis:
    """What the engine made of a track."""

    reps: list[RepResult]
    side: str | None  # the side that faced the camera most: "left", "right", or None
    # Movements that got under way but were not counted: (time, why). Small dips are left out.
    dropped: list[tuple[float, str]] = field(default_factory=list)
    # Frames per framing problem ("body": nobody seen; "feet", "head", ...; "": whole body in view).
    framing: Counter[str] = field(default_factory=Counter)

    def framing_problem(self) -> str:
        """The part of the body most often out of the picture, when it was out in at least half of
        the frames with a person ("" otherwise). Reps are counted on the shoulders' height above the
        feet: with the feet cut off, the model guesses them and the count can go wrong either way."""
        with_person = sum(self.framing.values()) - self.framing["body"]
        problems = [(n, part) for part, n in self.framing.items() if part not in ("", "body")]
        if with_person <= 0 or not problems:
            return ""
        n, part = max(problems)
        if n < 0.5 * with_person:
            return ""
        where = FRAMING_TEXT.get(part, f"the {part} were not in view")
        return f"{where} in {100 * n / with_person:.0f}% of the frames with a person"

    def no_reps_hint(self) -> str:
        """Why a track may have given no reps, from what the frames showed."""
        if sum(self.framing.values()) <= self.framing["body"]:
            return "no reps found: nobody was seen in any frame"
        problem = self.framing_problem()
        if problem:
            return f"no reps found: {problem}; {FILM_WHOLE_BODY}"
        return "no reps found: was the person side-on and standing tall between reps?"


FILM_WHOLE_BODY = "film the whole body, head to feet, from the side"
# How `FrameMetrics.missing` reads in a sentence.
FRAMING_TEXT = {
    "head": "the head was cut off or unseen",
    "hips": "the hips were unseen",
    "feet": "the feet were cut off or unseen",
    "sides": "the body ran off the side of the picture",
}


def analyze_track(
    track: PoseTrack,
    drill: str = DEFAULT_DRILL,
    *,
    setup: Setup = DEFAULT_SETUP,
) -> Analysis:
    """Run the engine over every frame of the track, as the kiosk would live; then, with the whole
    recording in hand, take out the quick bell pickups and set-downs (`split_set_ups`) in drills
    where a bell may come off the floor."""
    engine = HingeEngine(drill, setup=setup, frame_size=track.frame_size)
    sides: Counter[str] = Counter()
    out = Analysis([], None)
    for kp, t in zip(track.keypoints, track.t, strict=True):
        result = engine.step(kp, float(t))
        m = result.metrics
        out.framing[m.missing] += 1
        # From which way the person faces, not `m.side` (the side the model is surer of, which
        # draws the skeleton): the model often swaps left and right in a profile.
        side = Side.toward_camera(m.facing) if m.person else None
        if side is not None:
            sides[side.value] += 1
        if result.rep is not None:
            out.reps.append(result.rep)
        if result.dropped and result.dropped != TOO_SHALLOW:
            out.dropped.append((float(t), result.dropped))
    if len(track):
        end_t = float(track.t[-1])
        end = engine.finish(end_t)
        if end.rep is not None:
            out.reps.append(end.rep)
        elif end.dropped and end.dropped != TOO_SHALLOW:  # a set-down the recording ends on
            out.dropped.append((end_t, end.dropped))
    if get_drill(drill).bell_from_floor:  # against a wall or on the knees, nothing is picked up
        held = [t for t, why in out.dropped if why == HELD_AT_BOTTOM]
        out.reps, set_ups = split_set_ups(out.reps, held)
        out.dropped += [(rep.bottom_s, HELD_LONGER_THAN_THE_SET) for rep in set_ups]
    out.dropped.sort()
    out.side = sides.most_common(1)[0][0] if sides else None
    return out


def report(track: PoseTrack, drill: str, reps: list[RepResult], side: str | None) -> dict[str, Any]:
    """The JSON document of `analyze --json`."""
    counts = Counter(f for rep in reps for f in rep.faults)
    rows = []
    for rep in reps:
        d = rep.as_dict()
        rows.append({k: d[k] for k in REP_KEYS})
    return {
        "input": track.source,
        "frames": len(track),
        "fps": round(track.fps, 3),
        "duration_s": round(track.duration_s, 3),
        "drill": drill,
        "side": side,
        "reps": rows,
        "summary": {
            "reps": len(reps),
            "clean_reps": sum(1 for r in reps if r.clean),
            # Counted but seen too obliquely (or too briefly side-on) to judge form.
            "unjudged_reps": sum(1 for r in reps if not r.judged),
            "faults": {f: counts.get(f, 0) for f in FAULTS},
        },
    }


def still_posture(track: PoseTrack, drill: str, setup: Setup = DEFAULT_SETUP) -> dict[str, Any]:
    """What one picture (a still image, a one-frame track) shows of a hinge position, by the limits a
    rep's bottom is judged by: one reading instead of a rep's median, so one near a limit may go
    either way. As in a rep, form is read from the side only (`judged`), and squatting and weight
    forward only on a bent position (hips bent `BENT_HIP_DEG` or more): standing, they mean nothing."""
    d = get_drill(drill)
    m = HingeEngine(drill, setup=setup, frame_size=track.frame_size).step(track.keypoints[0], 0.0).metrics
    judged = bool(m.person and m.side_ratio < JUDGE_SIDE_RATIO)  # a rep's frames count up to here
    faults: set[str] = set()
    if judged:
        rounded = is_rounded(m.alignment)
        if rounded:
            faults.add("rounded_back")
        if is_head_out_of_line(m.head_angle, rounded):
            faults.add("head_out_of_line")
        if not d.kneeling and m.hip_flex >= BENT_HIP_DEG:
            squatting = is_squatting(d, m.hip_flex, m.knee_flex, m.shin_angle, m.thigh_angle)
            if squatting:
                faults.add("squatting")
            if is_weight_forward(m.com_forward, m.knee_forward, m.hip_travel, m.trunk_angle, squatting):
                faults.add("weight_forward")

    def r(x: float, digits: int) -> float | None:
        return round(float(x), digits) if math.isfinite(x) else None

    return {
        "person": bool(m.person),
        "judged": judged,
        "side_ratio": r(m.side_ratio, 2),
        "hip_flex_deg": r(m.hip_flex, 1),
        "knee_flex_deg": r(m.knee_flex, 1),
        "trunk_deg": r(m.trunk_angle, 1),
        "alignment": r(m.alignment, 3),
        "head_deg": r(m.head_angle, 1),
        "faults": [f for f in FAULTS if f in faults],
    }


def print_still(doc: dict[str, Any], out: TextIO = sys.stdout) -> None:
    """The readable form of a still picture's `doc` (see `still_posture`)."""
    still = doc["still"]
    print(f"{doc['input']}: one picture, drill {doc['drill']}", file=out)
    if not still["person"]:
        print(f"nobody was seen: {FILM_WHOLE_BODY}", file=out)
        return
    if not still["judged"]:
        print(
            f"form is read from the side only, and the person is turned toward the camera (width "
            f"{still['side_ratio']} of the torso's length); {FILM_WHOLE_BODY}",
            file=out,
        )
        return
    angles = [("hips bent", "hip_flex_deg"), ("knees", "knee_flex_deg"), ("trunk from vertical", "trunk_deg")]
    print(", ".join(f"{name} {still[key]:.0f}°" for name, key in angles if still[key] is not None), file=out)
    line = still["alignment"]
    if line is not None:
        where = "behind" if line > 0 else "in front of"
        print(
            f"three points: the shoulder {abs(line):.0%} of the ear-hip length {where} their line "
            f"(rounded past {ROUNDED_ALIGNMENT:.0%} behind)",
            file=out,
        )
    head = still["head_deg"]
    if head is not None:
        print(
            f"head: {abs(head):.0f}° {'up' if head < 0 else 'down'} from the trunk's line (out of line past "
            f"{-HEAD_UP_DEG:.0f}° up or {HEAD_DOWN_DEG:.0f}° down)",
            file=out,
        )
    faults = ", ".join(FAULT_NAMES[f].lower() for f in still["faults"])
    print(f"form: {faults or 'clean'} (reps need a video or a pose track)", file=out)


def _fmt(x: float | None, spec: str) -> str:
    """`x` formatted by `spec`, or a dash padded to the same width when there is no value."""
    return format(x, spec) if x is not None else "-".rjust(int(spec.split(".")[0] or 1))


def print_table(
    doc: dict[str, Any],
    dropped: Sequence[tuple[float, str]] = (),
    out: TextIO = sys.stdout,
    recognised: bool = False,
    no_reps: str = "no reps found",
    framing: str = "",
    height_cm: float | None = None,
) -> None:
    """The readable form of `doc`; `recognised`: the drill was recognised, not chosen; `no_reps`: what
    to say when there are none; `framing`: a part of the body out of the picture most of the time
    (`Analysis.framing_problem`), said when reps were found all the same; `height_cm`: the lifter's
    height, when known, gives the hips' travel in centimetres instead of thigh lengths."""
    s = doc["summary"]
    unjudged = f", {s['unjudged_reps']} not judged" if s["unjudged_reps"] else ""
    how = " (recognised; --drill NAME to choose)" if recognised else ""
    reps = f"{s['reps']} rep{'' if s['reps'] == 1 else 's'}"
    print(
        f"{doc['input']}: {reps} ({s['clean_reps']} clean{unjudged}), drill {doc['drill']}{how}, "
        f"side {doc['side'] or 'unknown'}, {doc['frames']} frames at {doc['fps']:.1f} fps, "
        f"{doc['duration_s']:.1f} s",
        file=out,
    )
    if not doc["reps"]:
        print(no_reps, file=out)
    else:
        _print_reps(doc, out, height_cm)
        if s["unjudged_reps"]:
            print("not judged: too few side-on frames to see the form; film from the side", file=out)
        level_hint = roll_hint(doc)
        if level_hint:
            print(level_hint, file=out)
        if framing:
            print(f"check the counts: {framing}; {FILM_WHOLE_BODY}", file=out)
    for t, why in dropped:
        print(f"not counted at {t:.2f} s: {why}", file=out)


# Faults read only against the vertical: a camera that is not level can put them on every rep.
ROLL_SENSITIVE = ("weight_forward", "hyperextension")
ROLL_HINT_MIN_REPS = 3


def roll_hint(doc: dict[str, Any]) -> str:
    """A note when every judged rep (at least `ROLL_HINT_MIN_REPS`) has the same fault measured against
    the vertical: the lifter may well have it, but a camera rolled a few degrees gives the same
    reading, and only the person who filmed can tell. Empty otherwise."""
    judged = [r for r in doc["reps"] if r["judged"]]
    if len(judged) < ROLL_HINT_MIN_REPS:
        return ""
    for fault in ROLL_SENSITIVE:
        if all(fault in r["faults"] for r in judged):
            name = FAULT_NAMES[fault].lower()
            return (
                f"every rep reads {name}: if the camera was not level, a few degrees of roll read the "
                "same; --camera-roll DEG undoes it"
            )
    return ""


def _print_reps(doc: dict[str, Any], out: TextIO, height_cm: float | None) -> None:
    s = doc["summary"]
    print(" rep   start     end  score  hip°  knee°  travel  wall  faults", file=out)
    for r in doc["reps"]:
        travel = r["hip_travel"]
        if travel is not None and height_cm:
            travel = travel_cm(travel, height_cm)
        wall = {True: "yes", False: "no", None: "-"}[r["wall_tap"]]
        score = f"{r['score']:5d}" if r["judged"] else "    ?"
        verdict = ", ".join(r["faults"]) or ("-" if r["judged"] else "not judged")
        print(
            f"{r['index']:4d}  {r['start_s']:6.2f}  {r['end_s']:6.2f}  {score}  "
            f"{_fmt(r['hip_angle_deg'], '4.0f')}  {_fmt(r['knee_angle_deg'], '5.0f')}  "
            f"{_fmt(travel, '6.0f' if height_cm else '6.2f')}  {wall:>4}  {verdict}",
            file=out,
        )
    unit = "cm" if height_cm else "thigh lengths (--user-height-cm for cm)"
    print(f"travel: the furthest the hips went back behind the feet, in {unit}", file=out)
    seen = {k: v for k, v in s["faults"].items() if v}
    if seen:
        print("faults: " + ", ".join(f"{k} {v}" for k, v in seen.items()), file=out)


def load_input(path: str, args: argparse.Namespace) -> PoseTrack:
    """A pose track as is; a video or image through the pose model."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if is_track(p):
        return load_track(p)
    from kiosk.config import load_config
    from kiosk.pose import track_from_media

    loaded = load_config()  # the site's settings: where the kiosk's pose model is installed
    for problem in loaded.problems:
        print(f"hinge-kiosk: {problem}", file=sys.stderr)
    model_dir = loaded.config.pose.model_dir or None
    return track_from_media(p, runtime=args.runtime, threads=args.threads, model_dir=model_dir, progress=True)


def judge_track(
    track: PoseTrack,
    drill: str = AUTO_DRILL,
    *,
    setup: Setup = DEFAULT_SETUP,
) -> tuple[str, Analysis]:
    """`analyze_track` under `drill`, or under the drill the reps look like when it is "auto"
    (judged as a hinge first; a second pass when the hands went to the floor)."""
    auto = drill == AUTO_DRILL
    first = DEFAULT_DRILL if auto else drill
    found = analyze_track(track, first, setup=setup)
    if not auto:
        return drill, found
    chosen = recognise_drill([rep.evidence.get("hand_height", math.nan) for rep in found.reps])
    if chosen != DEFAULT_DRILL:
        found = analyze_track(track, chosen, setup=setup)
    return chosen, found


def output_path(value: str, suffixes: tuple[str, ...], option: str, source: str) -> Path:
    """`value` as a file `option` can write: a known suffix, in a folder that exists, and not the
    `source` being read (writing over a recording while reading it would destroy it). Checked before
    any slow work, so a typo costs nothing."""
    p = Path(value)
    if _same_file(p, Path(source)):
        raise InputError(f"{option} {value}: that is the input itself; write to another file")
    if p.suffix.lower() not in suffixes:
        raise InputError(f"{option} {value}: the file name must end in {' or '.join(suffixes)}")
    if p.is_dir():
        raise InputError(f"{option} {value}: that is a folder; give a file name")
    blocker = file_in_the_way(p.parent)
    if blocker is not None:
        raise InputError(f"{option} {value}: {blocker} is a file, not a folder")
    if not p.parent.is_dir():
        raise InputError(f"{option} {value}: the folder {p.parent} does not exist; create it first")
    return p


@contextlib.contextmanager
def written_whole(path: Path) -> Iterator[Path]:
    """A temporary name beside `path` to write to, renamed over `path` once the writing is done: a full
    disk or an interruption leaves no fragment, and an earlier file of that name as it was."""
    tmp = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def main(args: argparse.Namespace) -> int:
    if args.drill != AUTO_DRILL:
        get_drill(args.drill, others=(AUTO_DRILL,))  # before any slow work
    save_to = output_path(args.save_track, (".npz",), "--save-track", args.input) if args.save_track else None
    videos = (".mp4", ".mkv", ".mov")
    annotate_to = output_path(args.annotate, videos, "--annotate", args.input) if args.annotate else None
    track = load_input(args.input, args)
    if save_to is not None:
        try:
            with written_whole(save_to) as tmp:
                track.save(tmp)
        except OSError as exc:
            raise InputError(f"--save-track {save_to}: cannot write it ({exc.strerror or exc})") from None
        print(f"pose track written to {save_to}", file=sys.stderr)
    setup = Setup(args.wall_distance_in, args.user_height_cm or None, args.camera_roll)
    drill, found = judge_track(track, args.drill, setup=setup)
    doc = report(track, drill, found.reps, found.side)
    if len(track) == 1:
        doc["still"] = still_posture(track, drill, setup)
    if annotate_to is not None:
        from kiosk.annotate import annotate_video

        try:
            with written_whole(annotate_to) as tmp:
                annotate_video(args.input, track, tmp, drill, setup=setup)
        except OSError as exc:
            raise InputError(f"--annotate {annotate_to}: cannot write it ({exc.strerror or exc})") from None
        print(f"annotated video written to {annotate_to}", file=sys.stderr)
    if args.json:
        sys.stdout.write(json.dumps(doc) + "\n")
    elif "still" in doc:
        print_still(doc)
    else:
        print_table(
            doc,
            found.dropped,
            recognised=args.drill == AUTO_DRILL and bool(found.reps),
            no_reps=found.no_reps_hint(),
            framing=found.framing_problem(),
            height_cm=args.user_height_cm or None,
        )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="count and judge reps in a pose track, video or image",
        description="Run the hinge engine over a pose track (.npz or .posetrack.json), a video or an image.",
    )
    p.add_argument(
        "input",
        metavar="TRACK|VIDEO|IMAGE",
        help="a pose track (.npz, .posetrack.json[.gz]), a video or an image",
    )
    p.add_argument(
        "--drill",
        default=AUTO_DRILL,
        metavar="NAME",
        help=(
            f"one of: {', '.join(DRILLS)}, or {AUTO_DRILL} (the default): kettlebell-deadlift when the hands "
            f"go down near the floor at the bottom of most reps (a bell from the floor), else {DEFAULT_DRILL}"
        ),
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--save-track", metavar="OUT.npz", help="also write the pose track of what was seen")
    p.add_argument("--annotate", metavar="OUT.mp4", help="also write the video with the overlay drawn on")
    add_setting_option(
        p, "--wall-distance-in", "session.wall_distance_in", "virtual wall distance behind the heels", "IN"
    )
    add_setting_option(
        p,
        "--user-height-cm",
        "session.user_height_cm",
        "the lifter's height, for hip travel in cm and the wall tap placed for that height",
        "CM",
    )
    add_setting_option(
        p,
        "--camera-roll",
        "camera.roll_deg",
        "how far the picture is turned clockwise from level, as recorded (a door frame whose top leans "
        "right reads positive)",
        "DEG",
    )
    add_setting_option(p, "--runtime", "pose.runtime", "pose runtime for videos and images")
    add_setting_option(p, "--threads", "pose.threads", "inference threads")
    p.set_defaults(func=main)
