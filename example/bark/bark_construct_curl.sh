#!/usr/bin/env bash
# example/bark/bark_construct_curl.sh: print a curl command that makes owt
# serve the whole TTS web app from one URL.
#
# The page (bark.html with bark.js and the adaptors' code inlined) is wrapped
# in a one-line adaptor, so the URL itself carries the app:
#
#   bash -c "$(./example/bark/bark_construct_curl.sh http://localhost:9876) -s -o /dev/null -w '%{url}'"
#
# prints that URL; open it in a browser. Needs python3, base64 and curl.
set -euo pipefail

URL="${1:-http://localhost:9876}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

CODE="$(REPO="$REPO" "${PYTHON:-python3}" - <<'EOF_PY'
import os
import re
from pathlib import Path

repo = Path(os.environ["REPO"])
page = (repo / "example/bark/bark.html").read_text()
includes = {
    "espeak.py": repo / "owt/lib/espeak.py",
    "bark.py": repo / "owt/lib/bark.py",
    "which_tts.py": repo / "example/bark/which_tts.py",
}
for name, path in includes.items():
    code = path.read_text()
    if re.search(r"</script", code, re.IGNORECASE):
        raise SystemExit(f"{path} contains '</script' and can't be inlined.")
    page = page.replace('{%% include "%s" %%}' % name, code)
script = (repo / "example/bark/bark.js").read_text()
page = page.replace('<script src="bark.js"></script>', "<script>\n" + script + "</script>")
print("# The TTS web app, built by example/bark/bark_construct_curl.sh.")
print("PAGE = " + repr(page))
print()
print()
print("def run():")
print('    return PAGE, {"Content-Type": "text/html; charset=utf-8"}')
EOF_PY
)"
CODE_B64="$(printf '%s\n' "$CODE" | base64 | tr -d '\n')"
echo "curl -G --data-urlencode \"code_b64=$CODE_B64\" $URL"
