"""Run the benchmark sections: ``python -m amxwizard.bench [--only NAME] [--quick]``."""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time

from . import Figure, table

# (name, module); each module has ``run(quick: bool) -> list[Figure] | None``. Add a section by adding a line.
SECTIONS: list[tuple[str, str]] = [
    ("feel", "amxwizard.bench.feel"),  # the real app in a pseudo-terminal, beside a bare Textual app
    ("runner", "amxwizard.bench.runner"),
    ("ui", "amxwizard.ui.bench"),  # in ui/: the only package that imports textual
]


def machine() -> str:
    """Cores and CPU model, for quoting figures with the machine they came from."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    """Run every section (or only the one named); returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m amxwizard.bench", description="amxwizard benchmarks")
    parser.add_argument("--only", metavar="NAME", choices=[name for name, _ in SECTIONS], help="run only this section")
    parser.add_argument("--quick", action="store_true", help="smaller workloads, for a fast look")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}", flush=True)
    figures: list[Figure] = []
    for name, module_name in SECTIONS:
        if args.only and name != args.only:
            continue
        print(f"== {name}", flush=True)
        began = time.perf_counter()
        figures += importlib.import_module(module_name).run(args.quick) or []
        print(f"   ({time.perf_counter() - began:.1f} s)", flush=True)
    if figures:
        print("== goals" + (" (quick: smaller workloads than the goals name)" if args.quick else ""))
        print(table(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
