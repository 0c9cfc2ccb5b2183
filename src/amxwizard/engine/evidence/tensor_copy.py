"""The diagnostic log of steps 1.5/1.6: ``[TENSOR_COPY_DEBUG]`` blocks, what they say, and what they suggest.

A block, as the runbook's debug code prints it (stderr, so it may be interleaved with generated text)::

    [TENSOR_COPY_DEBUG] Copying tensor:
      Name: blk.0.attn_q.weight
      Src buffer: AMX
      Dst buffer: CUDA0
      Size: 4718592 bytes
      Op: MUL_MAT
      ⚠️  WARNING: This appears to be a WEIGHT tensor!
          Weights should not be copied during inference.
      → Using slow fallback path (get_tensor + set_tensor)

Approach A's guard prints ``ERROR: Attempted to copy weight tensor 'NAME' between backends`` before it asserts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ._text import log_lines

MARKER = "[TENSOR_COPY_DEBUG]"

# What the seed's ggml_tensor_is_weight() matches by name (besides the PARAM flag).
FILTER_PATTERNS = (".weight", ".bias", "token_embd", "output.weight")

# GGUF names of parameters that are not per-layer (``blk.N.*``); activations are named like ``Qcur-0``.
_WEIGHT_ROOTS = frozenset(
    {
        "token_embd",
        "token_embd_norm",
        "token_types",
        "pos_embd",
        "output",
        "output_norm",
        "rope_freqs",
        "rope_factors_long",
        "rope_factors_short",
        "per_layer_token_embd",
        "per_layer_model_proj",
        "per_layer_proj_norm",
        "cls",
        "enc",
        "dec",
    }
)
_LAYER_RE = re.compile(r"^blk\.\d+\.")
_SCHED_COPY_RE = re.compile(r"^[A-Za-z0-9_]+#(.+)#\d+$")  # ggml-backend's name for a split input copy
_SUFFIX_RE = re.compile(r"\s*\((?:view|reshaped|permuted|transposed|cont|copy(?: of [^)]*)?)\)\s*$")

_FIELD_RE = re.compile(r"^\s*(Name|Src buffer|Dst buffer|Size|Op):\s?(.*?)\s*$")
_WARNING_RE = re.compile(r"WARNING: This appears to be a WEIGHT tensor")
_TRAILER_RE = re.compile(
    r"Weights should not be copied during inference|Using slow fallback path"
    r"|warning: slow copy from"
)
_BLOCKED_RE = re.compile(r"ERROR: Attempted to copy weight tensor '([^']*)' between backends")
_SIZE_RE = re.compile(r"^(\d+)")
_MAX_FOREIGN_LINES = 3  # lines of other output tolerated inside a block before its Op line


def base_name(name: str) -> str:
    """The tensor's own name without the scheduler's copy prefix or view suffixes."""
    name = name.strip()
    m = _SCHED_COPY_RE.match(name)
    if m:
        name = m.group(1)
    while True:
        stripped = _SUFFIX_RE.sub("", name)
        if stripped == name:
            return name
        name = stripped


def looks_like_weight(name: str) -> bool:
    """True if ``name`` is a model parameter by GGUF naming (``blk.N.*``, ``token_embd``, ``output``, ...)."""
    base = base_name(name)
    return (
        bool(_LAYER_RE.match(base))
        or base.split(".", 1)[0] in _WEIGHT_ROOTS
        or any(p in base for p in (".weight", ".bias"))
    )


def caught_by_filter(name: str, flagged: bool = False) -> bool:
    """True if the seed's ``ggml_tensor_is_weight()`` would catch this tensor.

    ``flagged``: the debug log printed its weight warning, which it does for the PARAM flag too — and the filter
    checks that flag as well.
    """
    return flagged or any(p in name for p in FILTER_PATTERNS)


@dataclass(frozen=True, slots=True)
class TensorCopy:
    """One ``[TENSOR_COPY_DEBUG]`` block; ``line`` is the marker's line (1-based)."""

    line: int
    name: str = ""
    src_buffer: str = ""
    dst_buffer: str = ""
    size: int | None = None
    op: str = ""
    flagged: bool = False
    slow_path: bool = False

    @property
    def is_weight(self) -> bool:
        """The log flagged it, or its name is a model parameter's."""
        return self.flagged or looks_like_weight(self.name)

    @property
    def unknown_weight_name(self) -> bool:
        """A weight the seed's filter would miss (no name pattern of it matches, no warning printed)."""
        return self.is_weight and not caught_by_filter(self.name, self.flagged)

    @property
    def pair(self) -> str:
        """``AMX → CUDA0``."""
        return f"{self.src_buffer or '?'} → {self.dst_buffer or '?'}"

    def describe(self) -> str:
        """``blk.0.attn_q.weight AMX → CUDA0 (MUL_MAT) at line 57``."""
        op = f" ({self.op})" if self.op else ""
        return f"{self.name or '(unnamed)'} {self.pair}{op} at line {self.line}"

    def as_json(self) -> dict[str, Any]:
        """The copy as plain JSON."""
        return {
            "line": self.line,
            "name": self.name,
            "src_buffer": self.src_buffer,
            "dst_buffer": self.dst_buffer,
            "size": self.size,
            "op": self.op,
            "flagged": self.flagged,
            "weight": self.is_weight,
            "unknown_weight_name": self.unknown_weight_name,
        }


@dataclass(frozen=True, slots=True)
class BlockedCopy:
    """Approach A's guard refusing to copy a weight (it asserts right after)."""

    line: int
    name: str


@dataclass(frozen=True, slots=True)
class DiagnosticReport:
    """Every tensor copy a log reports, in order."""

    copies: tuple[TensorCopy, ...] = ()
    blocked: tuple[BlockedCopy, ...] = ()

    @property
    def debug_output(self) -> bool:
        """True if the log has any debug output at all (the debug build was in use)."""
        return bool(self.copies)

    @property
    def weights(self) -> list[TensorCopy]:
        """Copies of weight tensors, in order."""
        return [c for c in self.copies if c.is_weight]

    @property
    def activations(self) -> list[TensorCopy]:
        """Copies of everything else (activations, masks, positions)."""
        return [c for c in self.copies if not c.is_weight]

    @property
    def buffer_pairs(self) -> Counter[str]:
        """``"AMX → CUDA0"`` -> number of copies."""
        return Counter(c.pair for c in self.copies)

    @property
    def ops(self) -> Counter[str]:
        """``Op:`` field -> number of copies."""
        return Counter(c.op or "?" for c in self.copies)

    @property
    def first_weight(self) -> TensorCopy | None:
        """The first weight copy in the log (what the analysis form is pre-filled from)."""
        return next((c for c in self.copies if c.is_weight), None)

    @property
    def unknown_weights(self) -> list[TensorCopy]:
        """Weight copies the seed's ``ggml_tensor_is_weight()`` would not catch."""
        return [c for c in self.copies if c.unknown_weight_name]

    def findings(self) -> list[str]:
        """``weight_copy`` and ``unknown_weight_name`` as they apply."""
        out = []
        if self.weights or self.blocked:
            out.append("weight_copy")
        if self.unknown_weights:
            out.append("unknown_weight_name")
        return out

    def headline(self) -> str:
        """One line for a step summary."""
        if not self.copies:
            if self.blocked:
                return f"the weight filter refused to copy {self.blocked[0].name} (line {self.blocked[0].line})"
            return f"no {MARKER} output (the debug build was not in use, or no tensor was copied)"
        n, weights = len(self.copies), self.weights
        text = f"{n} tensor cop{'y' if n == 1 else 'ies'}"
        if not weights:
            return text + ", none of a weight"
        text += f", {len(weights)} of weights; first: {weights[0].describe()}"
        if self.unknown_weights:
            text += f"; {self.unknown_weights[0].name} is a weight the filter's name patterns miss"
        return text

    def as_evidence(self) -> dict[str, Any]:
        """Plain JSON for a ``step_finished`` event."""
        first = self.first_weight
        return {
            "copies": len(self.copies),
            "weights": len(self.weights),
            "activations": len(self.activations),
            "buffer_pairs": dict(self.buffer_pairs),
            "ops": dict(self.ops),
            "first_weight": first.as_json() if first else None,
            "weight_copies": [c.as_json() for c in self.weights[:20]],
            "unknown_weight_names": sorted({base_name(c.name) for c in self.unknown_weights}),
            "blocked": [{"line": b.line, "name": b.name} for b in self.blocked],
        }


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Pre-filled answers for the analysis form, and why. A person's own answer always replaces these."""

    values: dict[str, str] = field(default_factory=dict)
    approach: str | None = None
    reason: str = ""
    line: int | None = None


class _Block:
    def __init__(self, line: int) -> None:
        self.line = line
        self.fields: dict[str, str] = {}
        self.flagged = False
        self.slow = False
        self.foreign = 0

    def build(self) -> TensorCopy:
        size_match = _SIZE_RE.match(self.fields.get("Size", ""))
        return TensorCopy(
            self.line,
            self.fields.get("Name", ""),
            self.fields.get("Src buffer", ""),
            self.fields.get("Dst buffer", ""),
            int(size_match.group(1)) if size_match else None,
            self.fields.get("Op", ""),
            self.flagged,
            self.slow,
        )


def parse(text: str) -> DiagnosticReport:
    """Every ``[TENSOR_COPY_DEBUG]`` block and every copy Approach A's guard refused, with 1-based lines."""
    copies: list[TensorCopy] = []
    blocked: list[BlockedCopy] = []
    block: _Block | None = None
    for number, line in enumerate(log_lines(text), 1):
        m = _BLOCKED_RE.search(line)
        if m:
            blocked.append(BlockedCopy(number, m.group(1)))
        if MARKER in line:
            if block is not None:
                copies.append(block.build())
            block = _Block(number)
            continue
        if block is None:
            continue
        field_match = _FIELD_RE.match(line)
        if field_match and field_match.group(1) not in block.fields:
            block.fields[field_match.group(1)] = field_match.group(2)
        elif _WARNING_RE.search(line):
            block.flagged = True
        elif _TRAILER_RE.search(line):
            block.slow = block.slow or "slow" in line
        elif not line.strip() and "Op" not in block.fields:
            continue
        elif "Op" not in block.fields and block.foreign < _MAX_FOREIGN_LINES:
            block.foreign += 1
        else:
            copies.append(block.build())
            block = None
    if block is not None:
        copies.append(block.build())
    return DiagnosticReport(tuple(copies), tuple(blocked))


def _root_cause(copy: TensorCopy) -> str:
    op = copy.op or "an operation"
    text = (
        f"The scheduler copies the weight tensor {base_name(copy.name)} from the {copy.src_buffer} buffer to "
        f"{copy.dst_buffer} for {op}: the operation runs on {copy.dst_buffer} while its weight stays in "
        f"{copy.src_buffer}."
    )
    if "AMX" in copy.src_buffer.upper():
        text += (
            " AMX weights are stored in VNNI layout, which cannot be read back directly, so the fallback copy "
            "(get_tensor + set_tensor) asserts."
        )
    return text


def suggest(report: DiagnosticReport) -> Suggestion:
    """Pre-fill values for the analysis form from the first weight copy, with the approach the evidence points to.

    Weights copied like any other tensor -> A (filter weight copies). Approach A's guard already refusing a copy,
    so the operation still sits on a backend without its weight -> B (fix the backend assignment).
    """
    if report.blocked and not report.weights:
        refused = report.blocked[0]
        return Suggestion(
            {
                "tensor": base_name(refused.name),
                "approach": "B",
                "root_cause": (
                    f"Weight copies are filtered now, but an operation that needs {base_name(refused.name)} "
                    "is still scheduled on a backend where that weight does not reside."
                ),
            },
            "B",
            f"The weight filter (Approach A) refused to copy {refused.name} at line {refused.line}: the operation "
            "that uses it is still assigned to a backend without its weights — Approach B fixes that assignment.",
            refused.line,
        )
    first = report.first_weight
    if first is None:
        if report.copies:
            reason = (
                f"{len(report.copies)} tensor copies, none of a weight: nothing here points at a fix. Check that "
                "the run reached prompt processing with the long prompt in hybrid mode."
            )
        else:
            reason = (
                f"No {MARKER} lines in the log: the debug build was not in use (steps 1.2–1.4), or the run "
                "stopped before any tensor was copied."
            )
        return Suggestion({}, None, reason, None)
    weights, activations = report.weights, report.activations
    values = {
        "tensor": base_name(first.name),
        "src_buffer": first.src_buffer,
        "dst_buffer": first.dst_buffer,
        "op": first.op,
        "root_cause": _root_cause(first),
        "approach": "A",
    }
    values = {k: v for k, v in values.items() if v}
    alongside = f", alongside {len(activations)} activation copies" if activations else ""
    reason = (
        f"The weight {first.name} was copied {first.pair}"
        + (f" for {first.op}" if first.op else "")
        + f" at line {first.line} ({len(weights)} weight cop{'y' if len(weights) == 1 else 'ies'}{alongside}): "
        "the scheduler copies weights like any other tensor. Approach A stops weight copies; if it still "
        "crashes after A, Approach B moves the operation to where its weight is."
    )
    unknown = report.unknown_weights
    if unknown:
        reason += (
            f" Note: {base_name(unknown[0].name)} (line {unknown[0].line}) is a weight that none of "
            f"ggml_tensor_is_weight()'s name patterns ({', '.join(FILTER_PATTERNS)}) match — add its pattern."
        )
    return Suggestion(values, "A", reason, first.line)
