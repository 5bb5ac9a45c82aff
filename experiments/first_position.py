"""What a pretrained encoder makes of the word in its first position (experiments/RECIPE.md, stage 5).

BERT-style checkpoints were pretrained with [CLS] in position 0. Fed bare text, as the paper's configs feed it, the
first word sits where [CLS] always sat. This measures, over validation inputs, how alike the encoder's top-layer
vectors of one position are across different inputs (mean pairwise cosine): a position that reads its word gives
different vectors for different words; one that does not, nearly the same vector whatever the word.

    python experiments/first_position.py [--task fusion] [--checkpoint minilm-l6] [--examples 64]
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from bertgen import BertGenerationEncoder
from bertgen.data import load_task
from bertgen.warmstart.pretrained import read_pretrained


def alikeness(vectors: list[torch.Tensor]) -> float:
    """The mean cosine between the vectors of different inputs (1: the same vector whatever the input)."""
    v = F.normalize(torch.stack(vectors), dim=-1)
    n = len(vectors)
    return ((v @ v.T).sum().item() - n) / (n * n - n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="fusion")
    parser.add_argument("--checkpoint", default="minilm-l6")
    parser.add_argument("--examples", type=int, default=64)
    args = parser.parse_args()
    checkpoint = read_pretrained(args.checkpoint)
    tokenizer = checkpoint.tokenizer
    # as warm_start builds it: segment A's vector folded into the positions, as BERT computes one segment
    encoder = BertGenerationEncoder.from_pretrained(checkpoint.directory, fold_token_type=True).eval()
    sources = load_task(args.task)["validation"].select(range(args.examples))["source"]
    print(f"{args.checkpoint} encoder, top layer, {len(sources)} {args.task} validation inputs: mean cosine "
          "between inputs of one word position's vectors")
    print("| input | first word | second word | third word |\n|---|---|---|---|")
    for special in (False, True):
        words = [[], [], []]  # the first three words' vectors of each input
        for text in sources:
            ids = tokenizer(text, add_special_tokens=special, return_tensors="pt")["input_ids"]
            with torch.no_grad():
                hidden = encoder(ids).last_hidden_state[0]  # (S, H)
            first = 1 if special else 0
            for k in range(3):
                words[k].append(hidden[first + k])
        name = "[CLS] text [SEP]" if special else "bare text (the paper's)"
        print(f"| {name} | " + " | ".join(f"{alikeness(w):.2f}" for w in words) + " |")


if __name__ == "__main__":
    main()
