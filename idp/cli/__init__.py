"""The ``idp`` command line: a documented, stable interface that operators script.

One module per noun registers its commands on :data:`cli` (see
:mod:`idp.cli.base` for a worked example). A new module is wired in by one
import line below. Every command takes ``--json``; a refusal is one line on
stderr with a non-zero exit status, and writes nothing.
"""

from idp.cli.base import CliError, cli, main

# Each import registers its commands on `cli`; add a new noun with one line.
from idp.cli import init  # noqa: E402,F401  (idp init)
from idp.cli import serve  # noqa: E402,F401  (idp serve)
from idp.cli import demo  # noqa: E402,F401  (idp demo)
from idp.cli import tenants  # noqa: E402,F401  (idp tenant ...)
from idp.cli import clients  # noqa: E402,F401  (idp client ...)
from idp.cli import users  # noqa: E402,F401  (idp user ...)
from idp.cli import keys  # noqa: E402,F401  (idp keys ...)
from idp.cli import factors  # noqa: E402,F401  (idp user add-totp|set-phone|factors|remove-factor)

__all__ = ["CliError", "cli", "main"]
