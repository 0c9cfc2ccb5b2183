"""STAND-IN for ``llama-cli``, for rehearsals only: it loads no model and every number it prints is simulated.

``python -m amxwizard.rehearsal.llama_cli ARGS`` behaves, as far as the runbook can tell, like ik_llama.cpp's
llama-cli built with CUDA from a fork that has an AMX backend (``$AMXWIZARD_STANDIN_BUILD`` names the stand-in
build's ``build-info.json``); what it prints is shaped like the real captures in ``tests/fixtures/real``:

- flags are parsed the way ik_llama.cpp does: an unknown flag (``--amx``) is ``error: unknown argument: --amx``
  and a missing or bad value (a bare ``-fa``) ``error: invalid parameter for argument: -fa``, each followed by
  the usage and exit 1, before anything loads; ``--help`` writes ``-fa, --flash-attn (auto|on|off|0|1)``;
- without ``-ngl`` every layer is offloaded (today's default); the log says so: ``offloaded K/N layers to GPU``,
  buffers ``CPU``, ``AMX`` (the CPU layers' weights), ``CUDA0``, ``CUDA_Host``, and the CUDA device lines;
- hybrid mode with a long prompt and no fix in the build aborts after prompt processing with a ``GGML_ASSERT``
  (SIGABRT), printing the ``[TENSOR_COPY_DEBUG]`` blocks first when the debug define is built in — the weight
  copied out of the AMX buffer to CUDA0 last;
- otherwise it generates exactly ``-n`` tokens and prints ``main: eval time = ... / N tokens`` (N counts every
  generated token, as ik_llama.cpp does); generation ≈ 61 t/s hybrid.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import _standin as s

LABEL = (
    "[stand-in] llama-cli for amxwizard rehearsal — NOT the real program: no model is loaded and every "
    "number below is simulated"
)
_TRUTHY, _FALSEY, _AUTO = {"on", "1"}, {"off", "0"}, {"auto"}
_WORDS = (
    "the",
    "model",
    "weights",
    "stay",
    "on",
    "their",
    "backend",
    "while",
    "activations",
    "move",
    "between",
    "devices",
    "so",
    "each",
    "layer",
    "runs",
    "where",
    "its",
    "tensors",
    "live",
    "and",
    "prompt",
    "tokens",
    "flow",
    "through",
    "attention",
    "experts",
    "in",
    "order",
    "we",
    "think",
    "about",
    "this",
    "carefully",
    "first",
    "then",
    "answer",
    "with",
    "a",
    "short",
    "summary",
    "of",
    "history",
    "machine",
    "learning",
)


@dataclass(frozen=True, slots=True)
class Opt:
    """One option: the words that name it, its help line's left column as ik_llama.cpp prints it, its text."""

    args: tuple[str, ...]
    head: str
    help: str
    kind: str = "flag"  # flag, int, float, str, fa
    dest: str = ""
    group: str = "general"


OPTIONS: tuple[Opt, ...] = (
    Opt(("-h", "--help", "--usage"), "-h,    --help, --usage", "print usage and exit", dest="help"),
    Opt(("--version",), "       --version", "show version and build info", dest="version"),
    Opt(("-v", "--verbose"), "-v,    --verbose", "print verbose information", dest="verbose"),
    Opt(("-s", "--seed"), "-s,    --seed SEED", "RNG seed (default: -1, use random seed for < 0)", "int", "seed"),
    Opt(
        ("-t", "--threads"),
        "-t,    --threads N",
        "number of threads to use during generation (default: 16)",
        "int",
        "threads",
    ),
    Opt(
        ("-tb", "--threads-batch"),
        "-tb,   --threads-batch N",
        "number of threads to use during batch and prompt processing (default: same as --threads)",
        "int",
        "threads_batch",
    ),
    Opt(
        ("-c", "--ctx-size"),
        "-c,    --ctx-size N",
        "size of the prompt context (default: 0, 0 = loaded from model)",
        "int",
        "ctx",
    ),
    Opt(
        ("-n", "--predict", "--n-predict"),
        "-n,    --predict N",
        "number of tokens to predict (default: -1, -1 = infinity, -2 = until context filled)",
        "int",
        "n_predict",
    ),
    Opt(("-b", "--batch-size"), "-b,    --batch-size N", "logical maximum batch size (default: 2048)", "int", "batch"),
    Opt(
        ("-ub", "--ubatch-size"),
        "-ub,   --ubatch-size N",
        "physical maximum batch size (default: 512)",
        "int",
        "ubatch",
    ),
    Opt(
        ("--keep",),
        "       --keep N",
        "number of tokens to keep from the initial prompt (default: 0, -1 = all)",
        "int",
        "keep",
    ),
    Opt(
        ("-no-fa", "--no-flash-attn"),
        "-no-fa, --no-flash-attn",
        "disable Flash Attention (default: enabled)",
        dest="no_flash_attn",
    ),
    Opt(
        ("-fa", "--flash-attn"),
        "-fa, --flash-attn (auto|on|off|0|1)",
        "set Flash Attention (default: on)",
        "fa",
        "flash_attn",
    ),
    Opt(("-p", "--prompt"), "-p,    --prompt PROMPT", "prompt to start generation with", "str", "prompt"),
    Opt(("-f", "--file"), "-f,    --file FNAME", "a file containing the prompt (default: none)", "str", "file"),
    Opt(
        ("-e", "--escape"),
        "-e,    --escape",
        "process escapes sequences (\\n, \\r, \\t, \\', \\\", \\\\) (default: true)",
        dest="escape",
    ),
    Opt(
        ("-cnv", "--conversation"),
        "-cnv,  --conversation",
        "run in conversation mode, does not print special tokens and suffix/prefix",
        dest="conversation",
    ),
    Opt(
        ("-i", "--interactive"), "-i,    --interactive", "run in interactive mode (default: false)", dest="interactive"
    ),
    Opt(("--no-warmup",), "       --no-warmup", "skip warming up the model with an empty run", dest="no_warmup"),
    Opt(("--temp",), "       --temp N", "temperature (default: 0.8)", "float", "temp", "sampling"),
    Opt(("--top-k",), "       --top-k N", "top-k sampling (default: 40, 0 = disabled)", "int", "top_k", "sampling"),
    Opt(
        ("--top-p",), "       --top-p N", "top-p sampling (default: 0.9, 1.0 = disabled)", "float", "top_p", "sampling"
    ),
    Opt(
        ("--min-p",), "       --min-p N", "min-p sampling (default: 0.1, 0.0 = disabled)", "float", "min_p", "sampling"
    ),
    Opt(
        ("--repeat-penalty",),
        "       --repeat-penalty N",
        "penalize repeat sequence of tokens (default: 1.0, 1.0 = disabled)",
        "float",
        "repeat_penalty",
        "sampling",
    ),
    Opt(
        ("--mlock",),
        "       --mlock",
        "force system to keep model in RAM rather than swapping or compressing",
        dest="mlock",
        group="backend",
    ),
    Opt(
        ("--no-mmap",),
        "       --no-mmap",
        "do not memory-map model (slower load but may reduce pageouts if not using mlock)",
        dest="no_mmap",
        group="backend",
    ),
    Opt(
        ("--numa",),
        "       --numa TYPE",
        "attempt optimizations that help on some NUMA systems\n  - distribute: spread execution evenly over all "
        "nodes\n  - isolate: only spawn threads on CPUs on the node that execution started on\n  - numactl: use the "
        "CPU map provided by numactl",
        "str",
        "numa",
        "backend",
    ),
    Opt(
        ("-ngl", "--gpu-layers"), "-ngl,  --gpu-layers N", "number of layers to store in VRAM", "int", "ngl", "backend"
    ),
    Opt(
        ("-sm", "--split-mode"),
        "-sm,   --split-mode SPLIT_MODE",
        "how to split the model across multiple GPUs, one of:\n  - none: use one GPU only\n  - layer (default): "
        "split layers and KV across GPUs",
        "str",
        "split_mode",
        "backend",
    ),
    Opt(
        ("-op", "--offload-policy"),
        "-op,   --offload-policy POLICY",
        "set per-layer offload policy as layer_id,0|1 pairs, comma-separated",
        "str",
        "offload_policy",
        "backend",
    ),
    Opt(
        ("-mg", "--main-gpu"),
        "-mg,   --main-gpu i",
        "the GPU to use for the model (with split-mode = none),\nor for intermediate results and KV (with "
        "split-mode = row) (default: 0)",
        "int",
        "main_gpu",
        "backend",
    ),
    Opt(
        ("-ot", "--override-tensor"),
        "-ot,   --override-tensor NAME",
        "override tensor buffer type as tensor_name=buft, comma-separated",
        "str",
        "override_tensor",
        "model",
    ),
    Opt(
        ("-m", "--model"),
        "-m,    --model FNAME",
        "model path (default: models/$filename with filename from --hf-file\nor --model-url if set, otherwise "
        "models/7B/ggml-model-f16.gguf)",
        "str",
        "model",
        "model",
    ),
    Opt(("--log-disable",), "       --log-disable", "Disable trace logs", dest="log_disable", group="logging"),
)
_BY_ARG = {a: o for o in OPTIONS for a in o.args}
_HELP_COLUMN = 34  # ik_llama.cpp starts the help text in column 35


class ArgError(Exception):
    """A command line llama.cpp refuses; the message is printed as the real parser prints it."""


@dataclass
class Params:
    values: dict[str, object] = field(default_factory=dict)

    def get_int(self, name: str, default: int) -> int:
        """An integer option, or ``default``."""
        value = self.values.get(name, default)
        return value if isinstance(value, int) else default

    def get_str(self, name: str, default: str = "") -> str:
        """A text option, or ``default``."""
        value = self.values.get(name, default)
        return value if isinstance(value, str) else default


def option_text(opt: Opt) -> str:
    """One option the way ik_llama.cpp's usage lays it out: the names from column 3, the help from column 35
    (on the next line when the names run past it), continuation lines indented to the help column."""
    head = "  " + opt.head
    head = head + "\n" + " " * _HELP_COLUMN if len(head) >= _HELP_COLUMN else head.ljust(_HELP_COLUMN)
    lines = opt.help.split("\n")
    return head + lines[0] + "\n" + "".join(" " * _HELP_COLUMN + line + "\n" for line in lines[1:])


def usage(program: str = "llama-cli") -> str:
    """``--help`` as ik_llama.cpp prints it: a usage line, then the options by group."""
    groups = ("general", "sampling", "backend", "model", "logging")
    parts = [f"usage: {program} [options]\n"]
    for group in groups:
        parts.append(f"{group}:\n\n" + "".join(option_text(o) for o in OPTIONS if o.group == group))
    return "\n".join(parts) + "\n"


def parse_args(argv: Sequence[str]) -> Params:
    """Left to right like ik_llama.cpp: an unknown flag is ``error: unknown argument: X``; a missing or bad value
    is ``error: invalid parameter for argument: X``."""
    params = Params()
    i = 0
    while i < len(argv):
        arg = argv[i]
        opt = _BY_ARG.get(arg)
        if opt is None:
            raise ArgError(f"error: unknown argument: {arg}")
        if opt.kind == "flag":
            params.values[opt.dest] = True
            i += 1
            continue
        invalid = ArgError(f"error: invalid parameter for argument: {arg}")
        if i + 1 >= len(argv):
            raise invalid
        value = argv[i + 1]
        i += 2
        if opt.kind == "int":
            try:
                params.values[opt.dest] = int(value)
            except ValueError:
                raise invalid from None
        elif opt.kind == "float":
            try:
                params.values[opt.dest] = float(value)
            except ValueError:
                raise invalid from None
        elif opt.kind == "fa":
            if value not in _TRUTHY | _FALSEY | _AUTO:
                raise invalid
            params.values[opt.dest] = "on" if value in _TRUTHY else "off" if value in _FALSEY else "auto"
        else:
            params.values[opt.dest] = value
    return params


def _kv_lines(model: str) -> list[str]:
    kvs = [
        ("general.architecture", "str", s.MODEL_ARCH),
        ("general.type", "str", "model"),
        ("general.name", "str", "Qwen3 30B A3B Thinking 2507"),
        ("general.size_label", "str", "30B-A3B"),
        (f"{s.MODEL_ARCH}.block_count", "u32", str(s.N_LAYER)),
        (f"{s.MODEL_ARCH}.context_length", "u32", "262144"),
        (f"{s.MODEL_ARCH}.embedding_length", "u32", "2048"),
        (f"{s.MODEL_ARCH}.expert_count", "u32", "128"),
        (f"{s.MODEL_ARCH}.expert_used_count", "u32", "8"),
        ("general.file_type", "u32", "2"),
    ]
    out = [
        f"llama_model_loader: loaded meta data with 35 key-value pairs and 579 tensors from {model} "
        "(version GGUF V3 (latest))",
        "llama_model_loader: Dumping metadata keys/values. Note: KV overrides do not apply in this output.",
    ]
    out += [
        f"llama_model_loader: - kv {i:3d}: {key:>42} {kind:<16} = {value}" for i, (key, kind, value) in enumerate(kvs)
    ]
    out += [
        "llama_model_loader: - type  f32:  241 tensors",
        "llama_model_loader: - type q4_0:  337 tensors",
        "llama_model_loader: - type q6_K:    1 tensors",
    ]
    return out


CPU_BUFFER_MIB = 166.92  # token embeddings: always in the CPU buffer


def _load_lines(p: Params, model: str, ngl: int, mode: str, threads: int, seed: int) -> list[str]:
    """What ik_llama.cpp prints from start to generation: build, GPU, metadata, buffers, context, system info.

    This stand-in is a fork with an AMX backend: the weights of the layers left on the CPU go to the AMX buffer.
    """
    ctx, batch, ubatch = p.get_int("ctx", 4096), p.get_int("batch", 2048), p.get_int("ubatch", 512)
    offloaded = s.offloaded_layers(ngl)
    layers = s.N_LAYER + 1
    lines = [
        "Log start",
        f"main: build = {s.BUILD_NUMBER} ({s.BUILD_COMMIT})",
        f"main: built with {s.COMPILER}",
        f"main: seed  = {seed}",
        *s.cuda_init_lines(),
        f"CUDA0: using device CUDA0 - {s.GPU_FREE_MIB} MiB free",
    ]
    lines += _kv_lines(model)
    lines += [
        "llm_load_print_meta: format           = GGUF V3 (latest)",
        f"llm_load_print_meta: arch             = {s.MODEL_ARCH}",
        f"llm_load_print_meta: n_layer          = {s.N_LAYER}",
        "llm_load_print_meta: n_expert         = 128",
        "llm_load_print_meta: n_expert_used    = 8",
        "llm_load_print_meta: model type       = 30B.A3B",
        "llm_load_print_meta: model ftype      = Q4_0",
        f"llm_load_print_meta: model params     = {s.MODEL_PARAMS / 1e9:.3f} B",
        f"llm_load_print_meta: model size       = {s.MODEL_SIZE / 1024**3:.3f} GiB (4.552 BPW) ",
        "llm_load_tensors: ggml ctx size =    0.51 MiB",
    ]
    repeating = min(offloaded, s.N_LAYER)
    if repeating:
        lines.append(f"llm_load_tensors: offloading {repeating} repeating layers to GPU")
    if offloaded > s.N_LAYER:
        lines.append("llm_load_tensors: offloading non-repeating layers to GPU")
    lines.append(f"llm_load_tensors: offloaded {offloaded}/{layers} layers to GPU")
    total_mib = s.MODEL_SIZE / 1024**2
    layer_mib = (total_mib - CPU_BUFFER_MIB) / layers
    lines.append(f"llm_load_tensors:        CPU buffer size = {CPU_BUFFER_MIB:10.2f} MiB")
    if offloaded < layers:
        lines.append(f"llm_load_tensors:        AMX buffer size = {layer_mib * (layers - offloaded):10.2f} MiB")
    if offloaded:
        lines.append(f"llm_load_tensors:      CUDA0 buffer size = {layer_mib * offloaded:10.2f} MiB")
    lines += [
        "." * 98,
        f"llama_init_from_model: n_ctx         = {ctx}",
        f"llama_init_from_model: n_batch       = {batch}",
        f"llama_init_from_model: n_ubatch      = {ubatch}",
        f"llama_init_from_model: flash_attn    = {0 if p.get_str('flash_attn', 'on') == 'off' else 1}",
        "llama_init_from_model: freq_base     = 10000000.0",
        "llama_init_from_model: freq_scale    = 1",
    ]
    kv_mib = ctx / 4096 * 384
    gpu_share = repeating / s.N_LAYER
    if gpu_share < 1:
        lines.append(f"llama_kv_cache_init:  CUDA_Host KV buffer size = {kv_mib * (1 - gpu_share):8.2f} MiB")
    if gpu_share:
        lines.append(f"llama_kv_cache_init:      CUDA0 KV buffer size = {kv_mib * gpu_share:8.2f} MiB")
    splits = 1 if mode == "gpu" else 2 if mode == "cpu" else 2 + 2 * (s.N_LAYER - repeating)
    lines += [
        f"llama_init_from_model: KV self size  = {kv_mib:7.2f} MiB, K (f16): {kv_mib / 2:7.2f} MiB, "
        f"V (f16): {kv_mib / 2:7.2f} MiB",
        "llama_init_from_model:  CUDA_Host  output buffer size =     0.58 MiB",
        "llama_init_from_model:      CUDA0 compute buffer size =   300.75 MiB",
        "llama_init_from_model:  CUDA_Host compute buffer size =    12.01 MiB",
        "llama_init_from_model: graph nodes  = 2165",
        f"llama_init_from_model: graph splits = {splits}",
        "",
        f"system_info: n_threads = {threads} / 128 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | AVX512 = 1 | "
        "AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | FMA = 1 | NEON = 0 | SVE = 0 | "
        "ARM_FMA = 0 | F16C = 1 | FP16_VA = 0 | WASM_SIMD = 0 | SSE3 = 1 | SSSE3 = 1 | VSX = 0 | MATMUL_INT8 = 0 | ",
        "sampling: ",
        "\trepeat_last_n = 64, repeat_penalty = 1.000, frequency_penalty = 0.000, presence_penalty = 0.000",
        "\ttop_k = 40, tfs_z = 1.000, top_p = 0.950, min_p = 0.050, typical_p = 1.000, temp = 0.800",
        "sampling order: ",
        "CFG -> Penalties -> dry -> top_k -> tfs_z -> typical_p -> top_p -> min_p -> xtc -> top_n_sigma -> "
        "temperature ",
        f"generate: n_ctx = {ctx}, n_batch = {batch}, n_predict = {p.get_int('n_predict', -1)}, n_keep = 1",
        "",
        "",
    ]
    return lines


def copy_block(name: str, src: str, dst: str, size: int, op: str, weight: bool, slow: bool) -> str:
    """A ``[TENSOR_COPY_DEBUG]`` block in the runbook's debug format."""
    text = (
        f"\n[TENSOR_COPY_DEBUG] Copying tensor:\n  Name: {name}\n  Src buffer: {src}\n  Dst buffer: {dst}\n"
        f"  Size: {size} bytes\n  Op: {op}\n"
    )
    if weight:
        text += (
            "  ⚠️  WARNING: This appears to be a WEIGHT tensor!\n      Weights should not be copied during inference.\n"
        )
    if slow:
        text += "  → Using slow fallback path (get_tensor + set_tensor)\n"
    return text


def _activation_copies(n_tokens: int, first_gpu_layer: int) -> list[str]:
    """The copies every hybrid run makes: inputs and the last CPU layer's output, into the GPU's buffers."""
    embd = 2048 * 4 * n_tokens
    return [
        copy_block("inp_embd", "CUDA_Host", "CUDA0", embd, "GET_ROWS", False, False),
        copy_block("inp_pos", "CUDA_Host", "CUDA0", 4 * n_tokens, "NONE", False, False),
        copy_block("KQ_mask", "CUDA_Host", "CUDA0", 4 * 256 * n_tokens, "NONE", False, False),
        copy_block(f"l_out-{first_gpu_layer - 1}", "CUDA_Host", "CUDA0", embd, "ADD", False, False),
    ]


def _abort() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a stand-in leaves no core file behind
    except (ImportError, ValueError, OSError):
        pass
    os.abort()


def _timing(what: str, ms: float, n: int, unit: str = "tokens") -> str:
    """``main: prompt eval time = ... / N tokens (...)`` as ik_llama.cpp prints it: N counts every token."""
    label = f"main: {what:>16} = {ms:10.2f} ms / {n:5d} {unit}"
    if what == "total time":
        return label
    if n == 0:
        return f"{label} ({'nan':>8} ms per token, {'nan':>8} tokens per second)"
    return f"{label} ({ms / n:8.2f} ms per token, {n / ms * 1000:8.2f} tokens per second)"


def run(argv: Sequence[str], out: s.Out | None = None) -> int:
    """Behave like ``llama-cli argv``; returns the exit status (a crash does not return)."""
    out = out or s.Out()
    out.label(LABEL)
    try:
        p = parse_args(argv)
    except ArgError as exc:
        out.stderr(f"{exc}\n")
        out.stdout(usage())
        return 1
    if p.values.get("help"):
        out.stdout(usage())
        return 0
    if p.values.get("version"):
        out.stderr(f"version: {s.BUILD_NUMBER} ({s.BUILD_COMMIT})\nbuilt with {s.COMPILER}\n")
        return 0
    build = s.load_build()
    if s.BUILD_ENV in os.environ and not build.found:
        out.stderr(f"[stand-in] build info {build.path!r} is missing or unreadable: behaving as an unpatched build\n")
    model = p.get_str("model") or "models/7B/ggml-model-f16.gguf"
    if not os.path.isfile(model):
        return s.model_load_failure(
            out,
            model,
            f"llama_init_from_gpt_params: error: failed to load model '{model}'\nmain: error: unable to load model",
        )
    prompt = p.get_str("prompt")
    if p.get_str("file"):
        try:
            with open(p.get_str("file"), encoding="utf-8") as fh:
                prompt = fh.read()
        except OSError:
            out.stderr(f"error: failed to open file '{p.get_str('file')}'\n")
            return 1
    ngl, threads = p.get_int("ngl", -1), p.get_int("threads", 64)
    mode = s.mode_of(ngl)
    n_predict, ctx = p.get_int("n_predict", -1), p.get_int("ctx", 4096)
    ubatch = p.get_int("ubatch", 512)
    prompt_tokens = s.estimate_tokens(prompt) if prompt else 1
    key = ("llama-cli", *argv, ",".join(build.fixes), build.debug_tensor_copy, build.speed_factor)
    seed = p.get_int("seed", -1)
    seed = seed if seed >= 0 else int(s.jitter(2**31 - 1, *key, "seed")) & 0x7FFFFFFF

    for line in _load_lines(p, model, ngl, mode, threads, seed):
        out.stderr(line + "\n")
    if prompt_tokens > ctx - 4:
        out.stderr(f"main: error: prompt is too long ({prompt_tokens} tokens, max {ctx - 4})\n")
        return 1
    out.stdout(" " + prompt)

    # Op offload: a prompt micro-batch of 32 tokens or more sends the CPU layers' matrix multiplies to the GPU, with
    # their weights. Those sit in the AMX buffer here, which cannot be read back: without a fix the copy dies.
    cpu_layers = s.N_LAYER - min(s.offloaded_layers(ngl), s.N_LAYER)
    big_batch = min(prompt_tokens, ubatch) >= s.OFFLOAD_MIN_BATCH
    if mode == "hybrid" and build.debug_tensor_copy:
        for block in _activation_copies(prompt_tokens, cpu_layers):
            out.stderr(block)
    if mode == "hybrid" and big_batch and not build.fixed:
        if build.debug_tensor_copy:
            out.stderr(copy_block("blk.0.attn_q.weight", "AMX", "CUDA0", 4718592, "NONE", True, True))
        out.stderr(
            "ggml/src/ggml-cpu/amx/amx.cpp:142: GGML_ASSERT(!qtype_has_amx_kernels(tensor->type)) failed\n"
            "ptrace: Operation not permitted.\nNo stack.\nThe program is not being run.\n"
        )
        _abort()

    speeds = {"cpu": (300.0, 39.0), "hybrid": (800.0, 61.0), "gpu": (2900.0, 104.0)}[mode]
    factor = build.speed_factor
    pp_tps = factor * (speeds[0] * min(1.0, 0.25 + prompt_tokens / 128) + s.jitter(speeds[0] * 0.02, *key, "pp"))
    tg_tps = factor * (speeds[1] + s.jitter(0.4, *key, "tg"))
    generated = 128 if n_predict < 0 else n_predict
    rng = s.rng(*key, "text")
    chunk: list[str] = []
    for i in range(generated):
        chunk.append(" " + rng.choice(_WORDS))
        if len(chunk) == 64 or i == generated - 1:
            out.stdout("".join(chunk))
            chunk = []
    out.stdout("\n" + ("[end of text]\n" if n_predict < 0 else "") + "\n")

    pp_ms = prompt_tokens / pp_tps * 1000
    tg_ms = generated / tg_tps * 1000
    out.stderr(_timing("prompt eval time", pp_ms, prompt_tokens) + "\n")
    out.stderr(_timing("eval time", tg_ms, generated) + "\n")
    out.stderr(_timing("total time", pp_ms + tg_ms + 0.4, prompt_tokens + generated) + "\n")
    out.stderr("Log end\n")
    return 0


def main() -> None:
    """``python -m amxwizard.rehearsal.llama_cli``."""
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
