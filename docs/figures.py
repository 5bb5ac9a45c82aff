"""The README's figure of the paper's warm-starting schemes, drawn from `warm_start`'s own reports by the
function notebooks 03 and 04 use (`bertgen.teaching.draw_scheme`). Run it again when the schemes or the drawing
change: `python docs/figures.py` rewrites docs/schemes.png (tests/test_docs.py checks that it is current)."""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt

from bertgen import warm_start
from bertgen.teaching import draw_scheme, scheme_legend

SCHEMES = ["rnd2rnd", "bert2rnd", "rnd2bert", "bert2bert", "bertshare"]
SCHEMES_PNG = Path(__file__).resolve().parent / "schemes.png"


def draw_schemes(path: Path = SCHEMES_PNG) -> Path:
    """The paper's five schemes side by side, each part coloured by where warm-starting took it from."""
    fig, axes = plt.subplots(1, len(SCHEMES), figsize=(18, 3.6))
    for ax, scheme in zip(axes, SCHEMES):
        draw_scheme(warm_start(scheme, "minilm-l6", device="meta")[1], ax=ax)  # shapes only: no weights read
    scheme_legend(fig)  # the notebooks' colour key
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=72, metadata={"Software": None})  # no version stamp: same drawing, same bytes
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(draw_schemes(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMES_PNG))
