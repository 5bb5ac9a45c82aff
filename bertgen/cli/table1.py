"""`bertgen table1`: the paper's Table 1 (parameters per scheme at base size), counted from configs alone."""
from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("table1", help="the paper's Table 1: parameters of the ten schemes at base size")
    parser.set_defaults(func=run)


def run(args) -> int:
    from bertgen.experiments.table1 import format_table1, table1  # torch only when the command runs

    print("Table 1 (millions of parameters; built on the meta device from bert-base, roberta-base and gpt2 configs)")
    print(format_table1(table1()))
    return 0
