"""The validated-runbook cache: a hit gives the model validation gives; a changed file is validated again (and its
problems are raised as ever); an entry anyone else could have written is ignored."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from amxwizard.runbook import RunbookError, load_runbook
from amxwizard.runbook.cache import entry_path, load_cached

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    path = tmp_path / "runbook.yaml"
    shutil.copyfile(ROOT / "runbook.yaml", path)
    return path


def test_a_hit_gives_what_validation_gives(copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    fresh = load_runbook(copy)
    first = load_cached(copy, folder=cache)  # a miss: validated, then stored
    entry = entry_path(fresh.sha256, cache)
    assert entry.is_file() and (entry.stat().st_mode & 0o777) == 0o600
    hit = load_cached(copy, folder=cache)
    for loaded in (first, hit):
        assert loaded.model == fresh.model
        assert (loaded.path, loaded.display, loaded.sha256, loaded.text) == (
            fresh.path,
            fresh.display,
            fresh.sha256,
            fresh.text,
        )


def test_a_changed_runbook_is_validated_again(copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    before = load_cached(copy, folder=cache)
    text = copy.read_text()
    copy.write_text(text.replace(f"title: {before.model.title}", "title: A changed title", 1))
    after = load_cached(copy, folder=cache)
    assert after.model.title == "A changed title" and after.sha256 != before.sha256

    copy.write_text(text.replace("schema_version: 1", "schema_version: 1\nunknown_key: 1", 1))
    with pytest.raises(RunbookError) as caught:
        load_cached(copy, folder=cache)
    assert any("unknown_key" in str(problem) for problem in caught.value.problems)


def test_an_entry_others_could_write_is_ignored(copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    real = load_cached(copy, folder=cache)
    entry = entry_path(real.sha256, cache)
    # Plant another runbook's model under this file's name, writable by the group: it must not be believed.
    other = tmp_path / "other.yaml"
    other.write_text(copy.read_text().replace(f"title: {real.model.title}", "title: Planted", 1))
    load_cached(other, folder=cache)
    shutil.copyfile(entry_path(load_runbook(other).sha256, cache), entry)
    os.chmod(entry, 0o664)
    assert load_cached(copy, folder=cache).model.title == real.model.title
    # ...and the file was validated again and its own entry written back, private.
    assert (entry.stat().st_mode & 0o777) == 0o600
    assert load_cached(copy, folder=cache).model.title == real.model.title


def test_a_damaged_entry_is_validated_again(copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    real = load_cached(copy, folder=cache)
    entry_path(real.sha256, cache).write_bytes(b"not a pickle")
    assert load_cached(copy, folder=cache).model == real.model
