"""``python -m owt`` runs the ``owt`` command."""

from owt.cli import main

main()
