"""`bertgen data fetch NAME` and `bertgen data stats NAME`."""
from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("data", help="fetch offline corpora, inspect tasks")
    data_sub = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    p = data_sub.add_parser("fetch", help="obtain an offline corpus into $BERTGEN_HOME/raw")
    p.add_argument("name", help="a corpus (brown, bible, ding) or an offline task that uses one")
    p.add_argument("--path", help="use this directory, tarball, zip or .deb instead of looking elsewhere")
    p.add_argument("--force", action="store_true", help="fetch again even if already there")
    p.set_defaults(func=run_fetch)

    p = data_sub.add_parser("stats", help="sizes, length percentiles and examples of a task")
    p.add_argument("name", help="a task (an unknown name lists them)")
    p.add_argument("--split", help="only this split (train, validation or test)")
    p.add_argument("--examples", type=int, default=3, help="how many examples to print")
    p.add_argument("--tokenizer", help="also count the examples whose sides fit 32 and 48 tokens of this "
                   "tokenizer (a name such as minilm-l6, or a path)")
    p.add_argument("--data-dir", help="offline tasks: raw corpus directory to use instead of $BERTGEN_HOME")
    p.add_argument("--data-files", action="append", metavar="SPLIT=PATH",
                   help="hub tasks: a local file in the dataset's schema for one split (repeatable)")
    p.set_defaults(func=run_stats)


def _corpus_names(name: str) -> tuple[str, ...]:
    from bertgen.data import registry
    from bertgen.data.corpora import fetch

    if name in fetch.CORPORA:
        return (name,)
    task = registry.TASKS.get(name)
    if task is None:
        raise ValueError(f"unknown corpus or task {name!r}; corpora: {', '.join(fetch.CORPORA)}; "
                         f"offline tasks: {', '.join(t.name for t in registry.TASKS.values() if t.offline)}")
    if not task.offline:
        raise ValueError(f"{name} is a hub dataset: `datasets` downloads it on first use; offline, pass local "
                         "files with --data-files to `bertgen data stats` or data_files= to load_task")
    return task.corpora


def run_fetch(args) -> int:
    from bertgen.data.corpora import fetch

    for corpus in _corpus_names(args.name):
        fetch.fetch(corpus, path=args.path, force=args.force)
    return 0


def _data_files(items: list[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    out = {}
    for item in items:
        split, sep, path = item.partition("=")
        if not sep or not split or not path:
            raise ValueError(f"--data-files {item!r}: expected SPLIT=PATH, e.g. train=/data/train.parquet")
        out[split] = path
    return out


def run_stats(args) -> int:
    from bertgen.data import registry, stats

    dsd = registry.load_task(args.name, split=args.split, data_dir=args.data_dir,
                             data_files=_data_files(args.data_files))
    tokenizer = None
    if args.tokenizer:
        from bertgen.tokenization import load_tokenizer

        tokenizer = load_tokenizer(args.tokenizer)
    print(stats.report(args.name, dsd, examples=args.examples, tokenizer=tokenizer))
    return 0
