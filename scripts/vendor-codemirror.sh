#!/usr/bin/env bash
# Refresh the copy of CodeMirror 5 that the playground (/_owt/) serves.
#
# The files are committed under owt/playground/vendor/codemirror/, so nothing
# is fetched when owt runs or when CI tests it; run this only to move to
# another version (change VERSION, run, review the diff, commit).
#
#   bash scripts/vendor-codemirror.sh
#
# Needs npm and access to its registry; writes nothing outside that folder
# (npm pack downloads the tarball into a temporary directory).
set -euo pipefail

VERSION=5.65.21

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=$repo/owt/playground/vendor/codemirror
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Only the files the page loads, and the licence that comes with them.
files=(
  LICENSE
  lib/codemirror.js
  lib/codemirror.css
  mode/python/python.js
  mode/javascript/javascript.js
)

(cd "$work" && npm pack --silent "codemirror@$VERSION" >/dev/null)
tar -xzf "$work/codemirror-$VERSION.tgz" -C "$work"
version=$(node -p "require('$work/package/package.json').version")
if [[ $version != "$VERSION" ]]; then
  echo "npm pack gave codemirror $version, not $VERSION" >&2
  exit 1
fi

rm -rf "$dest"
for file in "${files[@]}"; do
  mkdir -p "$dest/$(dirname "$file")"
  cp "$work/package/$file" "$dest/$file"
done
echo "$VERSION" >"$dest/VERSION"
echo "CodeMirror $VERSION copied to ${dest#"$repo"/}:"
(cd "$dest" && find . -type f | sort | sed 's|^\./|  |')
