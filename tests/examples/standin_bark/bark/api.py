"""Stand-in for bark.api: a 440 Hz tone, 10 ms per semantic token."""

import numpy as np

from bark import log_call
from bark.generation import SAMPLE_RATE


def semantic_to_waveform(semantic_tokens, history_prompt=None, **kwargs):
    log_call(
        "semantic_to_waveform",
        tokens=len(semantic_tokens),
        history_prompt=history_prompt,
    )
    n = len(semantic_tokens) * SAMPLE_RATE // 100
    t = np.arange(n, dtype=np.float32) / SAMPLE_RATE
    return (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
