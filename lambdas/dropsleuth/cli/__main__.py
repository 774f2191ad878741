"""``python -m dropsleuth.cli``: the same as the ``dropsleuth`` console script."""

from dropsleuth.cli.main import main

main()
