"""The validated-runbook cache: a hit gives the model validation gives; a changed file is validated again (and its
problems are raised as ever); an entry anyone else could have written is ignored."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from amxwizard.runbook import RunbookError, load_runbook
from amxwizard.runbook.cache import Outline, entry_path, load_cached, outline_path, read_outline

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


def test_the_outline_beside_an_entry_names_what_the_model_names(copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert read_outline(copy, folder=cache) is None  # never validated: the first frame waits for the session
    loaded = load_cached(copy, folder=cache)
    outline = read_outline(copy, folder=cache)
    assert outline == Outline.of(loaded.model)
    assert outline is not None and outline.title == loaded.model.title
    assert [s.id for p in outline.phases for s in p.steps] == [s.id for _, s in loaded.model.iter_steps()]
    assert [s.title for p in outline.phases for s in p.steps] == [s.title for _, s in loaded.model.iter_steps()]
    assert outline.checklist == tuple(item.id for item in loaded.model.checklist)
    assert (outline_path(loaded.sha256, cache).stat().st_mode & 0o777) == 0o600
    # A changed file has no outline until it is validated.
    copy.write_text(copy.read_text().replace(f"title: {loaded.model.title}", "title: Changed", 1))
    assert read_outline(copy, folder=cache) is None
    load_cached(copy, folder=cache)
    changed = read_outline(copy, folder=cache)
    assert changed is not None and changed.title == "Changed"


def test_an_entry_without_an_outline_gets_one_when_it_is_next_read(copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    loaded = load_cached(copy, folder=cache)
    outline_path(loaded.sha256, cache).unlink()  # as an entry written before outlines were
    assert read_outline(copy, folder=cache) is None
    load_cached(copy, folder=cache)
    assert read_outline(copy, folder=cache) == Outline.of(loaded.model)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong shape", "others may write"])
def test_a_damaged_or_foreign_outline_is_not_believed(copy: Path, tmp_path: Path, damage: str) -> None:
    cache = tmp_path / "cache"
    loaded = load_cached(copy, folder=cache)
    path = outline_path(loaded.sha256, cache)
    if damage == "garbage":
        path.write_bytes(b"\xff\xfe not json")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:40])
    elif damage == "wrong shape":
        path.write_text('{"title": "Planted", "phases": 3}')
    else:
        path.write_text(Outline("Planted", (), ()).to_json())
        os.chmod(path, 0o666)
    assert read_outline(copy, folder=cache) is None
