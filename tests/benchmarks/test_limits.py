"""benchmarks/limits.py: the bytes and FLOPs a decoding step is charged, and the floor they give."""
from __future__ import annotations

import importlib.util

import pytest
import torch

from tests.support import ROOT

_spec = importlib.util.spec_from_file_location("bench_limits", ROOT / "benchmarks" / "limits.py")
limits = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(limits)

MINILM = dict(hidden=384, intermediate=1536, vocab=30522, layers=6)


def test_a_minilm_step_reads_its_decoder_weights_and_output_layer_once():
    nbytes, flops = limits.decoding_step_cost(1, **MINILM, cached=0, source=0)
    weights = 6 * (6 * 384 * 384 + 2 * 384 * 1536) + 30522 * 384  # 24.1M parameters
    assert nbytes == 4 * weights
    assert flops == 2 * weights
    assert 96e6 < nbytes < 97e6  # the "~96 MB in fp32"


def test_more_rows_add_only_their_cache_to_the_bytes_and_scale_the_flops():
    one, flops1 = limits.decoding_step_cost(1, **MINILM, cached=17, source=32)
    eight, flops8 = limits.decoding_step_cost(8, **MINILM, cached=17, source=32)
    per_row_cache = 4 * 6 * 2 * 384 * (17 + 32)
    assert eight - one == 7 * per_row_cache
    assert flops8 == 8 * flops1


def test_beams_of_one_input_read_its_cross_attention_cache_once():
    four_inputs, flops4 = limits.decoding_step_cost(4, **MINILM, cached=17, source=32)
    one_input, flops1 = limits.decoding_step_cost(4, **MINILM, cached=17, source=32, inputs=1)
    assert four_inputs - one_input == 3 * 4 * 6 * 2 * 384 * 32  # three inputs' cross keys/values fewer
    assert flops4 == flops1  # every beam still attends to every source position


def test_bfloat16_halves_the_bytes_not_the_flops():
    fp32 = limits.decoding_step_cost(4, **MINILM, cached=10, source=20)
    bf16 = limits.decoding_step_cost(4, **MINILM, cached=10, source=20, itemsize=2)
    assert bf16[0] == fp32[0] // 2
    assert bf16[1] == fp32[1]


def test_a_bfloat16_screened_head_halves_only_the_output_layers_bytes():
    fp32, flops = limits.decoding_step_cost(1, **MINILM, cached=10, source=20)
    screened, same_flops = limits.decoding_step_cost(1, **MINILM, cached=10, source=20, head_itemsize=2)
    assert fp32 - screened == 2 * 30522 * 384
    assert same_flops == flops


def test_the_floor_is_the_slower_of_reading_and_computing():
    assert limits.floor(100, 10, read=10.0, peak=10.0) == (10.0, "bandwidth")
    assert limits.floor(10, 100, read=10.0, peak=10.0) == (10.0, "compute")


def test_a_rate_is_timed_by_its_fastest_repeat(monkeypatch):
    now = [0.0]
    durations = iter([50.0, 5.0, 3.0, 4.0])  # the warm-up (untimed), then three repeats

    def fn():
        now[0] += next(durations)

    monkeypatch.setattr(limits.time, "perf_counter", lambda: now[0])
    assert limits._best_seconds(fn, 3) == 3.0


def test_the_read_probe_reads_a_working_set_of_the_size_asked(monkeypatch):
    shapes = []
    real_ones = torch.ones

    def ones(*size, **kw):
        shapes.append(tuple(size))
        return real_ones(*size, **kw)

    monkeypatch.setattr(limits.torch, "ones", ones)
    rate = limits.read_rate(4 * 384 * 1000, hidden=384, repeats=1)
    assert shapes[0] == (384, 1000)  # 384 x 1000 float32 = the 1.5 MB asked
    assert rate > 0 and rate != float("inf")


@pytest.mark.parametrize("rows", [1, 32])
def test_the_floor_of_a_minilm_step_is_positive(rows):
    nbytes, flops = limits.decoding_step_cost(rows, **MINILM, cached=17, source=32)
    seconds, bound = limits.floor(nbytes, flops, read=20e9, peak=100e9)
    assert seconds > 0 and bound in ("bandwidth", "compute")
