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


class Terminal:
    """A real process in a pseudo-terminal of 80x24, read as it draws and driven by key presses."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child
            os.chdir(cwd)
            os.execvpe(argv[0], argv, {**env, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"})
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.pid, self.fd = pid, fd
        self.seen = b""
        self.status: int | None = None

    def read(self, timeout: float = 0.2) -> None:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if ready:
            with contextlib.suppress(OSError):
                self.seen += os.read(self.fd, 65536)

    def wait_for(self, text: bytes, timeout: float = 60, since: int | None = None) -> None:
        """Until ``text`` is drawn after byte ``since`` of the output (default: from now on)."""
        start = len(self.seen) if since is None else since
        deadline = time.monotonic() + timeout
        while text not in self.seen[start:] and time.monotonic() < deadline:
            self.read(0.3)
        assert text in self.seen[start:], self.seen[-3000:]

    def press(self, data: bytes, then: float = 0.3) -> None:
        os.write(self.fd, data)
        end = time.monotonic() + then
        while time.monotonic() < end:
            self.read(0.1)

    def exit_code(self, timeout: float = 30) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.status = status
                break
            self.read(0.2)
        for _ in range(20):  # what it printed on the way out
            before = len(self.seen)
            self.read(0.05)
            if len(self.seen) == before:
                break
        assert self.status is not None and os.WIFEXITED(self.status), self.seen[-2000:]
        return os.WEXITSTATUS(self.status)

    def close(self) -> None:
        if self.status is None:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        os.close(self.fd)


def _left_at(output: bytes) -> str:
    """The line the wizard prints on its way out: where the rehearsal was left."""
    text = output.decode("utf-8", "replace")
    found = re.findall(r"amxwizard: the rehearsal in (\S+) left ([^\r\n;]+)", text)
    assert found, text[-2000:]
    return " ".join(found[-1])


def test_quit_mid_rehearsal_and_the_readme_command_comes_back_to_the_same_sandbox_and_step(tmp_path: Path) -> None:
    """The README's run command, twice: the second time it resumes the rehearsal the first one left."""
    command = _command("run-command")
    assert command.endswith(".venv/bin/amxwizard rehearse")
    exe = shutil.which("amxwizard", path=str(Path(sys.executable).parent)) or "amxwizard"
    env = {k: v for k, v in os.environ.items() if k != "AMXWIZARD_STATE_DIR"}
    env.update(TMPDIR=str(tmp_path), XDG_STATE_HOME=str(tmp_path / "xdg"))
    work = tmp_path / "checkout"
    work.mkdir()

    first = Terminal([exe, "rehearse"], work, env)
    try:
        first.wait_for(b"Setup")
        mark = len(first.seen)
        first.press(b"\x13")  # ctrl+s: accept the values
        first.wait_for(b"Checklist", since=mark)
        first.press(b"n")  # from the checklist to the first step, 1.0
        mark = len(first.seen)
        first.press(b"r")  # run it (it may pass while the key press is still being read)
        first.wait_for(b"1.0 passed", since=mark)
        first.press(b"\x11")  # ctrl+q, mid-rehearsal
        assert first.exit_code() == 0
        left = _left_at(first.seen)
    finally:
        first.close()
    sandboxes = [p for p in tmp_path.iterdir() if p.name.startswith("amxwizard-rehearsal-")]
    assert len(sandboxes) == 1
    assert left == f"{sandboxes[0]} at step 1.1 (1 of 24 steps done)"
    # The plain command finds it again: no other command is printed.
    assert b"come back with" not in first.seen

    again = Terminal([exe, "rehearse"], work, env)
    try:
        again.wait_for(b"resuming the rehearsal")
        again.wait_for(b"1.1  Backup Current State")  # the main screen on the step it was left at (no setup)
        again.press(b"\x11")
        assert again.exit_code() == 0
        assert _left_at(again.seen) == left
        assert b"Setup " not in again.seen
    finally:
        again.close()
    assert [p for p in tmp_path.iterdir() if p.name.startswith("amxwizard-rehearsal-")] == sandboxes
    sessions = list((sandboxes[0] / "state" / "sessions").iterdir())
    assert len(sessions) == 1  # the same session, opened twice


def test_the_tour_shows_every_screenshot_and_only_those() -> None:
    """The README's tour and ``screenshots/`` (regenerated by scripts/screenshots.py) name the same files."""
    shown = set(re.findall(r"\(screenshots/([\w.-]+\.svg)\)", README))
    made = {p.name for p in (ROOT / "screenshots").glob("*.svg")}
    assert shown == made
    made_by_script = set(re.findall(r'"([\w-]+-\d+x\d+)"', (ROOT / "scripts" / "screenshots.py").read_text()))
    assert {f"{name}.svg" for name in made_by_script} == made


def test_the_speed_section_quotes_every_goal_of_the_benchmark_with_a_figure_and_the_machine() -> None:
    from amxwizard import bench

    section = README.split("\n## Speed\n", 1)[1].split("\n## ", 1)[0]
    assert "`python -m amxwizard.bench`" in section
    # The machine the figures came from: its cores, its CPU and its Python.
    assert re.search(r"\d+ cores \([^)]*\bPython\s+3\.\d+", section), "no machine for the figures"
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("|") and not line.startswith("|---")
    ]
    goals = [value for name, value in vars(bench).items() if name.startswith("GOAL_")]
    assert len(goals) == 5
    for goal in goals:
        quoted = [row for row in rows if len(row) == 4 and f"≤ {goal:g}" in row[3]]
        assert quoted, f"the README's speed table has no row for the goal ≤ {goal:g}"
        figure = re.match(r"[\d.]+(?: / ([\d.]+))? (ms|MiB|x)\b", quoted[0][1])
        assert figure, f"no measured figure beside the goal ≤ {goal:g}: {quoted[0]}"
