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

Approach A's guard prints ``ERROR: Attempted to copy weight tensor 'NAME' between backends`` before it asserts. A
one-line variant (a diagnostic in the slow copy path, as on mainline llama.cpp) is read as well::

    [TENSOR_COPY_DEBUG] slow fallback copy: blk.0.attn_q.weight (q4_0, 589824 bytes) AMX -> CUDA0

What the copies mean depends on where they come from. For a prompt batch of 32 tokens or more the scheduler moves
the CPU layers' work to the GPU (op offload) and copies their weights there: out of a host buffer (``CPU``,
``CPU_Mapped``, ``CUDA_Host``) that is the design, and it is what makes long prompts fast. Out of a buffer the CPU
cannot read back (``AMX``, a repacked buffer) the copy fails: that is the runbook's crash. ``Op:`` in this logging is
the copied tensor's own op — a weight is no op's result, so it is always ``NONE`` — not the op that consumes it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ._text import log_lines
from .backends import BackendUse, is_host_buffer

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
_ONE_LINE_RE = re.compile(
    r"\[TENSOR_COPY_DEBUG\] (?P<what>[^:]*copy[^:]*): (?P<name>\S+) \((?:(?P<type>\w+), )?(?P<size>\d+) bytes\) "
    r"(?P<src>\S+) -> (?P<dst>\S+)"
)
_LAYER_INDEX_RE = re.compile(r"^blk\.(\d+)\.")
OFFLOAD_MIN_BATCH = 32  # the CUDA backend takes over a CPU layer's op from this batch size on (op offload)
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
    def from_host(self) -> bool | None:
        """True if the source buffer is host memory the CPU reads as is; ``None`` when the log names none."""
        return is_host_buffer(self.src_buffer) if self.src_buffer and self.src_buffer != "NULL" else None

    @property
    def is_offload(self) -> bool:
        """A weight copied out of a host buffer: the scheduler's op offload working as designed."""
        return self.is_weight and self.from_host is True

    @property
    def is_bug(self) -> bool:
        """A weight copied out of a buffer that cannot be read back (AMX, repacked...): the runbook's crash."""
        return self.is_weight and self.from_host is False

    @property
    def layer(self) -> int | None:
        """``3`` for ``blk.3.ffn_up.weight``; ``None`` for tensors outside the repeating layers."""
        m = _LAYER_INDEX_RE.match(base_name(self.name))
        return int(m.group(1)) if m else None

    @property
    def unknown_weight_name(self) -> bool:
        """A weight the seed's filter would miss (no name pattern of it matches, no warning printed)."""
        return self.is_weight and not caught_by_filter(self.name, self.flagged)

    @property
    def pair(self) -> str:
        """``AMX → CUDA0``."""
        return f"{self.src_buffer or '?'} → {self.dst_buffer or '?'}"

    def describe(self) -> str:
        """``blk.0.attn_q.weight AMX → CUDA0 at line 57`` (the op only when it is not the weight's own ``NONE``)."""
        op = f" ({self.op})" if self.op and not (self.is_weight and self.op == "NONE") else ""
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
            "from_host": self.from_host,
            "unknown_weight_name": self.unknown_weight_name,
        }


@dataclass(frozen=True, slots=True)
class BlockedCopy:
    """Approach A's guard refusing to copy a weight (it asserts right after)."""

    line: int
    name: str


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _pairs_text(copies: list[TensorCopy]) -> str:
    return ", ".join(f"{pair} ×{n}" for pair, n in Counter(c.pair for c in copies).most_common())


def _layers_text(layers: list[int]) -> str:
    """``0–8`` for a run of layers, ``0, 2, 5`` otherwise."""
    if not layers:
        return ""
    if layers == list(range(layers[0], layers[-1] + 1)) and len(layers) > 2:
        return f"{layers[0]}–{layers[-1]}"
    return ", ".join(str(n) for n in layers)


def prompt_batches(prompt_tokens: int, n_ubatch: int) -> tuple[int, int]:
    """``(micro-batches, those of OFFLOAD_MIN_BATCH tokens or more)`` a prompt of ``prompt_tokens`` runs in."""
    if prompt_tokens <= 0 or n_ubatch <= 0:
        return 0, 0
    full, rest = divmod(prompt_tokens, n_ubatch)
    batches = full + (1 if rest else 0)
    big = (full if n_ubatch >= OFFLOAD_MIN_BATCH else 0) + (1 if rest >= OFFLOAD_MIN_BATCH else 0)
    return batches, big


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
    def offloaded_weights(self) -> list[TensorCopy]:
        """Weight copies out of host buffers: the scheduler's designed op offload (reported, not a failure)."""
        return [c for c in self.copies if c.is_offload]

    @property
    def bug_weights(self) -> list[TensorCopy]:
        """Weight copies out of buffers that cannot be read back (AMX...): the bug; zero after a fix."""
        return [c for c in self.copies if c.is_bug]

    @property
    def unplaced_weights(self) -> list[TensorCopy]:
        """Weight copies whose source buffer the log does not name."""
        return [c for c in self.copies if c.is_weight and c.from_host is None]

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
        """The weight copy the analysis form is pre-filled from: the first out of a non-host buffer, else the first."""
        bug = self.bug_weights
        return bug[0] if bug else next((c for c in self.copies if c.is_weight), None)

    @property
    def unknown_weights(self) -> list[TensorCopy]:
        """Weight copies out of non-host buffers that the seed's ``ggml_tensor_is_weight()`` would not catch."""
        return [c for c in self.copies if c.unknown_weight_name and c.from_host is not True]

    def copies_per_weight(self, copies: list[TensorCopy] | None = None) -> int:
        """How many times the most-copied weight was copied (one per graph pass that moved it)."""
        counts = Counter(base_name(c.name) for c in (self.weights if copies is None else copies))
        return max(counts.values()) if counts else 0

    def findings(self) -> list[str]:
        """``weight_copy`` (out of a non-host buffer, or refused by approach A's guard), ``weight_offload`` (out of
        host buffers only) and ``unknown_weight_name``, as they apply."""
        out = []
        if self.bug_weights or self.unplaced_weights or self.blocked:
            out.append("weight_copy")
        elif self.offloaded_weights:
            out.append("weight_offload")
        if self.unknown_weights:
            out.append("unknown_weight_name")
        return out

    def headline(self) -> str:
        """One line for a step summary: what was copied, out of which buffers, and what that means."""
        if not self.copies:
            if self.blocked:
                return f"the weight filter refused to copy {self.blocked[0].name} (line {self.blocked[0].line})"
            return f"no {MARKER} output (the debug build was not in use, or no tensor was copied)"
        text = _count(len(self.copies), "tensor copy", "tensor copies")
        weights = self.weights
        if not weights:
            return text + ", none of a weight"
        text += f", {len(weights)} of weights"
        bug, offload = self.bug_weights, self.offloaded_weights
        if bug:
            text += (
                f"; {_count(len(bug), 'weight copy', 'weight copies')} out of a non-host buffer (the bug: "
                f"{_pairs_text(bug)}); first: {bug[0].describe()}"
            )
        if offload:
            text += (
                f"; {_count(len(offload), 'weight copy', 'weight copies')} out of host buffers "
                f"({_pairs_text(offload)}: the scheduler's designed op offload)"
            )
        if self.unplaced_weights:
            text += f"; {len(self.unplaced_weights)} with no source buffer named"
        if self.unknown_weights:
            text += f"; {self.unknown_weights[0].name} is a weight the filter's name patterns miss"
        return text

    def as_evidence(self) -> dict[str, Any]:
        """Plain JSON for a ``step_finished`` event."""
        first = self.first_weight
        bug, offload = self.bug_weights, self.offloaded_weights
        return {
            "copies": len(self.copies),
            "weights": len(self.weights),
            "weights_from_nonhost": len(bug),
            "weights_from_host": len(offload),
            "weights_unplaced": len(self.unplaced_weights),
            "activations": len(self.activations),
            "buffer_pairs": dict(self.buffer_pairs),
            "weight_pairs": dict(Counter(c.pair for c in self.weights)),
            "weight_layers": sorted({c.layer for c in self.weights if c.layer is not None}),
            "ops": dict(self.ops),
            "weight_ops": dict(Counter(c.op or "?" for c in self.weights)),
            "first_weight": first.as_json() if first else None,
            "weight_copies": [c.as_json() for c in (bug or self.weights)[:20]],
            "unknown_weight_names": sorted({base_name(c.name) for c in self.unknown_weights}),
            "blocked": [{"line": b.line, "name": b.name} for b in self.blocked],
        }


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The diagnostic log read against what the run used: which copies, which layers, when, and what it means."""

    report: DiagnosticReport
    cpu_layers: range | None = None
    offloaded: tuple[int, int] | None = None
    prompt_tokens: int | None = None
    n_ubatch: int | None = None

    @property
    def weight_layers(self) -> list[int]:
        return sorted({c.layer for c in self.report.weights if c.layer is not None})

    @property
    def cpu_layers_only(self) -> bool | None:
        """True if every copied layer's weight belongs to a layer left on the CPU (``None``: cannot tell)."""
        layers = self.weight_layers
        if self.cpu_layers is None or not layers:
            return None
        return all(n in self.cpu_layers for n in layers)

    @property
    def batches(self) -> tuple[int, int] | None:
        """``(prompt micro-batches, of them ≥ 32 tokens)``, when the log gives the prompt size and ``n_ubatch``."""
        if self.prompt_tokens is None or self.n_ubatch is None:
            return None
        return prompt_batches(self.prompt_tokens, self.n_ubatch)

    @property
    def during_prompt(self) -> bool | None:
        """True if each weight was copied once per prompt micro-batch of ≥ 32 tokens and never more (so not while
        generating one token at a time); ``None`` when the log does not give what that needs."""
        batches = self.batches
        per_weight = self.report.copies_per_weight()
        if batches is None or not per_weight:
            return None
        return per_weight <= batches[1]

    def lines(self) -> list[str]:
        """The reading, one fact per line, for the analysis screen and the step's evidence."""
        report = self.report
        out: list[str] = []
        if not report.copies:
            return [report.headline()]
        weights = report.weights
        out.append(
            f"{_count(len(report.copies), 'tensor copy', 'tensor copies')} logged; {len(weights)} of weights, "
            f"{len(report.activations)} of activations"
        )
        if not weights:
            return out
        bug, offload = report.bug_weights, report.offloaded_weights
        out.append(
            f"out of non-host buffers (cannot be read back — the bug): {len(bug)}"
            + (f" ({_pairs_text(bug)})" if bug else "")
        )
        out.append(
            f"out of host buffers (the scheduler's designed op offload): {len(offload)}"
            + (f" ({_pairs_text(offload)})" if offload else "")
        )
        layers = self.weight_layers
        if layers:
            text = f"weights of layer{'s' if len(layers) > 1 else ''} {_layers_text(layers)}"
            if self.cpu_layers is not None and self.offloaded is not None:
                cpu = list(self.cpu_layers)
                k, n = self.offloaded
                where = f"layers {_layers_text(cpu)} stay on the CPU ({k}/{n} offloaded)" if cpu else "none on CPU"
                verdict = (
                    "all of them CPU layers"
                    if self.cpu_layers_only
                    else "not only CPU layers"
                    if self.cpu_layers_only is False
                    else ""
                )
                text += f": {verdict}; {where}" if verdict else f"; {where}"
            out.append(text)
        per_weight = report.copies_per_weight()
        batches = self.batches
        if per_weight and batches is not None:
            total, big = batches
            when = (
                "while processing the prompt, not while generating"
                if self.during_prompt
                else "more often than the prompt's large batches explain"
            )
            out.append(
                f"each weight copied up to {per_weight}×; the {self.prompt_tokens}-token prompt ran in "
                f"{_count(total, 'micro-batch', 'micro-batches')} of up to {self.n_ubatch} tokens, {big} of them "
                f"≥ {OFFLOAD_MIN_BATCH} tokens (the op-offload threshold): copied {when}"
            )
        ops = Counter(c.op or "?" for c in weights)
        if set(ops) == {"NONE"}:
            out.append(
                "Op: NONE for every weight — this logging prints the copied tensor's own op, and a weight is no "
                "op's result; the op that consumes it is not in the log"
            )
        return out

    def summary(self) -> str:
        """One line: the copies by origin and what they mean."""
        report = self.report
        if not report.weights:
            return report.headline()
        bug, offload = report.bug_weights, report.offloaded_weights
        if bug:
            return (
                f"{_count(len(bug), 'weight copy', 'weight copies')} out of a non-host buffer — the crash this "
                f"runbook fixes: {bug[0].describe()}"
                + (f"; also {len(offload)} out of host buffers (designed offload)" if offload else "")
            )
        layers = self.weight_layers
        of_layers = f" of layers {_layers_text(layers)}" if layers else ""
        cpu = " (the CPU layers)" if self.cpu_layers_only else ""
        when = " during prompt batches" if self.during_prompt else ""
        if not offload:
            return report.headline()
        return (
            f"{_count(len(offload), 'weight copy', 'weight copies')}{of_layers}{cpu}, all out of host buffers "
            f"({_pairs_text(offload)}){when}: the scheduler's designed op offload, not the bug — no crash expected "
            "here"
        )

    def as_evidence(self) -> dict[str, Any]:
        """Plain JSON: the report's counts and the reading."""
        batches = self.batches
        return {
            **self.report.as_evidence(),
            "cpu_layers": [self.cpu_layers.start, self.cpu_layers.stop - 1] if self.cpu_layers else None,
            "cpu_layers_only": self.cpu_layers_only,
            "prompt_tokens": self.prompt_tokens,
            "n_ubatch": self.n_ubatch,
            "prompt_batches": list(batches) if batches else None,
            "copies_per_weight": self.report.copies_per_weight(),
            "during_prompt": self.during_prompt,
            "reading": self.lines(),
            "summary": self.summary(),
        }


def diagnose(report: DiagnosticReport, use: BackendUse | None = None, prompt_tokens: int | None = None) -> Diagnosis:
    """Read ``report`` against the run's backends (``use``) and its prompt size."""
    offloaded = (use.offloaded, use.layers) if use and use.offloaded is not None and use.layers else None
    return Diagnosis(
        report,
        use.cpu_layers if use else None,
        offloaded,
        prompt_tokens,
        use.n_ubatch if use else None,
    )


def diagnose_log(text: str) -> Diagnosis:
    """The diagnosis of a whole run log: its copies read against the run's buffers, offload and prompt size."""
    from . import backends, llama_cli  # llama_cli imports this module

    return diagnose(parse(text), backends.parse(text), llama_cli.parse(text).prompt_tokens)


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
                block = None
            one = _ONE_LINE_RE.search(line)
            if one:
                copies.append(
                    TensorCopy(
                        number,
                        one.group("name"),
                        one.group("src"),
                        one.group("dst"),
                        int(one.group("size")),
                        "",
                        False,
                        "slow" in one.group("what"),
                    )
                )
                continue
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


OP_NOT_LOGGED = "not in this log (Op: NONE is the weight's own op, not the operation that uses it)"
A_ABORTS = (
    "Approach A's assert would turn this designed offload into an abort of every long-prompt hybrid run and "
    "every llama-bench run"
)


def _root_cause(copy: TensorCopy) -> str:
    return (
        f"For prompt batches of {OFFLOAD_MIN_BATCH} tokens or more the scheduler offloads the CPU layers' operations "
        f"to {copy.dst_buffer or 'the GPU'} and copies their weights there. {base_name(copy.name)} sits in the "
        f"{copy.src_buffer} buffer, which is not host memory: it cannot be read back "
        + ("(AMX keeps weights in its own tiled layout), " if "AMX" in copy.src_buffer.upper() else "")
        + "so the copy (get_tensor + set_tensor) fails."
    )


def suggest(report: DiagnosticReport, diagnosis: Diagnosis | None = None) -> Suggestion:
    """Pre-fill values for the analysis form and the approach the evidence points to.

    A weight copied out of a non-host buffer (AMX) -> B: where the scheduler decides to offload an op, require its
    weight to sit in a host buffer, so the op stays on the CPU. Every weight copy out of a host buffer -> no crash
    expected here, no approach suggested (and A would abort the designed offload). Approach A's guard already
    refusing a copy -> B.
    """
    diagnosis = diagnosis or diagnose(report)
    if report.blocked and not report.weights:
        refused = report.blocked[0]
        return Suggestion(
            {
                "tensor": base_name(refused.name),
                "approach": "B",
                "root_cause": (
                    f"Weight copies are refused now, but an operation that needs {base_name(refused.name)} "
                    "is still scheduled on a backend where that weight does not reside."
                ),
            },
            "B",
            f"The weight filter (Approach A) refused to copy {refused.name} at line {refused.line} and aborts: the "
            "operation that uses it is still assigned to a backend without its weight — Approach B keeps such "
            "operations where their weights are.",
            refused.line,
        )
    bug = report.bug_weights
    if bug:
        first = bug[0]
        values = {
            "tensor": base_name(first.name),
            "src_buffer": first.src_buffer,
            "dst_buffer": first.dst_buffer,
            "op": OP_NOT_LOGGED if first.op in ("", "NONE") else first.op,
            "root_cause": _root_cause(first),
            "approach": "B",
        }
        offload = report.offloaded_weights
        reason = (
            f"{first.name} was copied {first.pair} at line {first.line}: "
            f"{_count(len(bug), 'weight leaves', 'weights leave')} a non-host buffer ({_pairs_text(bug)}), which "
            "cannot be read back. Approach B adds the missing condition where the scheduler decides to offload an "
            "op: the weight's buffer must be a host buffer (as mainline llama.cpp does), so these ops stay on the "
            "CPU."
        )
        if offload:
            reason += f" The {len(offload)} copies out of host buffers ({_pairs_text(offload)}) are designed offload."
        reason += (
            " Approach A only turns this copy into an assert (still an abort), and it asserts on every weight copy, "
            "so it would also abort the designed offload out of host buffers: every long-prompt hybrid run and every "
            "llama-bench run."
        )
        unknown = report.unknown_weights
        if unknown:
            reason += (
                f" Note: {base_name(unknown[0].name)} (line {unknown[0].line}) is a weight none of "
                f"ggml_tensor_is_weight()'s name patterns ({', '.join(FILTER_PATTERNS)}) match."
            )
        return Suggestion(values, "B", reason, first.line)
    offload = report.offloaded_weights
    if offload:
        first = offload[0]
        values = {
            "tensor": base_name(first.name),
            "src_buffer": first.src_buffer,
            "dst_buffer": first.dst_buffer,
            "op": OP_NOT_LOGGED if first.op in ("", "NONE") else first.op,
            "root_cause": (
                f"No crash expected here: every weight copy leaves a host buffer ({_pairs_text(offload)}). "
                + diagnosis.summary()
                + f". {A_ABORTS}."
            ),
        }
        reason = (
            f"{diagnosis.summary()}. Nothing in this log is the runbook's crash: it needs weights in a buffer that "
            f"cannot be read back (AMX), and there are none. {A_ABORTS}; Approach B's host-buffer condition changes "
            "nothing here. No approach is suggested — choose only if you have other evidence."
        )
        return Suggestion(values, None, reason, first.line)
    if report.unplaced_weights:
        first = report.unplaced_weights[0]
        return Suggestion(
            {"tensor": base_name(first.name)},
            None,
            f"{first.name} was copied at line {first.line}, but the log does not name its source buffer, so it "
            "cannot tell designed offload (out of a host buffer) from the bug (out of AMX).",
            first.line,
        )
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
