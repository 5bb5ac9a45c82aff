"""`torch.compile` of bertgen's training step on a CPU: step time, compilation, recompiles, agreement with eager.

The step is bench_training.py's Trainer step (forward under autocast with the fused loss, bertgen's CPU dropout,
backward, clipping, fused AdamW) on its MiniLM-sized bert2bert, at the sweep's shapes: batch 32, each batch padded
to its longest source and target (up to 64 tokens), the batches of similar lengths as bertgen's Trainer deals them
(its LengthBucketSampler over a synthetic corpus of pairs 5-64 tokens a side), so the padded shape changes from
batch to batch as in a real run.

Each compiled variant (`torch.compile(model)`, inductor, with `dynamic=None`, the default: static shapes, then the
dimensions that changed made dynamic at the first recompile; or `dynamic=True`) runs in a process of its own
(dynamo's caches are per process), cold (inductor's on-disk caches off), beside an eager copy of the same model:
both take the same stream of batches, alternating which goes first, so a busy machine slows both alike. One more
bf16 row compiles the step with torch's dropout instead (BERTGEN_TORCH_DROPOUT=1 around the compiled forward, which
also turns packing off): bertgen's CPU dropout draws its noise with `random_()`, which dynamo cannot trace, so each
dropout splits the graph; torch's dropout inductor compiles into it. Its baseline is still the eager Trainer step.
Reported per variant: the first step's seconds (compilation) against eager's; the graphs dynamo compiled after the
first step (recompiles for new shapes) and in how many steps; the steady-state time ratio, the median over the
stream's second half of compiled / eager on the same batch; and a 4,000-step run's time ratio, the compilation the
stream paid (what each compiled step cost beyond the steady ratio times eager's) added once.

Agreement: before the stream, one forward and backward of each copy (same weights, same batch, the same dropout
masks: the same seed before each, and the masks are drawn outside the compiled graphs, see the graph breaks) gives
the relative difference of the loss and the largest relative difference of a parameter's gradient (max abs
difference over the eager gradient's max abs value; the attention keys' biases left out, whose true
gradient is 0).

    python benchmarks/compile_step.py        # BENCH_STREAM batches per variant (default 40), BENCH_PRECISIONS
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import warnings

import torch
from bench_training import SIZE
from machine import loadavg

from bertgen.config import BertGenerationConfig, EncoderDecoderConfig
from bertgen.data.collate import LengthBucketSampler
from bertgen.fast.memory import keep_freed_memory
from bertgen.modeling import EncoderDecoderModel

B, MAX_LENGTH = 32, 64  # the sweep's batch and its longest source and target
STREAM = int(os.environ.get("BENCH_STREAM", "40"))  # batches each variant trains on
PRECISIONS = os.environ.get("BENCH_PRECISIONS", "bf16,fp32").split(",")
RUN_STEPS = 4000  # the sweep's run, over which the compilation is amortised
VARIANTS = {  # name: (torch.compile's dynamic=, torch's dropout in the compiled copy?, precisions)
    "compiled, dynamic=None": (None, False, ("bf16", "fp32")),
    "compiled, dynamic=True": (True, False, ("bf16", "fp32")),
    "compiled, dynamic=True, torch's dropout": (True, True, ("bf16",)),
}


def shape_stream(n: int) -> list[tuple[int, int, list[int], list[int]]]:
    """The first n batches bertgen's Trainer deals from a synthetic corpus: (S, T, source lengths, target lengths).
    Pairs have 5-64 source tokens and a target within 4 tokens of the source (fusion rewrites a sentence pair)."""
    g = torch.Generator().manual_seed(0)
    sources = torch.randint(5, MAX_LENGTH + 1, (20_000,), generator=g)
    targets = (sources + torch.randint(-4, 5, sources.shape, generator=g)).clamp(3, MAX_LENGTH)
    sampler = LengthBucketSampler(torch.maximum(sources, targets).tolist(), B, seed=0, drop_last=True)
    batches = list(sampler)[:n]
    return [(int(sources[b].max()), int(targets[b].max()), sources[b].tolist(), targets[b].tolist())
            for b in batches]


def make_batch(source_lengths: list[int], target_lengths: list[int], seed: int) -> dict[str, torch.Tensor]:
    """Random ids with each row's lengths: sources padded with 0 to the longest, labels with -100."""
    g = torch.Generator().manual_seed(seed)
    S, T = max(source_lengths), max(target_lengths)
    attention_mask = (torch.arange(S) < torch.tensor(source_lengths)[:, None]).long()  # (B, S)
    input_ids = torch.randint(1000, 30000, (len(source_lengths), S), generator=g).masked_fill(attention_mask == 0, 0)
    labels = torch.randint(1000, 30000, (len(target_lengths), T), generator=g)
    labels = labels.masked_fill(torch.arange(T) >= torch.tensor(target_lengths)[:, None], -100)  # (B, T)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def model() -> EncoderDecoderModel:
    torch.manual_seed(0)
    side = BertGenerationConfig(**SIZE)
    config = EncoderDecoderConfig.from_encoder_decoder_configs(side, side, decoder_start_token_id=101, pad_token_id=0)
    ours = EncoderDecoderModel(config).train()
    ours.fused_loss = True  # as bertgen's Trainer trains
    return ours


def stepper(module: torch.nn.Module, forward, bf16: bool):
    """One Trainer step of `module` through `forward` (the module, or its compiled wrapper)."""
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-4, fused=True)

    def step(data: dict) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = forward(**data).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return step


def gradients(module: torch.nn.Module, forward, data: dict, bf16: bool) -> tuple[float, dict[str, torch.Tensor]]:
    """Loss and gradients of one forward and backward from seed 0 (the dropout masks), the gradients then cleared."""
    torch.manual_seed(0)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = forward(**data).loss
    loss.backward()
    grads = {name: p.grad.clone() for name, p in module.named_parameters() if p.grad is not None}
    module.zero_grad(set_to_none=True)
    return float(loss), grads


def gradient_difference(eager: dict[str, torch.Tensor], compiled: dict[str, torch.Tensor]) -> float:
    """The largest over the parameters of max |compiled - eager| / max |eager|, leaving out the attention keys'
    biases: their true gradient is 0 (adding one vector to every key shifts a query's scores alike, which the
    softmax ignores), so both sides hold rounding noise only."""
    return max(float((compiled[name] - g).abs().max()) / float(g.abs().max())
               for name, g in eager.items() if not name.endswith("key.bias"))


def torch_dropout(forward):
    """`forward` with BERTGEN_TORCH_DROPOUT=1 while it runs: torch's dropout (which inductor compiles into the graph),
    no packing, in place of bertgen's CPU dropout and its graph breaks (bertgen.fast.dropout)."""
    def call(**data):
        os.environ["BERTGEN_TORCH_DROPOUT"] = "1"
        try:
            return forward(**data)
        finally:
            del os.environ["BERTGEN_TORCH_DROPOUT"]
    return call


def child(precision: str, variant: str) -> None:
    """One compiled variant beside eager, in this process: prints its measurements as JSON."""
    from torch._dynamo.utils import counters

    keep_freed_memory()  # as bertgen's Trainer sets it on CPU
    bf16 = precision == "bf16"
    eager_model, compiled_model = model(), model()  # the same weights (seed 0)
    dynamic, torch_dropout_, _ = VARIANTS[variant]
    compiled = torch.compile(compiled_model, dynamic=dynamic)
    if torch_dropout_:
        compiled = torch_dropout(compiled)
    stream = shape_stream(STREAM)
    first = make_batch(*stream[0][2:], seed=0)
    start = time.perf_counter()
    eager_loss, eager_grads = gradients(eager_model, eager_model, first, bf16)
    eager_first = time.perf_counter() - start
    start = time.perf_counter()
    compiled_loss, compiled_grads = gradients(compiled_model, compiled, first, bf16)
    compiled_first = time.perf_counter() - start
    grad_diff = gradient_difference(eager_grads, compiled_grads)
    graphs_first = counters["stats"]["unique_graphs"]

    steps = {"eager": stepper(eager_model, eager_model, bf16), "compiled": stepper(compiled_model, compiled, bf16)}
    times: dict[str, list[float]] = {name: [] for name in steps}
    recompiling_steps = 0
    for i, (_, _, source_lengths, target_lengths) in enumerate(stream):
        data = make_batch(source_lengths, target_lengths, seed=i)
        for name in (list(steps) if i % 2 == 0 else list(steps)[::-1]):
            graphs = counters["stats"]["unique_graphs"]
            start = time.perf_counter()
            steps[name](data)
            times[name].append(time.perf_counter() - start)
            if name == "compiled" and counters["stats"]["unique_graphs"] > graphs:
                recompiling_steps += 1
    print(json.dumps({
        "eager_first": eager_first, "compiled_first": compiled_first, "graphs_first": graphs_first,
        "graphs_after": counters["stats"]["unique_graphs"] - graphs_first, "recompiling_steps": recompiling_steps,
        # other dropout masks than eager's: no agreement to measure
        "loss_diff": None if torch_dropout_ else abs(compiled_loss - eager_loss) / abs(eager_loss),
        "grad_diff": None if torch_dropout_ else grad_diff,
        "eager": times["eager"], "compiled": times["compiled"],
        "shapes": len({(s, t) for s, t, _, _ in stream})}))


def summary(m: dict) -> dict:
    """Steady ratio, the compilation the stream paid, and a RUN_STEPS-step run's ratio with it amortised."""
    eager, compiled = m["eager"], m["compiled"]
    half = len(eager) // 2
    ratio = statistics.median(c / e for c, e in zip(compiled[half:], eager[half:]))  # compiled / eager
    paid = (m["compiled_first"] - m["eager_first"]) + sum(max(0.0, c - ratio * e) for c, e in zip(compiled, eager))
    eager_run = RUN_STEPS * statistics.mean(eager)
    return {"ratio": ratio, "paid": paid, "run_ratio": (ratio * eager_run + paid) / eager_run,
            "eager_ms": statistics.median(eager[half:]) * 1e3, "compiled_ms": statistics.median(compiled[half:]) * 1e3}


def scientific(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1e}"


def main() -> None:
    load_before = loadavg()
    env = {**os.environ, "TORCHINDUCTOR_FORCE_DISABLE_CACHES": "1"}  # cold: what a fresh run compiles
    results = {}
    for precision in PRECISIONS:
        for name, (_, _, precisions) in VARIANTS.items():
            if precision not in precisions:
                continue
            out = subprocess.run([sys.executable, __file__, "--child", precision, name], capture_output=True,
                                 text=True, check=True, env=env)
            results[precision, name] = json.loads(out.stdout.strip().splitlines()[-1])
    shapes = next(iter(results.values()))["shapes"]
    print("## torch.compile of the training step\n")
    print(f"bench_training.py's MiniLM-sized bert2bert and bertgen's Trainer step (fused loss, bertgen's CPU dropout, "
          f"clipping, fused AdamW), batch {B}, {STREAM} batches as bertgen's Trainer deals them (length buckets; "
          f"sources and targets up to {MAX_LENGTH} tokens; {shapes} distinct padded shapes), {torch.get_num_threads()}"
          f" thread(s), torch {torch.__version__}. Each compiled variant (inductor) in a process of its own, cold "
          f"(inductor's caches off), beside an eager copy of the model on the same batches, the order alternating. "
          f"First step: seconds of the first forward and backward (compiled: tracing and compiling), and the graphs "
          f"dynamo compiled for it (every graph break starts another). Recompiles: "
          f"graphs compiled after the first step, and in how many steps. Steady: median over the second half of "
          f"the stream of compiled / eager time on the same batch (< 1: compiled faster). {RUN_STEPS:,}-step run: "
          f"that ratio with the compilation the stream paid added once. Agreement, one step from the same weights, "
          f"batch and dropout masks: the loss's relative difference, and the largest over the parameters of max "
          f"|grad difference| / max |eager grad|. Load average (1/5/15 min) before: {load_before}, after: "
          f"{loadavg()}.\n")
    print("| precision | variant | first step s (eager) | graphs, first step | recompiles (steps) | eager ms | "
          f"compiled ms | steady compiled / eager | {RUN_STEPS:,}-step run compiled / eager | loss rel. diff | "
          "grad rel. diff |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (precision, name), m in results.items():
        s = summary(m)
        print(f"| {precision} | {name} | {m['compiled_first']:.0f} ({m['eager_first']:.1f}) | {m['graphs_first']} | "
              f"{m['graphs_after']} ({m['recompiling_steps']}) | {s['eager_ms']:.0f} | {s['compiled_ms']:.0f} | "
              f"{s['ratio']:.3f} | {s['run_ratio']:.3f} | {scientific(m['loss_diff'])} | "
              f"{scientific(m['grad_diff'])} |")


if __name__ == "__main__":
    warnings.filterwarnings("ignore")
    if os.environ.get("BENCH_THREADS"):
        torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
    if sys.argv[1:2] == ["--child"]:
        sys.exit(child(sys.argv[2], sys.argv[3]))
    sys.exit(main())
