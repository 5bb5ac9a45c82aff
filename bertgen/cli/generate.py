"""`bertgen generate` and `bertgen run --task text2text-generation`: one output line per input line.

    echo "Plants create energy through " | bertgen run --task text2text-generation --model DIR
    bertgen generate --model DIR --input sources.txt --num-beams 4 --max-new-tokens 64 > outputs.txt

Lines come from `--input FILE` or stdin; outputs go to stdout in the same order, one per line, flushed
batch by batch. An empty (or blank) line gives an empty output line, so line numbers stay aligned.
A file shows a progress bar on stderr. A model directory that cannot be read, or a bad flag, is an error
message and exit code 2.
"""
from __future__ import annotations

import argparse
import sys

from bertgen.cli.errors import CliError
TASKS = ("text2text-generation",)  # bertgen.pipelines.TASKS; spelled here so the CLI starts without torch


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="checkpoint directory (HF layout) or hub id")
    parser.add_argument("--input", metavar="FILE", help="read lines from FILE instead of stdin")
    parser.add_argument("--num-beams", type=_positive, default=None, help="beam size (default: the model's, 1)")
    parser.add_argument("--max-new-tokens", type=_positive, default=None, help="tokens to generate at most")
    parser.add_argument("--min-new-tokens", type=int, default=None, help="tokens before EOS is allowed")
    parser.add_argument("--length-penalty", type=float, default=None, help="beam length penalty alpha")
    parser.add_argument("--no-repeat-ngram-size", type=int, default=None, help="block repeated n-grams")
    parser.add_argument("--do-sample", action="store_true", default=None, help="sample instead of searching")
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--seed", type=int, default=None, help="seed of the sampling generator")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps ... (default: cpu)")
    parser.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"))
    parser.add_argument("--quantize", choices=("int8", "nf4"), default=None, help="quantized inference")
    parser.add_argument("--batch-size", type=_positive, default=16)
    parser.add_argument("--add-special-tokens", action="store_true",
                        help="wrap each input in [CLS] ... [SEP] (bertgen trains without them)")


def register(sub) -> None:
    parser = sub.add_parser("generate", help="generate text for each input line (stdin or --input)",
                            description=__doc__.splitlines()[0])
    _add_arguments(parser)
    parser.set_defaults(func=run_generate)
    run = sub.add_parser("run", help="transformers-style spelling: run --task text2text-generation --model DIR",
                         description=__doc__.splitlines()[0])
    run.add_argument("--task", required=True, choices=TASKS)
    _add_arguments(run)
    run.set_defaults(func=run_generate)


def _read_lines(path: str | None) -> list[str]:
    """The input's lines, decoded as UTF-8; a line that is not is an error naming its number."""
    where = "stdin" if path is None else f"--input {path}"
    try:
        if path is None:
            if not hasattr(sys.stdin, "buffer"):  # already text (an embedding program replaced stdin)
                return [line.rstrip("\r\n") for line in sys.stdin]
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except OSError as err:
        raise CliError(f"cannot read {where}: {err.strerror or err}") from err
    lines = []
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            lines.append(raw.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as err:
            raise CliError(f"{where}: line {number} is not UTF-8 text (byte {err.start}: "
                           f"{raw[err.start:err.start + 1]!r}); convert it first, e.g. iconv -f latin1 -t utf-8") from None
    return lines


def _check_device(name: str):
    """The --device as a torch.device, refused here when this machine does not have it."""
    import torch

    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise CliError(f"--device {name!r} is not a device name ({err}); use cpu, cuda, cuda:1 or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise CliError(f"--device {name}: CUDA is not available here (torch {torch.__version__} sees no GPU or "
                           "was built without CUDA); use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise CliError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                           f"numbered from 0")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise CliError(f"--device {name}: Apple MPS is not available here; use --device cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise CliError(f"--device {name}: bertgen runs on cpu, cuda or mps")
    return device


def run_generate(args) -> int:
    import torch
    from tqdm.auto import tqdm

    from bertgen.pipelines import pipeline

    _check_device(args.device)
    if args.quantize == "int8" and args.dtype not in ("auto", "float32"):
        raise CliError(f"--quantize int8 and --dtype {args.dtype} conflict: int8 quantization starts from float32 "
                       "weights (and computes in int8); drop --dtype, or drop --quantize to run in "
                       f"{args.dtype}")
    lines = _read_lines(args.input)
    names = ("num_beams", "max_new_tokens", "min_new_tokens", "length_penalty", "no_repeat_ngram_size",
             "do_sample", "temperature", "top_k", "top_p")
    generate_kwargs = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    try:
        gen = pipeline("text2text-generation", model=args.model, device=args.device, dtype=args.dtype,
                       quantize=args.quantize, batch_size=args.batch_size,
                       add_special_tokens=args.add_special_tokens, **generate_kwargs)
    except (OSError, ValueError, TypeError, RuntimeError) as err:
        raise CliError(f"cannot load model {args.model!r}: {err}") from err
    generator = None
    if args.seed is not None:
        generator = torch.Generator(device=gen.device).manual_seed(args.seed)

    todo = [i for i, line in enumerate(lines) if line.strip()]
    outputs = [""] * len(lines)
    step = args.batch_size * 4  # a few batches per chunk: length-sorting helps, output still streams
    written = 0
    with tqdm(total=len(todo), unit="line", disable=args.input is None, file=sys.stderr) as bar:
        for start in range(0, len(todo), step):
            chunk = todo[start:start + step]
            texts = gen.generate_texts([lines[i] for i in chunk], progress=bar, generator=generator)
            for i, group in zip(chunk, texts):
                outputs[i] = group[0].replace("\n", " ")
            last = chunk[-1] + 1 if start + step < len(todo) else len(lines)
            sys.stdout.write("".join(o + "\n" for o in outputs[written:last]))
            sys.stdout.flush()
            written = last
    if written < len(lines):  # only empty lines, or none at all
        sys.stdout.write("".join(o + "\n" for o in outputs[written:]))
        sys.stdout.flush()
    return 0
