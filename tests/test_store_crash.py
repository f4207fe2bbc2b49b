"""A rep once acknowledged is never lost: SIGKILL the kiosk's history writer at random moments, many times.

Each cycle starts a child process that records reps through `StoreWriter` (the kiosk's own path)
as fast as it can, printing an ack line from the commit callback. The parent kills it with SIGKILL
at a random moment: sometimes during start-up (opening, recovering the previous cycle's open
session), usually in the middle of a stream of commits. Afterwards the database must pass
`PRAGMA integrity_check`, hold every acknowledged rep exactly as written, and have no session left
open. SIGKILL stands in for a power cut at the process level; the fsync half of a power cut is
SQLite's `synchronous=FULL`.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from kiosk.store import SessionStore

REPO = Path(__file__).resolve().parent.parent
CYCLES = 40
SEED = 20250312

CHILD = r"""
import sys
from kiosk.store import StoreWriter

path, cycle = sys.argv[1], int(sys.argv[2])
writer = StoreWriter(path)

def ack(rep_id, n):
    print(f"ack {rep_id} {cycle} {n}", flush=True)

session = writer.open_session(f"hinge-{cycle}", cycle * 1000.0)
n = 0
while True:
    set_ = writer.open_set(session, f"hinge-{cycle}", 5, cycle * 1000.0 + n)
    for _ in range(5):
        n += 1
        rep = {"index": n, "start_s": 0.0, "bottom_s": 1.0, "end_s": 2.0, "score": (cycle * 37 + n) % 101,
               "faults": [f"fault-{n % 3}"], "tempo_down_s": 1.0, "tempo_up_s": 1.0}
        writer.add_rep(set_, rep, cycle * 1000.0 + n, on_commit=lambda rep_id, n=n: ack(rep_id, n)).result()
    writer.close_set(set_, cycle * 1000.0 + n)
"""


def _acks(text: str) -> list[tuple[int, int, int]]:
    """(rep id, cycle, n) for each complete ack line; a line cut short by the kill does not count."""
    out = []
    for line in text.split("\n")[:-1]:
        word, rep_id, cycle, n = line.split()
        assert word == "ack"
        out.append((int(rep_id), int(cycle), int(n)))
    return out


def test_sigkill_never_loses_an_acknowledged_rep(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    rng = random.Random(SEED)
    acked: list[tuple[int, int, int]] = []
    early_kills = 0
    for cycle in range(CYCLES):
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(db), str(cycle)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        head = b""
        if rng.random() < 0.2:
            early_kills += 1  # during interpreter start, opening, recovery or the first commits
            time.sleep(rng.uniform(0.0, 0.15))
        else:
            for _ in range(rng.randint(1, 25)):  # let it get into its stride, then kill mid-stream
                line = proc.stdout.readline()
                head += line
                if not line:
                    break
            time.sleep(rng.uniform(0.0, 0.004))
        os.kill(proc.pid, signal.SIGKILL)
        rest, err = proc.communicate()
        assert proc.returncode == -signal.SIGKILL, f"cycle {cycle}: child ended on its own:\n{err.decode()}"
        acked += _acks((head + rest).decode())

    with SessionStore(db):  # the kiosk's next start: recovery of the last cycle's open session
        pass
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        stored = {
            rep_id: (drill, idx, score, ended_at, faults)
            for rep_id, drill, idx, score, ended_at, faults in conn.execute(
                """SELECT r.id, x.drill, r.idx, r.score, r.ended_at, r.faults
                   FROM reps r JOIN sets s ON r.set_id = s.id JOIN sessions x ON s.session_id = x.id"""
            )
        }
        open_sessions = conn.execute("SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL").fetchone()[0]
        sessions = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
    finally:
        conn.close()

    lost = [a for a in acked if a[0] not in stored]
    assert not lost, f"{len(lost)} acknowledged reps missing, first: {lost[:5]}"
    for rep_id, cycle, n in acked:
        expected = (
            f"hinge-{cycle}",
            n,
            float((cycle * 37 + n) % 101),
            cycle * 1000.0 + n,
            f'["fault-{n % 3}"]',
        )
        assert stored[rep_id] == expected, f"rep {rep_id} (cycle {cycle}, #{n}) stored wrong"
    for rep_id, (drill, idx, score, _, _) in stored.items():  # nothing torn among the unacknowledged either
        cycle = int(drill.split("-")[1])
        assert score == float((cycle * 37 + idx) % 101), f"rep {rep_id} is inconsistent"
    assert open_sessions == 0
    assert len(acked) > CYCLES  # the kills really landed mid-stream
    print(
        f"\nSIGKILL test: {CYCLES} kills ({early_kills} early, {CYCLES - early_kills} mid-stream), "
        f"{sessions} sessions, {len(acked)} reps acknowledged, {len(stored)} stored, 0 lost, "
        "integrity_check ok"
    )
