"""Plain-text pieces shared by the Markdown and HTML records: times, durations, evidence, one-line summaries."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from .model import Record, ResultView, RunView

NONE = "—"

# Evidence keys the evidence engine writes, with how the record names them.
TEST_KEYS = {
    "tokens_generated": "tokens generated",
    "tokens_expected": "tokens expected",
    "crashed": "crashed",
    "eval_tps": "eval t/s",
}
BENCH_KEYS = {"test": "test", "avg_ts": "t/s", "stddev_ts": "± t/s", "baseline": "baseline t/s", "level": "verdict"}


def when(ts: str) -> str:
    """An event timestamp as ``2025-10-06 14:45:03Z`` (UTC, to the second)."""
    if not ts:
        return NONE
    try:
        moment = datetime.fromisoformat(ts)
    except ValueError:
        return ts
    return moment.strftime("%Y-%m-%d %H:%M:%S") + ("Z" if moment.utcoffset() is not None else "")


def seconds(value: float | None) -> str:
    """A duration a person reads at a glance: ``0.42 s``, ``12.3 s``, ``4 min 05 s``, ``1 h 02 min``."""
    if value is None:
        return NONE
    if value < 10:
        return f"{value:.2f} s"
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def short(sha: str, n: int = 12) -> str:
    """The first ``n`` hex digits of a hash, or a dash."""
    return sha[:n] if sha else NONE


def exit_codes(codes: Iterable[int | None]) -> str:
    """Exit codes as ``0, 1`` (a dash for none or unknown)."""
    shown = [NONE if c is None else str(c) for c in codes]
    return ", ".join(shown) if shown else NONE


def run_outcome(run: RunView) -> str:
    """``exit 0``, ``exit 1``, ``killed by signal 9``, ``timeout``, ``still running`` ..."""
    if not run.finished:
        return "still running (or the wizard stopped before it ended)"
    parts = []
    if run.exit_code is not None:
        parts.append(f"exit {run.exit_code}")
    if run.signal:
        parts.append(f"signal {run.signal}")
    if run.outcome and run.outcome not in ("ok", "failed"):
        parts.append(run.outcome)
    return ", ".join(parts) or run.outcome or "finished"


def value_text(value: Any) -> str:
    """Evidence values as text: numbers as written, booleans as yes/no, lists and mappings as compact JSON."""
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}" if abs(value) >= 1e-3 or value == 0 else repr(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def other_evidence(evidence: Mapping[str, Any], known: Mapping[str, str]) -> list[tuple[str, str]]:
    """Evidence entries not shown in their own column, as ``(key, text)``."""
    return [(key, value_text(value)) for key, value in evidence.items() if key not in known]


def tokens(result: ResultView) -> str:
    """``generated / expected`` tokens of a test, from its evidence."""
    ev = result.evidence
    got, want = ev.get("tokens_generated"), ev.get("tokens_expected")
    if got is None and want is None:
        return NONE
    return f"{value_text(got)} / {value_text(want)}"


def speed(result: ResultView) -> str:
    """``avg ± stddev`` t/s of a benchmark, from its evidence."""
    ev = result.evidence
    if ev.get("avg_ts") is None:
        return NONE
    text = value_text(ev["avg_ts"])
    if ev.get("stddev_ts") is not None:
        text += f" ± {value_text(ev['stddev_ts'])}"
    return text


def baseline(result: ResultView) -> str:
    """The baseline a benchmark was judged against: its evidence's, else the runbook's."""
    ev = result.evidence
    if ev.get("baseline") is not None:
        return value_text(ev["baseline"])
    return result.baseline or NONE


def state_sentence(record: Record) -> str:
    """The line at the top of every record: COMPLETE, or INCOMPLETE and exactly what is missing; then the counts."""
    st = record.status
    text = f"{st.label} — {st.counts} steps"
    if st.next_step and not st.complete:
        step = record.step(st.next_step)
        text += f"; next: {st.next_step}" + (f" ({step.title})" if step else "")
    if st.failed:
        text += f"; failed: {', '.join(st.failed)}"
    if st.interrupted:
        text += f"; interrupted: {', '.join(st.interrupted)}"
    if st.running:
        text += f"; running: {', '.join(st.running)}"
    if st.criteria_total:
        text += f"; success criteria met: {st.criteria_met} of {st.criteria_total}"
    if st.checklist_total:
        text += f"; checklist {st.checklist_confirmed}/{st.checklist_total}"
    text += "; session closed" if st.session_closed else ""
    text += f"; signed off by {', '.join(s.reviewer for s in record.signoffs)}" if record.signoffs else ""
    return text + "."


def signature_sentence(record: Record) -> str:
    """Whether the record is signed, and what that does and does not prove."""
    if not record.signatures:
        return (
            "the hash chain shows the events agree with each other, not who wrote them — anyone who can edit this "
            "file can change an event and recompute every hash after it"
        )
    keys = ", ".join(dict.fromkeys(f"{s.role} key {s.key or '?'}" for s in record.signatures))
    last = max(s.seq for s in record.signatures)
    return f"events 1–{last} signed by {keys}; verify with --allowed-signers FILE to know whose keys they are"


def _get(d: Any, key: str) -> Any:
    return d.get(key) if isinstance(d, Mapping) else None


def _size(value: Any) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        return "size ?"
    return f"{value / 2**30:.1f} GiB" if value >= 2**30 else f"{value:,} bytes"


def model_sha256(model: Any, model_hashes: Iterable[Mapping[str, Any]]) -> tuple[str, str]:
    """A fingerprint's model sha256, else the one a model_hashed event gives for the same path, size and mtime:
    ``(sha256, where)`` with ``where`` "" (in the fingerprint), "event N", or "" with no sha256 at all."""
    sha = _get(model, "sha256")
    if isinstance(sha, str) and sha:
        return sha, ""
    for h in model_hashes:
        same = all(h.get(k) == _get(model, k) for k in ("path", "size", "mtime"))
        if same and isinstance(h.get("sha256"), str) and h.get("sha256"):
            return str(h["sha256"]), f"event {h.get('seq')}"
    return "", ""


def fingerprint_cells(fp: Mapping[str, Any] | None, model_hashes: Iterable[Mapping[str, Any]] = ()) -> list[str]:
    """A run's fingerprint as five short texts: binary, model, build, git, machine (dashes where absent)."""
    if not fp:
        return [NONE] * 5
    binary = _get(fp, "binary")
    bin_sha = _get(binary, "sha256")
    bin_text = f"{str(_get(binary, 'path') or '?').rsplit('/', 1)[-1]} sha256 {short(str(bin_sha or ''))}"
    model = _get(fp, "model")
    sha, where = model_sha256(model, model_hashes)
    model_text = f"{str(_get(model, 'path') or '?').rsplit('/', 1)[-1]}, {_size(_get(model, 'size'))}, " + (
        f"sha256 {short(sha)}" + (f" ({where})" if where else "") if sha else "sha256 not computed yet"
    )
    build = _get(fp, "build")
    if isinstance(build, Mapping):
        build_text = " ".join(f"{k}={v}" for k, v in sorted(build.items())) or "unconfigured"
    else:
        build_text = str(build or NONE)
    git = _get(fp, "git")
    dirty = _get(git, "dirty_sha256")
    git_text = f"HEAD {short(str(_get(git, 'head') or ''))}" + (
        f" + uncommitted changes (diff sha256 {short(str(dirty))})" if dirty else ", clean"
    )
    machine = _get(fp, "machine")
    amx = _get(machine, "amx_flags")
    gpus = _get(machine, "gpus")
    gpu_text = "; ".join(
        f"{_get(g, 'name') or '?'} (driver {_get(g, 'driver') or '?'})"
        for g in (gpus if isinstance(gpus, list) else [])
    )
    machine_text = ", ".join(
        part
        for part in (
            str(_get(machine, "cpu_model") or ""),
            ("AMX: " + " ".join(str(a) for a in amx)) if isinstance(amx, list) and amx else "no AMX flags",
            f"NUMA nodes: {_get(machine, 'numa_nodes')}" if _get(machine, "numa_nodes") is not None else "",
            gpu_text or "no GPU",
        )
        if part
    )
    return [
        bin_text if binary else NONE,
        model_text if model else NONE,
        build_text,
        git_text if git else NONE,
        machine_text if machine else NONE,
    ]


def event_summary(ev: Mapping[str, Any]) -> str:
    """One line of what an event says, for the event table."""
    d = ev.get("data") or {}
    kind = ev.get("kind")
    pick = {
        "session_created": ("session_id", "runbook_title"),
        "variables_set": ("values",),
        "checklist_ticked": ("item", "checked"),
        "step_started": ("step",),
        "command_started": ("step", "run_id"),
        "command_finished": ("run_id", "outcome", "exit_code"),
        "step_finished": ("step", "status"),
        "step_skipped": ("step", "reason"),
        "field_answered": ("field", "value"),
        "approach_chosen": ("approach", "reason"),
        "criterion_ticked": ("criterion", "ticked"),
        "backup_made": ("dir",),
        "file_edited": ("path", "how"),
        "commit_made": ("sha", "subject"),
        "document_updated": ("path", "section"),
        "session_finished": ("last_hash",),
        "note": ("text",),
        "reviewer_signoff": ("reviewer", "note"),
    }.get(str(kind), ())
    parts = [f"{key}={value_text(d[key])}" for key in pick if key in d]
    text = " ".join(parts)
    return text if len(text) <= 100 else text[:99] + "…"
