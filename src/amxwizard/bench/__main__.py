"""Run the benchmark sections: ``python -m amxwizard.bench [--only NAME] [--quick]``."""

from __future__ import annotations

import argparse
import importlib
import sys
import time

# (name, module); each module has ``run(quick: bool) -> None``. Add a section by adding a line.
SECTIONS: list[tuple[str, str]] = [
    ("runner", "amxwizard.bench.runner"),
    ("ui", "amxwizard.ui.bench"),  # in ui/: the only package that imports textual
]


def main(argv: list[str] | None = None) -> int:
    """Run every section (or only the one named); returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m amxwizard.bench", description="amxwizard benchmarks")
    parser.add_argument("--only", metavar="NAME", choices=[name for name, _ in SECTIONS], help="run only this section")
    parser.add_argument("--quick", action="store_true", help="smaller workloads, for a fast look")
    args = parser.parse_args(argv)
    for name, module_name in SECTIONS:
        if args.only and name != args.only:
            continue
        print(f"== {name}", flush=True)
        began = time.perf_counter()
        importlib.import_module(module_name).run(args.quick)
        print(f"   ({time.perf_counter() - began:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
