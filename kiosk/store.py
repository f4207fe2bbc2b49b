"""Session history: sessions, sets and reps in SQLite, durable across power cuts.

The database runs in WAL mode with `synchronous=FULL`, so a commit is on the card before `add_rep`
returns: a rep once acknowledged survives a power cut or a SIGKILL (tests/test_store_crash.py kills
a writer dozens of times to prove it). The schema version lives in `PRAGMA user_version` and is
brought up to date by an ordered list of migrations. Sessions left open by a crash are closed when
the store next opens, at the time of their last rep.

`SessionStore` is the synchronous API. The kiosk uses `StoreWriter`, which runs a `SessionStore` on
its own thread behind a queue, so the display never waits for fsync, and which degrades to logging
lost writes loudly (with their data) when the store cannot be opened or written: history is worth
keeping, but never worth a blank mirror. A file found damaged, on opening or by a write, is moved
aside and a new history started in its place. The times of sessions, sets and reps are wall-clock Unix
seconds passed in by the caller (the writer reads a clock only to tell a write that hangs). No
image is written unless the operator opted in (`store.save_images`).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import json
import logging
import math
import numbers
import os
import queue
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from kiosk.argtypes import whole
from kiosk.errors import KioskError, file_in_the_way

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

SYSTEM_STATE_DIR = Path("/var/lib/hinge-kiosk")
# Where tools/install-pi.sh puts the command (not on sudo's path).
SERVICE_COMMAND = "/opt/hinge-kiosk/venv/bin/hinge-kiosk"
DB_NAME = "sessions.db"
BUSY_TIMEOUT_MS = 5000
FULL_BELOW_BYTES = 1 << 20  # free space under which an I/O error is read as a full disk
RETRY_S = 30.0  # writes kept after a failure that may pass are tried again this often
STUCK_S = 30.0  # a write still running after this long (SQLite's busy wait is 5 s) is reported
MAX_BACKLOG = 10_000  # ... up to this many (days of reps); beyond it the oldest are given up
# With more writes than this waiting (a card that hangs or fails), new reps are kept without their
# picture (`store.save_images`): each waits as raw RGB until the writer encodes it (2.7 MB at 720p,
# 6 MB at 1080p), and more would fill the Pi's memory.
MAX_WAITING_IMAGES = 20
# JPEG quantiser scale for rep stills (FFmpeg's 2-31, lower is finer): 3 is close to libjpeg's quality
# 85 (42 kB against 49 kB for a 404x720 picture, mean error 1.9 against 1.8 levels).
STILL_QSCALE = 3
DAY_S = 86400.0
MAX_TIME_S = 1e11  # Unix seconds beyond this (the year 5138) are damage, and past what a calendar shows

T = TypeVar("T")


def jpeg_still(rgb: np.ndarray) -> bytes:
    """A rep's still, an (H, W, 3) uint8 RGB picture, as JPEG bytes.

    Encoded with FFmpeg (PyAV), not pygame: pygame-ce 2.5 never releases a file object it saves
    into, so each still to a BytesIO kept about 220 kB (0.85 MB for PNG) for good, and a kiosk
    saving stills grew by that every rep.
    """
    import av

    height, width = rgb.shape[:2]
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height = width - width % 2, height - height % 2  # 4:2:0 halves both sides
    codec.pix_fmt = "yuvj420p"
    codec.time_base = 1
    codec.qmin = codec.qmax = STILL_QSCALE
    frame = av.VideoFrame.from_ndarray(rgb[: codec.height, : codec.width], format="rgb24")
    frame = frame.reformat(format="yuvj420p")
    return b"".join(bytes(packet) for packet in (*codec.encode(frame), *codec.encode(None)))


class StoreError(KioskError):
    """The history database cannot be opened, read or written; the message names the file and the fix.

    `retry`: the cause may pass (a full disk freed, a lock released, a card back), so a write that
    failed with it is kept and tried again rather than lost. `damaged`: the file's contents are
    damaged; `SessionStore.start_over` moves it aside so that saving can go on in a new one.
    """

    def __init__(self, message: str, *, retry: bool = False, damaged: bool = False) -> None:
        super().__init__(message)
        self.retry = retry
        self.damaged = damaged


# ------------------------------------------------------------------------------------------ schema


@dataclass(frozen=True)
class Migration:
    """One schema step: `statements` take the database from `version - 1` to `version`."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "sessions, sets and reps",
        (
            """CREATE TABLE sessions (
                id INTEGER PRIMARY KEY,
                started_at REAL NOT NULL,
                ended_at REAL,
                drill TEXT NOT NULL
            )""",
            """CREATE TABLE sets (
                id INTEGER PRIMARY KEY,
                session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                idx INTEGER NOT NULL,
                drill TEXT NOT NULL,
                started_at REAL NOT NULL,
                ended_at REAL,
                target_reps INTEGER NOT NULL
            )""",
            """CREATE TABLE reps (
                id INTEGER PRIMARY KEY,
                set_id INTEGER NOT NULL REFERENCES sets(id) ON DELETE CASCADE,
                idx INTEGER NOT NULL,
                started_at REAL NOT NULL,
                bottom_at REAL,
                ended_at REAL NOT NULL,
                score REAL,
                faults TEXT NOT NULL DEFAULT '[]',
                tempo_down_s REAL,
                tempo_up_s REAL,
                hip_angle_deg REAL,
                knee_angle_deg REAL,
                hip_travel REAL,
                wall_tap INTEGER,
                image_path TEXT
            )""",
            "CREATE INDEX sessions_started ON sessions(started_at)",
            "CREATE INDEX sets_session ON sets(session_id)",
            "CREATE INDEX sets_started ON sets(started_at)",
            "CREATE INDEX reps_set ON reps(set_id)",
        ),
    ),
)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


# Marks a Hinge Mirror history in the file's header (`PRAGMA application_id`, "Hing"), so that another
# program's database given as store.path is told apart before anything is written to it.
APPLICATION_ID = 0x48696E67
OUR_TABLES = frozenset({"sessions", "sets", "reps"})


def foreign_database(conn: sqlite3.Connection) -> bool:
    """Whether `conn` is some other program's database: marked as another application's, or holding
    tables without a schema version of ours (or a version without our tables). An empty file is ours
    to start; histories written before the mark existed are recognised by their tables."""
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    if app_id not in (0, APPLICATION_ID):
        return True
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return bool(tables) if schema_version(conn) == 0 else not tables >= OUR_TABLES


def _read_only_filesystem(folder: Path) -> bool:
    """Whether `folder` is on a file system mounted read-only (a card the kernel remounted after errors)."""
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _not_ours(path: Path) -> StoreError:
    return StoreError(
        f"session history {path}: it is not a Hinge Mirror history (another program's database?): point "
        f"store.path elsewhere, or move it aside (`sudo mv {path} {path}.other`) and restart the kiosk"
    )


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS, where: str = "") -> int:
    """Apply the migrations newer than the database, each in its own transaction; return the version.

    `conn` must be in autocommit mode (`isolation_level=None`). A database newer than the code is
    refused rather than guessed at.
    """
    current = schema_version(conn)
    latest = migrations[-1].version if migrations else 0
    if current > latest:
        raise StoreError(
            f"{where or 'the history database'} has schema version {current}, but this hinge-kiosk "
            f"only knows up to {latest}: upgrade hinge-kiosk, or set store.path to another file"
        )
    for m in migrations:
        if m.version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in m.statements:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {int(m.version)}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if current:  # a new file is simply created; only an upgrade of kept history is news
            log.info("history schema upgraded to v%d (%s)", m.version, m.description)
    return max(current, latest)


# ----------------------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class SetSummary:
    """One set as the progress screen shows it. Times are Unix seconds; scores 0-100."""

    set_id: int
    session_id: int
    index: int  # 1-based position of the set in its session
    drill: str
    started_at: float
    ended_at: float | None  # None while the set is under way
    target_reps: int
    reps: int
    mean_score: float | None
    best_score: float | None
    mean_tempo_down_s: float | None
    mean_tempo_up_s: float | None
    wall_taps: int
    faults: tuple[tuple[str, int], ...]  # (fault, reps showing it), most frequent first

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["faults"] = dict(self.faults)
        return d


@dataclass(frozen=True)
class DayTotal:
    """One local calendar day of activity."""

    day: date
    sets: int
    reps: int
    mean_score: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "sets": self.sets,
            "reps": self.reps,
            "mean_score": self.mean_score,
        }


def local_day(t: float, tz: tzinfo | None = None) -> date:
    """The calendar day of Unix time `t` in `tz` (the machine's zone when None)."""
    return (datetime.fromtimestamp(t, tz) if tz else datetime.fromtimestamp(t)).date()


def day_start(day: date, tz: tzinfo | None = None) -> float:
    """Unix time of midnight at the start of `day` in `tz` (the machine's zone when None)."""
    return datetime.combine(day, datetime.min.time(), tz).timestamp()


# ------------------------------------------------------------------------------------------ errors


def _explain(exc: BaseException, path: Path) -> StoreError:
    """A `StoreError` naming the file and the fix for an SQLite or OS error."""
    name = getattr(exc, "sqlite_errorname", "")
    text = str(exc)
    retry = True  # unless the file itself is damaged or the failure is not understood
    damaged = False
    io_error = name.startswith("SQLITE_IOERR") or "disk I/O error" in text
    blocker = file_in_the_way(path.parent)
    if path.is_dir():  # SQLite calls this an I/O error, which would send people to their SD card
        fix, retry = "that is a folder, not a history file: give store.path (or --db) a file name", False
    elif blocker is not None:
        fix = f"{blocker} is a file, not a folder: give store.path (or --db) a path in a folder"
    elif name.startswith("SQLITE_FULL") or "disk is full" in text or (io_error and _full(path.parent)):
        # A full disk can also surface as an I/O error (SQLite failing to size its -shm file).
        fix = "the disk is full: free space on the SD card (see `df -h`)"
    elif name.startswith("SQLITE_READONLY") or "readonly" in text or "Read-only" in text:
        fix = (
            f"the file or {path.parent} is read-only for this user: check the owner (the service runs as "
            "hinge-kiosk) or whether the card was remounted read-only after errors (`dmesg`)"
        )
    elif _damaged(exc):
        fix = (
            f"the file is damaged: move it aside (`sudo mv {path} {path}.damaged`) and restart the kiosk, "
            "which starts a new history"
        )
        retry, damaged = False, True
    elif name.startswith("SQLITE_CANTOPEN") or isinstance(exc, OSError):
        fix = (
            f"cannot create or open it: check that {path.parent} exists and is writable by the kiosk's "
            "user, or set store.path in the site config"
        )
    elif "no such table" in text or "no such column" in text:
        fix = (
            f"it is not a Hinge Mirror history (another program's database?): point store.path elsewhere, "
            f"or move it aside (`sudo mv {path} {path}.other`) and restart the kiosk"
        )
        retry = False
    elif name.startswith("SQLITE_BUSY") or "locked" in text:
        # Another hinge-kiosk cannot be writing it (the lock file keeps a second one out).
        fix = (
            "another program holds it locked (an open `sqlite3` shell, a backup copying it?): close that "
            "program; the kiosk keeps the writes and tries again"
        )
    elif io_error:
        fix = "the card could not be read or written: check it (`dmesg`), and replace it if errors repeat"
    else:
        fix, retry = "an SQLite error this kiosk does not know; the message above is SQLite's own", False
    return StoreError(f"session history {path}: {text}; {fix}", retry=retry, damaged=damaged)


def _damaged(exc: BaseException) -> bool:
    """Whether an SQLite error says the file's contents are damaged (not a database any more)."""
    name, text = getattr(exc, "sqlite_errorname", ""), str(exc)
    return name in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or "not a database" in text or "malformed" in text


def _move_aside(path: Path) -> Path:
    """Rename a damaged history file, with its -wal and -shm, to the first free `<name>.damaged[-N]`,
    and its pictures' folder to `images.damaged[-N]` (the new history's rep ids start again at 1),
    so a new history can start in its place and the old one stays for recovery (`sqlite3 .recover`).
    Returns the new name."""
    n = 1
    while True:
        suffix = ".damaged" + (f"-{n}" if n > 1 else "")
        target, images = path.with_name(path.name + suffix), _images_dir(path).with_name("images" + suffix)
        if not images.exists() and not any(Path(f"{target}{end}").exists() for end in ("", "-wal", "-shm")):
            break
        n += 1
    for end in ("-wal", "-shm", ""):  # the main file last: until it moves, the history is whole
        if Path(f"{path}{end}").exists():
            os.replace(f"{path}{end}", f"{target}{end}")
    if _images_dir(path).exists():
        os.replace(_images_dir(path), images)
    return target


def _card_failing(path: Path) -> StoreError:
    """A history file this kiosk had just started is damaged already: the card, not the file, is at fault."""
    return StoreError(
        f"session history {path}: damaged again in a file this kiosk had just started: the SD card is "
        "failing (see `dmesg`); copy the history off and replace the card",
        damaged=True,
    )


def _file_id(path: Path) -> tuple[int, int] | None:
    """Which file is at `path` now (device, inode), None if none is: a history moved aside and
    started again has the same name but another id."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _images_dir(path: Path) -> Path:
    """Where the stills of the history at `path` go (`store.save_images`)."""
    return path.parent / "images"


def _full(folder: Path) -> bool:
    """Whether the file system holding `folder` is (all but) out of space."""
    try:
        return shutil.disk_usage(folder).free < FULL_BELOW_BYTES
    except OSError:
        return False


def _fault_names(text: object) -> set[str]:
    """The fault names of one stored rep: a JSON list of strings. A row damaged in place (a disk
    error inside a page SQLite still reads, a hand edit) gives none rather than failing the history
    screen and `hinge-kiosk history` over one rep."""
    try:
        names = json.loads(text) if isinstance(text, str | bytes) else None
    except ValueError:
        return set()
    return {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()


def _real(value: object) -> float | None:
    """A number (Python's or numpy's) as a finite float; None for NULL or a value of another type.
    SQLite keeps text or bytes in a REAL column as given (a hand edit, a damaged page), and the
    screen must not fail on it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _whole(value: object) -> int | None:
    """A stored INTEGER as an int; None for NULL, a fraction or a value of another type."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, float) and value.is_integer() else None


def _unix_time(value: object) -> float | None:
    """A stored time the calendar can show; None otherwise (`datetime` overflows on 1e20)."""
    t = _real(value)
    return t if t is not None and 0.0 <= t <= MAX_TIME_S else None


def _num(column: str) -> str:
    """SQL for `column` where it holds a number, else NULL: SQLite's AVG and SUM would read text as 0
    and its MAX rank text above every number."""
    return f"CASE WHEN typeof({column}) IN ('integer', 'real') THEN {column} END"


def resolve_db_path(configured: str = "") -> Path:
    """`store.path` if set; else /var/lib/hinge-kiosk/sessions.db when writable; else the user's state dir."""
    if configured:
        try:
            return Path(configured).expanduser()
        except RuntimeError as exc:  # "~name/..." for a user that does not exist
            raise StoreError(f"store.path {configured!r}: {exc}; give an absolute path") from None
    if SYSTEM_STATE_DIR.is_dir() and os.access(SYSTEM_STATE_DIR, os.W_OK | os.X_OK):
        return SYSTEM_STATE_DIR / DB_NAME
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "hinge-kiosk" / DB_NAME


# ------------------------------------------------------------------------------------------- store


def _number(rep: Mapping[str, Any], key: str) -> float | None:
    return _real(rep.get(key))


class SessionStore:
    """Synchronous session history. Each write returns after its transaction is on disk.

    Writable stores take an exclusive lock (`<db>.lock`) so that two kiosks cannot interleave, and
    close what a crash left open. `readonly=True` is for reporting while the kiosk runs: no lock, no
    recovery, no migration. Use from one thread (the `StoreWriter` thread in the kiosk).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        save_images: bool = False,
        readonly: bool = False,
        move_damaged: bool = True,
    ) -> None:
        """`move_damaged=False`: a damaged file is reported, not moved aside (the writer's choice when
        the file is one it has just started: a card that damages new files is failing)."""
        self.path = Path(path)
        self.move_damaged = move_damaged
        self.save_images = save_images and not readonly
        self.readonly = readonly
        self.skipped_sets: set[int] = set()  # ids of sets left out of reads for values of the wrong type
        self.created = False  # whether this store made the file it writes (none was there, or moved aside)
        self.file_id: tuple[int, int] | None = None  # the file written, once open (`_file_id`)
        self._lock_fd: int | None = None
        self._copy_dir: tempfile.TemporaryDirectory[str] | None = None  # a read-only card's copy
        self._conn: sqlite3.Connection | None = None
        try:
            if readonly:
                self._open_readonly()
            else:
                self._open_writable()
        except BaseException:
            self.close()
            raise

    # -- opening

    def _connect(self, target: str, uri: bool) -> sqlite3.Connection:
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE); `timeout` is the busy timeout.
        conn = sqlite3.connect(target, uri=uri, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _open_readonly(self) -> None:
        if not self.path.exists():
            raise StoreError(f"session history {self.path}: no such file (no session recorded there yet)")
        try:
            try:
                self._conn = self._connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
                version = schema_version(self._conn)
            except sqlite3.OperationalError as exc:
                named = getattr(exc, "sqlite_errorname", "")
                cannot_open = named == "SQLITE_CANTOPEN" or "unable to open" in str(exc)
                if not (cannot_open and _read_only_filesystem(self.path.parent)):
                    raise
                version = self._open_a_copy()
            foreign = foreign_database(self._conn)
        except (sqlite3.Error, OSError) as exc:
            raise _explain(exc, self.path) from None
        if foreign:
            raise _not_ours(self.path)
        if version == 0:
            raise StoreError(f"session history {self.path}: empty (no session recorded there yet)")
        if version > MIGRATIONS[-1].version:
            raise StoreError(
                f"session history {self.path} has schema version {version}, newer than this "
                f"hinge-kiosk (v{MIGRATIONS[-1].version}): upgrade hinge-kiosk"
            )

    def _open_a_copy(self) -> int:
        """Read a copy of the history (with its write-ahead log) made in a temporary folder; returns its
        schema version. Reading a WAL database needs its -shm file, which a card remounted read-only
        after errors (the very card whose history is worth copying off) cannot give. On a read-only
        file system nothing is writing, so the copy is whole; it goes to /dev/shm (memory) when there
        is one, as the card's own /tmp may be read-only too."""
        if self._conn is not None:
            self._conn.close()
        shm = Path("/dev/shm")
        scratch = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
        self._copy_dir = tempfile.TemporaryDirectory(prefix="hinge-history-", dir=scratch)
        copy = Path(self._copy_dir.name) / self.path.name
        for end in ("", "-wal"):
            if Path(f"{self.path}{end}").exists():
                shutil.copyfile(f"{self.path}{end}", f"{copy}{end}")
        self._conn = self._connect(str(copy), uri=False)
        log.info("history %s: its folder cannot be written; reading a copy", self.path)
        return schema_version(self._conn)

    def _open_writable(self) -> None:
        try:
            self.path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
            self._lock_fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        except OSError as exc:
            raise _explain(exc, self.path) from None
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreError(
                f"session history {self.path}: another hinge-kiosk is writing it; stop that one first "
                "(`systemctl status hinge-kiosk`), or set store.path to another file",
                retry=True,
            ) from None
        self.created = not self.path.exists()
        try:
            self._open_database()
        except sqlite3.Error as exc:
            if not _damaged(exc):
                raise _explain(exc, self.path) from None
            if not self.move_damaged:
                raise _card_failing(self.path) from None
            self.start_over(str(exc))

    def start_over(self, why: str) -> Path:
        """Move the damaged file aside and start a new history in its place, keeping the lock; returns
        the name the old file now has. An unattended kiosk must not stop saving visitors' reps until
        someone comes by, whether the damage is found on opening or later."""
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        try:
            moved = _move_aside(self.path)
        except OSError as exc:
            raise StoreError(
                f"session history {self.path}: {why}, and it cannot be moved aside ({exc}): move it by hand "
                f"(`sudo mv {self.path} {self.path}.damaged`) and restart the kiosk"
            ) from None
        self.created = True
        log.error(
            "history %s: %s; moved it aside to %s (try `sqlite3 %s .recover`)", self.path, why, moved, moved
        )
        try:
            self._open_database()
        except sqlite3.Error as exc:
            raise (_card_failing(self.path) if _damaged(exc) else _explain(exc, self.path)) from None
        log.info("history %s: a new history started", self.path)
        return moved

    def _open_database(self) -> None:
        """Connect, set WAL and full sync, check the file, bring its schema up to date and close what a
        crash left open. SQLite's errors are the caller's to explain."""
        self._conn = conn = self._connect(str(self.path), uri=False)
        if foreign_database(conn):  # before anything changes it, even its journal mode
            raise _not_ours(self.path)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            log.warning("history %s: journal mode is %s, not WAL (file system without WAL?)", self.path, mode)
        conn.execute("PRAGMA synchronous = FULL")  # WAL + FULL: each commit is fsynced (power cuts)
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(f"database disk image is malformed ({check})")
        migrate(conn, MIGRATIONS, str(self.path))
        if int(conn.execute("PRAGMA application_id").fetchone()[0]) != APPLICATION_ID:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        self.file_id = _file_id(self.path)
        recovered = self._close_abandoned()
        if recovered:
            log.info(
                "history %s: closed %d session(s) left open by a crash or power cut", self.path, recovered
            )

    def _close_abandoned(self) -> int:
        """Close sets and sessions a crash left open, at the time of their last rep (or start)."""
        with self._transaction() as conn:
            conn.execute(
                """UPDATE sets SET ended_at = COALESCE(
                       (SELECT MAX(r.ended_at) FROM reps r WHERE r.set_id = sets.id), started_at)
                   WHERE ended_at IS NULL"""
            )
            cur = conn.execute(
                """UPDATE sessions SET ended_at = MAX(started_at, COALESCE(
                       (SELECT MAX(s.ended_at) FROM sets s WHERE s.session_id = sessions.id), started_at))
                   WHERE ended_at IS NULL"""
            )
            return cur.rowcount

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"session history {self.path}: the store is closed")
        return self._conn

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self.readonly:
            raise StoreError(f"session history {self.path}: opened read-only")
        try:
            with self._transaction() as conn:
                return fn(conn)
        except sqlite3.Error as exc:
            raise _explain(exc, self.path) from None

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return fn(self._connection())
        except sqlite3.Error as exc:
            raise _explain(exc, self.path) from None

    # -- writing

    def open_session(self, drill: str, at: float) -> int:
        """Start a session; returns its id."""

        def insert(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO sessions (started_at, drill) VALUES (?, ?)", (float(at), str(drill))
            )
            return int(cur.lastrowid or 0)

        return self._write(insert)

    def open_set(self, session_id: int, drill: str, target_reps: int, at: float) -> int:
        """Start the next set of a session; returns its id."""

        def insert(conn: sqlite3.Connection) -> int:
            index = conn.execute(
                "SELECT COALESCE(MAX(idx), 0) + 1 FROM sets WHERE session_id = ?", (session_id,)
            ).fetchone()[0]
            cur = conn.execute(
                "INSERT INTO sets (session_id, idx, drill, started_at, target_reps) VALUES (?, ?, ?, ?, ?)",
                (session_id, index, str(drill), float(at), int(target_reps)),
            )
            return int(cur.lastrowid or 0)

        return self._write(insert)

    def add_rep(self, set_id: int, rep: Mapping[str, Any], at: float, image: bytes | None = None) -> int:
        """Record a finished rep; returns its id once the commit is on disk.

        `rep` is the engine's rep dict (`RepResult.as_dict()`): `index`, `start_s`, `bottom_s`, `end_s`
        in the engine's clock, `score`, `faults`, angles, `hip_travel`, `wall_tap`, tempos, `judged` (a
        rep not judged is stored without a score, so it cannot lift averages). `at` is the wall-clock
        time the rep ended; the start and bottom are placed relative to it. `image` (JPEG
        bytes) is written only when the store was opened with `save_images=True`.
        """
        end_s = _number(rep, "end_s")
        start_s, bottom_s = _number(rep, "start_s"), _number(rep, "bottom_s")
        at = float(at)
        started_at = at - (end_s - start_s) if end_s is not None and start_s is not None else at
        bottom_at = at - (end_s - bottom_s) if end_s is not None and bottom_s is not None else None
        faults = [str(f) for f in rep.get("faults") or ()]
        wall_tap = rep.get("wall_tap")
        row = (
            set_id,
            int(rep.get("index") or 0),
            started_at,
            bottom_at,
            at,
            _number(rep, "score") if rep.get("judged", True) else None,  # unjudged: no score
            json.dumps(faults),
            _number(rep, "tempo_down_s"),
            _number(rep, "tempo_up_s"),
            _number(rep, "hip_angle_deg"),
            _number(rep, "knee_angle_deg"),
            _number(rep, "hip_travel"),
            None if wall_tap is None else int(bool(wall_tap)),
        )

        def insert(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                """INSERT INTO reps (set_id, idx, started_at, bottom_at, ended_at, score, faults,
                       tempo_down_s, tempo_up_s, hip_angle_deg, knee_angle_deg, hip_travel, wall_tap)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                row,
            )
            rep_id = int(cur.lastrowid or 0)
            if image is not None and self.save_images:
                name = self._save_image(rep_id, image)
                if name:
                    conn.execute("UPDATE reps SET image_path = ? WHERE id = ?", (name, rep_id))
            return rep_id

        return self._write(insert)

    @property
    def images_dir(self) -> Path:
        return _images_dir(self.path)

    def _save_image(self, rep_id: int, image: bytes) -> str | None:
        """Write a rep's still durably; a failure costs the picture, never the rep."""
        name = f"rep-{rep_id}.jpg"
        try:
            self.images_dir.mkdir(mode=0o750, exist_ok=True)
            fd = os.open(self.images_dir / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
            try:
                view = memoryview(image)
                while view:  # a nearly full card may take part of it: write the rest, or fail
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            log.error("history: still of rep %d not saved (%s); the rep is kept", rep_id, exc)
            return None
        return name

    def close_set(self, set_id: int, at: float) -> None:
        self._write(
            lambda conn: conn.execute(
                "UPDATE sets SET ended_at = ? WHERE id = ? AND ended_at IS NULL", (float(at), set_id)
            )
        )

    def close_session(self, session_id: int, at: float) -> None:
        """End a session and any of its sets still open."""

        def update(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE sets SET ended_at = ? WHERE session_id = ? AND ended_at IS NULL",
                (float(at), session_id),
            )
            conn.execute(
                "UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL", (float(at), session_id)
            )

        self._write(update)

    def prune(self, now: float, keep_days: int) -> int:
        """Delete finished sessions that started more than `keep_days` ago (0 keeps all); returns how many."""
        if keep_days <= 0:
            return 0
        cutoff = float(now) - keep_days * DAY_S

        def delete(conn: sqlite3.Connection) -> tuple[int, list[str]]:
            old = "SELECT id FROM sessions WHERE started_at < ? AND ended_at IS NOT NULL"
            images = [
                row[0]
                for row in conn.execute(
                    f"""SELECT r.image_path FROM reps r JOIN sets s ON r.set_id = s.id
                        WHERE r.image_path IS NOT NULL AND s.session_id IN ({old})""",
                    (cutoff,),
                )
            ]
            cur = conn.execute(f"DELETE FROM sessions WHERE id IN ({old})", (cutoff,))
            return cur.rowcount, images

        count, images = self._write(delete)
        for name in images:
            with contextlib.suppress(FileNotFoundError):
                (self.images_dir / name).unlink()
        return count

    # -- reading

    def today(self, now: float, tz: tzinfo | None = None) -> list[SetSummary]:
        """Sets started since local midnight, newest first."""
        return self._sets_since(day_start(local_day(now, tz), tz), None)

    def recent_sets(self, now: float, days: int = 7, limit: int | None = None) -> list[SetSummary]:
        """Sets started in the last `days` days (24-hour periods before `now`), newest first."""
        return self._sets_since(float(now) - days * DAY_S, limit)

    def daily_totals(self, now: float, days: int = 7, tz: tzinfo | None = None) -> list[DayTotal]:
        """Sets, reps and mean score for each of the last `days` local days, oldest first, today last."""
        today = local_day(now, tz)
        totals = {today - timedelta(days=n): [0, 0, 0.0, 0] for n in range(days - 1, -1, -1)}
        # per day: sets, reps, sum of scores, scored reps
        rows = self._read(
            lambda conn: conn.execute(
                f"""SELECT s.id, s.started_at, COUNT(r.id), SUM({_num("r.score")}), COUNT({_num("r.score")})
                   FROM sets s LEFT JOIN reps r ON r.set_id = s.id
                   WHERE s.started_at >= ? GROUP BY s.id""",
                (day_start(min(totals), tz),),
            ).fetchall()
        )
        for set_id, started_at, reps, score_sum, scored in rows:
            started = _unix_time(started_at)
            if started is None:
                self.skipped_sets.add(set_id)
                continue
            day = local_day(started, tz)
            if day in totals:
                t = totals[day]
                t[0] += 1
                t[1] += reps
                t[2] += _real(score_sum) or 0.0
                t[3] += scored
        return [
            DayTotal(day, int(t[0]), int(t[1]), (t[2] / t[3]) if t[3] else None) for day, t in totals.items()
        ]

    def _sets_since(self, since: float, limit: int | None) -> list[SetSummary]:
        def query(conn: sqlite3.Connection) -> list[SetSummary]:
            score = _num("r.score")
            found = conn.execute(
                f"""SELECT s.id, s.session_id, s.idx, s.drill, s.started_at, s.ended_at, s.target_reps,
                          COUNT(r.id), AVG({score}), MAX({score}), AVG({_num("r.tempo_down_s")}),
                          AVG({_num("r.tempo_up_s")}), COUNT(CASE WHEN r.wall_tap = 1 THEN 1 END)
                   FROM sets s LEFT JOIN reps r ON r.set_id = s.id
                   WHERE s.started_at >= ?
                   GROUP BY s.id ORDER BY s.started_at DESC, s.id DESC""",
                (since,),
            ).fetchall()
            rows = [row for row in map(self._set_row, found) if row is not None][:limit]
            faults: dict[int, Counter[str]] = {row[0]: Counter() for row in rows}
            if rows:
                marks = ",".join("?" * len(rows))
                for set_id, text in conn.execute(
                    f"SELECT set_id, faults FROM reps WHERE set_id IN ({marks})", [row[0] for row in rows]
                ):
                    faults[set_id].update(_fault_names(text))
            return [
                SetSummary(
                    *row[:13], faults=tuple(sorted(faults[row[0]].items(), key=lambda kv: (-kv[1], kv[0])))
                )
                for row in rows
            ]

        return self._read(query)

    def _set_row(self, row: Sequence[Any]) -> tuple[Any, ...] | None:
        """`row` with each value of the type `SetSummary` declares; None (and its id noted in
        `skipped_sets`) when a value a set cannot go without is of the wrong type."""
        set_id, session_id, index, drill, started_at, ended_at, target, reps, mean, best, down, up, taps = row
        needed = (_whole(session_id), _whole(index), drill if isinstance(drill, str) else None)
        started, target = _unix_time(started_at), _whole(target)
        if None in needed or started is None or target is None:
            self.skipped_sets.add(set_id)
            return None
        ended = _unix_time(ended_at)  # unreadable: shown as under way rather than lost
        return (
            set_id,
            *needed,
            started,
            ended,
            target,
            reps,
            _real(mean),
            _real(best),
            _real(down),
            _real(up),
            taps,
        )

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None
        if self._copy_dir is not None:
            self._copy_dir.cleanup()
            self._copy_dir = None

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------------ writer

Ref = int | Future  # a row id, or the future of one from an earlier writer call


class _Row(Future):
    """The future id of a session or set row, with what it takes to write the row again. Its reps
    must not be lost with it: when the row was given up on, or went into a history file since found
    damaged and moved aside, the next write that needs it writes it again into the current history."""

    def __init__(self, write: Callable[[], int]) -> None:
        super().__init__()
        self.write = write  # writes the row into the current history; returns its id
        self.row_id = 0
        self.file: tuple[int, int] | None = None  # the history file `row_id` is in (`_file_id`)


class _Call(NamedTuple):
    """One queued writer call."""

    fn: Callable[[], Any]
    what: str  # what it does, with its data, for the log line if a write is lost
    write: bool
    future: Future[Any]


class StoreWriter:
    """A `SessionStore` on a background thread: the display queues writes and never waits on fsync.

    Every method returns a `Future` at once; ids from earlier calls may be passed on as their futures
    (`open_set(writer.open_session(...), ...)`): the queue is first-in first-out, so they are resolved
    by the time they are needed. `add_rep`'s `on_commit(rep_id)` runs on the writer thread after the
    commit is on disk. If the store cannot be opened or written, the kiosk keeps running and `error`
    holds the failure for the screen. A write that failed for a reason that may pass (a full card, a
    lock, an I/O error: `StoreError.retry`) is kept, in order with those after it, and tried again
    every `RETRY_S` and before each new write, reopening the store if need be; anything else fails
    its future and is logged with the data it held. A session or set whose row was lost (given up
    on, or in a file found damaged and moved aside) is written again by the first write that needs
    it, so its reps are not lost with it. Call `close()` at shutdown to drain the queue (what still
    cannot be saved then is logged).
    """

    _STOP = object()

    def __init__(self, path: str | Path, *, save_images: bool = False) -> None:
        self.path = Path(path)
        self._save_images = save_images
        self._store: SessionStore | None = None
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._error: KioskError | None = None
        self._error_of_read = False  # `_error` came from a read, which the next read that works clears
        self._closed = False
        self._backlog: deque[_Call] = deque()  # writes that failed for a reason that may pass, in order
        self._running: _Call | None = None  # the call the thread is in, if any, and since when
        self._running_since = 0.0  # (time.monotonic)
        # The history file this writer started (in place of a damaged one, or where none was) while
        # no rep is saved in it yet: found damaged, it is not moved aside again.
        self._fresh_file: tuple[int, int] | None = None
        self._dropping_images = False  # new reps' pictures are dropped while too many writes wait
        self._thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
        self._thread.start()
        self._queue.put(_Call(self._ensure_open, "opening the history", False, Future()))
        atexit.register(self.close)

    @property
    def error(self) -> KioskError | None:
        """The last failure (for the screen); None once writes succeed again. A call that has not
        returned for `STUCK_S` is one too: a card that stops answering raises nothing."""
        running, waited = self._running, time.monotonic() - self._running_since
        if running is not None and waited > STUCK_S:
            return StoreError(
                f"session history {self.path}: saving has not finished for {waited:.0f} s "
                "(a failing SD card? check `dmesg`); new reps wait in memory"
            )
        return self._error

    def open_session(self, drill: str, at: float) -> Future[int]:
        row = _Row(lambda: self._ensure_open().open_session(drill, at))
        return self._submit(lambda: self._write_row(row), f"session start ({drill}, at {at:.3f})", future=row)

    def open_set(self, session: Ref, drill: str, target_reps: int, at: float) -> Future[int]:
        def write() -> int:
            return self._need_store().open_set(self._id(session, "its session"), drill, target_reps, at)

        row = _Row(write)
        return self._submit(
            lambda: self._write_row(row), f"set start ({drill}, {target_reps} reps, at {at:.3f})", future=row
        )

    def add_rep(
        self,
        set_: Ref,
        rep: Mapping[str, Any],
        at: float,
        image: bytes | np.ndarray | None = None,
        on_commit: Callable[[int], None] | None = None,
    ) -> Future[int]:
        """`image`: JPEG bytes, or the rep's picture ((H, W, 3) uint8 RGB, not changed afterwards),
        encoded on the writer thread so the display never waits for it."""
        rep = dict(rep)  # the caller may reuse its dict
        if not self._save_images:  # never encoded, never held
            image = None
        elif image is not None and self._waiting() > MAX_WAITING_IMAGES:
            if not self._dropping_images:
                log.warning(
                    "history: more than %d writes wait to be saved; new reps are kept without their picture",
                    MAX_WAITING_IMAGES,
                )
            self._dropping_images, image = True, None
        elif self._dropping_images and self._waiting() == 0:
            self._dropping_images = False

        def write() -> int:
            nonlocal image
            if image is not None and not isinstance(image, bytes):  # once, though the write may be retried
                try:
                    image = jpeg_still(image)
                except Exception:  # the rep is worth more than its picture
                    log.exception("history: the still of a rep could not be encoded; the rep is kept")
                    image = None
            rep_id = self._need_store().add_rep(self._id(set_, "its set"), rep, at, image)
            self._fresh_file = None
            if on_commit is not None:
                try:
                    on_commit(rep_id)
                except Exception:
                    log.exception("history: on_commit callback failed for rep %d", rep_id)
            return rep_id

        return self._submit(write, f"rep {json.dumps(rep, default=str)} at {at:.3f}")

    def close_set(self, set_: Ref, at: float) -> Future[None]:
        return self._submit(
            lambda: self._need_store().close_set(self._id(set_, "the set"), at), f"set end at {at:.3f}"
        )

    def close_session(self, session: Ref, at: float) -> Future[None]:
        return self._submit(
            lambda: self._need_store().close_session(self._id(session, "the session"), at),
            f"session end at {at:.3f}",
        )

    def prune(self, now: float, keep_days: int) -> Future[int]:
        return self._submit(lambda: self._need_store().prune(now, keep_days), "pruning old history")

    def today(self, now: float, tz: tzinfo | None = None) -> Future[list[SetSummary]]:
        return self._read(lambda store: store.today(now, tz), "reading today's sets")

    def recent_sets(self, now: float, days: int = 7, limit: int | None = None) -> Future[list[SetSummary]]:
        return self._read(lambda store: store.recent_sets(now, days, limit), "reading recent sets")

    def daily_totals(self, now: float, days: int = 7, tz: tzinfo | None = None) -> Future[list[DayTotal]]:
        return self._read(lambda store: store.daily_totals(now, days, tz), "reading daily totals")

    def close(self, timeout: float | None = 10.0) -> bool:
        """Finish queued writes and close the store; False if the queue did not drain in time.

        The writer may be stuck in a call that does not return (a lock held elsewhere, a card that
        stopped answering): the process then exits without it, so what it had not saved is logged
        here, with its data, as every lost write is."""
        if not self._closed:
            self._closed = True
            self._queue.put(self._STOP)
            atexit.unregister(self.close)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            return True
        stuck = StoreError(f"session history {self.path}: the writer did not finish in time")
        running = self._running
        for call in [*([running] if running is not None else []), *self._backlog, *_drain(self._queue)]:
            if call is not self._STOP and not call.future.done():
                with contextlib.suppress(InvalidStateError):  # it finished just now after all
                    self._fail(call, stuck)
        self._backlog.clear()  # given up on, logged: should the thread come back, it stops there
        self._queue.put(self._STOP)
        return False

    # -- the thread

    def _submit(
        self, fn: Callable[[], T], what: str, write: bool = True, future: Future[T] | None = None
    ) -> Future[T]:
        """Queue `fn`; `what` describes it, with the data, for the log line if a write is lost."""
        future = Future() if future is None else future
        call = _Call(fn, what, write, future)
        if self._closed:
            self._fail(call, StoreError(f"session history {self.path}: the writer is closed"))
        elif self._queue.qsize() >= MAX_BACKLOG:  # the writer is stuck in a call (a hung card)
            self._fail(
                call,
                StoreError(
                    f"session history {self.path}: {MAX_BACKLOG} writes already wait for one that has not "
                    "finished (a failing SD card? check `dmesg`, and restart the kiosk)"
                ),
            )
        else:
            self._queue.put(call)
        return future

    def _waiting(self) -> int:
        """Writes queued or kept to be tried again (read from the caller's thread: a close estimate)."""
        return self._queue.qsize() + len(self._backlog)

    def _read(self, fn: Callable[[SessionStore], T], what: str) -> Future[T]:
        """Queue a read; sets it has to leave out for damaged values are logged, once each."""

        def read() -> T:
            store = self._need_store()
            before = len(store.skipped_sets)
            result = fn(store)
            if len(store.skipped_sets) > before:
                log.warning(
                    "history %s: %d set(s) left out of the progress screen: they hold values of the wrong "
                    "type (edited by hand, or a damaged card?)",
                    self.path,
                    len(store.skipped_sets) - before,
                )
            return result

        return self._submit(read, what, write=False)

    def _ensure_open(self) -> SessionStore:
        if self._store is None:
            before = _file_id(self.path)
            move = self._fresh_file is None or before != self._fresh_file
            try:
                self._store = SessionStore(self.path, save_images=self._save_images, move_damaged=move)
            except KioskError:
                self._note_new_file(before)
                raise
            if self._store.created:
                self._fresh_file = self._store.file_id
            if self._error is not None:
                log.info("history %s: open again", self.path)
            self._error = None
        return self._store

    def _need_store(self) -> SessionStore:
        return self._store if self._store is not None else self._ensure_open()

    def _run(self) -> None:
        backlog = self._backlog
        while True:
            try:
                call = self._queue.get(timeout=RETRY_S if backlog else None)
            except queue.Empty:
                self._retry(backlog)
                continue
            if call is self._STOP:
                break
            if not call.future.set_running_or_notify_cancel():
                continue
            if call.write and backlog:  # the older ones first
                self._retry(backlog)
                if backlog:
                    self._keep(backlog, call, self._error)
                    continue
            error = self._try(call)
            if error is None:
                continue
            if call.write and getattr(error, "retry", False):
                self._keep(backlog, call, error)
            else:
                self._fail(call, error)
        self._retry(backlog)
        for call in backlog:
            self._fail(call, self._error)
        if self._store is not None:
            self._store.close()
            self._store = None

    def _write_row(self, row: _Row) -> int:
        row.row_id, row.file = row.write(), self._need_store().file_id
        return row.row_id

    def _id(self, ref: Ref, what: str) -> int:
        """The row id behind `ref` in the current history. Calls run in order, so an earlier call's
        future is done by now, unless it is kept to be tried again: then so is this one (`retry`)."""
        if not isinstance(ref, Future):
            return int(ref)
        if not ref.done():
            raise StoreError(f"not saved yet because {what} is waiting to be saved", retry=True)
        if isinstance(ref, _Row):
            if ref.file is None or ref.file != self._need_store().file_id:
                return self._write_row(ref)
            return ref.row_id
        if ref.exception() is not None:
            raise StoreError(f"not saved because {what} was not saved")
        return int(ref.result())

    def _attempt(self, fn: Callable[[], T]) -> T:
        """Run `fn`; if it finds the history file damaged, start a new one and run it there. A file
        this writer started is not moved aside again before a rep is saved in it: the card is failing,
        and it would only fill up with moved-aside copies."""
        try:
            return fn()
        except StoreError as exc:
            if not exc.damaged:
                raise
            if self._store is not None and self._store.file_id == self._fresh_file:
                raise _card_failing(self.path) from None
            if not self._start_over():
                raise
        try:
            return fn()
        except StoreError as exc:
            if not exc.damaged:
                raise
            raise _card_failing(self.path) from None

    def _start_over(self) -> bool:
        """Move a history file found damaged aside and start a new one (rows the new file needs are
        written again as they are needed: `_id`); False with no store open. If the new file cannot
        be opened, that error is raised (a passing one keeps the write for later)."""
        store = self._store
        if store is None:
            return False
        try:
            store.start_over("found damaged while the kiosk ran")
        except KioskError:
            store.close()
            self._store = None  # opened afresh by the next call
            self._note_new_file(store.file_id)
            raise
        self._fresh_file = store.file_id
        return True

    def _note_new_file(self, before: tuple[int, int] | None) -> None:
        """After a failed opening: if a damaged file was moved aside and the new one in its place
        would not open, that new one is this writer's too (not to be moved aside in turn)."""
        after = _file_id(self.path)
        if after is not None and after != before:
            self._fresh_file = after

    def _try(self, call: _Call) -> KioskError | None:
        """Run one queued call: None when it worked (its future has the result), else the error."""
        self._running, self._running_since = call, time.monotonic()
        try:
            result = self._attempt(call.fn)
        except KioskError as exc:
            return exc
        except Exception as exc:  # a bug or odd input must not kill the writer thread
            return StoreError(f"session history {self.path}: {type(exc).__name__}: {exc}")
        finally:
            self._running = None
        # A read that works clears a read's failure, not a write's: it says nothing of whether saving does.
        if call.write or self._error_of_read:
            self._error = None
        with contextlib.suppress(InvalidStateError):  # `close` gave up on it while it ran
            call.future.set_result(result)
        return None

    def _keep(self, backlog: deque[_Call], call: _Call, error: KioskError | None) -> None:
        """Keep a write to try again later, behind those already kept (the oldest go past the limit)."""
        if not backlog:
            log.error("history: saving failed (%s); kept to try again every %g s", error, RETRY_S)
        self._error, self._error_of_read = error, False
        backlog.append(call)
        if len(backlog) > MAX_BACKLOG:
            self._fail(backlog.popleft(), error)

    def _retry(self, backlog: deque[_Call]) -> None:
        """Try the kept writes in order; stop at the first that still fails for a passing reason."""
        saved = 0
        while backlog:
            call = backlog.popleft()
            error = self._try(call)
            if error is None:
                saved += 1
            elif getattr(error, "retry", False):
                self._error, self._error_of_read = error, False
                backlog.appendleft(call)
                break
            else:
                self._fail(call, error)
        if saved:
            log.info(
                "history: saving works again; %d kept write(s) saved, %d still waiting", saved, len(backlog)
            )

    def _fail(self, call: _Call, error: KioskError | None) -> None:
        """Give up on `call`: its future carries the error, and a lost write is logged with its data."""
        exc = error or StoreError(f"session history {self.path}: not saved")
        self._error, self._error_of_read = exc, not call.write
        if call.write:
            log.error("history: NOT SAVED: %s: %s", call.what, exc)
        else:
            log.error("history: %s failed: %s", call.what, exc)
        call.future.set_exception(exc)


def _drain(calls: queue.SimpleQueue[Any]) -> list[Any]:
    """Whatever is queued, taken without waiting."""
    taken = []
    with contextlib.suppress(queue.Empty):
        while True:
            taken.append(calls.get_nowait())
    return taken


# --------------------------------------------------------------------------------------------- CLI


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


def _print_history(path: Path, days: int, sets: list[SetSummary], totals: list[DayTotal]) -> None:
    print(f"History in {path}, last {days} day(s), local times:")
    if not sets:
        print("  no sets recorded in that time")
    else:
        print(
            f"  {'date':10}  {'time':5}  {'drill':19}  set  {'reps':>7}  {'score':>9}  {'tempo':>11}  faults"
        )
        for s in sets:
            start = datetime.fromtimestamp(s.started_at)
            faults = ", ".join(f"{name} x{n}" for name, n in s.faults[:3]) or "-"
            score = f"{_fmt(s.mean_score, '.0f')}/{_fmt(s.best_score, '.0f')}"
            tempo = f"{_fmt(s.mean_tempo_down_s, '.1f')}/{_fmt(s.mean_tempo_up_s, '.1f')} s"
            reps = f"{s.reps}/{s.target_reps}"
            print(
                f"  {start:%Y-%m-%d}  {start:%H:%M}  {s.drill:19}  {s.index:>3}  {reps:>7}  {score:>9}  "
                f"{tempo:>11}  {faults}"
            )
        print("  (score: mean/best of 100; tempo: mean seconds down/up)")
    print("Per day:")
    for t in totals:
        print(
            f"  {t.day.isoformat()}  {t.sets:3d} sets  {t.reps:4d} reps  "
            f"mean score {_fmt(t.mean_score, '.0f')}"
        )


def _cmd_history(args: argparse.Namespace) -> int:
    if args.db:
        path = Path(args.db)
    else:
        from kiosk.config import load_config

        loaded = load_config()
        for problem in loaded.problems:
            print(f"hinge-kiosk: {problem}", file=sys.stderr)
        path = resolve_db_path(loaded.config.store.path)
    if not path.exists() and not args.db and SYSTEM_STATE_DIR.is_dir() and path.parent != SYSTEM_STATE_DIR:
        raise StoreError(
            f"no session history at {path}; the kiosk service keeps its history in "
            f"{SYSTEM_STATE_DIR / DB_NAME}: read it with `sudo {SERVICE_COMMAND} history`"
        )
    now = time.time()
    if not path.exists() and not args.db:  # this machine's kiosk has not saved a session yet
        if args.json:  # the shape of an empty history's: a zero row for each day
            today = local_day(now)
            daily = [
                DayTotal(today - timedelta(days=n), 0, 0, None).as_dict()
                for n in range(args.days - 1, -1, -1)
            ]
            print(json.dumps({"db": str(path), "days": args.days, "sets": [], "daily": daily}, indent=2))
        else:
            print(f"Session history {path}: no session recorded yet")
        return 0
    with SessionStore(path, readonly=True) as store:
        sets = store.recent_sets(now, args.days)
        totals = store.daily_totals(now, args.days)
        skipped = len(store.skipped_sets)
    if skipped:
        print(
            f"hinge-kiosk: warning: {skipped} set(s) in {path} left out: they hold values of the wrong "
            "type (edited by hand, or a damaged card?)",
            file=sys.stderr,
        )
    if args.json:
        json.dump(
            {
                "db": str(path),
                "days": args.days,
                "sets": [s.as_dict() for s in sets],
                "daily": [t.as_dict() for t in totals],
            },
            sys.stdout,
            indent=2,
        )
        print()
    else:
        _print_history(path, args.days, sets, totals)
    return 0


def register(subparsers: Any) -> None:
    """Add `history`."""
    p = subparsers.add_parser("history", help="print recent sets from the session history")
    p.add_argument(
        "--days", type=whole(1, 3650), default=7, metavar="N", help="days back, 1 to 3650 (default: 7)"
    )
    p.add_argument(
        "--db",
        metavar="PATH",
        help="history database (default: store.path from the config, see `config show`)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_history)
