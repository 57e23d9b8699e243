"""Stand-in for bark.generation: same names, no model."""

from bark import log_call

SAMPLE_RATE = 24_000


def preload_models(*args, **kwargs):
    log_call("preload_models")


def generate_text_semantic(
    text, history_prompt=None, temp=0.7, min_eos_p=0.2, **kwargs
):
    log_call(
        "generate_text_semantic",
        text=text,
        history_prompt=history_prompt,
        temp=temp,
        min_eos_p=min_eos_p,
    )
    # One "semantic token" per character.
    return [ord(c) % 1000 for c in text]
