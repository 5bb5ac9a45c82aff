"""Training-step speed: bertgen against transformers' EncoderDecoderModel, and model-FLOPs utilization.

One step is forward + backward + clipping + AdamW on a MiniLM-sized bert2bert (6 layers, hidden 384, 12 heads,
FFN 1536, vocab 30522, dropout 0.1, random weights, same weights in both libraries) and the same batch. AdamW is
torch's fused one, the default of both libraries' Trainers (transformers' `optim="adamw_torch_fused"` from torch
2.8); two rows use the for-each AdamW instead, whose extra passes over the parameters both pay alike. Runs are
interleaved (bertgen, transformers, bertgen, ...; the order reversed every other round) so a busy machine slows
both alike; medians are reported.
MFU divides the model's matmul FLOPs per second by the machine's measured matmul peak (a large torch.mm).
The labels are padded with -100 as in a real batch. bertgen's rows train as its Trainer does, with the loss
computed without materializing the (tokens x vocabulary) logits (`model.fused_loss = True`, bertgen.loss), and
with its CPU dropout (bertgen.fast.dropout); one row shows bertgen with the logits returned, as transformers
always does.

The in-process rows share one process and so one allocator, set as bertgen's Trainer sets it on a CPU (glibc
keeps freed memory for reuse, bertgen.fast.memory): under glibc's defaults every block over 32 MB is
returned to the OS and faulted in again, which costs transformers' logits more than bertgen, and costs each row
according to what the rows before it left. The setting holds for the whole process, so its effect is measured
in child processes, bertgen's Trainer step in one and transformers' Trainer step in another, alternating.
"""
from __future__ import annotations

import copy
import os
import statistics
import subprocess
import sys
import time
import warnings
from typing import NamedTuple

import torch
from machine import loadavg

from bertgen.config import BertGenerationConfig, EncoderDecoderConfig
from bertgen.modeling import EncoderDecoderModel
from bertgen.modeling.packing import decoder_keep
from bertgen.fast.memory import keep_freed_memory
from bertgen.training.trainer import cpu_has_amx_bf16

SIZE = dict(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536,
            max_position_embeddings=512)
B, S, T = 16, 48, 48  # batch, source length, target length (the workbench's fusion lengths)
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
STEPS = int(os.environ.get("BENCH_STEPS", "2"))  # timed steps per round
if os.environ.get("BENCH_THREADS"):  # a busy machine: 1 thread per process avoids OpenMP oversubscription
    torch.set_num_threads(int(os.environ["BENCH_THREADS"]))


def models():
    torch.manual_seed(0)
    side = BertGenerationConfig(**SIZE)
    config = EncoderDecoderConfig.from_encoder_decoder_configs(side, side, decoder_start_token_id=101, pad_token_id=0)
    ours = EncoderDecoderModel(config)
    from transformers import BertGenerationConfig as HFConfig, BertGenerationDecoder, BertGenerationEncoder
    from transformers import EncoderDecoderModel as HFModel

    theirs = HFModel(encoder=BertGenerationEncoder(HFConfig(**SIZE)),
                     decoder=BertGenerationDecoder(HFConfig(**SIZE, is_decoder=True, add_cross_attention=True)))
    theirs.config.decoder_start_token_id, theirs.config.pad_token_id = 101, 0
    theirs.load_state_dict(ours.state_dict(), strict=False)  # same weights; HF's tied aliases fill themselves
    return ours.train(), theirs.train()


def batch(random_lengths: bool = False):
    """Labels as a collator pads them: each row's target (60-100% of T tokens, the longest T) then -100; every
    source S tokens. With random_lengths, as a batch drawn at random from a corpus (no grouping by length) is:
    each row's source and target 10-100% of S and T tokens, the longest S and T, padded (about 45% padding)."""
    g = torch.Generator().manual_seed(0)
    shortest = 0.1 if random_lengths else 0.6
    lengths = torch.randint(int(shortest * T), T + 1, (B, 1), generator=g)  # (B, 1)
    lengths[0] = T  # the batch is padded to its longest target
    labels = torch.randint(1000, 30000, (B, T), generator=g)
    labels = labels.masked_fill(torch.arange(T) >= lengths, -100)  # (B, T)
    sources = torch.randint(int(0.1 * S), S + 1, (B, 1), generator=g) if random_lengths else torch.full((B, 1), S)
    sources[0] = S
    attention_mask = (torch.arange(S) < sources).long()  # (B, S)
    input_ids = torch.randint(1000, 30000, (B, S), generator=g).masked_fill(attention_mask == 0, 0)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


class Variant(NamedTuple):
    model: torch.nn.Module
    bf16: bool  # autocast
    fused_adamw: bool
    random_lengths: bool = False  # the batch (see batch())


def stepper(model, bf16: bool, fused_adamw: bool, random_lengths: bool = False):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=fused_adamw)
    data = batch(random_lengths)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(**data).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return step


def timed(step) -> float:
    start = time.perf_counter()
    for _ in range(STEPS):
        step()
    return (time.perf_counter() - start) / STEPS


def matmul_peak(dtype: torch.dtype, n: int = 2048) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    times = []
    for _ in range(5):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n**3 / min(times)


def step_flops(data: dict) -> float:
    """Matmul FLOPs of one training step (backward = 2x forward), counting the work the loss needs: projections,
    attention and FFN on each row's source tokens and on its target positions up to the last label (what comes
    after is padding no label reads), and the LM head on the positions that have a label."""
    H, F, V, L = SIZE["hidden_size"], SIZE["intermediate_size"], SIZE["vocab_size"], SIZE["num_hidden_layers"]
    s = data["attention_mask"].sum(1).double()  # (B,) source tokens per row
    t = decoder_keep(data["labels"]).sum(1).double()  # (B,) target positions per row
    encoder = L * (s * (8 * H * H + 4 * H * F + 4 * s * H)).sum()
    decoder = L * (t * (8 * H * H + 4 * t * H)  # self-attention
                   + t * 4 * H * H + s * 4 * H * H + t * 4 * s * H  # cross: q, o on t; k, v on s; scores
                   + t * 4 * H * F).sum()
    n_labels = int((data["labels"] != -100).sum())
    return 3 * float(encoder + decoder + n_labels * 2 * H * V)


CHILDREN = {  # name: (bertgen's Trainer step?, keep freed memory?)
    "bertgen Trainer step, freed memory kept (its default)": (True, True),
    "bertgen Trainer step, glibc's allocator": (True, False),
    "transformers Trainer step, freed memory kept": (False, True),
    "transformers Trainer step, glibc's allocator": (False, False),
}
CHILD_ROUNDS = int(os.environ.get("BENCH_CHILD_ROUNDS", "3"))  # child processes per variant


def child(name: str) -> None:
    """One variant alone in this process: prints its median seconds per step over 3 rounds."""
    trainer, kept = CHILDREN[name]
    if kept:
        keep_freed_memory()
    ours, theirs = models()
    ours.fused_loss = True  # as bertgen's Trainer trains
    step = stepper(ours, cpu_has_amx_bf16(), True) if trainer else stepper(theirs, False, True)
    step()
    print(statistics.median(timed(step) for _ in range(3)))


def in_children() -> dict[str, float]:
    """Median seconds per step of each CHILDREN variant, each run in fresh processes, alternating."""
    times: dict[str, list[float]] = {name: [] for name in CHILDREN}
    for r in range(CHILD_ROUNDS):
        for name in (list(CHILDREN) if r % 2 == 0 else list(CHILDREN)[::-1]):
            out = subprocess.run([sys.executable, __file__, "--child", name], capture_output=True, text=True,
                                 check=True, env=os.environ)
            times[name].append(float(out.stdout.split()[-1]))
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    warnings.filterwarnings("ignore")
    keep_freed_memory()  # for both libraries: no row pays page faults for another row's freed blocks
    load_before = loadavg()
    ours, theirs = models()
    native = cpu_has_amx_bf16()
    fused_ours = copy.deepcopy(ours)
    fused_ours.fused_loss = True  # as bertgen's Trainer trains
    # Both Trainers default to fused AdamW; transformers' to fp32, bertgen's to bf16 autocast on CPUs with AMX (its
    # bf16 row) and fp32 elsewhere (its fp32 row).
    variants = {
        "bertgen fp32": Variant(fused_ours, bf16=False, fused_adamw=True),
        "transformers fp32": Variant(theirs, bf16=False, fused_adamw=True),
        "bertgen bf16": Variant(fused_ours, bf16=True, fused_adamw=True),
        "transformers bf16": Variant(theirs, bf16=True, fused_adamw=True),
        "bertgen fp32, for-each AdamW": Variant(fused_ours, bf16=False, fused_adamw=False),
        "transformers fp32, for-each AdamW": Variant(theirs, bf16=False, fused_adamw=False),
        "bertgen fp32, logits returned": Variant(ours, bf16=False, fused_adamw=True),
        "bertgen fp32, random-length batch": Variant(fused_ours, bf16=False, fused_adamw=True, random_lengths=True),
        "transformers fp32, random-length batch": Variant(theirs, bf16=False, fused_adamw=True, random_lengths=True),
    }
    peak_before = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    steps = {name: stepper(*variant) for name, variant in variants.items()}
    for step in steps.values():  # warm-up (allocator, oneDNN kernels)
        step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for r in range(ROUNDS):  # the order flips each round, so no variant always runs after the same one
        for name in (list(steps) if r % 2 == 0 else list(steps)[::-1]):
            times[name].append(timed(steps[name]))
    median = {name: statistics.median(t) for name, t in times.items()}
    tokens = B * (S + T)
    flops = {random_lengths: step_flops(batch(random_lengths)) for random_lengths in (False, True)}
    n_labels = int((batch()["labels"] != -100).sum())
    random_batch = batch(random_lengths=True)
    padding = 1 - float(random_batch["attention_mask"].sum() + decoder_keep(random_batch["labels"]).sum()) / tokens
    # the best of two measurements, before and after: on a shared machine a single one may be slowed
    peak_after = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    peak = {name: max(peak_before[name], peak_after[name]) for name in peak_before}

    print("## Training step (forward + backward + AdamW)\n")
    print(f"MiniLM-sized bert2bert (6 layers, hidden 384, 12 heads, FFN 1536, vocab 30522, dropout 0.1), batch {B}, "
          f"source {S} and target {T} tokens, fused AdamW unless a row says otherwise, {torch.get_num_threads()} "
          f"threads; median of {ROUNDS} interleaved rounds of {STEPS} steps (the order reversed every other round); "
          f"labels padded with -100 to the longest target ({n_labels} of {B * T} label positions count), every "
          f"source {S} tokens, except in the random-length rows: sources and targets 10-100% of {S} and {T} tokens, "
          f"{padding:.0%} of the grid padding that no label reads (batches drawn at random from brown-fusion and "
          f"bible-modern have 46-52%: benchmarks/padding.py). bertgen's rows compute the loss as its Trainer does, "
          f"without materializing the logits (`fused_loss`, outputs.logits is None) and skipping the padding no "
          f"label reads (bertgen.modeling.packing), except the `logits returned` row, which returns them as "
          f"transformers does; bertgen's dropout is its own CPU one. CPU has AMX bf16 tiles (amx_bf16, where "
          f"`precision='auto'` picks bf16 autocast): {native}. Measured matmul peak (2048x2048 torch.mm): fp32 "
          f"{peak['fp32'] / 1e9:.0f} GFLOP/s, bf16 {peak['bf16'] / 1e9:.0f} GFLOP/s. Model FLOPs per step, the "
          f"work the loss needs (padding masked in a source or after a row's last label left out): "
          f"{flops[False] / 1e9:.1f} GFLOP, {flops[True] / 1e9:.1f} GFLOP for the random-length batch. MFU: those "
          f"FLOPs per second over the peak of the step's precision. One process, glibc set to keep freed memory "
          f"for reuse for both libraries (as bertgen's Trainer sets it; its effect on each is in the next table). "
          f"Load average (1/5/15 min) before: {load_before}, after: {loadavg()}.\n")
    print("| variant | ms / step | tokens/s (padding included) | vs transformers fp32, same batch | MFU |")
    print("|---|---|---|---|---|")
    for name, seconds in median.items():
        variant = variants[name]
        base = median["transformers fp32" + (", random-length batch" if variant.random_lengths else "")]
        print(f"| {name} | {seconds * 1e3:.0f} | {tokens / seconds:.0f} | {base / seconds:.2f}x | "
              f"{flops[variant.random_lengths] / seconds / peak['bf16' if variant.bf16 else 'fp32']:.1%} |")
    ratio = lambda a, b: median[b] / median[a]  # noqa: E731  (throughput of a over b)
    trainer_row = "bertgen bf16" if native else "bertgen fp32"
    print(f"\nSame precision and optimizer (bertgen with its fused loss), bertgen's throughput over transformers': "
          f"fp32 {ratio('bertgen fp32', 'transformers fp32'):.2f}x, bf16 autocast "
          f"{ratio('bertgen bf16', 'transformers bf16'):.2f}x, fp32 with the for-each AdamW "
          f"{ratio('bertgen fp32, for-each AdamW', 'transformers fp32, for-each AdamW'):.2f}x. With the logits "
          f"returned as transformers returns them (bertgen's dropout still its own, no packing), bertgen fp32: "
          f"{ratio('bertgen fp32, logits returned', 'transformers fp32'):.2f}x. On the random-length batch, "
          f"where packing skips {padding:.0%} of the grid: "
          f"{ratio('bertgen fp32, random-length batch', 'transformers fp32, random-length batch'):.2f}x. "
          f"bertgen's Trainer step is the `{trainer_row}` row here, transformers' Trainer step the "
          f"`transformers fp32` row: {ratio(trainer_row, 'transformers fp32'):.2f}x.")
    children = in_children()
    print("\nThe allocator: each step alone in a fresh process (the rows above shared one process, with freed "
          f"memory kept for reuse), {CHILD_ROUNDS} processes per variant, in turn; median of each process's median "
          f"of 3 rounds of {STEPS} steps. bertgen's Trainer step is fused loss, fused AdamW, "
          f"{'bf16 autocast' if native else 'fp32'}; transformers' Trainer step is fp32, fused AdamW; each under "
          "glibc's defaults and with freed blocks kept for reuse (keep_freed_memory, which bertgen's Trainer sets "
          "on CPU).\n")
    print("| process | ms / step | vs transformers' Trainer step, glibc's allocator |")
    print("|---|---|---|")
    base = children["transformers Trainer step, glibc's allocator"]
    for name, seconds in children.items():
        print(f"| {name} | {seconds * 1e3:.0f} | {base / seconds:.2f}x |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        warnings.filterwarnings("ignore")
        sys.exit(child(sys.argv[2]))
    sys.exit(main())
