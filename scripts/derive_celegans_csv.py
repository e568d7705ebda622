"""Derive assets/connectomes/celegans_white1986.csv from the PyPI package ``cect`` (run once).

    pip download --no-deps cect==0.3.5 -d /tmp/cect
    python scripts/derive_celegans_csv.py /tmp/cect/cect-0.3.5-py3-none-any.whl

Reads ``cect/data/aconnectome_white_1986_whole.csv`` (White et al. 1986 as re-analysed by
Varshney et al. 2011; tab-separated pre, post, type, synapses) straight from the wheel, keeps
the neuron-to-neuron rows (drops the pharyngeal muscles pm1/pm4 and the legacy body-wall
muscle entry), merges duplicate rows and writes a sorted CSV. The project reads only the CSV.
"""
import csv
import io
import sys
import zipfile
from collections import Counter
from pathlib import Path

SOURCE = "cect/data/aconnectome_white_1986_whole.csv"
NOT_NEURONS = {"pm1", "pm4", "LegacyBodyWallMuscles"}
OUT = Path(__file__).resolve().parent.parent / "assets" / "connectomes" / "celegans_white1986.csv"
HEADER = """# C. elegans hermaphrodite connectome, neurons only: chemical synapses (directed) and gap junctions
# (electrical, listed once per pair, symmetric). synapses = number of synaptic contacts.
# Source: White, Southgate, Thomson & Brenner (1986) Phil. Trans. R. Soc. Lond. B 314:1-340, as
# re-analysed by Varshney, Chen, Paniagua, Hall & Chklovskii (2011) PLoS Comput. Biol. 7(2):e1001066;
# file aconnectome_white_1986_whole.csv of the PyPI package cect 0.3.5 (OpenWorm ConnectomeToolbox, MIT).
# Derived by scripts/derive_celegans_csv.py.
"""


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as z:
        text = z.read(SOURCE).decode()
    counts = Counter()
    for row in csv.DictReader(io.StringIO(text), delimiter="\t"):
        pre, post, kind = row["pre"].strip(), row["post"].strip(), row["type"].strip()
        if pre in NOT_NEURONS or post in NOT_NEURONS:
            continue
        if kind == "electrical":
            pre, post = sorted((pre, post))  # one row per unordered pair
        counts[(pre, post, kind)] += int(row["synapses"])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="") as f:
        f.write(HEADER)
        w = csv.writer(f)
        w.writerow(["pre", "post", "type", "synapses"])
        for (pre, post, kind), n in sorted(counts.items()):
            w.writerow([pre, post, kind, n])
    neurons = {c for key in counts for c in key[:2]}
    print(f"wrote {OUT}: {len(counts)} rows, {len(neurons)} neurons")


if __name__ == "__main__":
    main(sys.argv[1])
