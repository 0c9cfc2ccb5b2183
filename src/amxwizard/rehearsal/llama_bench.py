"""STAND-IN for ``llama-bench``, for rehearsals only: it loads no model and every number it prints is simulated.

``python -m amxwizard.rehearsal.llama_bench ARGS`` prints what llama-bench prints: the markdown table
(``| model | size | params | backend | ngl | threads | test | t/s |``) by default, or ``-o csv|json|jsonl|sql``
with llama-bench's field names. ``-p 512 -n 128`` gives ``pp512`` and ``tg128`` rows, ``-n 0`` only ``pp512``.
In hybrid mode tg128 is about 61.3 ± 0.4 t/s and pp512 about 800 t/s. An unknown flag (``--amx``) is
``error: invalid parameter for argument: --amx`` and exit 1; ``-m`` must name an existing file.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from . import _standin as s

LABEL = (
    "[stand-in] llama-bench for amxwizard rehearsal — NOT the real program: no model is loaded and every "
    "number is simulated"
)

# option -> (field, kind); kinds: list of ints, list of strings, a single value, a flag
_OPTIONS: dict[str, tuple[str, str]] = {
    "-m": ("model", "strs"),
    "--model": ("model", "strs"),
    "-p": ("n_prompt", "ints"),
    "--n-prompt": ("n_prompt", "ints"),
    "-n": ("n_gen", "ints"),
    "--n-gen": ("n_gen", "ints"),
    "-pg": ("pg", "str"),
    "-d": ("n_depth", "ints"),
    "--n-depth": ("n_depth", "ints"),
    "-b": ("n_batch", "ints"),
    "--batch-size": ("n_batch", "ints"),
    "-ub": ("n_ubatch", "ints"),
    "--ubatch-size": ("n_ubatch", "ints"),
    "-ctk": ("type_k", "strs"),
    "--cache-type-k": ("type_k", "strs"),
    "-ctv": ("type_v", "strs"),
    "--cache-type-v": ("type_v", "strs"),
    "-t": ("n_threads", "ints"),
    "--threads": ("n_threads", "ints"),
    "-C": ("cpu_mask", "strs"),
    "--cpu-mask": ("cpu_mask", "strs"),
    "--cpu-strict": ("cpu_strict", "ints"),
    "--poll": ("poll", "ints"),
    "-ngl": ("n_gpu_layers", "ints"),
    "--n-gpu-layers": ("n_gpu_layers", "ints"),
    "-sm": ("split_mode", "strs"),
    "--split-mode": ("split_mode", "strs"),
    "-mg": ("main_gpu", "ints"),
    "--main-gpu": ("main_gpu", "ints"),
    "-nkvo": ("no_kv_offload", "ints"),
    "--no-kv-offload": ("no_kv_offload", "ints"),
    "-fa": ("flash_attn", "ints"),
    "--flash-attn": ("flash_attn", "ints"),
    "-mmp": ("use_mmap", "ints"),
    "--mmap": ("use_mmap", "ints"),
    "-embd": ("embeddings", "ints"),
    "--embeddings": ("embeddings", "ints"),
    "-ts": ("tensor_split", "strs"),
    "--tensor-split": ("tensor_split", "strs"),
    "-ot": ("override_tensor", "str"),
    "--override-tensors": ("override_tensor", "str"),
    "-nopo": ("no_op_offload", "ints"),
    "--no-op-offload": ("no_op_offload", "ints"),
    "-r": ("repetitions", "int"),
    "--repetitions": ("repetitions", "int"),
    "--prio": ("prio", "int"),
    "--delay": ("delay", "int"),
    "--numa": ("numa", "str"),
    "-o": ("output", "str"),
    "--output": ("output", "str"),
    "-oe": ("output_err", "str"),
    "--output-err": ("output_err", "str"),
    "-v": ("verbose", "flag"),
    "--verbose": ("verbose", "flag"),
    "--progress": ("progress", "flag"),
    "-h": ("help", "flag"),
    "--help": ("help", "flag"),
}
_FORMATS = ("csv", "json", "jsonl", "md", "sql")

USAGE = """usage: llama-bench [options]

options:
  -h, --help
  --numa <distribute|isolate|numactl>       numa mode (default: disabled)
  -r, --repetitions <n>                     number of times to repeat each test (default: 5)
  --prio <0|1|2|3>                          process/thread priority (default: 0)
  --delay <0...N> (seconds)                 delay between each test (default: 0)
  -o, --output <csv|json|jsonl|md|sql>      output format printed to stdout (default: md)
  -oe, --output-err <csv|json|jsonl|md|sql> output format printed to stderr (default: none)
  -v, --verbose                             verbose output
  --progress                                print test progress indicators

test parameters:
  -m, --model <filename>                    (default: models/7B/ggml-model-q4_0.gguf)
  -p, --n-prompt <n>                        (default: 512)
  -n, --n-gen <n>                           (default: 128)
  -pg <pp,tg>                               (default: )
  -d, --n-depth <n>                         (default: 0)
  -b, --batch-size <n>                      (default: 2048)
  -ub, --ubatch-size <n>                    (default: 512)
  -ctk, --cache-type-k <t>                  (default: f16)
  -ctv, --cache-type-v <t>                  (default: f16)
  -t, --threads <n>                         (default: 128)
  -C, --cpu-mask <hex,hex>                  (default: 0x0)
  --cpu-strict <0|1>                        (default: 0)
  --poll <0...100>                          (default: 50)
  -ngl, --n-gpu-layers <n>                  (default: 99)
  -sm, --split-mode <none|layer|row>        (default: layer)
  -mg, --main-gpu <i>                       (default: 0)
  -nkvo, --no-kv-offload <0|1>              (default: 0)
  -fa, --flash-attn <0|1>                   (default: 0)
  -mmp, --mmap <0|1>                        (default: 1)
  -embd, --embeddings <0|1>                 (default: 0)
  -ts, --tensor-split <ts0/ts1/..>          (default: 0)
  -ot --override-tensors <tensor name pattern>=<buffer type>;...
                                            (default: disabled)
  -nopo, --no-op-offload <0|1>              (default: 0)

Multiple values can be given for each parameter by separating them with ','
or by specifying the parameter multiple times. Ranges can be given as
'first-last' or 'first-last+step' or 'first-last*mult'.
"""

CSV_FIELDS = (
    "build_commit",
    "build_number",
    "cpu_info",
    "gpu_info",
    "backends",
    "model_filename",
    "model_type",
    "model_size",
    "model_n_params",
    "n_batch",
    "n_ubatch",
    "n_threads",
    "cpu_mask",
    "cpu_strict",
    "poll",
    "type_k",
    "type_v",
    "n_gpu_layers",
    "split_mode",
    "main_gpu",
    "no_kv_offload",
    "flash_attn",
    "tensor_split",
    "tensor_buft_overrides",
    "use_mmap",
    "embeddings",
    "no_op_offload",
    "n_prompt",
    "n_gen",
    "n_depth",
    "test_time",
    "avg_ns",
    "stddev_ns",
    "avg_ts",
    "stddev_ts",
)
_INT_FIELDS = {
    "build_number",
    "model_size",
    "model_n_params",
    "n_batch",
    "n_ubatch",
    "n_threads",
    "cpu_strict",
    "poll",
    "n_gpu_layers",
    "main_gpu",
    "n_prompt",
    "n_gen",
    "n_depth",
    "avg_ns",
    "stddev_ns",
}
_BOOL_FIELDS = {"no_kv_offload", "flash_attn", "use_mmap", "embeddings", "no_op_offload"}
_FLOAT_FIELDS = {"avg_ts", "stddev_ts"}


class ArgError(Exception):
    pass


@dataclass
class Params:
    lists: dict[str, list[str]] = field(default_factory=dict)
    single: dict[str, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    def ints(self, name: str, default: list[int]) -> list[int]:
        """Every value given for ``name`` as integers, or ``default``."""
        return [int(v) for v in self.lists[name]] if name in self.lists else default

    def strs(self, name: str, default: list[str]) -> list[str]:
        """Every value given for ``name``, or ``default``."""
        return self.lists.get(name, default)


def _expand(value: str) -> list[str]:
    """``a,b`` and ranges ``first-last``, ``first-last+step``, ``first-last*mult`` as llama-bench reads them."""
    out: list[str] = []
    for part in value.split(","):
        head, sep, tail = part.partition("-")
        if sep and head.isdigit() and tail:
            step, mult = 1, 1
            if "+" in tail:
                tail, step_text = tail.split("+", 1)
                step = int(step_text)
            elif "*" in tail:
                tail, mult_text = tail.split("*", 1)
                mult = int(mult_text)
            first, last = int(head), int(tail)
            i = first
            while i <= last:
                out.append(str(i))
                i = i * mult if mult > 1 else i + step
        else:
            out.append(part)
    return out


def parse_args(argv: Sequence[str]) -> Params:
    """llama-bench's parser: an unknown flag or a missing or bad value is ``invalid parameter``."""
    params = Params()
    i = 0
    while i < len(argv):
        arg = argv[i]
        spec = _OPTIONS.get(arg)
        if spec is None:
            raise ArgError(arg)
        dest, kind = spec
        if kind == "flag":
            params.flags.add(dest)
            i += 1
            continue
        if i + 1 >= len(argv):
            raise ArgError(arg)
        value = argv[i + 1]
        i += 2
        if kind in ("ints", "strs"):
            items = _expand(value) if kind == "ints" else value.split(",")
            if kind == "ints" and not all(v.lstrip("-").isdigit() for v in items):
                raise ArgError(arg)
            params.lists.setdefault(dest, []).extend(items)
        elif kind == "int":
            if not value.lstrip("-").isdigit():
                raise ArgError(arg)
            params.single[dest] = value
        else:
            if dest in ("output", "output_err") and value not in _FORMATS:
                raise ArgError(arg)
            params.single[dest] = value
    return params


@dataclass(frozen=True, slots=True)
class Result:
    model: str
    ngl: int
    threads: int
    n_batch: int
    n_ubatch: int
    flash_attn: int
    n_prompt: int
    n_gen: int
    samples_ns: list[int]

    @property
    def test(self) -> str:
        return (
            f"pp{self.n_prompt}"
            if self.n_prompt and not self.n_gen
            else (f"tg{self.n_gen}" if self.n_gen and not self.n_prompt else f"pp{self.n_prompt}+tg{self.n_gen}")
        )

    @property
    def samples_ts(self) -> list[float]:
        tokens = self.n_prompt + self.n_gen
        return [1e9 * tokens / ns for ns in self.samples_ns]

    @property
    def avg_ts(self) -> float:
        return statistics.fmean(self.samples_ts)

    @property
    def stddev_ts(self) -> float:
        return statistics.stdev(self.samples_ts) if len(self.samples_ns) > 1 else 0.0

    @property
    def avg_ns(self) -> int:
        return round(statistics.fmean(self.samples_ns))

    @property
    def stddev_ns(self) -> int:
        return round(statistics.stdev(self.samples_ns)) if len(self.samples_ns) > 1 else 0


_SPEEDS = {"cpu": (310.0, 39.5), "hybrid": (800.0, 61.3), "gpu": (2900.0, 104.0)}


def _measure(
    model: str, ngl: int, threads: int, n_prompt: int, n_gen: int, reps: int, build: s.Build, extra: tuple[str, ...]
) -> list[int]:
    pp_mean, tg_mean = _SPEEDS[s.mode_of(ngl)]
    if n_prompt and not n_gen:
        mean, sd = pp_mean * min(1.0, 0.35 + n_prompt / 800), pp_mean * 0.008
    elif n_gen and not n_prompt:
        mean, sd = tg_mean, 0.4
    else:
        mean, sd = (n_prompt + n_gen) / (n_prompt / pp_mean + n_gen / tg_mean), 1.0
    rng = s.rng("llama-bench", model, ngl, threads, n_prompt, n_gen, ",".join(build.fixes), *extra)
    tokens = n_prompt + n_gen
    return [round(1e9 * tokens / max(1.0, rng.gauss(mean, sd))) for _ in range(max(1, reps))]


def _md_row(cells: list[tuple[str, int]]) -> str:
    return "|" + "".join(f" {text:<{-w}} |" if w < 0 else f" {text:>{w}} |" for text, w in cells)


def markdown(results: list[Result]) -> str:
    """llama-bench's markdown table (header, separator, one row per result) and its build footer."""
    widths = [
        ("model", -30),
        ("size", 10),
        ("params", 10),
        ("backend", -10),
        ("ngl", 3),
        ("threads", 7),
        ("test", 13),
        ("t/s", 16),
    ]
    lines = [_md_row(widths), "|" + "".join(f" {'-' * (abs(w) - 1)}{':' if w > 0 else '-'} |" for _, w in widths)]
    for r in results:
        values = [
            s.MODEL_TYPE,
            s.gib(s.MODEL_SIZE),
            f"{s.MODEL_PARAMS / 1e9:.2f} B",
            "CUDA",
            str(r.ngl),
            str(r.threads),
            r.test,
            f"{r.avg_ts:.2f} ± {r.stddev_ts:.2f}",
        ]
        lines.append(_md_row([(v, w) for v, (_, w) in zip(values, widths, strict=True)]))
    return "\n".join(lines) + f"\n\nbuild: {s.BUILD_COMMIT} ({s.BUILD_NUMBER})\n"


def _values(r: Result, test_time: str) -> dict[str, object]:
    return {
        "build_commit": s.BUILD_COMMIT,
        "build_number": s.BUILD_NUMBER,
        "cpu_info": "Intel(R) Xeon(R) Platinum 8480+",
        "gpu_info": "NVIDIA RTX 6000 Ada Generation",
        "backends": "CUDA",
        "model_filename": r.model,
        "model_type": s.MODEL_TYPE,
        "model_size": s.MODEL_SIZE,
        "model_n_params": s.MODEL_PARAMS,
        "n_batch": r.n_batch,
        "n_ubatch": r.n_ubatch,
        "n_threads": r.threads,
        "cpu_mask": "0x0",
        "cpu_strict": 0,
        "poll": 50,
        "type_k": "f16",
        "type_v": "f16",
        "n_gpu_layers": r.ngl,
        "split_mode": "layer",
        "main_gpu": 0,
        "no_kv_offload": 0,
        "flash_attn": r.flash_attn,
        "tensor_split": "0.00",
        "tensor_buft_overrides": "none",
        "use_mmap": 1,
        "embeddings": 0,
        "no_op_offload": 0,
        "n_prompt": r.n_prompt,
        "n_gen": r.n_gen,
        "n_depth": 0,
        "test_time": test_time,
        "avg_ns": r.avg_ns,
        "stddev_ns": r.stddev_ns,
        "avg_ts": r.avg_ts,
        "stddev_ts": r.stddev_ts,
    }


def _json_value(name: str, value: object) -> str:
    if name in _BOOL_FIELDS:
        return "true" if value else "false"
    if name in _FLOAT_FIELDS:
        return f"{float(value):.6f}"  # type: ignore[arg-type]
    if name in _INT_FIELDS:
        return str(value)
    return json.dumps(str(value))


def _text(value: object) -> str:
    """A value as llama-bench's ``std::to_string`` writes it (floats with six decimals)."""
    return f"{value:.6f}" if isinstance(value, float) else str(value)


def render(results: list[Result], fmt: str, test_time: str) -> str:
    """The results in one of llama-bench's output formats."""
    if fmt == "md":
        return markdown(results)
    rows = [_values(r, test_time) for r in results]
    if fmt == "csv":
        body = [",".join(CSV_FIELDS)]
        body += [",".join('"' + _text(row[f]).replace('"', '""') + '"' for f in CSV_FIELDS) for row in rows]
        return "\n".join(body) + "\n"
    if fmt == "sql":
        create = "CREATE TABLE IF NOT EXISTS test (\n" + ",\n".join(f"  {f} TEXT" for f in CSV_FIELDS) + "\n);\n\n"
        inserts = "".join(
            f"INSERT INTO test ({', '.join(CSV_FIELDS)}) VALUES ("
            + ", ".join(f"'{_text(row[f])}'" for f in CSV_FIELDS)
            + ");\n"
            for row in rows
        )
        return create + inserts
    objects = []
    for r, row in zip(results, rows, strict=True):
        pairs = [f'"{f}": {_json_value(f, row[f])}' for f in CSV_FIELDS]
        samples = (
            f'"samples_ns": [ {", ".join(str(n) for n in r.samples_ns)} ]',
            f'"samples_ts": [ {", ".join(f"{t:.6f}" for t in r.samples_ts)} ]',
        )
        if fmt == "jsonl":
            objects.append("{" + ", ".join([*pairs, *samples]) + "}")
        else:
            objects.append(
                "  {\n" + "".join(f"    {p},\n" for p in pairs) + f"    {samples[0]},\n    {samples[1]}\n  }}"
            )
    if fmt == "jsonl":
        return "".join(o + "\n" for o in objects)
    return "[\n" + ",\n".join(objects) + "\n]\n"


def run(argv: Sequence[str], out: s.Out | None = None) -> int:
    """Behave like ``llama-bench argv``; returns the exit status."""
    out = out or s.Out()
    try:
        p = parse_args(argv)
    except ArgError as exc:
        out.label(LABEL, stdout=False)
        out.stderr(f"error: invalid parameter for argument: {exc}\n")
        out.stdout(USAGE)
        return 1
    fmt = p.single.get("output", "md")
    out.label(LABEL, stdout=fmt == "md")
    if "help" in p.flags:
        out.stdout(USAGE)
        return 0
    build = s.load_build()
    models = p.strs("model", ["models/7B/ggml-model-q4_0.gguf"])
    prompts, gens = p.ints("n_prompt", [512]), p.ints("n_gen", [128])
    ngls, threads_list = p.ints("n_gpu_layers", [99]), p.ints("n_threads", [os.cpu_count() or 1])
    batches, ubatches = p.ints("n_batch", [2048]), p.ints("n_ubatch", [512])
    flash = p.ints("flash_attn", [0])
    reps = int(p.single.get("repetitions", "5"))
    header_printed = False
    results: list[Result] = []
    test_time = datetime(2025, 10, 6, 14, 45, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for model in models:
        if not header_printed and fmt == "md":
            out.stdout(markdown([]).split("\n\nbuild:")[0] + "\n")
            header_printed = True
        if not os.path.isfile(model):
            return s.model_load_failure(out, model, f"main: error: failed to load model '{model}'")
        for ngl in ngls:
            for threads in threads_list:
                for n_batch in batches:
                    for n_ubatch in ubatches:
                        for fa in flash:
                            tests = [(n, 0) for n in prompts if n > 0] + [(0, n) for n in gens if n > 0]
                            for n_prompt, n_gen in tests:
                                extra = (str(n_batch), str(n_ubatch), str(fa))
                                samples = _measure(model, ngl, threads, n_prompt, n_gen, reps, build, extra)
                                result = Result(model, ngl, threads, n_batch, n_ubatch, fa, n_prompt, n_gen, samples)
                                results.append(result)
                                if fmt == "md":
                                    out.stdout(markdown([result]).split("\n")[2] + "\n")
    if fmt == "md":
        out.stdout(f"\nbuild: {s.BUILD_COMMIT} ({s.BUILD_NUMBER})\n")
    else:
        out.stdout(render(results, fmt, test_time))
    return 0


def main() -> None:
    """``python -m amxwizard.rehearsal.llama_bench``."""
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
