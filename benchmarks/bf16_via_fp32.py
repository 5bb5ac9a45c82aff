"""bf16 autocast on a CPU without bfloat16 instructions: torch's own against bertgen's float32 GEMMs (bertgen.fast.bf16).

The step is bench_training.py's (forward under autocast with the fused loss, backward, clipping, fused AdamW) on its
MiniLM-sized bert2bert, at the sweep's batch of 32 (sources 48 tokens, targets 29-48). Three variants on the same
weights and batch: fp32; bf16 autocast as torch runs it; and bf16 autocast with its matmuls as float32 GEMMs of the
bfloat16-rounded operands (what the Trainer runs on such a CPU). Rounds alternate the variants' order; medians.

Agreement, with dropout off: the loss and the gradient of each variant against torch's bf16 autocast (the norm of
the difference over the norm of torch's, all parameters as one vector; the attention keys' biases left out, whose
true gradient is 0). Two bf16 computations that sum in different orders differ where a rounding tips, rarely,
but the differences grow through the layers: a layer's exactness is checked in tests/fast/test_bf16.py.

    python benchmarks/bf16_via_fp32.py        # BENCH_ROUNDS rounds (default 3) of one step each; by hand, not in
                                              # `make bench`: torch's bf16 step takes a minute and a half on AVX2
"""
from __future__ import annotations

import os
import statistics
import time

import torch
from bench_training import SIZE, batch
import bench_training

from bertgen.config import BertGenerationConfig, EncoderDecoderConfig
from bertgen.fast.bf16 import autocast_bf16_via_fp32
from bertgen.fast.cpu import cpu_flags, cpu_multiplies_bf16
from bertgen.fast.memory import keep_freed_memory
from bertgen.modeling import EncoderDecoderModel

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
VARIANTS = {
    "fp32": lambda: torch.autocast("cpu", enabled=False),
    "bf16 autocast, torch's bfloat16 GEMMs": lambda: torch.autocast("cpu", dtype=torch.bfloat16),
    "bf16 autocast, float32 GEMMs (bertgen.fast.bf16)": autocast_bf16_via_fp32,
}


def model(dropout: float) -> EncoderDecoderModel:
    torch.manual_seed(0)
    side = BertGenerationConfig(**SIZE, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    config = EncoderDecoderConfig.from_encoder_decoder_configs(side, side, decoder_start_token_id=101, pad_token_id=0)
    return EncoderDecoderModel(config)


def gradients(net, data, context) -> tuple[float, dict[str, torch.Tensor]]:
    net.zero_grad(set_to_none=True)
    with context():
        loss = net(**data).loss
    loss.backward()
    return loss.item(), {name: p.grad.clone() for name, p in net.named_parameters() if p.grad is not None}


def main() -> None:
    torch.set_num_threads(1)
    keep_freed_memory()
    bench_training.B = 32
    data = batch()
    names = list(VARIANTS)
    reference_name = names[1]

    exact = model(0.0)
    results = {name: gradients(exact, data, VARIANTS[name]) for name in names}
    ref_loss, ref_grads = results[reference_name]

    def distance(grads):
        # the attention keys' biases left out: their true gradient is 0 (softmax ignores a constant), what is there is noise
        kept = [k for k in ref_grads if not k.endswith("key.bias")]
        difference = torch.cat([(grads[k] - ref_grads[k]).flatten() for k in kept])
        return float(difference.norm() / torch.cat([ref_grads[k].flatten() for k in kept]).norm())

    nets = {name: model(0.1) for name in names}
    optimizers = {name: torch.optim.AdamW(net.parameters(), lr=1e-4, fused=True) for name, net in nets.items()}
    times = {name: [] for name in names}
    for r in range(ROUNDS):
        for name in (names if r % 2 == 0 else names[::-1]):
            net, optimizer = nets[name], optimizers[name]
            start = time.perf_counter()
            with VARIANTS[name]():
                loss = net(**data).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            times[name].append(time.perf_counter() - start)

    flags = cpu_flags()
    isa = ", ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags) or "unknown"
    print("## bf16 autocast without bfloat16 instructions\n")
    print(f"MiniLM-sized bert2bert, batch 32 (sources 48 tokens), one thread; CPU flags: {isa}; bfloat16 "
          f"instructions: {cpu_multiplies_bf16()}. Median of {ROUNDS} steps each, the order alternating. Agreement "
          f"with dropout off, against torch's bf16 autocast: the loss, and the gradient's relative difference (all "
          f"parameters as one vector).\n")
    print("| step | seconds | vs fp32 | loss | loss − torch bf16's | gradients vs torch bf16's |")
    print("|---|---|---|---|---|---|")
    fp32_time = statistics.median(times["fp32"])
    for name in names:
        loss, grads = results[name]
        seconds = statistics.median(times[name])
        print(f"| {name} | {seconds:.2f} | {fp32_time / seconds:.2f}x | {loss:.5f} | {loss - ref_loss:+.1e} | "
              f"{distance(grads):.1e} |")


if __name__ == "__main__":
    main()
