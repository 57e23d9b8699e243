# example/bark/which_tts.py: which TTS adaptor can this owt server run?
#
# bark.sh and the web app send this first, to pick owt/lib/bark.py where the
# bark package imports and owt/lib/espeak.py elsewhere.

import importlib.util
import shutil


def run():
    return {
        "bark": importlib.util.find_spec("bark") is not None,
        "espeak": shutil.which("espeak-ng") is not None,
    }
