"""fileio.atomic_write: the helper every edit, backup and document update writes through."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amxwizard.engine.fileio import UnsafePathError, atomic_write


def test_writes_bytes_and_text_exactly(tmp_path: Path) -> None:
    target = tmp_path / "a.cpp"
    atomic_write(target, b"line\r\n\xff\xfe raw bytes\n")
    assert target.read_bytes() == b"line\r\n\xff\xfe raw bytes\n"
    atomic_write(target, "ünïcode\r\nkept as written\n")
    assert target.read_bytes() == "ünïcode\r\nkept as written\n".encode()


def test_keeps_the_mode_of_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "run.sh"
    target.write_text("#!/bin/sh\necho old\n")
    target.chmod(0o750)
    atomic_write(target, "#!/bin/sh\necho new\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o750
    assert target.read_text() == "#!/bin/sh\necho new\n"


def test_new_file_gets_the_umask_mode_not_mkstemp_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "new.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o644


def test_a_file_another_thread_creates_meanwhile_keeps_the_umask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The umask is one per process: if atomic_write changed it even for a moment, a file another thread created in
    # that moment (a run's command.sh, say) would be world-writable.
    real_umask = os.umask
    meanwhile: list[Path] = []

    def umask_while_another_thread_writes(mask: int) -> int:
        previous = real_umask(mask)
        other = tmp_path / f"other-{len(meanwhile)}"
        other.write_text("x")
        meanwhile.append(other)
        return previous

    old = real_umask(0o022)
    try:
        monkeypatch.setattr(os, "umask", umask_while_another_thread_writes)
        atomic_write(tmp_path / "new.txt", "x")
        monkeypatch.setattr(os, "umask", real_umask)
    finally:
        real_umask(old)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o644
    assert [oct(stat.S_IMODE(p.stat().st_mode)) for p in meanwhile if p.stat().st_mode & 0o022] == []


def test_leaves_no_temp_files_behind(tmp_path: Path) -> None:
    for i in range(5):
        atomic_write(tmp_path / "f.txt", f"version {i}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_refuses_a_symlink_naming_it_and_its_target(tmp_path: Path) -> None:
    # Until issue 17 a link was followed and its target replaced: another user could plant one and have the
    # wizard overwrite a file of their choosing. Now the link is refused and neither it nor its target changes.
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    with pytest.raises(UnsafePathError) as refused:
        atomic_write(link, "new")
    assert str(refused.value) == (
        f"{link}: is a symlink to {real}; the wizard does not read or write through links (remove the link)"
    )
    assert link.is_symlink()
    assert real.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.txt", "real.txt"]


def test_a_failed_replace_leaves_the_target_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "folder"
    target.mkdir()
    (target / "inside.txt").write_text("untouched")
    with pytest.raises(OSError):
        atomic_write(target, "cannot replace a folder with a file")
    assert (target / "inside.txt").read_text() == "untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]


_WRITER = """
import sys
from amxwizard.engine.fileio import atomic_write
target = sys.argv[1]
a = b"A" * 2_000_000
b = b"B" * 3_000_000
print("ready", flush=True)
while True:
    atomic_write(target, a)
    atomic_write(target, b)
"""


def test_kill_9_mid_write_never_leaves_a_torn_file(tmp_path: Path) -> None:
    """A writer killed with SIGKILL at random moments: the file is always one whole version."""
    target = tmp_path / "state.bin"
    target.write_bytes(b"A" * 2_000_000)
    rng = random.Random(1234)
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.01, 0.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        data = target.read_bytes()
        assert data in (b"A" * 2_000_000, b"B" * 3_000_000), f"torn file of {len(data)} bytes"
