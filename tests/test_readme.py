"""The README's two commands stay true: CI runs the test command; the run command opens the wizard in a terminal."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _command(marker: str) -> str:
    match = re.search(rf"<!-- {marker} -->\n```bash\n(.+)\n```", README)
    assert match, f"README.md has no {marker}"
    return match.group(1)


def test_ci_runs_the_readme_test_command() -> None:
    command = _command("test-command")
    assert "pytest" in command and "pip install" in command and "[test]" in command
    ci = subprocess.run(
        ["bash", "-c", f"source <(sed -n '/^test_command=/p' {ROOT / '.ci/run'}); printf %s \"$test_command\""],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert ci.stdout == command


def test_the_run_command_opens_the_wizard_in_a_terminal_and_quits(tmp_path: Path) -> None:
    command = _command("run-command")
    assert command.endswith("amxwizard rehearse") and "pip install" in command
    exe = shutil.which("amxwizard", path=str(Path(sys.executable).parent)) or "amxwizard"
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of 80x24, as in a tmux pane
        os.chdir(tmp_path)
        os.execvpe(
            exe,
            [exe, "rehearse", str(tmp_path / "rehearsal")],
            {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"},
        )
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while b"Setup" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(fd, 65536)
                except OSError:
                    break
        assert b"Setup" in seen, seen[-2000:]
        os.write(fd, b"\x11")  # ctrl+q
        end = time.monotonic() + 20
        status = None
        while time.monotonic() < end:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                with contextlib.suppress(OSError):
                    os.read(fd, 65536)
        assert status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
    assert (tmp_path / "rehearsal" / "repo" / ".git").is_dir()
