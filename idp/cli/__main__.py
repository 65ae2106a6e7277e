"""``python -m idp.cli``: the ``idp`` command line, when the console script is not on PATH."""

from idp.cli import main

main()
