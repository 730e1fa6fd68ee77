"""The ledger's schema: versioned migrations shipped in the package, applied once, upgraded in place; and the
ledger's identity. Real SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from partnership_ads.ledger import SQL_DIR_ENV, Ledger, LedgerMismatchError

ROOT = Path(__file__).resolve().parents[4]
BRAND = "111"


def test_migrate_twice_applies_each_version_once(ledger: Ledger) -> None:
    assert ledger.migrate() == []
    assert ledger.applied_versions() == [version for version, _ in ledger.migrations()]


def test_a_second_process_migrating_a_migrated_database_changes_nothing(tmp_path: Path) -> None:
    first = Ledger.from_sqlite_path(tmp_path / "l.db")
    second = Ledger.from_sqlite_path(tmp_path / "l.db")
    assert first.migrate() == [version for version, _ in first.migrations()]
    assert second.migrate() == []


def test_tasks_migrating_a_fresh_postgres_ledger_at_once_all_succeed_and_apply_each_version_once(
    postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CREATE TABLE IF NOT EXISTS races on PostgreSQL: the migrations of concurrent tasks are serialised."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("AIRFLOW_CONN_PARTNERSHIP_ADS_DB", postgres_database)
    start = threading.Barrier(6)

    def migrate() -> list[str]:
        ledger = Ledger.from_conn_id("partnership_ads_db")
        start.wait()
        return ledger.migrate()

    with ThreadPoolExecutor(max_workers=6) as pool:
        applied = [future.result() for future in [pool.submit(migrate) for _ in range(6)]]
    ledger = Ledger.from_conn_id("partnership_ads_db")
    every = [version for version, _ in ledger.migrations()]
    assert sorted(v for versions in applied for v in versions) == every, "each version applied once"
    assert ledger.applied_versions() == every


def test_the_schema_is_found_in_the_package_not_in_include(tmp_path: Path) -> None:
    ledger = Ledger.from_sqlite_path(tmp_path / "l.db")
    names = [path.name for _, path in ledger.migrations()]
    assert names[:7] == [
        "0001_initial.sql",
        "0002_throttles.sql",
        "0003_already_in_ledger.sql",
        "0004_outbox_per_destination.sql",
        "0005_fencing_identity.sql",
        "0006_over_max_codes.sql",
        "0007_post_budgets.sql",
    ]
    assert Path(str(ledger.sql_dir)) == ROOT / "plugins" / "partnership_ads" / "ledger" / "sql"


def test_a_ledger_migrated_from_the_old_schema_folder_upgrades_in_place_reapplying_nothing(
    unmigrated_ledger: Ledger, tmp_path: Path
) -> None:
    """A ledger created when the files lived in include/sql/ledger/: versions are keyed by number."""
    ledger = unmigrated_ledger
    old_folder = tmp_path / "include" / "sql" / "ledger"
    old_folder.mkdir(parents=True)
    for _, path in ledger.migrations():
        shutil.copy(path, old_folder / path.name)
    ledger.sql_dir = old_folder
    versions = ledger.migrate()
    assert versions == [version for version, _ in Ledger(ledger.hook).migrations()]
    ledger.record_run_figures("r0", BRAND, {"issued": 1})
    upgraded = Ledger(ledger.hook)  # the package's own folder
    assert upgraded.migrate() == []
    assert upgraded.applied_versions() == versions
    assert upgraded.run_figures("r0") == {BRAND: {"issued": 1}}


def test_the_environment_names_another_schema_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "sql"
    folder.mkdir()
    (folder / "0001_only.sql").write_text("CREATE TABLE IF NOT EXISTS only_table (x TEXT);\n")
    monkeypatch.setenv(SQL_DIR_ENV, str(folder))
    ledger = Ledger.from_sqlite_path(tmp_path / "l.db")
    assert [path.name for _, path in ledger.migrations()] == ["0001_only.sql"]
    assert ledger.migrate() == ["0001"]


def test_a_folder_without_migrations_is_an_error_naming_it(tmp_path: Path) -> None:
    ledger = Ledger.from_sqlite_path(tmp_path / "l.db")
    ledger.sql_dir = tmp_path
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        ledger.migrate()


def test_outcomes_recorded_as_known_read_as_already_in_ledger_after_migration(tmp_path: Path) -> None:
    ledger = Ledger.from_sqlite_path(tmp_path / "l.db")
    current = ledger.sql_dir
    before_rename = tmp_path / "sql"
    before_rename.mkdir()
    for version, path in ledger.migrations():
        if version < "0003":
            shutil.copy(path, before_rename / path.name)
    ledger.sql_dir = before_rename
    ledger.migrate()
    ledger.record_run_figures("r0", BRAND, {"issued": 1, "known": 2})
    ledger.upsert_content(BRAND, [{"content_id": "1"}], run_id="r0")
    ledger.record_brand_item(BRAND, "1", "known", run_id="r0")
    ledger.sql_dir = current
    assert "0003" in ledger.migrate()
    assert ledger.run_figures("r0") == {BRAND: {"issued": 1, "already_in_ledger": 2}}
    assert ledger.brand_items(BRAND) == [("1", "already_in_ledger", None)]


def test_items_recorded_as_deferred_read_as_over_max_codes_after_migration(tmp_path: Path) -> None:
    """ "deferred" now means only a task waiting on the triggerer: the cap's outcome has its own name."""
    ledger = Ledger.from_sqlite_path(tmp_path / "l.db")
    current = ledger.sql_dir
    before_rename = tmp_path / "sql"
    before_rename.mkdir()
    for version, path in ledger.migrations():
        if version < "0006":
            shutil.copy(path, before_rename / path.name)
    ledger.sql_dir = before_rename
    ledger.migrate()
    ledger.record_run_figures("r0", BRAND, {"issued": 1, "deferred": 3})
    ledger.upsert_content(BRAND, [{"content_id": "1"}], run_id="r0")
    ledger.record_brand_item(BRAND, "1", "deferred", run_id="r0", detail="over max_codes=1")
    ledger.sql_dir = current
    # 0006 first; later migrations (0008 token health, ...) follow it.
    assert ledger.migrate()[0] == "0006"
    assert ledger.run_figures("r0") == {BRAND: {"issued": 1, "over_max_codes": 3}}
    assert ledger.brand_items(BRAND) == [("1", "over_max_codes", "over max_codes=1")]
    assert "1" in ledger.pending_content_ids(BRAND)


def test_a_ledger_has_one_identity_and_a_task_on_another_ledger_is_refused(
    ledger: Ledger, tmp_path: Path
) -> None:
    identity = ledger.identity()
    assert ledger.identity() == identity
    assert ledger.check_identity(identity) == identity
    other = Ledger.from_sqlite_path(tmp_path / "other.db")
    other.migrate()
    with pytest.raises(LedgerMismatchError, match=identity):
        other.check_identity(identity)


def test_a_wheel_of_the_project_carries_the_ledger_schema(tmp_path: Path) -> None:
    """``pip install .`` must bring the .sql files: built from a copy, so the worktree gets no build/."""
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source / "pyproject.toml")
    shutil.copytree(
        ROOT / "plugins",
        source / "plugins",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "dist"), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    shipped = sorted(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".sql"))
    expected = sorted(
        f"partnership_ads/ledger/sql/{path.name}"
        for path in (ROOT / "plugins" / "partnership_ads" / "ledger" / "sql").glob("*.sql")
    )
    assert expected
    assert shipped == expected
