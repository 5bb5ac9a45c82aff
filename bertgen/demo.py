"""`bertgen demo`: the main job on the embedded default (filled in as the model core lands)."""
from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("demo", help="run the main job on the embedded default")
    parser.set_defaults(func=run)


def run(args) -> int:
    print("bertgen demo: nothing yet")
    return 0
