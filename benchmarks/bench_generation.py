"""Generation speed: bertgen's `generate` against transformers' on the same weights, and int8 quantization.

A MiniLM-sized bert2bert (6 layers, hidden 384, 12 heads, FFN 1536, vocab 30522; random weights, saved by
transformers and loaded by bertgen, so both decode the same model) generates exactly 32 new tokens per
input (min_new_tokens = max_new_tokens = 32), greedy and with 4 beams, for 1 and 8 inputs of 32 source
tokens. Runs alternate between the libraries (the order flips each round) so a busy machine slows both
alike; medians are reported. tokens/s counts the new tokens of the returned sequences (batch x 32).

bert2gpt2: the same encoder with a GPT-2 decoder of MiniLM's width (6 blocks, n_embd 384, 12 heads, inner 1536,
GPT-2's 50,257-token vocabulary; cross-attention), the same cases against transformers on the same weights.
`BENCH_ONLY=bert2gpt2` runs this table alone (it prints only that).

Lower precision: the warm-started MiniLM bert2bert (`bertgen.warm_start("bert2bert", "minilm-l6")`) in float32,
bfloat16 and with `quantize="int8"`: decoding speed, the size of the weights, and how often each makes float32's
next-token choice; then the model `make demo` trained (when it is there) decoding the demo's test set in each
precision: the task's metric, and how many outputs are the float32 ones word for word.
"""
from __future__ import annotations

import copy
import io
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from limits import decoding_step_cost, floor, matmul_rate, read_rate
from machine import loadavg

import bertgen
from bertgen.fast.cpu import cpu_multiplies_bf16
from bertgen.fast.head import SCREEN_MAX_ROWS
from bertgen.generation.quantization import quantize

SIZE = dict(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536,
            max_position_embeddings=512)
NEW, SOURCE = 32, 32  # new tokens per input, source length
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))


def busy_cores(seconds: float = 1.0) -> float:
    """Cores kept busy by other processes right now (from /proc/stat; 0 where there is none)."""
    def sample():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        return sum(values), values[3] + values[4]  # total, idle + iowait
    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except OSError:
        return 0.0
    return (os.cpu_count() or 1) * (1 - (idle1 - idle0) / max(total1 - total0, 1))


BUSY = busy_cores()
if os.environ.get("BENCH_THREADS"):
    torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
elif BUSY > 0.5:  # cores already busy: OpenMP threads that wait on each other turn every timing into noise
    torch.set_num_threads(1)
LOAD_BEFORE = loadavg()
CASES = [("greedy", 1, 1), ("greedy", 1, 8), ("beam-4", 4, 1), ("beam-4", 4, 8)]  # (name, beams, batch)
IDS = dict(decoder_start_token_id=101, eos_token_id=102, pad_token_id=0)  # [CLS], [SEP], [PAD]
# bert2gpt2's decoder: GPT-2's vocabulary and blocks at MiniLM's width; <|endoftext|> starts, ends and pads
GPT2_SIZE = dict(vocab_size=50257, n_embd=SIZE["hidden_size"], n_layer=SIZE["num_hidden_layers"],
                 n_head=SIZE["num_attention_heads"], n_inner=SIZE["intermediate_size"])
GPT2_IDS = dict(decoder_start_token_id=50256, eos_token_id=50256, pad_token_id=50256)


def models(directory: str):
    from transformers import BertGenerationConfig, BertGenerationDecoder, BertGenerationEncoder, EncoderDecoderModel

    torch.manual_seed(0)
    theirs = EncoderDecoderModel(
        encoder=BertGenerationEncoder(BertGenerationConfig(**SIZE)),
        decoder=BertGenerationDecoder(BertGenerationConfig(**SIZE, is_decoder=True, add_cross_attention=True)))
    for config in (theirs.config, theirs.generation_config):
        for name, value in IDS.items():
            setattr(config, name, value)
    theirs.save_pretrained(directory)
    return bertgen.EncoderDecoderModel.from_pretrained(directory), theirs.eval()


def bert2gpt2_models(directory: str):
    """transformers' bert2gpt2 (the MiniLM-sized BertGeneration encoder, a GPT-2 decoder with cross-attention),
    random weights, saved and loaded by bertgen."""
    from transformers import BertGenerationConfig, BertGenerationEncoder, EncoderDecoderModel, GPT2Config, \
        GPT2LMHeadModel

    torch.manual_seed(0)
    theirs = EncoderDecoderModel(encoder=BertGenerationEncoder(BertGenerationConfig(**SIZE)),
                                 decoder=GPT2LMHeadModel(GPT2Config(**GPT2_SIZE, add_cross_attention=True)))
    for config in (theirs.config, theirs.generation_config):
        for name, value in GPT2_IDS.items():
            setattr(config, name, value)
    theirs.save_pretrained(directory)
    return bertgen.EncoderDecoderModel.from_pretrained(directory), theirs.eval()


def sources(batch: int) -> torch.Tensor:
    return torch.randint(1000, 30000, (batch, SOURCE), generator=torch.Generator().manual_seed(batch))


def timed(fn) -> tuple[float, torch.Tensor]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def median_times(runs: dict) -> dict[str, float]:
    """Each run's median seconds over ROUNDS rounds, the order of the runs flipping each round."""
    times = {name: [] for name in runs}
    for r in range(ROUNDS):
        for name in (list(runs) if r % 2 == 0 else list(runs)[::-1]):
            times[name].append(timed(runs[name])[0])
    return {name: statistics.median(t) for name, t in times.items()}


def onnx_runtime(theirs, directory: str):
    """transformers' model exported to ONNX, decoded greedily by ONNX Runtime; or a line saying why not."""
    try:
        import onnxruntime  # noqa: F401

        from ort_anchor import OrtGreedy, export
    except ImportError as e:
        return f"ONNX Runtime anchor skipped: {e} (pip install onnxruntime onnx)."
    export(theirs, directory)
    return OrtGreedy(directory, torch.get_num_threads(), IDS["decoder_start_token_id"], IDS["eos_token_id"])


def compare(ours, theirs, ort) -> list[str]:
    H, F_, V, layers = SIZE["hidden_size"], SIZE["intermediate_size"], SIZE["vocab_size"], SIZE["num_hidden_layers"]
    rows = ["| decoding | batch | transformers tok/s | bertgen tok/s | speed-up (target 2x) | same tokens | "
            "ONNX Runtime tok/s | bertgen / ORT | "
            "bertgen ms/step | MB read/step | best read GB/s | GFLOP/step | floor ms/step (bound) | share of floor |",
            "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    peaks = []
    screened = cpu_multiplies_bf16() and torch.backends.mkldnn.is_available()  # where BfloatScreen runs
    for name, beams, batch in CASES:
        ids = sources(batch)
        # the average step: NEW / 2 + 1 cached positions; greedy's screen reads the output layer in bfloat16
        head_itemsize = 2 if screened and beams == 1 and batch <= SCREEN_MAX_ROWS else 4
        nbytes, flops = decoding_step_cost(beams * batch, H, F_, V, layers, NEW / 2 + 1, SOURCE, inputs=batch,
                                           head_itemsize=head_itemsize)
        kwargs = dict(num_beams=beams, max_new_tokens=NEW, min_new_tokens=NEW)
        runs = {"bertgen": lambda: ours.generate(ids, **kwargs), "transformers": lambda: theirs.generate(ids, **kwargs)}
        if not isinstance(ort, str):
            runs["onnxruntime"] = (lambda: ort.generate(ids, max_new_tokens=NEW, min_new_tokens=NEW)) if beams == 1 \
                else (lambda: ort.beam_search(ids, beams, max_new_tokens=NEW, min_new_tokens=NEW))
        outputs = {lib: run() for lib, run in runs.items()}  # warm-up, and the tokens to compare
        times = {lib: [] for lib in runs}
        reads = []
        for r in range(ROUNDS):
            for lib in (list(runs) if r % 2 == 0 else list(runs)[::-1]):
                times[lib].append(timed(runs[lib])[0])
            reads.append(read_rate(nbytes, H, repeats=3))  # the limits, timed between the runs they bound
            peaks.append(matmul_rate(repeats=2))
        speed = {lib: batch * NEW / statistics.median(t) for lib, t in times.items()}
        same = torch.equal(outputs["bertgen"], outputs["transformers"])
        if "onnxruntime" in runs:
            ort_same = "" if torch.equal(outputs["onnxruntime"], outputs["transformers"]) else " (other tokens)"
            ort_cells = (f"{speed['onnxruntime']:.0f}{ort_same} | "
                         f"**{speed['bertgen'] / speed['onnxruntime']:.2f}x** | ")
        else:
            ort_cells = "- | - | "
        per_step = statistics.median(times["bertgen"]) / NEW
        least, bound = floor(nbytes, flops, max(reads), max(peaks))
        rows.append(f"| {name} | {batch} | {speed['transformers']:.0f} | {speed['bertgen']:.0f} | "
                    f"**{speed['bertgen'] / speed['transformers']:.2f}x** | {'yes' if same else 'no'} | "
                    f"{ort_cells}{per_step * 1e3:.1f} | {nbytes / 1e6:.0f} | {max(reads) / 1e9:.1f} | {flops / 1e9:.2f} | "
                    f"{least * 1e3:.1f} ({bound}) | {least / per_step:.0%} |")
        print(f"{name} batch {batch}: {speed['bertgen'] / speed['transformers']:.2f}x", file=sys.stderr, flush=True)
    rows += ["", "ONNX Runtime: transformers' EncoderDecoderModel on the same weights, exported by torch.onnx.export "
             "(encoder; decoder's first step; decoder with past keys/values, as optimum lays them out) and run by "
             "ONNX Runtime with all graph optimizations and as many threads (benchmarks/ort_anchor.py): greedy "
             "decoding in numpy around the sessions; beam search by bertgen's search loop (transformers' algorithm "
             "step for step) over the sessions' logits, past keys/values reordered in numpy. Its tokens are checked "
             "against transformers' ('other tokens' where they differ)."
             if not isinstance(ort, str) else ort,
             "", "The floor is the least time a step can take on this machine: the larger of its bytes read over the "
             "best read rate and its matmul FLOPs over the best matmul rate (bound says which). Bytes: every decoder "
             "weight a step reads (self-attention q/k/v/o, cross-attention q/o, feed-forward) and the output layer, "
             "once for all rows, plus every row's cached self-attention keys and values (at the average "
             f"{NEW // 2 + 1} positions) and every input's cross-attention ones (at {SOURCE}; an input's beams "
             "share them), float32, except the output layer in greedy steps of up to "
             f"{SCREEN_MAX_ROWS} rows on a CPU with bfloat16 instructions ({'this one' if screened else 'not this one'}"
             "), which read it in bfloat16 and rescore a few candidates in float32 (same tokens; "
             "bertgen.fast.head); biases, LayerNorms and the embedding row are left out, so the floor "
             "errs low. Best read rate: the fastest of a `sum` and a "
             "one-row matrix product over a float32 buffer of the step's working-set size (caches count as the step "
             "sees them: this CPU's L3 holds most of a batch-1 step's ~100 MB), best of 3 repeats in each round, "
             "timed between the rounds it bounds. Matmul rate: the best 2048 x 2048 float32 torch.mm of the run, "
             f"timed the same way ({max(peaks) / 1e9:.0f} GFLOP/s on {torch.get_num_threads()} thread(s)). "
             "Share of floor = floor / bertgen's median ms per step; other processes slow the steps more than the "
             "best-of probes, so on a loaded machine the share reads low."]
    return rows


def compare_bert2gpt2() -> list[str]:
    """bert2gpt2's rows: bertgen's generate (its fast step for GPT-2 blocks) against transformers'."""
    with tempfile.TemporaryDirectory() as directory:
        ours, theirs = bert2gpt2_models(directory)
        return _bert2gpt2_rows(ours, theirs)


def _bert2gpt2_rows(ours, theirs) -> list[str]:
    rows = [f"bert2gpt2: the MiniLM-sized encoder and a GPT-2 decoder of its width (6 blocks, n_embd "
            f"{GPT2_SIZE['n_embd']}, vocabulary {GPT2_SIZE['vocab_size']:,}; cross-attention), random weights, "
            f"float32, {NEW} new tokens per input (forced), median of {ROUNDS} interleaved runs.", "",
            "| decoding | batch | transformers tok/s | bertgen tok/s | speed-up | same tokens |",
            "|---|---:|---:|---:|---:|---|"]
    for name, beams, batch in CASES:
        ids = sources(batch)
        kwargs = dict(num_beams=beams, max_new_tokens=NEW, min_new_tokens=NEW)
        runs = {"bertgen": lambda: ours.generate(ids, **kwargs), "transformers": lambda: theirs.generate(ids, **kwargs)}
        same = torch.equal(runs["bertgen"](), runs["transformers"]())  # warm-up, and the tokens to compare
        speed = {lib: batch * NEW / seconds for lib, seconds in median_times(runs).items()}
        rows.append(f"| {name} | {batch} | {speed['transformers']:.0f} | {speed['bertgen']:.0f} | "
                    f"**{speed['bertgen'] / speed['transformers']:.2f}x** | {'yes' if same else 'no'} |")
        print(f"bert2gpt2 {name} batch {batch}: {speed['bertgen'] / speed['transformers']:.2f}x", file=sys.stderr,
              flush=True)
    return rows


def weight_bytes(model) -> int:
    """Bytes of the serialized state dict (int8 layers keep packed weights there, not in parameters())."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()


def precision_tradeoff() -> list[str]:
    from bertgen.tokenization import SAMPLE_CORPUS, load_tokenizer

    torch.manual_seed(0)  # the new cross-attention weights, so that reruns measure the same model
    model, _ = bertgen.warm_start("bert2bert", "minilm-l6")
    models_ = {"float32": model.eval(), "bfloat16": copy.deepcopy(model).to(torch.bfloat16),
               "int8": quantize(model, "int8")}
    tokenizer = load_tokenizer("minilm-l6")
    lines = [line for line in SAMPLE_CORPUS.read_text(encoding="utf-8").splitlines() if len(line.split()) > 8]
    text = tokenizer(lines[:16], padding=True, truncation=True, max_length=48, return_tensors="pt")
    rows = [f"Lower precision: the warm-started MiniLM bert2bert, greedy, {NEW} new tokens, median of {ROUNDS} "
            "interleaved runs.", "",
            "| | batch | float32 | bfloat16 | int8 | bfloat16 / float32 | int8 / float32 |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for size in (1, 8):
        ids = text.input_ids[:size]
        runs = {k: (lambda m=m: m.generate(ids, max_new_tokens=NEW, min_new_tokens=NEW)) for k, m in models_.items()}
        for run in runs.values():
            run()
        speed = {k: size * NEW / seconds for k, seconds in median_times(runs).items()}
        rows.append(f"| tokens/s | {size} | {speed['float32']:.0f} | {speed['bfloat16']:.0f} | {speed['int8']:.0f} | "
                    f"{speed['bfloat16'] / speed['float32']:.2f}x | {speed['int8'] / speed['float32']:.2f}x |")
    size = {k: weight_bytes(m) for k, m in models_.items()}
    rows.append(f"| weights (MB) | | {size['float32'] / 1e6:.0f} | {size['bfloat16'] / 1e6:.0f} | "
                f"{size['int8'] / 1e6:.0f} | {size['bfloat16'] / size['float32']:.2f}x | "
                f"{size['int8'] / size['float32']:.2f}x |")

    # Quality: before fine-tuning the model's own outputs repeat [CLS] (any precision reproduces that trivially),
    # so measure next-token choices teacher-forced on real sentences, where its BERT weights make varied guesses.
    inputs = dict(input_ids=text.input_ids, attention_mask=text.attention_mask, decoder_input_ids=text.input_ids,
                  decoder_attention_mask=text.attention_mask)
    with torch.no_grad():
        logits = {k: m(**inputs).logits.float() for k, m in models_.items()}  # (B, T, V)
    real = text.attention_mask.bool()
    exact = logits["float32"]
    agree = {k: (exact.argmax(-1) == v.argmax(-1))[real].float().mean().item() for k, v in logits.items()}
    error = {k: ((v - exact)[real].norm() / exact[real].norm()).item() for k, v in logits.items()}
    rows.append(f"| same next token as float32 (teacher-forced) | 16 | 100% | {agree['bfloat16']:.1%} | "
                f"{agree['int8']:.1%} | | |")
    rows.append(f"| logits' relative L2 error | 16 | 0 | {error['bfloat16']:.1%} | {error['int8']:.1%} | | |")
    distinct = exact.argmax(-1)[real].unique().numel()
    rows += ["", f"Teacher-forced on {len(text.input_ids)} sentences ({int(real.sum())} positions, {distinct} distinct "
                 "float32 choices). bfloat16 halves the bytes of every weight; on this CPU oneDNN's bfloat16 kernels "
                 "(AVX512-BF16) multiply them. int8: dynamic quantization of every linear layer, per-channel scales."]
    return rows


def trained_model_agreement() -> list[str]:
    """The demo's fine-tuned model (bible-modern) on the demo's 200 test verses in float32, bfloat16 and int8.
    BENCH_TRAINED_MODEL may name another model directory trained on the demo's task."""
    from bertgen.paths import bertgen_home
    from bertgen.evaluation import evaluate
    from bertgen.experiments.config import ExperimentConfig
    from bertgen.experiments.demo import DEMO_CONFIG
    from bertgen.experiments.run import evaluate_kwargs, prepare_data
    from bertgen.teaching import DEMO_MODEL
    from bertgen.tokenization import load_tokenizer

    named = os.environ.get("BENCH_TRAINED_MODEL")
    directory = Path(named or bertgen_home() / DEMO_MODEL)
    if not (directory / "config.json").is_file():
        where = named or f"$BERTGEN_HOME/{DEMO_MODEL}"  # no machine's own path in RESULTS.md
        return ["", f"No trained model at {where}: run `make demo` (or set BENCH_TRAINED_MODEL to a model "
                "directory) for the test-set comparison of the precisions."]
    config = ExperimentConfig.from_dict(DEMO_CONFIG, where="bench")
    tokenizer = load_tokenizer(directory)
    test = prepare_data(config, tokenizer)["test"].remove_columns(["input_ids", "labels", "length"])
    model = bertgen.EncoderDecoderModel.from_pretrained(directory, dtype=torch.float32).eval()
    models_ = {"float32": model, "bfloat16": copy.deepcopy(model).to(torch.bfloat16), "int8": quantize(model, "int8")}
    metrics, outputs, seconds = {}, {}, {}
    decode = dict(progress=False, **evaluate_kwargs(config, tokenizer))
    for name, m in models_.items():
        evaluate(m, tokenizer, test.select(range(8)), config.task, **decode)  # warm-up: first-call costs untimed
        start = time.perf_counter()
        metrics[name], predictions = evaluate(m, tokenizer, test, config.task, **decode)
        seconds[name] = time.perf_counter() - start
        outputs[name] = list(predictions["prediction"])
    names = [n for n in metrics["float32"] if n in ("bleu", "sari", "exact")]
    same = {k: sum(a == b for a, b in zip(v, outputs["float32"])) / len(v) for k, v in outputs.items()}
    rows = ["", f"The model `make demo` trained ({directory}), greedy on the demo's "
                f"{len(test)} {config.task} test examples (up to {config.max_new_tokens} new tokens, batches of 32):", "",
            "| | float32 | bfloat16 | int8 |", "|---|---:|---:|---:|"]
    rows += [f"| test {n.upper()} | " + " | ".join(f"{metrics[k][n]:.1f}" for k in models_) + " |" for n in names]
    rows.append("| outputs identical to float32's | " + " | ".join(f"{same[k]:.0%}" for k in models_) + " |")
    rows.append("| seconds for the test set (one timing each) | " + " | ".join(f"{seconds[k]:.1f}" for k in models_) + " |")
    return rows


def conditions() -> str:
    """Threads and load, for the line under a table's heading."""
    return (f"{torch.get_num_threads()} thread(s): other processes kept {BUSY:.1f} of {os.cpu_count()} cores busy at "
            "the start (one thread when they use more than half a core, since waiting OpenMP threads make timings "
            f"noise; BENCH_THREADS overrides). Load average (1/5/15 min) before: {LOAD_BEFORE}, after: {loadavg()}.")


def main() -> None:
    warnings.simplefilter("ignore")  # transformers' notices about generation defaults
    if os.environ.get("BENCH_ONLY") == "bert2gpt2":
        rows = compare_bert2gpt2()
        print(f"## Generation, bert2gpt2 only (bench_generation.py, BENCH_ONLY=bert2gpt2)\n\n{conditions()}\n")
        print("\n".join(rows))
        return
    with tempfile.TemporaryDirectory() as directory:
        ours, theirs = models(directory)
        rows = compare(ours, theirs, onnx_runtime(theirs, directory))
    print("## Generation (bench_generation.py)\n")
    print(f"MiniLM-sized bert2bert, random weights, float32, {NEW} new tokens per input (forced), source length "
          f"{SOURCE}, median of {ROUNDS} interleaved runs; {conditions()}\n")
    print("\n".join(rows))
    print()
    print("\n".join(compare_bert2gpt2()))
    print()
    print("\n".join(precision_tradeoff()), flush=True)
    try:
        print("\n".join(trained_model_agreement()))
    except Exception as error:  # e.g. the model is there but the Bibles are not: the tables above still count
        print(f"\nThe trained model's test-set comparison failed: {type(error).__name__}: {error}")


if __name__ == "__main__":
    main()
