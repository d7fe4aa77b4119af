"""How long a command takes to start: `make bench-cli`.

Medians of 10 runs each, as ratios to the bare interpreter measured in the same run, for
`groupsync --version`, `groupsync validate` on the example, and `python -c pass`. Targets
(docs/contracts.md, "The command line starts fast"): `--version` at most 3x the interpreter,
`validate` at most 8x. Every command imports only the stages it uses; this is what keeps them there.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "practice.yaml"
TARGETS = {"--version": 3.0, "validate": 8.0}


def _median_seconds(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    python = sys.executable
    groupsync = str(Path(python).with_name("groupsync"))
    commands = {
        "python -c pass": [python, "-c", "pass"],
        "--version": [groupsync, "--version"],
        "validate": [groupsync, "validate", "-f", str(EXAMPLE)],
    }
    for argv in commands.values():  # warm the page cache and the bytecode
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    medians = {name: _median_seconds(argv, args.runs) for name, argv in commands.items()}
    bare = medians["python -c pass"]
    print(f"{'command':<22}{'median ms':>10}{'x python':>10}{'target':>8}")
    failed = False
    for name, seconds in medians.items():
        ratio = seconds / bare
        target = TARGETS.get(name)
        mark = "" if target is None else f"{target:.0f}x" + ("" if ratio <= target else " MISS")
        failed |= target is not None and ratio > target
        print(f"{name:<22}{seconds * 1000:>10.1f}{ratio:>10.1f}{mark:>8}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
