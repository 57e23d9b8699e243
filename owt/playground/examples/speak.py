# owt/playground/examples/speak.py: text to speech with espeak-ng, one WAV file

from owt.lib.espeak import espeak_voice
from owt.lib.espeak import synthesise


def run(
    text: str = "Hello from the owt playground.", speaker: str = "v2/en_speaker_6"
) -> tuple[bytes, dict[str, str]]:
    clip = synthesise(text, espeak_voice(speaker))
    return clip.wav(), {"Content-Type": "audio/wav"}
