"""`atx backup FILE` while the database is being written, and `atx restore FILE`: refused while
an agent holds the database, only for atx databases of a known schema, the old file kept; a
database of the first released schema (migration 1) restored and upgraded with its rows."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from store_fixtures import TEST_KEY, FakeClock, open_store
from test_ops_health import serving, short_dir, stand_in
from test_store_migrations import SEEDS, _build_database_at

from agent.cli import main
from agent.store import Store
from agent.store.migrations import LATEST_VERSION


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("ATX_DATA_DIR", str(folder))
    monkeypatch.setenv("ATX_SECRET_KEY", TEST_KEY)
    return folder


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def keys_in(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT key FROM runtime_settings WHERE key LIKE 'k%'").fetchall()
    return sorted(int(key[1:]) for (key,) in rows)


def test_backup_while_another_connection_writes(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store.open(data_dir, secret_key=TEST_KEY)
    written = 0
    stop = threading.Event()

    def writer() -> None:
        nonlocal written
        while not stop.is_set():
            store.settings.set(f"k{written}", written)  # one transaction each
            written += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written < 50:
            stop.wait(0.01)
        backups = []
        for n in range(3):
            target = tmp_path / f"atx-{n}.db"
            status, out, err = run(capsys, "backup", str(target))
            assert status == 0, err
            assert out.startswith(f"backup written to {target} (schema version {LATEST_VERSION}")
            backups.append(target)
    finally:
        stop.set()
        thread.join()
        store.close()
    counts = []
    for target in backups:
        keys = keys_in(target)
        # A consistent snapshot: every write up to some point, none missing in between.
        assert keys == list(range(len(keys))) and keys
        counts.append(len(keys))
        assert not Path(f"{target}-wal").exists()  # one self-contained file
        assert target.stat().st_mode & 0o077 == 0  # tokens inside: owner only
        with sqlite3.connect(target) as conn:
            assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert counts == sorted(counts) and counts[-1] <= written


def test_backup_refuses_to_overwrite_and_needs_a_database(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "backup", str(tmp_path / "b.db"))
    assert status == 1 and err.startswith("atx backup: no database at ")
    Store.open(data_dir, secret_key=TEST_KEY).close()
    (tmp_path / "b.db").write_text("keep me")
    status, _, err = run(capsys, "backup", str(tmp_path / "b.db"))
    assert status == 1 and "exists already" in err and err.count("\n") == 1
    assert (tmp_path / "b.db").read_text() == "keep me"
    status, _, err = run(capsys, "backup", str(tmp_path / "no" / "such" / "b.db"))
    assert status == 1 and "no such folder" in err


def make_backup(data_dir: Path, target: Path, marker: str) -> None:
    with Store.open(data_dir, secret_key=TEST_KEY) as store:
        store.settings.set("marker", marker)
    assert main(["backup", str(target)]) == 0


def marker_of(data_dir: Path) -> object:
    with Store.open(data_dir, secret_key=TEST_KEY) as store:
        return store.settings.get("marker")


def test_restore_refuses_while_another_process_holds_the_database(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_backup(data_dir, tmp_path / "old.db", "old")
    holder = Store.open(data_dir, secret_key=TEST_KEY)  # as the running agent does
    try:
        holder.settings.set("marker", "live")
        status, _, err = run(capsys, "restore", str(tmp_path / "old.db"))
        assert status == 1
        assert err.startswith("atx restore: another atx process has ")
        assert "stop it first" in err and err.count("\n") == 1
        assert holder.settings.get("marker") == "live"  # untouched, still usable
    finally:
        holder.close()
    status, out, err = run(capsys, "restore", str(tmp_path / "old.db"))
    assert status == 0, err
    assert marker_of(data_dir) == "old"
    kept = [p for p in data_dir.iterdir() if p.name.endswith(".bak")]
    assert len(kept) == 1 and kept[0].name.startswith("atx.db.")
    assert f"kept as {kept[0]}" in out
    # The old database, whole (its WAL was folded in before it was moved).
    with sqlite3.connect(kept[0]) as conn:
        found = conn.execute("SELECT value_json FROM runtime_settings WHERE key='marker'")
        assert found.fetchone()[0] == '"live"'


def test_restore_refuses_while_the_agent_answers_on_its_socket(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with short_dir() as folder:
        monkeypatch.setenv("ATX_DATA_DIR", str(folder))
        monkeypatch.setenv("ATX_SECRET_KEY", TEST_KEY)
        make_backup(folder, tmp_path / "b.db", "b")
        with serving(stand_in("ok"), folder / "control.sock"):
            status, _, err = run(capsys, "restore", str(tmp_path / "b.db"))
    assert status == 1 and "the agent is running" in err


def test_restore_only_takes_atx_databases_of_a_known_schema(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database")
    status, _, err = run(capsys, "restore", str(text))
    assert status == 1 and "is not an SQLite database" in err

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE things (id INTEGER)")
    status, _, err = run(capsys, "restore", str(other))
    assert status == 1 and "is not an atx database" in err

    newer = tmp_path / "newer.db"
    _build_database_at(newer, LATEST_VERSION)
    with sqlite3.connect(newer) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    status, _, err = run(capsys, "restore", str(newer))
    assert status == 1 and "newer than this atx supports" in err

    status, _, err = run(capsys, "restore", str(tmp_path / "missing.db"))
    assert status == 1 and "no such file" in err
    assert "Traceback" not in err
    assert not data_dir.exists() or not any(data_dir.iterdir())  # nothing was touched


def test_a_first_schema_database_is_restored_and_upgraded_with_its_rows(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A backup made by the first released schema (migration 1 only, built by the store's own
    migration code) restores into an empty data folder and upgrades on the next open."""
    first = tmp_path / "atx-v1.db"
    _build_database_at(first, 1)
    status, out, err = run(capsys, "restore", str(first))
    assert status == 0, err
    assert "schema version 1" in out and "upgraded the next time" in out
    with open_store(data_dir, FakeClock()) as store:
        assert store.schema_version == LATEST_VERSION
        _, check_v1 = SEEDS[1]
        check_v1(store)
