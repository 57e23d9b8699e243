# example/meta/bootstrap.py: an adaptor that sends its payload one owt deeper.
#
# It calls owtInOwt (example/meta/bootstrap.sh) against the very server it
# runs in, which starts the next owt on the next port and hands it the
# payload. Nest payloads of this file inside each other to go deeper.

import shlex

from owt.lib.shell import bash
from owt.server import Server


def run(payload_code_b64, payload_kwargs_b64, base_url="http://localhost"):
    script = " ".join(
        [
            "source ./example/meta/bootstrap.sh &&",
            "CMD=$(owtInOwt",
            shlex.quote(base_url),
            str(Server.sing().port),
            shlex.quote(payload_code_b64),
            shlex.quote(payload_kwargs_b64) + ") &&",
            'bash -c "$CMD"',
        ]
    )
    return bash(script, timeout=600)
