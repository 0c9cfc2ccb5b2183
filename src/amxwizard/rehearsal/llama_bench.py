"""STAND-IN for ``llama-bench``, for rehearsals only: it loads no model and every number it prints is simulated.

``python -m amxwizard.rehearsal.llama_bench ARGS`` prints what ik_llama.cpp's llama-bench built with CUDA prints
(shaped like ``tests/fixtures/real/ik-cuda/bench_*.log``): the CUDA device lines on stderr, then the markdown table
(``| model | size | params | backend | ngl | test | t/s |``) by default, or ``-o csv|json|jsonl|sql`` with the
same field names. ``-p 512 -n 128`` gives ``pp512`` and ``tg128`` rows, ``-n 0`` only ``pp512``. In hybrid mode tg128
is about 61.3 ± 0.4 t/s and pp512 about 800 t/s (times the build's ``speed_factor``). An unknown flag (``--amx``) is
``error: invalid parameter for argument: --amx``, the usage, and exit 1; ``-m`` must name an existing file.
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
    "-r": ("repetitions", "int"),
    "-w": ("warmup", "ints"),
    "--warmup": ("warmup", "ints"),
    "--override-tensor": ("override_tensor", "str"),
    "--repetitions": ("repetitions", "int"),
    "--numa": ("numa", "str"),
    "-o": ("output", "str"),
    "--output": ("output", "str"),
    "-oe": ("output_err", "str"),
    "--output-err": ("output_err", "str"),
    "-v": ("verbose", "flag"),
    "--verbose": ("verbose", "flag"),
    "-h": ("help", "flag"),
    "--help": ("help", "flag"),
}
_FORMATS = ("csv", "json", "jsonl", "md", "sql")  # jsonl: mainline only, kept for the parser tests

USAGE = """usage: llama-bench [options]

options:
  -h, --help
  -m, --model <filename>              (default: models/7B/ggml-model-q4_0.gguf)
  -p, --n-prompt <n>                  (default: 512)
  -n, --n-gen <n>                     (default: 128)
  -pg <pp,tg>                         (default: )
  -b, --batch-size <n>                (default: 2048)
  -ub, --ubatch-size <n>              (default: 512)
  -ctk, --cache-type-k <t>            (default: f16)
  -ctv, --cache-type-v <t>            (default: f16)
  -t, --threads <n>                   (default: {threads})
  -ngl, --n-gpu-layers <n>            (default: 999)
  -sm, --split-mode <none|layer|graph>(default: layer)
  -mg, --main-gpu <i>                 (default: 0)
  -nkvo, --no-kv-offload <0|1>        (default: 0)
  -fa, --flash-attn <0|1>             (default: 1)
  -mmp, --mmap <0|1>                  (default: 1)
  --numa <distribute|isolate|numactl> (default: disabled)
  -embd, --embeddings <0|1>           (default: 0)
  -ts, --tensor-split <ts0/ts1/..>    (default: 0)
  -r, --repetitions <n>               (default: 5)
  -o, --output <csv|json|md|sql>      (default: md)
  -oe, --output-err <csv|json|md|sql> (default: none)
  -v, --verbose                       (default: 0)
  -w, --warmup <0|1>                  (default: 1)
  -ot, --override-tensor pattern      (default: none)

Multiple values can be given for each parameter by separating them with ',' or by specifying the parameter \
multiple times.
"""

CSV_FIELDS = (
    "build_commit",
    "build_number",
    "cuda",
    "vulkan",
    "metal",
    "sycl",
    "rpc",
    "gpu_blas",
    "blas",
    "cpu_info",
    "gpu_info",
    "model_filename",
    "model_type",
    "model_size",
    "model_n_params",
    "n_batch",
    "n_ubatch",
    "n_threads",
    "type_k",
    "type_v",
    "n_gpu_layers",
    "split_mode",
    "main_gpu",
    "no_kv_offload",
    "flash_attn",
    "mla_attn",
    "attn_max_batch",
    "ser",
    "reuse",
    "tensor_split",
    "use_mmap",
    "embeddings",
    "repack",
    "mqkv",
    "muge",
    "defer_experts",
    "fused_moe",
    "grouped_er",
    "no_fused_up_gate",
    "use_thp",
    "no_ooae",
    "rcache",
    "sas",
    "max_gpu",
    "cuda_params",
    "override_tensor",
    "n_prompt",
    "n_gen",
    "test_time",
    "avg_ns",
    "stddev_ns",
    "avg_ts",
    "stddev_ts",
    "test",
)
_INT_FIELDS = {
    "build_number",
    "model_size",
    "model_n_params",
    "n_batch",
    "n_ubatch",
    "n_threads",
    "n_gpu_layers",
    "main_gpu",
    "mla_attn",
    "attn_max_batch",
    "max_gpu",
    "n_prompt",
    "n_gen",
    "avg_ns",
    "stddev_ns",
}
_BOOL_FIELDS = {
    "cuda",
    "vulkan",
    "metal",
    "sycl",
    "gpu_blas",
    "blas",
    "no_kv_offload",
    "flash_attn",
    "reuse",
    "use_mmap",
    "embeddings",
    "repack",
    "mqkv",
    "muge",
    "defer_experts",
    "fused_moe",
    "grouped_er",
    "no_fused_up_gate",
    "use_thp",
    "no_ooae",
    "rcache",
    "sas",
}
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
    mean, sd = mean * build.speed_factor, sd * build.speed_factor
    rng = s.rng("llama-bench", model, ngl, threads, n_prompt, n_gen, ",".join(build.fixes), build.speed_factor, *extra)
    tokens = n_prompt + n_gen
    return [round(1e9 * tokens / max(1.0, rng.gauss(mean, sd))) for _ in range(max(1, reps))]


def _md_row(cells: list[tuple[str, int]]) -> str:
    return "|" + "".join(f" {text:<{-w}} |" if w < 0 else f" {text:>{w}} |" for text, w in cells)


def markdown(results: list[Result]) -> str:
    """llama-bench's markdown table (header, separator, one row per result) and its build footer. A CUDA build
    shows no threads column, as ik_llama.cpp's does."""
    widths = [
        ("model", -30),
        ("size", 10),
        ("params", 10),
        ("backend", -10),
        ("ngl", 3),
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
            r.test,
            f"{r.avg_ts:.2f} ± {r.stddev_ts:.2f}",
        ]
        lines.append(_md_row([(v, w) for v, (_, w) in zip(values, widths, strict=True)]))
    return "\n".join(lines) + f"\n\nbuild: {s.BUILD_COMMIT} ({s.BUILD_NUMBER})\n"


def _values(r: Result, test_time: str) -> dict[str, object]:
    return {
        "build_commit": s.BUILD_COMMIT,
        "build_number": s.BUILD_NUMBER,
        "cuda": 1,
        "vulkan": 0,
        "metal": 0,
        "sycl": 0,
        "rpc": "0",
        "gpu_blas": 1,
        "blas": 0,
        "cpu_info": "Intel(R) Xeon(R) Platinum 8480+",
        "gpu_info": s.GPU_NAME,
        "model_filename": r.model,
        "model_type": s.MODEL_TYPE,
        "model_size": s.MODEL_SIZE,
        "model_n_params": s.MODEL_PARAMS,
        "n_batch": r.n_batch,
        "n_ubatch": r.n_ubatch,
        "n_threads": r.threads,
        "type_k": "f16",
        "type_v": "f16",
        "n_gpu_layers": r.ngl,
        "split_mode": "layer",
        "main_gpu": 0,
        "no_kv_offload": 0,
        "flash_attn": r.flash_attn,
        "mla_attn": 3,
        "attn_max_batch": 0,
        "ser": "-1,0",
        "reuse": 1,
        "tensor_split": "0.00",
        "use_mmap": 1,
        "embeddings": 0,
        "repack": 0,
        "mqkv": 0,
        "muge": 0,
        "defer_experts": 0,
        "fused_moe": 1,
        "grouped_er": 0,
        "no_fused_up_gate": 0,
        "use_thp": 0,
        "no_ooae": 0,
        "rcache": 0,
        "sas": 0,
        "max_gpu": 0,
        "cuda_params": "",
        "override_tensor": "",
        "n_prompt": r.n_prompt,
        "n_gen": r.n_gen,
        "test_time": test_time,
        "avg_ns": r.avg_ns,
        "stddev_ns": r.stddev_ns,
        "avg_ts": r.avg_ts,
        "stddev_ts": r.stddev_ts,
        "test": r.test,
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
            f'"samples_ts": [ {", ".join(f"{t:g}" for t in r.samples_ts)} ]',
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
        for line in s.cuda_init_lines():
            out.stderr(line + "\n")
        out.stderr(f"error: invalid parameter for argument: {exc}\n")
        out.stdout(USAGE.format(threads=os.cpu_count() or 1))
        return 1
    fmt = p.single.get("output", "md")
    out.label(LABEL, stdout=fmt == "md")
    if "help" in p.flags:
        out.stdout(USAGE.format(threads=os.cpu_count() or 1))
        return 0
    for line in s.cuda_init_lines():  # the CUDA build reports its GPU before anything else, on stderr
        out.stderr(line + "\n")
    build = s.load_build()
    models = p.strs("model", ["models/7B/ggml-model-q4_0.gguf"])
    prompts, gens = p.ints("n_prompt", [512]), p.ints("n_gen", [128])
    ngls, threads_list = p.ints("n_gpu_layers", [999]), p.ints("n_threads", [os.cpu_count() or 1])
    batches, ubatches = p.ints("n_batch", [2048]), p.ints("n_ubatch", [512])
    flash = p.ints("flash_attn", [1])
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
