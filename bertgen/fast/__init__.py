"""The fast path: what makes bertgen quicker than transformers on a CPU, gathered so a first reading can skip it.

The models in `bertgen.modeling` are the plain path and compute the same values without any of this.
- `decoder_step`: the decoder's one-token step as a flat loop over packed weights (generation, CPU), for
  BertGeneration and GPT-2 decoders.
- `head`: the output layer in its fastest CPU layout, and greedy's bfloat16 screen of it.
- `dropout`: dropout on a CPU at half torch's cost, the same distribution.
- `memory`: freed memory kept for reuse, so a training step does not fault its tensors in page by page.
- `cpu`: what the CPU multiplies natively (the screen's and the Trainer's precision choices).
"""
