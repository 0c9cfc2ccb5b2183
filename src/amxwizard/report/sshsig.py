"""SSH signatures over a record's chain head, made and checked with ``ssh-keygen -Y`` (OpenSSH 8.2 and later).

The convention is git's for SSH-signed commits: ``ssh-keygen -Y sign -n NAMESPACE -f KEY`` signs a message, and
``ssh-keygen -Y verify`` checks it against an allowed-signers file (git's ``gpg.ssh.allowedSignersFile`` format,
``PRINCIPAL [namespaces="amxwizard-record"] KEYTYPE KEY``), which names whose key it is. Without that file, only
``-Y check-novalidate`` can be asked: the signature is sound, by the key it carries — but a key is no one in
particular, and a forger can sign with their own.

The key to sign with is ``--sign-key``, else git's ``user.signingkey`` when ``gpg.format`` is ``ssh`` (a key file,
a public key whose private half is in ssh-agent, or a ``key::`` literal).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

NAMESPACE = "amxwizard-record"
_KEY_RE = re.compile(r"with (\S+) key (SHA256:\S+)")
_CHECK_TIMEOUT = 30.0
_SIGN_TIMEOUT = 300.0  # ssh-keygen may ask for the key's passphrase on the terminal


class SigningError(Exception):
    """A signature cannot be made or checked at all (no ssh-keygen, an unreadable key); one line for the person."""


@dataclass(frozen=True, slots=True)
class Signed:
    """A signature made now: the armored text and the signer's key fingerprint (``ED25519 SHA256:…``)."""

    signature: str
    key: str


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """What ssh-keygen says about one signature over one message.

    ``valid``: the signature is sound over the message, by ``key``. ``principal``: who the allowed-signers file
    says holds that key ("" when no file was given, or the key is not in it). ``problem``: why it failed, if it did.
    """

    valid: bool
    key: str
    principal: str
    problem: str

    @property
    def trusted(self) -> bool:
        """Sound, and by a key the allowed-signers file names."""
        return self.valid and bool(self.principal)


def _ssh_keygen() -> str:
    exe = shutil.which("ssh-keygen")
    if exe is None:
        raise SigningError("ssh-keygen is not installed (OpenSSH 8.2 or later signs and checks records)")
    return exe


def _run(args: list[str], message: bytes, timeout: float) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(args, input=message, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise SigningError(f"ssh-keygen did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise SigningError(f"ssh-keygen could not be run: {exc.strerror or exc}") from None


def _first_line(raw: bytes) -> str:
    lines = [line.strip() for line in raw.decode("utf-8", "replace").splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("Signing data on standard input")]
    return lines[0] if lines else "no output"


def configured_key(cwd: Path | None = None) -> str | None:
    """git's ``user.signingkey`` when ``gpg.format`` is ``ssh`` (read as git reads it from ``cwd``), else ``None``."""
    git = shutil.which("git")
    if git is None:
        return None

    def get(name: str) -> str:
        where = ["-C", str(cwd)] if cwd is not None and cwd.is_dir() else []
        try:
            done = subprocess.run(
                [git, *where, "config", "--get", name], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    if get("gpg.format").lower() != "ssh":
        return None
    return get("user.signingkey") or None


def sign(message: str, key: str) -> Signed:
    """Sign ``message`` with ``key`` (a key file path, a public key with its private half in ssh-agent, or git's
    ``key::ssh-ed25519 AAAA…`` literal). Raises :class:`SigningError` with ssh-keygen's own words."""
    exe = _ssh_keygen()
    with tempfile.TemporaryDirectory(prefix="amxwizard-sign-") as tmp:
        if key.startswith("key::"):
            key_file = Path(tmp) / "key.pub"
            key_file.write_text(key.removeprefix("key::").strip() + "\n", encoding="utf-8")
        else:
            key_file = Path(key).expanduser()
            if not key_file.exists():
                raise SigningError(f"signing key {key}: no such file")
        done = _run([exe, "-Y", "sign", "-n", NAMESPACE, "-f", str(key_file)], message.encode("utf-8"), _SIGN_TIMEOUT)
    signature = done.stdout.decode("ascii", "replace")
    if done.returncode != 0 or "BEGIN SSH SIGNATURE" not in signature:
        raise SigningError(f"ssh-keygen could not sign with {key}: {_first_line(done.stderr or done.stdout)}")
    checked = check(message, signature)
    if not checked.valid:
        raise SigningError(f"the signature just made with {key} does not check: {checked.problem}")
    return Signed(signature.strip() + "\n", checked.key)


def check(message: str, signature: str, allowed_signers: Path | None = None) -> SignatureCheck:
    """Check ``signature`` over ``message``; with ``allowed_signers``, also whose key it is.

    Never raises for a bad signature (that is a result); :class:`SigningError` only when ssh-keygen cannot run.
    """
    exe = _ssh_keygen()
    data = message.encode("utf-8")
    if "BEGIN SSH SIGNATURE" not in signature:
        return SignatureCheck(False, "", "", "not an SSH signature")
    with tempfile.TemporaryDirectory(prefix="amxwizard-check-") as tmp:
        sig_file = Path(tmp) / "record.sig"
        sig_file.write_text(signature, encoding="ascii", errors="replace")
        done = _run([exe, "-Y", "check-novalidate", "-n", NAMESPACE, "-s", str(sig_file)], data, _CHECK_TIMEOUT)
        found = _KEY_RE.search(done.stdout.decode("utf-8", "replace"))
        key = f"{found.group(1)} {found.group(2)}" if found else ""
        if done.returncode != 0:
            return SignatureCheck(False, key, "", f"ssh-keygen: {_first_line(done.stderr or done.stdout)}")
        if allowed_signers is None:
            return SignatureCheck(True, key, "", "")
        look = _run(
            [exe, "-Y", "find-principals", "-s", str(sig_file), "-f", str(allowed_signers), "-n", NAMESPACE],
            b"",
            _CHECK_TIMEOUT,
        )
        principals = [p for p in look.stdout.decode("utf-8", "replace").splitlines() if p.strip()]
        if look.returncode != 0 or not principals:
            return SignatureCheck(True, key, "", f"key {key or '?'} is not in {allowed_signers}")
        principal = principals[0].strip()
        verified = _run(
            [exe, "-Y", "verify", "-f", str(allowed_signers), "-I", principal, "-n", NAMESPACE, "-s", str(sig_file)],
            data,
            _CHECK_TIMEOUT,
        )
        if verified.returncode != 0:
            problem = _first_line(verified.stderr or verified.stdout)
            return SignatureCheck(True, key, "", f"{allowed_signers} does not allow it for {principal}: {problem}")
        return SignatureCheck(True, key, principal, "")


__all__ = ["NAMESPACE", "SignatureCheck", "Signed", "SigningError", "check", "configured_key", "sign"]
