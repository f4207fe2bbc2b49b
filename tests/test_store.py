"""Session history: schema and migrations, recovery after a crash, queries, privacy, the writer thread."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import stat
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kiosk import store as storemod
from kiosk.cli import main
from kiosk.store import (
    MIGRATIONS,
    Migration,
    SessionStore,
    StoreError,
    StoreWriter,
    day_start,
    migrate,
    resolve_db_path,
)

TZ = timezone(timedelta(hours=2))
NOON = datetime(2025, 3, 12, 12, 0, tzinfo=TZ).timestamp()  # a Wednesday, 12:00 in TZ


def rep(index: int, score: float | None = 80, faults: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    """A rep dict in the engine's shape (`RepResult.as_dict()`)."""
    d = {
        "index": index,
        "start_s": 10.0,
        "bottom_s": 11.5,
        "end_s": 13.0,
        "score": score,
        "faults": list(faults),
        "hip_angle_deg": 72.5,
        "knee_angle_deg": 18.0,
        "hip_travel": 0.42,
        "wall_tap": None,
        "tempo_down_s": 1.5,
        "tempo_up_s": 1.5,
    }
    d.update(extra)
    return d


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "history" / "sessions.db"


def rows(path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


# ------------------------------------------------------------------------------ schema, pragmas


def test_new_store_is_wal_full_sync_with_foreign_keys(db: Path) -> None:
    with SessionStore(db) as s:
        conn = s._conn
        assert conn is not None
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == storemod.BUSY_TIMEOUT_MS
        assert conn.execute("PRAGMA user_version").fetchone()[0] == MIGRATIONS[-1].version
    tables = {r[0] for r in rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"sessions", "sets", "reps"} <= tables


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def _conn(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def test_migration_runner_upgrades_a_v1_database(db: Path) -> None:
    with SessionStore(db) as s:
        sid = s.open_session("hinge", NOON)
        s.add_rep(s.open_set(sid, "hinge", 10, NOON), rep(1), NOON + 5)
    v2 = Migration(2, "rep notes", ("ALTER TABLE reps ADD COLUMN note TEXT", "UPDATE reps SET note = 'old'"))
    conn = _conn(db)
    try:
        assert migrate(conn, (*MIGRATIONS, v2)) == 2
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        assert conn.execute("SELECT idx, score, note FROM reps").fetchall() == [(1, 80.0, "old")]
        assert migrate(conn, (*MIGRATIONS, v2)) == 2  # already current: nothing runs twice
    finally:
        conn.close()


def test_a_failing_migration_leaves_the_database_as_it_was(db: Path) -> None:
    SessionStore(db).close()
    bad = Migration(2, "broken", ("CREATE TABLE extra (x)", "INSERT INTO no_such_table VALUES (1)"))
    conn = _conn(db)
    try:
        with pytest.raises(sqlite3.OperationalError):
            migrate(conn, (*MIGRATIONS, bad))
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'extra'").fetchall() == []
    finally:
        conn.close()


def test_a_database_from_a_newer_kiosk_is_refused(db: Path) -> None:
    SessionStore(db).close()
    conn = _conn(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match=r"schema version 99.*upgrade hinge-kiosk"):
        SessionStore(db)


@pytest.mark.parametrize(
    "other",
    [
        ("CREATE TABLE notes (x)",),  # no schema version: another program's tables
        ("CREATE TABLE sessions (x)", "PRAGMA user_version = 1"),  # a version, not our tables
        ("PRAGMA application_id = 1179796804",),  # marked as another application's (empty)
    ],
)
def test_another_programs_database_is_refused_and_left_as_it_was(db: Path, other: tuple[str, ...]) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    conn = _conn(db)
    for statement in other:
        conn.execute(statement)
    conn.close()
    before = db.read_bytes()
    for readonly in (False, True):
        with pytest.raises(StoreError, match=r"not a Hinge Mirror history.*point store.path elsewhere"):
            SessionStore(db, readonly=readonly)
    assert db.read_bytes() == before  # not migrated, not even switched to WAL
    assert not Path(f"{db}-wal").exists()


def test_a_history_is_marked_as_ours_and_one_from_before_the_mark_is_recognised(db: Path) -> None:
    with SessionStore(db) as s:
        s.open_session("hinge", NOON)
    assert rows(db, "PRAGMA application_id") == [(storemod.APPLICATION_ID,)]
    conn = _conn(db)
    conn.execute("PRAGMA application_id = 0")  # as an earlier hinge-kiosk left it
    conn.close()
    with SessionStore(db, readonly=True) as reader:
        assert len(reader.recent_sets(NOON + 60, 5)) == 0
    with SessionStore(db) as s:
        s.open_session("hinge", NOON + 1)
    assert rows(db, "SELECT COUNT(*) FROM sessions") == [(2,)]
    assert rows(db, "PRAGMA application_id") == [(storemod.APPLICATION_ID,)]


# --------------------------------------------------------------------------------------- writing


def test_reps_are_stored_with_wall_clock_times(db: Path) -> None:
    with SessionStore(db) as s:
        sid = s.open_session("wall-hinge", NOON)
        set_id = s.open_set(sid, "wall-hinge", 10, NOON + 1)
        rid = s.add_rep(set_id, rep(1, 91, ("knees_forward", "rounded_back"), wall_tap=True), NOON + 20)
    (row,) = rows(
        db,
        "SELECT set_id, idx, started_at, bottom_at, ended_at, score, faults, tempo_down_s, tempo_up_s, "
        "hip_angle_deg, knee_angle_deg, hip_travel, wall_tap, image_path FROM reps WHERE id = ?",
        rid,
    )
    assert row == (
        set_id, 1, NOON + 17, NOON + 18.5, NOON + 20, 91.0, '["knees_forward", "rounded_back"]',
        1.5, 1.5, 72.5, 18.0, 0.42, 1, None,
    )  # fmt: skip


def test_missing_and_non_finite_values_become_null(db: Path) -> None:
    with SessionStore(db) as s:
        set_id = s.open_set(s.open_session("hinge", NOON), "hinge", 10, NOON)
        s.add_rep(set_id, {"index": 2, "score": None, "hip_angle_deg": float("nan"), "faults": []}, NOON + 3)
    assert rows(db, "SELECT started_at, bottom_at, score, hip_angle_deg, wall_tap, faults FROM reps") == [
        (NOON + 3, None, None, None, None, "[]")
    ]


def test_set_indexes_count_within_their_session(db: Path) -> None:
    with SessionStore(db) as s:
        a, b = s.open_session("hinge", NOON), s.open_session("hinge", NOON + 100)
        ids = [
            s.open_set(a, "hinge", 10, NOON),
            s.open_set(b, "hinge", 10, NOON),
            s.open_set(a, "hinge", 10, NOON),
        ]
    assert [r[0] for r in rows(db, "SELECT idx FROM sets ORDER BY id")] == [1, 1, 2]
    assert len(set(ids)) == 3


def test_closing_a_session_closes_its_open_sets(db: Path) -> None:
    with SessionStore(db) as s:
        sid = s.open_session("hinge", NOON)
        done = s.open_set(sid, "hinge", 10, NOON)
        s.close_set(done, NOON + 60)
        s.open_set(sid, "hinge", 10, NOON + 120)
        s.close_session(sid, NOON + 200)
        s.close_set(done, NOON + 999)  # closing twice keeps the first end
    assert rows(db, "SELECT ended_at FROM sets ORDER BY id") == [(NOON + 60,), (NOON + 200,)]
    assert rows(db, "SELECT ended_at FROM sessions") == [(NOON + 200,)]


def test_reopening_closes_what_a_crash_left_open(db: Path) -> None:
    s = SessionStore(db)
    with_reps = s.open_session("hinge", NOON)
    set_id = s.open_set(with_reps, "hinge", 10, NOON + 1)
    s.add_rep(set_id, rep(1), NOON + 10)
    s.add_rep(set_id, rep(2), NOON + 14)
    empty_set = s.open_set(with_reps, "hinge", 10, NOON + 30)
    without_reps = s.open_session("hinge", NOON + 500)
    finished = s.open_session("hinge", NOON + 600)
    s.close_session(finished, NOON + 700)
    s.close()  # no close_session: as if the power went
    SessionStore(db).close()
    ended = dict(rows(db, "SELECT id, ended_at FROM sessions"))
    assert ended == {with_reps: NOON + 30, without_reps: NOON + 500, finished: NOON + 700}
    assert dict(rows(db, "SELECT id, ended_at FROM sets")) == {set_id: NOON + 14, empty_set: NOON + 30}


def test_readonly_store_reads_but_neither_writes_nor_recovers(db: Path) -> None:
    writer = SessionStore(db)
    sid = writer.open_session("hinge", NOON)
    writer.add_rep(writer.open_set(sid, "hinge", 10, NOON), rep(1), NOON + 5)
    with SessionStore(db, readonly=True) as reader:  # while the kiosk is running
        assert [s.reps for s in reader.recent_sets(NOON + 60, 1)] == [1]
        with pytest.raises(StoreError, match="read-only"):
            reader.open_session("hinge", NOON)
    assert rows(db, "SELECT ended_at FROM sessions") == [(None,)]  # the live session stays open
    writer.close()


def test_a_history_on_a_card_remounted_read_only_is_read_from_a_copy(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading a WAL file needs its -shm, which a read-only folder cannot give (SQLite: unable to open);
    the history, the latest reps in the write-ahead log included, is read from a copy instead."""
    writer = SessionStore(db)
    sid = writer.open_session("hinge", NOON)
    writer.add_rep(writer.open_set(sid, "hinge", 10, NOON), rep(1), NOON + 5)
    assert Path(f"{db}-wal").stat().st_size > 0  # the rep is in the log, not yet in the file
    connect = SessionStore._connect

    def no_shm(self: SessionStore, target: str, uri: bool) -> sqlite3.Connection:
        if uri:  # the read-only open of the file in place
            raise sqlite3.OperationalError("unable to open database file")
        return connect(self, target, uri)

    monkeypatch.setattr(SessionStore, "_connect", no_shm)
    with pytest.raises(StoreError, match="unable to open"):  # a card that is not read-only: no copy
        SessionStore(db, readonly=True)
    monkeypatch.setattr(storemod, "_read_only_filesystem", lambda folder: folder == db.parent)
    with SessionStore(db, readonly=True) as reader:
        assert [s.reps for s in reader.recent_sets(NOON + 60, 1)] == [1]
        copy = reader._copy_dir.name
    assert not Path(copy).exists()  # the copy goes with the store
    writer.close()


def test_readonly_store_on_a_missing_file(db: Path) -> None:
    with pytest.raises(StoreError, match="no such file"):
        SessionStore(db, readonly=True)
    assert not db.exists()


def test_only_one_writer_at_a_time(db: Path) -> None:
    first = SessionStore(db)
    with pytest.raises(StoreError, match="another hinge-kiosk is writing"):
        SessionStore(db)
    first.close()
    SessionStore(db).close()  # the lock goes with its holder


# ---------------------------------------------------------------------------------------- errors


def test_damaged_file_names_path_and_fix_when_read(db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not an SQLite database, just a damaged file " * 100)
    with pytest.raises(StoreError) as info:
        SessionStore(db, readonly=True)  # `hinge-kiosk history`: reading never moves a file
    message = str(info.value)
    assert str(db) in message and "move it aside" in message and f"{db}.damaged" in message


def test_a_damaged_file_is_moved_aside_and_a_new_history_started(db: Path, caplog) -> None:
    # Unattended, the kiosk must not stop saving reps until someone comes by: the damaged file is
    # kept for recovery under a free name (an earlier one is not overwritten), and saving goes on.
    db.parent.mkdir(parents=True)
    damaged = b"this is not an SQLite database, just a damaged file " * 100
    db.with_name(db.name + ".damaged").write_bytes(b"an earlier one")
    db.write_bytes(damaged)
    with SessionStore(db) as store:
        session = store.open_session("hinge", 100.0)
        store.add_rep(store.open_set(session, "hinge", 10, 100.0), {"index": 1, "score": 90}, 101.0)
    kept = db.with_name(db.name + ".damaged-2")
    assert kept.read_bytes() == damaged
    assert db.with_name(db.name + ".damaged").read_bytes() == b"an earlier one"
    assert f"moved it aside to {kept}" in caplog.text
    with SessionStore(db, readonly=True) as store:
        assert [s.reps for s in store.recent_sets(200.0)] == [1]


def test_unopenable_path_names_path_and_fix(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    path = tmp_path / "file" / "sessions.db"
    with pytest.raises(StoreError, match=r"file is a file, not a folder: give store\.path"):
        SessionStore(path)


@pytest.mark.parametrize(
    ("error", "fix"),
    [
        (sqlite3.OperationalError("database or disk is full"), "free space on the SD card"),
        (sqlite3.OperationalError("attempt to write a readonly database"), "read-only for this user"),
        (OSError(30, "Read-only file system"), "remounted read-only"),
        (sqlite3.DatabaseError("database disk image is malformed"), "move it aside"),
        (sqlite3.OperationalError("database is locked"), "another program holds it locked"),
        (sqlite3.OperationalError("no such table: sets"), "not a Hinge Mirror history"),
    ],
)
def test_error_messages_say_what_to_do(error: BaseException, fix: str) -> None:
    message = str(storemod._explain(error, Path("/var/lib/hinge-kiosk/sessions.db")))
    assert message.startswith("session history /var/lib/hinge-kiosk/sessions.db: ")
    assert fix in message


def test_an_io_error_on_a_full_disk_says_the_disk_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    # With no room for its -shm file at start-up, SQLite reports an I/O error, not SQLITE_FULL.
    error = sqlite3.OperationalError("disk I/O error")
    error.sqlite_errorname = "SQLITE_IOERR_SHMSIZE"
    where = Path("/var/lib/hinge-kiosk/sessions.db")
    monkeypatch.setattr(storemod.shutil, "disk_usage", lambda _: SimpleNamespace(free=4096))
    assert "the disk is full" in str(storemod._explain(error, where))
    monkeypatch.setattr(storemod.shutil, "disk_usage", lambda _: SimpleNamespace(free=7 << 30))
    assert "the card could not be read or written" in str(storemod._explain(error, where))


def test_read_only_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    if storemod.os.geteuid() == 0:  # root ignores modes (CI may run as root): the kernel's answer, faked
        real_open = storemod.os.open

        def refused(path, *args, **kwargs):
            if str(path).startswith(str(folder)):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(storemod.os, "open", refused)
    try:
        with pytest.raises(StoreError, match=re.escape(str(folder))) as caught:
            SessionStore(folder / "sessions.db")
        assert "writable" in str(caught.value)
    finally:
        folder.chmod(0o700)


# --------------------------------------------------------------------------------------- queries


def fill(s: SessionStore) -> dict[str, int]:
    """Two days of sets around NOON in TZ."""
    yesterday = s.open_session("hinge", NOON - 86400)
    y1 = s.open_set(yesterday, "hinge", 10, NOON - 86400)
    for i, score in enumerate((60, 70)):
        s.add_rep(y1, rep(i + 1, score, ("knees_forward",)), NOON - 86400 + 10 * (i + 1))
    s.close_session(yesterday, NOON - 86000)
    late_last_night = s.open_session("hinge", day_start(date(2025, 3, 12), TZ) - 60)
    late = s.open_set(late_last_night, "kneeling-hinge", 5, day_start(date(2025, 3, 12), TZ) - 60)
    today = s.open_session("wall-hinge", NOON - 3600)
    t1 = s.open_set(today, "wall-hinge", 3, NOON - 3600)
    s.add_rep(t1, rep(1, 90, ("knees_forward", "rounded_back"), wall_tap=True, tempo_down_s=2.0), NOON - 3590)
    s.add_rep(t1, rep(2, 70, ("rounded_back",), wall_tap=False, tempo_down_s=1.0), NOON - 3580)
    s.add_rep(t1, rep(3, None, ("rounded_back",), wall_tap=True, tempo_down_s=None), NOON - 3570)
    t2 = s.open_set(today, "wall-hinge", 3, NOON - 1800)
    return {"y1": y1, "late": late, "t1": t1, "t2": t2}


def test_today_is_local_calendar_day_newest_first(db: Path) -> None:
    with SessionStore(db) as s:
        ids = fill(s)
        today = s.today(NOON, TZ)
    assert [x.set_id for x in today] == [ids["t2"], ids["t1"]]
    t2, t1 = today
    assert (t2.reps, t2.mean_score, t2.faults, t2.ended_at) == (0, None, (), None)
    assert t1.index == 1 and t2.index == 2
    assert (t1.drill, t1.target_reps, t1.reps, t1.wall_taps) == ("wall-hinge", 3, 3, 2)
    assert (t1.mean_score, t1.best_score) == (80.0, 90.0)  # the unscored rep does not count
    assert t1.mean_tempo_down_s == pytest.approx(1.5)
    assert t1.faults == (("rounded_back", 3), ("knees_forward", 1))
    json.dumps(t1.as_dict())  # JSON-ready for `history --json`


def test_a_rep_not_judged_is_kept_without_a_score(db: Path) -> None:
    with SessionStore(db) as s:
        session = s.open_session("hinge", NOON)
        set_id = s.open_set(session, "hinge", 2, NOON)
        s.add_rep(set_id, rep(1, 70), NOON + 5)
        s.add_rep(set_id, rep(2, 97, judged=False), NOON + 10)
        (summary,) = s.today(NOON + 20, TZ)
    assert summary.reps == 2
    assert (summary.mean_score, summary.best_score) == (70.0, 70.0)


def test_a_rep_damaged_in_place_loses_its_fault_names_not_the_history(db: Path) -> None:
    with SessionStore(db) as s:
        session = s.open_session("hinge", NOON)
        set_id = s.open_set(session, "hinge", 3, NOON)
        for i, faults in enumerate((("rounded_back",), ("squatting",), ("rounded_back",))):
            s.add_rep(set_id, rep(i + 1, 70, faults), NOON + 5 * (i + 1))
    conn = sqlite3.connect(db)
    conn.execute("UPDATE reps SET faults = 'not json' WHERE idx = 2")
    conn.execute("UPDATE reps SET faults = '{\"a\": 1}' WHERE idx = 3")
    conn.commit()
    conn.close()
    with SessionStore(db, readonly=True) as s:
        (summary,) = s.today(NOON + 20, TZ)
    assert summary.reps == 3 and summary.faults == (("rounded_back", 1),)


def test_recent_sets_and_limit(db: Path) -> None:
    with SessionStore(db) as s:
        ids = fill(s)
        newest_first = [ids["t2"], ids["t1"], ids["late"], ids["y1"]]
        assert [x.set_id for x in s.recent_sets(NOON, days=2)] == newest_first
        assert [x.set_id for x in s.recent_sets(NOON + 1, days=1)] == newest_first[:3]  # y1 is 24 h + 1 s old
        assert [x.set_id for x in s.recent_sets(NOON, days=2, limit=2)] == newest_first[:2]


def test_daily_totals_are_zero_filled_oldest_first(db: Path) -> None:
    with SessionStore(db) as s:
        fill(s)
        totals = s.daily_totals(NOON, days=3, tz=TZ)
    assert [t.day for t in totals] == [date(2025, 3, 10), date(2025, 3, 11), date(2025, 3, 12)]
    assert [(t.sets, t.reps) for t in totals] == [(0, 0), (2, 2), (2, 3)]
    assert totals[0].mean_score is None
    assert totals[1].mean_score == 65.0 and totals[2].mean_score == 80.0


# ------------------------------------------------------------------------------ retention, privacy


def test_prune_deletes_old_finished_sessions_with_their_reps_and_stills(db: Path) -> None:
    with SessionStore(db, save_images=True) as s:
        old = s.open_session("hinge", NOON - 40 * 86400)
        s.add_rep(
            s.open_set(old, "hinge", 10, NOON - 40 * 86400),
            rep(1),
            NOON - 40 * 86400 + 5,
            image=b"\xff\xd8jpeg",
        )
        s.close_session(old, NOON - 40 * 86400 + 60)
        unfinished = s.open_session("hinge", NOON - 50 * 86400)
        recent = s.open_session("hinge", NOON - 86400)
        (still,) = list(s.images_dir.iterdir())
        assert s.prune(NOON, keep_days=0) == 0
        assert s.prune(NOON, keep_days=30) == 1
        assert s.prune(NOON, keep_days=30) == 0
    assert {r[0] for r in rows(db, "SELECT id FROM sessions")} == {unfinished, recent}
    assert rows(db, "SELECT COUNT(*) FROM sets") == [(0,)] and rows(db, "SELECT COUNT(*) FROM reps") == [(0,)]
    assert not still.exists()


def test_no_image_is_written_unless_opted_in(db: Path) -> None:
    with SessionStore(db) as s:
        s.add_rep(
            s.open_set(s.open_session("hinge", NOON), "hinge", 10, NOON), rep(1), NOON + 5, image=b"jpeg"
        )
        assert not s.images_dir.exists()
    assert rows(db, "SELECT image_path FROM reps") == [(None,)]
    assert {p.name for p in db.parent.iterdir()} <= {
        "sessions.db",
        "sessions.db-wal",
        "sessions.db-shm",
        "sessions.db.lock",
    }


def test_opted_in_stills_are_private_files(db: Path) -> None:
    with SessionStore(db, save_images=True) as s:
        rid = s.add_rep(
            s.open_set(s.open_session("hinge", NOON), "hinge", 10, NOON), rep(1), NOON + 5, image=b"jpg"
        )
        path = s.images_dir / f"rep-{rid}.jpg"
    assert path.read_bytes() == b"jpg"
    assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0
    assert rows(db, "SELECT image_path FROM reps") == [(path.name,)]


def test_a_picture_handed_to_the_writer_is_saved_as_a_jpeg_of_it(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The display hands over the rep's picture and the writer thread encodes it: the display never
    # waits for an encoder. A picture that cannot be encoded costs the still, never the rep.
    import av
    import numpy as np

    picture = np.zeros((120, 90, 3), np.uint8)
    picture[:60, :, 0] = 220  # red above, dark below
    writer = StoreWriter(db, save_images=True)
    set_ = writer.open_set(writer.open_session("hinge", NOON), "hinge", 10, NOON)
    kept = writer.add_rep(set_, rep(1), NOON + 1, image=picture).result(timeout=30)
    with caplog.at_level(logging.ERROR, logger="kiosk.store"):
        plain = writer.add_rep(set_, rep(2), NOON + 2, image=np.zeros((4,), np.uint8)).result(timeout=30)
    assert writer.close()
    assert rows(db, "SELECT id, image_path FROM reps ORDER BY idx") == [
        (kept, f"rep-{kept}.jpg"),
        (plain, None),
    ]
    assert any("could not be encoded" in r.getMessage() for r in caplog.records)
    with av.open(str(db.parent / "images" / f"rep-{kept}.jpg")) as container:
        saved = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert saved.shape == (120, 90, 3)
    assert np.abs(saved.astype(int) - picture).mean() < 4


def test_a_writer_not_keeping_stills_never_encodes_one(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    encoded = []
    monkeypatch.setattr(storemod, "jpeg_still", lambda rgb: encoded.append(rgb) or b"jpg")
    writer = StoreWriter(db)  # the demo's throwaway history, or a site that did not opt in
    set_ = writer.open_set(writer.open_session("hinge", NOON), "hinge", 10, NOON)
    writer.add_rep(set_, rep(1), NOON + 1, image=np.zeros((8, 8, 3), np.uint8)).result(timeout=30)
    assert writer.close()
    assert encoded == [] and rows(db, "SELECT image_path FROM reps") == [(None,)]


def test_encoding_stills_keeps_no_memory() -> None:
    # pygame-ce 2.5 keeps every file object it saves into: a kiosk saving each rep's still through a
    # BytesIO grew by 220 kB a rep (65 MB over these 300). The encoder must keep nothing.
    import numpy as np

    status = Path("/proc/self/status")
    if not status.exists():
        pytest.skip("reads resident memory from /proc (Linux)")

    def rss_mb() -> float:
        return int(status.read_text().split("VmRSS:")[1].split()[0]) / 1024

    picture = np.random.default_rng(0).integers(0, 256, (720, 404, 3), dtype=np.uint8)
    for _ in range(10):  # the encoder's own start-up allocations
        storemod.jpeg_still(picture)
    before = rss_mb()
    for _ in range(300):
        storemod.jpeg_still(picture)
    assert rss_mb() - before < 16.0


# ---------------------------------------------------------------------------------------- writer


def test_writer_chains_ids_and_acknowledges_after_commit(db: Path) -> None:
    writer = StoreWriter(db)
    acks: list[tuple[int, int]] = []
    seen_by_another_connection = threading.Event()

    def on_commit(rep_id: int) -> None:
        # Runs after COMMIT: a separate connection must already see the rep.
        if rows(db, "SELECT COUNT(*) FROM reps WHERE id = ?", rep_id) == [(1,)]:
            seen_by_another_connection.set()
        acks.append((rep_id, threading.get_ident()))

    session = writer.open_session("hinge", NOON)
    set_ = writer.open_set(session, "hinge", 10, NOON + 1)
    futures = [writer.add_rep(set_, rep(i), NOON + 5 * i, on_commit=on_commit) for i in range(1, 4)]
    writer.close_set(set_, NOON + 30)
    today = writer.today(NOON + 60, TZ)
    writer.close_session(session, NOON + 60)
    assert writer.close()
    assert [f.result() for f in futures] == [a[0] for a in acks]
    assert seen_by_another_connection.is_set()
    assert {a[1] for a in acks} != {threading.get_ident()}  # the display thread never ran a commit
    assert [(s.reps, s.ended_at) for s in today.result()] == [(3, NOON + 30)]
    assert writer.error is None


def test_writer_keeps_the_kiosk_running_when_the_store_cannot_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the folder should be")
    db = blocker / "sessions.db"
    writer = StoreWriter(db)
    with caplog.at_level(logging.ERROR, logger="kiosk.store"):
        session = writer.open_session("hinge", NOON)
        set_ = writer.open_set(session, "hinge", 10, NOON)
        kept = writer.add_rep(set_, rep(7, 88, ("knees_forward",)), NOON + 5)
        assert writer.today(NOON).exception(timeout=10) is not None  # the queue got that far
    assert not kept.done() and not session.done()  # kept to be tried again, not lost
    assert isinstance(writer.error, StoreError) and str(db) in str(writer.error)
    assert any("kept to try again" in r.getMessage() for r in caplog.records)
    # The folder appears (say, a USB stick is plugged back in): what was kept is saved first.
    blocker.unlink()
    blocker.mkdir()
    again = writer.open_session("hinge", NOON + 100)
    rid = writer.add_rep(writer.open_set(again, "hinge", 10, NOON + 100), rep(1), NOON + 105)
    assert rid.result(timeout=10) > 0 and 0 < kept.result(timeout=1) < rid.result()
    assert writer.close()
    assert writer.error is None
    assert rows(db, "SELECT idx FROM reps ORDER BY id") == [(7,), (1,)]


def test_writes_still_failing_at_shutdown_are_logged_with_their_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the folder should be")
    writer = StoreWriter(blocker / "sessions.db")
    session = writer.open_session("hinge", NOON)
    kept = writer.add_rep(writer.open_set(session, "hinge", 10, NOON), rep(7, 88), NOON + 5)
    with caplog.at_level(logging.ERROR, logger="kiosk.store"):
        assert writer.close()
    assert isinstance(kept.exception(timeout=1), StoreError)
    not_saved = [r.getMessage() for r in caplog.records if "NOT SAVED: rep" in r.getMessage()]
    assert len(not_saved) == 1 and '"index": 7' in not_saved[0]


def test_writer_survives_a_failing_write(
    db: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = SessionStore.add_rep
    calls = {"n": 0}

    def flaky(self: SessionStore, *args: Any, **kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise storemod._explain(sqlite3.OperationalError("database or disk is full"), self.path)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SessionStore, "add_rep", flaky)
    writer = StoreWriter(db)
    set_ = writer.open_set(writer.open_session("hinge", NOON), "hinge", 10, NOON)
    with caplog.at_level(logging.ERROR, logger="kiosk.store"):
        results = [writer.add_rep(set_, rep(i), NOON + i) for i in (1, 2, 3)]
        assert writer.close()
    # A full card is a cause that may pass: rep 2 was kept, tried again before rep 3, and saved.
    assert all(r.result() > 0 for r in results)
    logged = [r.getMessage() for r in caplog.records]
    assert any("free space" in m and "kept to try again" in m for m in logged)
    assert not any("NOT SAVED" in m for m in logged)
    assert rows(db, "SELECT idx FROM reps ORDER BY id") == [(1,), (2,), (3,)]


def test_a_read_that_works_does_not_hide_that_saving_fails(db: Path, monkeypatch) -> None:
    # A full card: writes fail, the progress screen's reads still work. The notice must stay.
    def full(self, *args, **kwargs):
        raise storemod._explain(sqlite3.OperationalError("database or disk is full"), self.path)

    writer = StoreWriter(db)
    assert writer.open_session("hinge", NOON).result() > 0
    monkeypatch.setattr(SessionStore, "open_set", full)
    kept = writer.open_set(1, "hinge", 10, NOON)
    writer.today(NOON).result(timeout=10)
    assert not kept.done()  # kept to be tried again
    assert writer.error is not None and "free space" in str(writer.error)
    assert writer.close()
    assert isinstance(kept.exception(timeout=1), StoreError)  # still failing at shutdown


def test_a_read_that_failed_once_is_forgotten_when_a_read_works(db: Path, monkeypatch) -> None:
    # The progress screen's read meets a lock once; the notice must not stay up on an idle kiosk
    # until the next visitor's first write.
    real = SessionStore.today
    failures = [StoreError(f"session history {db}: database is locked", retry=True)]

    def locked_once(self, *args, **kwargs):
        if failures:
            raise failures.pop()
        return real(self, *args, **kwargs)

    writer = StoreWriter(db)
    monkeypatch.setattr(SessionStore, "today", locked_once)
    with pytest.raises(StoreError):
        writer.today(NOON).result(timeout=10)
    assert writer.error is not None
    assert writer.today(NOON).result(timeout=10) == []
    assert writer.error is None
    assert writer.close()


def hang_saving_reps(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """From now on a rep's commit does not return (a card that stopped answering) until the event
    returned is set."""
    release = threading.Event()
    real = SessionStore.add_rep

    def stuck(self: SessionStore, *args: Any, **kwargs: Any) -> int:
        release.wait(30)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SessionStore, "add_rep", stuck)
    return release


def test_a_writer_stuck_at_shutdown_logs_what_it_had_not_saved(
    db: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A card that stopped answering: the writer never returns from a commit. The service stops the
    # kiosk anyway, so the rep under way and those queued behind it are logged with their data.
    writer = StoreWriter(db)
    set_ = writer.open_set(writer.open_session("hinge", NOON), "hinge", 10, NOON)
    assert set_.result(timeout=10) > 0
    release = hang_saving_reps(monkeypatch)
    futures = [writer.add_rep(set_, rep(i), NOON + i) for i in (1, 2, 3)]
    # Meanwhile the screen hears of it: a hung write raises nothing on its own.
    monkeypatch.setattr(storemod, "STUCK_S", 0.2)
    deadline = time.monotonic() + 10
    while writer.error is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "saving has not finished" in str(writer.error)
    with caplog.at_level(logging.ERROR, logger="kiosk.store"):
        assert not writer.close(timeout=0.5)
    lost = [r.getMessage() for r in caplog.records if "NOT SAVED: rep" in r.getMessage()]
    assert [f'"index": {i}' in m for i, m in zip((1, 2, 3), lost, strict=True)] == [True] * 3
    assert all(isinstance(f.exception(timeout=1), StoreError) for f in futures)
    release.set()  # the stuck call returns after all: the writer thread must not trip over it
    writer._thread.join(10)
    assert not writer._thread.is_alive()


def test_a_hung_card_cannot_fill_the_memory(
    db: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # While the writer hangs in a commit, reps pile up in memory. Past a few, they wait without their
    # picture; past the backlog limit, new writes are refused at once and logged with their data.
    monkeypatch.setattr(storemod, "MAX_WAITING_IMAGES", 3)
    monkeypatch.setattr(storemod, "MAX_BACKLOG", 8)
    writer = StoreWriter(db, save_images=True)
    set_ = writer.open_set(writer.open_session("hinge", NOON), "hinge", 10, NOON)
    assert set_.result(timeout=10) > 0
    release = hang_saving_reps(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="kiosk.store"):
        first = writer.add_rep(set_, rep(1), NOON + 1, image=b"jpg-1")
        deadline = time.monotonic() + 10
        while writer._running is None and time.monotonic() < deadline:  # rep 1 is in the hung commit
            time.sleep(0.01)
        waiting = [writer.add_rep(set_, rep(i), NOON + i, image=f"jpg-{i}".encode()) for i in range(2, 12)]
        release.set()
        assert writer.close()
    saved = [f for f in (first, *waiting) if f.exception() is None]
    refused = [f for f in waiting if f.exception() is not None]
    assert len(saved) == 9 and len(refused) == 2  # rep 1, then 8 queued; the last 2 refused
    logged = [r.getMessage() for r in caplog.records]
    assert sum("NOT SAVED: rep" in m for m in logged) == 2
    assert sum("without their picture" in m for m in logged) == 1  # said once, not per rep
    pictures = rows(db, "SELECT idx FROM reps WHERE image_path IS NOT NULL ORDER BY idx")
    assert pictures == [(1,), (2,), (3,), (4,), (5,)]  # rep 1 running, then until more than 3 waited
    assert rows(db, "SELECT COUNT(*) FROM reps") == [(9,)]


def test_a_store_path_for_an_unknown_user_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="absolute path"):
        resolve_db_path("~no-such-user-here/sessions.db")


def test_writer_after_close_refuses_without_raising(db: Path) -> None:
    writer = StoreWriter(db)
    assert writer.close()
    late = writer.open_session("hinge", NOON)
    assert isinstance(late.exception(), StoreError)


def damage(writer: StoreWriter, db: Path) -> None:
    """Overwrite the tables' pages of the history file under a running writer, as a failing card
    would, and make the writer read them from the card again."""
    assert rows(db, "PRAGMA wal_checkpoint(TRUNCATE)")[0][0] == 0  # the pages are in the main file
    with open(db, "r+b") as f:  # behind the header page
        f.seek(4096)
        f.write(b"\xff" * 3 * 4096)
    # The writer's connection holds the pages it read in memory; a real kiosk's cache would have
    # moved on by the time the card fails. Drop it so the next write reads the card.
    drop = writer._submit(lambda: writer._store._conn.execute("PRAGMA shrink_memory"), "dropping the cache")
    drop.result(timeout=10)


def malformed(self: SessionStore, *args: Any, **kwargs: Any) -> Any:
    raise storemod._explain(sqlite3.DatabaseError("database disk image is malformed"), self.path)


def test_a_file_damaged_while_the_kiosk_runs_is_moved_aside_and_saving_goes_on(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # An SD card damages the history mid-session. Until now every later rep was lost until someone
    # restarted the kiosk; now the file is moved aside at once and the session goes on in a new one.
    writer = StoreWriter(db, save_images=True)
    session = writer.open_session("hinge", NOON)
    set_ = writer.open_set(session, "hinge", 10, NOON + 1)
    before = [writer.add_rep(set_, rep(i), NOON + 5 * i, image=f"old {i}".encode()) for i in (1, 2, 3)]
    assert all(f.result(timeout=10) > 0 for f in before)
    damage(writer, db)
    with caplog.at_level(logging.ERROR, logger="kiosk.store"):
        after = [writer.add_rep(set_, rep(i), NOON + 5 * i, image=f"new {i}".encode()) for i in (4, 5)]
        writer.close_set(set_, NOON + 40)
        writer.close_session(session, NOON + 60)
        assert writer.close()
    assert all(f.result() > 0 for f in after)
    logged = [r.getMessage() for r in caplog.records]
    assert not any("NOT SAVED" in m for m in logged), logged
    assert any(f"moved it aside to {db}.damaged" in m for m in logged)
    assert db.with_name(db.name + ".damaged").exists()
    # The new history holds the session and set, written again with their own times, and the reps
    # since the damage; those before it are in the moved file, for `sqlite3 .recover`, and their
    # pictures beside it (the new file's rep ids start at 1 again: nothing is overwritten).
    assert rows(db, "SELECT started_at, ended_at, drill FROM sessions") == [(NOON, NOON + 60, "hinge")]
    assert rows(db, "SELECT started_at, ended_at, target_reps FROM sets") == [(NOON + 1, NOON + 40, 10)]
    assert rows(db, "SELECT idx FROM reps ORDER BY id") == [(4,), (5,)]
    old_pictures = db.parent / "images.damaged"
    assert sorted(p.read_bytes() for p in old_pictures.iterdir()) == [b"old 1", b"old 2", b"old 3"]
    assert sorted(p.read_bytes() for p in (db.parent / "images").iterdir()) == [b"new 4", b"new 5"]
    assert writer.error is None


def test_a_new_history_that_will_not_open_keeps_the_reps_for_later(
    db: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The damaged file moves aside, but the card fails to make the new one (an I/O error, which may
    # pass). The reps wait and go into the new file once it opens, with their session and set.
    real_open = SessionStore._open_database
    failures = {"left": 0}

    def open_database(self: SessionStore) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise sqlite3.OperationalError("disk I/O error")
        real_open(self)

    monkeypatch.setattr(SessionStore, "_open_database", open_database)
    writer = StoreWriter(db)
    session = writer.open_session("hinge", NOON)
    set_ = writer.open_set(session, "hinge", 10, NOON + 1)
    assert writer.add_rep(set_, rep(1), NOON + 5).result(timeout=10) > 0
    damage(writer, db)
    failures["left"] = 1
    with caplog.at_level(logging.ERROR, logger="kiosk.store"):
        after = [writer.add_rep(set_, rep(i), NOON + 5 * i) for i in (2, 3)]
        writer.close_session(session, NOON + 60)
        assert writer.close()
    assert all(f.result() > 0 for f in after)
    assert not any("NOT SAVED" in r.getMessage() for r in caplog.records)
    assert rows(db, "SELECT started_at, ended_at FROM sessions") == [(NOON, NOON + 60)]
    assert rows(db, "SELECT idx FROM reps ORDER BY id") == [(2,), (3,)]


@pytest.mark.parametrize("new_file", ["opens", "damaged on opening"])
def test_a_card_that_damages_every_new_file_gets_one_move_aside(
    db: Path, new_file: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A failing card: one move aside, then the reps are logged as lost, saying to replace the card,
    # instead of filling it with moved-aside copies.
    writer = StoreWriter(db)
    set_ = writer.open_set(writer.open_session("hinge", NOON), "hinge", 10, NOON)
    assert writer.add_rep(set_, rep(1), NOON + 1).result(timeout=10) > 0
    monkeypatch.setattr(SessionStore, "add_rep", malformed)
    if new_file == "damaged on opening":

        def damaged_on_opening(self: SessionStore) -> None:
            self._conn = self._connect(str(self.path), uri=False)  # SQLite makes the file as it opens it
            raise sqlite3.DatabaseError("database disk image is malformed")

        monkeypatch.setattr(SessionStore, "_open_database", damaged_on_opening)
    with caplog.at_level(logging.ERROR, logger="kiosk.store"):
        lost = [writer.add_rep(set_, rep(i), NOON + i) for i in (2, 3, 4)]
        assert writer.close()
    assert all(isinstance(f.exception(), StoreError) for f in lost)
    assert sorted(p.name for p in db.parent.glob("*.damaged*")) == [db.name + ".damaged"]
    not_saved = [r.getMessage() for r in caplog.records if "NOT SAVED: rep" in r.getMessage()]
    assert len(not_saved) == 3 and all("replace the card" in m for m in not_saved[1:])


def test_reps_are_not_lost_with_a_session_that_could_not_be_saved(
    db: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The session's own write fails for good (an error the kiosk does not know). Its sets and reps
    # used to fail with it; now the first write that needs the session writes it again.
    real = SessionStore.open_session
    calls = {"n": 0}

    def fails_once(self: SessionStore, *args: Any, **kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise StoreError("session history: an SQLite error this kiosk does not know")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SessionStore, "open_session", fails_once)
    writer = StoreWriter(db)
    session = writer.open_session("hinge", NOON)
    set_ = writer.open_set(session, "hinge", 10, NOON + 1)
    reps = [writer.add_rep(set_, rep(i), NOON + 5 * i) for i in (1, 2)]
    writer.close_session(session, NOON + 30)
    with caplog.at_level(logging.ERROR, logger="kiosk.store"):
        assert writer.close()
    assert isinstance(session.exception(), StoreError)  # the first try is reported as it happened
    assert all(f.result() > 0 for f in reps)
    assert rows(db, "SELECT started_at, ended_at FROM sessions") == [(NOON, NOON + 30)]
    assert rows(db, "SELECT idx FROM reps ORDER BY id") == [(1,), (2,)]


def test_bad_input_fails_its_future_not_the_thread(db: Path) -> None:
    writer = StoreWriter(db)
    set_ = writer.open_set(writer.open_session("hinge", NOON), "hinge", 10, NOON)
    bad = writer.add_rep(set_, {"index": "first", "score": "great"}, NOON + 1)
    good = writer.add_rep(set_, rep(2), NOON + 2)
    assert writer.close()
    assert isinstance(bad.exception(), StoreError)
    assert good.result() > 0


# ---------------------------------------------------------------------------------- paths and CLI


def test_db_path_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_db_path("~/h.db") == Path.home() / "h.db"
    system = tmp_path / "var-lib"
    monkeypatch.setattr(storemod, "SYSTEM_STATE_DIR", system)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert resolve_db_path("") == tmp_path / "state" / "hinge-kiosk" / "sessions.db"
    system.mkdir()
    assert resolve_db_path("") == system / "sessions.db"


def test_history_command(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with SessionStore(db) as s:
        ids = fill(s)
    monkeypatch.setattr(storemod.time, "time", lambda: NOON)
    assert main(["history", "--db", str(db), "--days", "2"]) == 0
    out = capsys.readouterr().out
    assert f"History in {db}, last 2 day(s)" in out
    assert "wall-hinge" in out and "3/3" in out and "rounded_back x3" in out
    assert main(["history", "--db", str(db), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["db"] == str(db) and data["days"] == 7
    assert {s["set_id"] for s in data["sets"]} >= {ids["t1"], ids["t2"], ids["y1"]}
    assert len(data["daily"]) == 7


def test_history_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--db", str(tmp_path / "none.db")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "folder.db").mkdir()
    assert main(["history", "--db", str(tmp_path / "folder.db")]) == 2
    err = capsys.readouterr().err
    assert "a folder, not a history file" in err and "card" not in err  # not "replace your SD card"
    with pytest.raises(SystemExit):
        main(["history", "--days", "0"])


def test_history_on_a_machine_that_has_saved_nothing_yet_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh install, before any session: not an error (a typed --db that is not there still is)."""
    monkeypatch.setattr(storemod, "SYSTEM_STATE_DIR", tmp_path / "no-system-dir")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("HINGE_KIOSK_CONFIG", str(tmp_path / "no-site.toml"))
    assert main(["history"]) == 0
    assert "no session recorded yet" in capsys.readouterr().out
    assert main(["history", "--json"]) == 0
    fresh = json.loads(capsys.readouterr().out)
    empty = tmp_path / "empty.db"
    SessionStore(empty).close()
    assert main(["history", "--json", "--db", str(empty)]) == 0
    made = json.loads(capsys.readouterr().out)
    assert fresh["sets"] == made["sets"] == [] and fresh["daily"] == made["daily"]  # one shape
    assert len(fresh["daily"]) == 7


def edit(path: Path, sql: str, *args: Any) -> None:
    """Change the database behind the store's back, as a hand edit in `sqlite3` would."""
    conn = sqlite3.connect(path)
    try:
        conn.execute(sql, args)
        conn.commit()
    finally:
        conn.close()


@pytest.mark.parametrize(
    "column, value",
    [("started_at", "abc"), ("started_at", 1e20), ("started_at", b"\x00\xff"), ("drill", b"A"), ("idx", "x")],
)
def test_a_set_edited_to_the_wrong_type_is_left_out_with_one_warning(
    db: Path, column: str, value: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite keeps text or bytes in a REAL column as given; `history` once died on them with a traceback.
    with SessionStore(db) as s:
        ids = fill(s)
    edit(db, f"UPDATE sets SET {column} = ? WHERE id = ?", value, ids["late"])
    monkeypatch.setattr(storemod.time, "time", lambda: NOON)
    assert main(["history", "--db", str(db), "--days", "2"]) == 0
    out, err = capsys.readouterr()
    assert "wall-hinge" in out and "3/3" in out
    assert len(err.splitlines()) == 1 and "1 set(s)" in err and "wrong type" in err
    assert main(["history", "--db", str(db), "--days", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {s["set_id"] for s in data["sets"]} == {ids["t1"], ids["t2"], ids["y1"]}


def test_rep_values_of_the_wrong_type_stay_out_of_averages(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with SessionStore(db) as s:
        ids = fill(s)
    edit(db, "UPDATE reps SET score = 'good', tempo_down_s = 'slow' WHERE set_id = ? AND idx = 1", ids["t1"])
    edit(db, "UPDATE reps SET wall_tap = 'maybe' WHERE set_id = ? AND idx = 3", ids["t1"])
    with SessionStore(db, readonly=True) as s:
        t1 = next(x for x in s.today(NOON, TZ) if x.set_id == ids["t1"])
        today = s.daily_totals(NOON, days=1, tz=TZ)[-1]
    # SQLite's own AVG counts 'good' as 0, and its MAX ranks it above every number.
    assert (t1.mean_score, t1.best_score, t1.mean_tempo_down_s, t1.wall_taps) == (70.0, 70.0, 1.0, 1)
    assert (today.reps, today.mean_score) == (3, 70.0)
    monkeypatch.setattr(storemod.time, "time", lambda: NOON)
    assert main(["history", "--db", str(db), "--days", "2"]) == 0
    assert capsys.readouterr().err == ""  # nothing left out: only the values are


def test_the_progress_screen_reads_around_a_damaged_set_and_logs_it_once(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with SessionStore(db) as s:
        ids = fill(s)
    edit(db, "UPDATE sets SET started_at = 1e20 WHERE id = ?", ids["t2"])  # once an OverflowError
    writer = StoreWriter(db)
    with caplog.at_level(logging.WARNING, logger="kiosk.store"):
        reads = [writer.today(NOON, TZ), writer.recent_sets(NOON, 7, 8), writer.daily_totals(NOON, 7)]
        again = writer.recent_sets(NOON, 7, 8)
        assert writer.close()
    today, recent, days = (f.result() for f in reads)
    assert [s.set_id for s in today] == [ids["t1"]]
    assert all(isinstance(s, storemod.SetSummary) for s in recent)
    assert ids["t2"] not in {s.set_id for s in again.result()} and len(days) == 7
    left_out = [r for r in caplog.records if "left out" in r.getMessage()]
    assert len(left_out) == 1 and "1 set(s)" in left_out[0].getMessage()
