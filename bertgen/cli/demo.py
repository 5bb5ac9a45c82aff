"""`bertgen demo`: the main job on the embedded default (what `make demo` runs).

Fetches the Bibles if needed (Debian's SWORD packages), warm-starts bert2bert from the packaged MiniLM-L6
checkpoint, fine-tunes it on bible-modern (King James English -> modern English) for a few minutes, evaluates
on the test split, prints a results table and input -> output -> reference examples, and saves a model
`bertgen generate` and transformers both load.
"""
from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("demo", help="fine-tune and evaluate bert2bert on bible-modern (the main job)",
                            description=__doc__)
    parser.add_argument("--minutes", type=float, default=15.0, help="training time budget (default 15)")
    parser.add_argument("--output", default=None,
                        help="where the trained model goes (default $BERTGEN_HOME/demo/bert2bert-bible-modern)")
    parser.add_argument("--examples", type=int, default=10, help="input -> output -> reference rows to print")
    parser.set_defaults(func=run)


def run(args) -> int:
    from bertgen.experiments.demo import run_demo

    if args.minutes <= 0:
        raise ValueError(f"--minutes must be positive, got {args.minutes}")
    run_demo(output_dir=args.output, minutes=args.minutes, examples=args.examples)
    return 0
