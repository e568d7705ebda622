"""``python -m workbench.demos NAME`` prints the figure a demo demonstrates (full length);
``--list`` names them; ``--seconds S`` runs shorter; ``--write`` rewrites the circuit files."""
from __future__ import annotations

import argparse
import time

import torch

from . import demos, get


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workbench.demos", description=__doc__)
    parser.add_argument("name", nargs="*", help="demo name(s); 'all' for every demo")
    parser.add_argument("--list", action="store_true", help="list the demos")
    parser.add_argument("--seconds", type=float, default=None, help="biological seconds (default: full length)")
    parser.add_argument("--write", action="store_true", help="write the demos' circuit files to assets/demos/")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    found = demos()
    if args.list or not (args.name or args.write):
        for d in found.values():
            print(f"{d.name:<10} {d.title}  [{d.circuit_file}]\n{'':<11}{d.paper}")
        return
    names = list(found) if "all" in args.name or (args.write and not args.name) else args.name
    for name in names:
        demo = get(name)
        if args.write:
            demo.build().save(demo.path)
            print(f"wrote {demo.path}")
            continue
        start = time.perf_counter()
        result = demo.outcome(args.seconds)
        print(result.text())
        print(f"({demo.name}: {time.perf_counter() - start:.1f} s wall)\n", flush=True)


if __name__ == "__main__":
    main()
