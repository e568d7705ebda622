"""Render each demo's thumbnail (assets/demos/<circuit>.png) from a headless run of the demo,
and print its figures: ``python scripts/make_thumbnails.py [NAME ...] [--seconds S]``.

The chart each demo's ``outcome`` returns is drawn with PIL (no browser needed)."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench.demos import demos  # noqa: E402

W, H = 240, 150
COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]


def draw(chart: dict, title: str) -> Image.Image:
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    d.text((6, 4), title[:38], fill=(20, 20, 20), font=font)
    d.text((6, 16), chart.get("title", "")[:40], fill=(110, 110, 110), font=font)
    left, top, right, bottom = 28, 32, W - 8, H - 18
    d.line([(left, top), (left, bottom), (right, bottom)], fill=(120, 120, 120))
    series = chart["series"]
    if chart["kind"] == "bars":
        values = [float(v) for v in series.values()]
        hi = max(max(values), 1e-9)
        slot = (right - left) / len(values)
        for k, (label, v) in enumerate(series.items()):
            x0 = left + k * slot + slot * 0.15
            y = bottom - (bottom - top) * max(float(v), 0.0) / hi
            d.rectangle([x0, y, x0 + slot * 0.7, bottom], fill=COLOURS[k % len(COLOURS)])
            d.text((x0, bottom + 3), str(label)[:7], fill=(60, 60, 60), font=font)
        d.text((2, top - 2), f"{hi:.3g}", fill=(90, 90, 90), font=font)
        return img
    log_x = chart.get("log_x", False)
    points = [(math.log10(x) if log_x else float(x), float(y)) for s in series.values() for x, y in s]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if "hline" in chart:
        ys.append(chart["hline"])
    x_lo, x_hi, y_lo, y_hi = min(xs), max(xs), min(ys), max(ys)
    y_hi = y_hi if y_hi > y_lo else y_lo + 1

    def at(x, y):
        x = math.log10(x) if log_x else x
        return (left + (right - left) * (x - x_lo) / max(x_hi - x_lo, 1e-12),
                bottom - (bottom - top) * (y - y_lo) / (y_hi - y_lo))

    for m in chart.get("marks", []):
        x, _ = at(m, y_lo)
        d.line([(x, top), (x, bottom)], fill=(230, 200, 200))
    if "hline" in chart:
        d.line([at(10 ** x_lo if log_x else x_lo, chart["hline"]), at(10 ** x_hi if log_x else x_hi, chart["hline"])],
               fill=(160, 160, 160))
    for k, (label, pts) in enumerate(series.items()):
        c = COLOURS[k % len(COLOURS)]
        d.line([at(float(x), float(y)) for x, y in pts], fill=c, width=2)
        d.text((left + 6 + 80 * k, bottom + 3), str(label)[:13], fill=c, font=font)
    d.text((2, top - 2), f"{y_hi:.3g}", fill=(90, 90, 90), font=font)
    d.text((2, bottom - 10), f"{y_lo:.3g}", fill=(90, 90, 90), font=font)
    return img


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*")
    parser.add_argument("--seconds", type=float, default=None, help="shorter runs (default: full length)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    for name, demo in demos().items():
        if args.names and name not in args.names:
            continue
        result = demo.outcome(args.seconds)
        print(result.text(), flush=True)
        draw(result.chart, demo.title).save(demo.thumbnail, optimize=True)
        print(f"wrote {demo.thumbnail} ({demo.thumbnail.stat().st_size} bytes)\n", flush=True)


if __name__ == "__main__":
    main()
