"""STAND-IN for ``llama-cli``, for rehearsals only: it loads no model and every number it prints is simulated.

``python -m amxwizard.rehearsal.llama_cli ARGS`` behaves, as far as the runbook can tell, like today's llama-cli
built from the sandbox (``$AMXWIZARD_STANDIN_BUILD`` names the stand-in build's ``build-info.json``):

- flags are parsed the way llama.cpp's ``common/arg.cpp`` does: an unknown flag (``--amx``) is
  ``error: invalid argument: --amx`` and exit 1 before anything loads; ``-fa`` takes a value (``on|off|auto``),
  so a bare ``-fa`` swallows the next word and fails on it;
- ``-m`` must name an existing file, else the loader's errors and exit 1;
- hybrid mode (``-ngl`` 1-98) with a long prompt and no fix in the build aborts after prompt processing with a
  ``GGML_ASSERT`` (SIGABRT), printing the ``[TENSOR_COPY_DEBUG]`` blocks first when the debug define is built in;
- otherwise it generates exactly ``-n`` tokens and prints llama.cpp's timing lines (generation ≈ 61 t/s hybrid).
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import _standin as s

LABEL = (
    "[stand-in] llama-cli for amxwizard rehearsal — NOT the real program: no model is loaded and every "
    "number below is simulated"
)
_TRUTHY, _FALSEY, _AUTO = {"on", "enabled", "1", "true"}, {"off", "disabled", "0", "false"}, {"auto", "-1"}
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
    args: tuple[str, ...]
    hint: str | None
    help: str
    kind: str = "flag"  # flag, int, float, str, fa
    dest: str = ""
    env: str | None = None
    group: str = "common"


OPTIONS: tuple[Opt, ...] = (
    Opt(("-h", "--help", "--usage"), None, "print usage and exit", dest="help"),
    Opt(("--version",), None, "show version and build info", dest="version"),
    Opt(
        ("-t", "--threads"),
        "N",
        "number of CPU threads to use during generation (default: -1)",
        "int",
        "threads",
        "LLAMA_ARG_THREADS",
    ),
    Opt(
        ("-tb", "--threads-batch"),
        "N",
        "number of threads to use during batch and prompt processing (default: same as --threads)",
        "int",
        "threads_batch",
    ),
    Opt(
        ("-c", "--ctx-size"),
        "N",
        "size of the prompt context (default: 4096, 0 = loaded from model)",
        "int",
        "ctx",
        "LLAMA_ARG_CTX_SIZE",
    ),
    Opt(
        ("-n", "--predict", "--n-predict"),
        "N",
        "number of tokens to predict (default: -1, -1 = infinity)",
        "int",
        "n_predict",
        "LLAMA_ARG_N_PREDICT",
    ),
    Opt(("-b", "--batch-size"), "N", "logical maximum batch size (default: 2048)", "int", "batch", "LLAMA_ARG_BATCH"),
    Opt(
        ("-ub", "--ubatch-size"), "N", "physical maximum batch size (default: 512)", "int", "ubatch", "LLAMA_ARG_UBATCH"
    ),
    Opt(("--keep",), "N", "number of tokens to keep from the initial prompt (default: 0, -1 = all)", "int", "keep"),
    Opt(
        ("-fa", "--flash-attn"),
        "[on|off|auto]",
        "set Flash Attention use ('on', 'off', or 'auto', default: 'auto')",
        "fa",
        "flash_attn",
        "LLAMA_ARG_FLASH_ATTN",
    ),
    Opt(("-p", "--prompt"), "PROMPT", "prompt to start generation with; for system message, use -sys", "str", "prompt"),
    Opt(("-f", "--file"), "FNAME", "a file containing the prompt (default: none)", "str", "file"),
    Opt(
        ("-e", "--escape"),
        None,
        "process escapes sequences (\\n, \\r, \\t, \\', \\\", \\\\) (default: true)",
        dest="escape",
    ),
    Opt(("--no-warmup",), None, "skip warming up the model with an empty run", dest="no_warmup"),
    Opt(
        ("--mlock",),
        None,
        "force system to keep model in RAM rather than swapping or compressing",
        dest="mlock",
        env="LLAMA_ARG_MLOCK",
    ),
    Opt(
        ("--no-mmap",),
        None,
        "do not memory-map model (slower load but may reduce pageouts if not using mlock)",
        dest="no_mmap",
        env="LLAMA_ARG_NO_MMAP",
    ),
    Opt(
        ("--numa",),
        "TYPE",
        "attempt optimizations that help on some NUMA systems\n- distribute: spread execution "
        "evenly over all nodes\n- isolate: only spawn threads on CPUs on the node that execution started on\n"
        "- numactl: use the CPU map provided by numactl\nif run without this previously, it is recommended to drop "
        "the system page cache before using this",
        "str",
        "numa",
        "LLAMA_ARG_NUMA",
    ),
    Opt(
        ("-ot", "--override-tensor"),
        "<tensor name pattern>=<buffer type>,...",
        "override tensor buffer type",
        "str",
        "override_tensor",
    ),
    Opt(
        ("-ngl", "--gpu-layers", "--n-gpu-layers"),
        "N",
        "max. number of layers to store in VRAM (default: -1)",
        "int",
        "ngl",
        "LLAMA_ARG_N_GPU_LAYERS",
    ),
    Opt(
        ("-sm", "--split-mode"),
        "{none,layer,row}",
        "how to split the model across multiple GPUs, one of:\n- none: "
        "use one GPU only\n- layer (default): split layers and KV across GPUs\n- row: split rows across GPUs",
        "str",
        "split_mode",
        "LLAMA_ARG_SPLIT_MODE",
    ),
    Opt(
        ("-mg", "--main-gpu"),
        "INDEX",
        "the GPU to use for the model (with split-mode = none), or for intermediate "
        "results and KV (with split-mode = row) (default: 0)",
        "int",
        "main_gpu",
        "LLAMA_ARG_MAIN_GPU",
    ),
    Opt(
        ("-m", "--model"),
        "FNAME",
        "model path (default: `models/$filename` with filename from `--hf-file` or "
        "`--model-url` if set, otherwise models/7B/ggml-model-f16.gguf)",
        "str",
        "model",
        "LLAMA_ARG_MODEL",
    ),
    Opt(
        ("-v", "--verbose", "--log-verbose"),
        None,
        "Set verbosity level to infinity (i.e. log all messages, useful for debugging)",
        dest="verbose",
    ),
    Opt(("--log-disable",), None, "Log disable", dest="log_disable"),
    Opt(("-s", "--seed"), "SEED", "RNG seed (default: -1, use random seed for -1)", "int", "seed", group="sampling"),
    Opt(("--temp",), "N", "temperature (default: 0.8)", "float", "temp", group="sampling"),
    Opt(("--top-k",), "N", "top-k sampling (default: 40, 0 = disabled)", "int", "top_k", group="sampling"),
    Opt(("--top-p",), "N", "top-p sampling (default: 0.9, 1.0 = disabled)", "float", "top_p", group="sampling"),
    Opt(("--min-p",), "N", "min-p sampling (default: 0.1, 0.0 = disabled)", "float", "min_p", group="sampling"),
    Opt(
        ("--repeat-penalty",),
        "N",
        "penalize repeat sequence of tokens (default: 1.0, 1.0 = disabled)",
        "float",
        "repeat_penalty",
        group="sampling",
    ),
    Opt(
        ("-sys", "--system-prompt"),
        "PROMPT",
        "system prompt to use with model (if applicable, depending on chat template)",
        "str",
        "system_prompt",
        group="example",
    ),
    Opt(
        ("-cnv", "--conversation"),
        None,
        "run in conversation mode:\n- does not print special tokens and suffix/"
        "prefix\n- interactive mode is also enabled\n(default: auto enabled if chat template is available)",
        dest="conversation",
        group="example",
    ),
    Opt(
        ("-no-cnv", "--no-conversation"),
        None,
        "force disable conversation mode (default: false)",
        dest="no_conversation",
        group="example",
    ),
    Opt(("-i", "--interactive"), None, "run in interactive mode (default: false)", dest="interactive", group="example"),
)
_BY_ARG = {a: o for o in OPTIONS for a in o.args}


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
    """One option the way llama.cpp's ``common_arg::to_string`` lays it out (help at column 40, 70 wide)."""
    first, rest = opt.args[0], opt.args[1:]
    head = first if not rest else f"{first}, ".ljust(7) + ", ".join(rest)
    if opt.hint:
        head += f" {opt.hint}"
    head = head + "\n" + " " * 40 if len(head) > 37 else head.ljust(40)
    text = opt.help + (f"\n(env: {opt.env})" if opt.env else "")
    lines = [
        w
        for part in text.split("\n")
        for w in (textwrap.wrap(part, 70, break_long_words=False, break_on_hyphens=False) or [""])
    ]
    return head + lines[0] + "\n" + "".join(" " * 40 + line + "\n" for line in lines[1:])


def usage() -> str:
    """``--help`` as llama.cpp prints it: common, sampling and example-specific options, then examples."""
    groups = {"common": "common params", "sampling": "sampling params", "example": "example-specific params"}
    parts = []
    for key, title in groups.items():
        parts.append(f"----- {title} -----\n\n" + "".join(option_text(o) for o in OPTIONS if o.group == key))
    text = "\n\n".join(parts)
    return (
        text + "\n\nexample usage:\n\n"
        '  text generation:     llama-cli -m your_model.gguf -p "I believe the meaning of life is" -n 128 '
        "-no-cnv\n\n"
        '  chat (conversation): llama-cli -m your_model.gguf -sys "You are a helpful assistant"\n\n'
    )


def _value_error(arg: str, opt: Opt, message: str) -> ArgError:
    return ArgError(
        f'error while handling argument "{arg}": {message}\n\nusage:\n{option_text(opt)}\n\n'
        "to show complete usage, run with -h"
    )


def parse_args(argv: Sequence[str]) -> Params:
    """Left to right like llama.cpp: the first unknown flag or bad value raises :class:`ArgError`."""
    params = Params()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--"):
            arg = arg.replace("_", "-")
        opt = _BY_ARG.get(arg)
        if opt is None:
            raise ArgError(f"error: invalid argument: {arg}")
        if opt.kind == "flag":
            params.values[opt.dest] = True
            i += 1
            continue
        if i + 1 >= len(argv):
            raise _value_error(arg, opt, "expected value for argument")
        value = argv[i + 1]
        i += 2
        if opt.kind == "int":
            try:
                params.values[opt.dest] = int(value)
            except ValueError:
                raise _value_error(arg, opt, "stoi") from None
        elif opt.kind == "float":
            try:
                params.values[opt.dest] = float(value)
            except ValueError:
                raise _value_error(arg, opt, "stof") from None
        elif opt.kind == "fa":
            if value not in _TRUTHY | _FALSEY | _AUTO:
                raise _value_error(arg, opt, f"error: unknown value for --flash-attn: '{value}'\n")
            params.values[opt.dest] = "enabled" if value in _TRUTHY else "disabled" if value in _FALSEY else "auto"
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


def _load_lines(p: Params, model: str, ngl: int, mode: str, threads: int) -> list[str]:
    ctx, batch, ubatch = p.get_int("ctx", 4096), p.get_int("batch", 2048), p.get_int("ubatch", 512)
    offloaded = min(max(ngl, 0), s.N_LAYER + 1)
    lines = [
        f"build: {s.BUILD_NUMBER} ({s.BUILD_COMMIT}) with {s.COMPILER}",
        "main: llama backend init",
        "main: load the model and apply lora adapter, if any",
    ]
    if mode != "cpu":
        lines.append(
            "llama_model_load_from_file_impl: using device CUDA0 (NVIDIA RTX 6000 Ada Generation) - 47650 MiB free"
        )
    lines += _kv_lines(model)
    lines += [
        "print_info: file format = GGUF V3 (latest)",
        "print_info: file type   = Q4_0",
        f"print_info: file size   = {s.gib(s.MODEL_SIZE)} (4.55 BPW)",
        f"print_info: arch             = {s.MODEL_ARCH}",
        f"print_info: n_layer          = {s.N_LAYER}",
        "print_info: n_expert         = 128",
        "print_info: n_expert_used    = 8",
        "print_info: model type       = 30B.A3B",
        f"print_info: model params     = {s.MODEL_PARAMS / 1e9:.2f} B",
        "load_tensors: loading model tensors, this can take a while... (mmap = true)",
        f"load_tensors: offloading {min(offloaded, s.N_LAYER)} repeating layers to GPU",
        f"load_tensors: offloaded {offloaded}/{s.N_LAYER + 1} layers to GPU",
    ]
    total_mib = s.MODEL_SIZE / 1024**2
    gpu_mib = total_mib * offloaded / (s.N_LAYER + 1)
    if gpu_mib:
        lines.append(f"load_tensors:        CUDA0 model buffer size = {gpu_mib:10.2f} MiB")
    if mode != "gpu":
        lines.append(f"load_tensors:          AMX model buffer size = {total_mib - gpu_mib - 166.92:10.2f} MiB")
    lines += [
        "load_tensors:   CPU_Mapped model buffer size =     166.92 MiB",
        "llama_context: constructing llama_context",
        "llama_context: n_seq_max     = 1",
        f"llama_context: n_ctx         = {ctx}",
        f"llama_context: n_batch       = {batch}",
        f"llama_context: n_ubatch      = {ubatch}",
        f"llama_context: flash_attn    = {p.get_str('flash_attn', 'auto')}",
        "llama_context: freq_base     = 10000000.0",
        "llama_context: freq_scale    = 1",
    ]
    kv_mib = ctx / 4096 * 384
    gpu_share = offloaded / (s.N_LAYER + 1)
    if gpu_share:
        lines.append(f"llama_kv_cache:      CUDA0 KV buffer size = {kv_mib * gpu_share:8.2f} MiB")
    if gpu_share < 1:
        lines.append(f"llama_kv_cache:        CPU KV buffer size = {kv_mib * (1 - gpu_share):8.2f} MiB")
    if mode != "cpu":
        lines += [
            "llama_context:      CUDA0 compute buffer size =   300.75 MiB",
            "llama_context:  CUDA_Host compute buffer size =    12.01 MiB",
        ]
    else:
        lines.append("llama_context:        CPU compute buffer size =   300.75 MiB")
    splits = 2 if mode == "hybrid" else 1
    lines += [
        "llama_context: graph nodes  = 3079",
        f"llama_context: graph splits = {splits} (with bs={ubatch}), {splits} (with bs=1)",
        f"main: llama threadpool init, n_threads = {threads}",
        f"system_info: n_threads = {threads} (n_threads_batch = {threads}) / 128 | CUDA : ARCHS = 890 | "
        "USE_GRAPHS = 1 | PEER_MAX_BATCH_SIZE = 128 | CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | "
        "F16C = 1 | FMA = 1 | BMI2 = 1 | AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | "
        "AMX_INT8 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 |",
        "",
        f"sampler seed: {p.get_int('seed', 1234) & 0xFFFFFFFF}",
        "sampler params: ",
        "\trepeat_last_n = 64, repeat_penalty = 1.000, frequency_penalty = 0.000, presence_penalty = 0.000",
        "\ttop_k = 40, top_p = 0.950, min_p = 0.050, xtc_probability = 0.000, xtc_threshold = 0.100, "
        "typical_p = 1.000, temp = 0.800",
        "sampler chain: logits -> logit-bias -> penalties -> dry -> top-k -> typical -> top-p -> min-p -> "
        "xtc -> temp-ext -> dist ",
        f"generate: n_ctx = {ctx}, n_batch = {batch}, n_predict = {p.get_int('n_predict', -1)}, n_keep = 0",
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


def _activation_copies(n_tokens: int) -> list[str]:
    embd = 2048 * 4 * n_tokens
    first_gpu_layer = s.N_LAYER - 15
    return [
        copy_block("inp_pos", "CPU", "CUDA0", 4 * n_tokens, "NONE", False, False),
        copy_block(f"l_out-{first_gpu_layer - 1}", "CPU", "CUDA0", embd, "ADD", False, False),
        copy_block("KQ_mask", "CPU", "CUDA0", 4 * 256 * n_tokens, "NONE", False, False),
    ]


def _abort() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a stand-in leaves no core file behind
    except (ImportError, ValueError, OSError):
        pass
    os.abort()


def run(argv: Sequence[str], out: s.Out | None = None) -> int:
    """Behave like ``llama-cli argv``; returns the exit status (a crash does not return)."""
    out = out or s.Out()
    out.label(LABEL)
    try:
        p = parse_args(argv)
    except ArgError as exc:
        out.stderr(f"{exc}\n")
        return 1
    if p.values.get("help"):
        out.stdout(usage())
        return 0
    if p.values.get("version"):
        out.stderr(f"version: {s.BUILD_NUMBER} ({s.BUILD_COMMIT})\nbuilt with {s.COMPILER}\n")
        return 0
    model = p.get_str("model")
    if not model:
        out.stderr("error: --model is required\n\n")
        return 1
    build = s.load_build()
    if s.BUILD_ENV in os.environ and not build.found:
        out.stderr(f"[stand-in] build info {build.path!r} is missing or unreadable: behaving as an unpatched build\n")
    if not os.path.isfile(model):
        return s.model_load_failure(
            out, model, f"common_init_from_params: failed to load model '{model}'\nmain: error: unable to load model"
        )
    prompt = p.get_str("prompt")
    if p.get_str("file"):
        try:
            with open(p.get_str("file"), encoding="utf-8") as fh:
                prompt = fh.read()
        except OSError:
            out.stderr(f"error: failed to open file '{p.get_str('file')}'\n")
            return 1
    ngl, threads = p.get_int("ngl", 0), p.get_int("threads", 64)
    mode = s.mode_of(ngl)
    n_predict, ctx = p.get_int("n_predict", -1), p.get_int("ctx", 4096)
    prompt_tokens = s.estimate_tokens(prompt) if prompt else 1
    key = ("llama-cli", *argv, ",".join(build.fixes), build.debug_tensor_copy)

    for line in _load_lines(p, model, ngl, mode, threads):
        out.stderr(line + "\n")
    if prompt_tokens > ctx - 4:
        out.stderr(f"main: error: prompt is too long ({prompt_tokens} tokens, max {ctx - 4})\n")
        return 1
    out.stdout(prompt)

    long_prompt = prompt_tokens > s.LONG_PROMPT_TOKENS
    if mode == "hybrid" and build.debug_tensor_copy:
        for block in _activation_copies(prompt_tokens):
            out.stderr(block)
    if mode == "hybrid" and long_prompt and not build.fixed:
        if build.debug_tensor_copy:
            out.stderr(copy_block("blk.0.attn_q.weight", "AMX", "CUDA0", 4718592, "MUL_MAT", True, True))
        out.stderr(
            "ggml/src/ggml-cpu/amx/amx.cpp:142: GGML_ASSERT(!qtype_has_amx_kernels(tensor->type)) failed\n"
            "ptrace: Operation not permitted.\nNo stack.\nThe program is not being run.\n"
        )
        _abort()

    speeds = {"cpu": (300.0, 39.0), "hybrid": (800.0, 61.0), "gpu": (2900.0, 104.0)}[mode]
    pp_tps = speeds[0] * min(1.0, 0.25 + prompt_tokens / 128) + s.jitter(speeds[0] * 0.02, *key, "pp")
    tg_tps = speeds[1] + s.jitter(0.4, *key, "tg")
    generated = 128 if n_predict < 0 else n_predict
    rng = s.rng(*key, "text")
    chunk: list[str] = []
    for i in range(generated):
        chunk.append(" " + rng.choice(_WORDS))
        if len(chunk) == 64 or i == generated - 1:
            out.stdout("".join(chunk))
            chunk = []
    out.stdout("\n" + ("[end of text]\n" if n_predict < 0 else "") + "\n")

    runs = max(generated - 1, 0)
    pp_ms = prompt_tokens / pp_tps * 1000
    tg_ms = runs / tg_tps * 1000
    sample_ms = generated * 0.046
    load_ms = 4817.0 + s.jitter(150.0, *key, "load")

    def per(ms: float, n: int) -> str:
        if n == 0:
            return f"({'nan':>8} ms per token, {'nan':>8} tokens per second)"
        return f"({ms / n:8.2f} ms per token, {n / ms * 1000:8.2f} tokens per second)"

    out.stderr(
        f"llama_perf_sampler_print:    sampling time = {sample_ms:10.2f} ms / {generated:5d} runs   "
        f"{per(sample_ms, generated)}\n"
    )
    out.stderr(f"llama_perf_context_print:        load time = {load_ms:10.2f} ms\n")
    out.stderr(
        f"llama_perf_context_print: prompt eval time = {pp_ms:10.2f} ms / {prompt_tokens:5d} tokens "
        f"{per(pp_ms, prompt_tokens)}\n"
    )
    out.stderr(f"llama_perf_context_print:        eval time = {tg_ms:10.2f} ms / {runs:5d} runs   {per(tg_ms, runs)}\n")
    out.stderr(
        f"llama_perf_context_print:       total time = {pp_ms + tg_ms + sample_ms + 12.4:10.2f} ms / "
        f"{prompt_tokens + runs:5d} tokens\n"
    )
    return 0


def main() -> None:
    """``python -m amxwizard.rehearsal.llama_cli``."""
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
