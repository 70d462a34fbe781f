"""``python -m b24sandbox``: the same as the ``b24sandbox`` command."""

from b24sandbox.cli import main

main()
