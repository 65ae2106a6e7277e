"""The ``idp`` command line: a documented, stable interface that operators script.

One module per noun registers its commands on :data:`cli` (see
:mod:`idp.cli.base` for a worked example). A new module is wired in by one
import line below. Every command takes ``--json``; a refusal is one line on
stderr with a non-zero exit status, and writes nothing.

The imports below are in registration order (``idp --help`` lists commands in
this order), so import sorting is off for this file.
"""

# isort: skip_file

from idp.cli.base import CliError, cli, main

# Each import registers its commands on `cli`; add a new noun with one line.
from idp.cli import init  # noqa: F401  (idp init)
from idp.cli import serve  # noqa: F401  (idp serve)
from idp.cli import demo  # noqa: F401  (idp demo)
from idp.cli import tenants  # noqa: F401  (idp tenant ...)
from idp.cli import clients  # noqa: F401  (idp client ...)
from idp.cli import users  # noqa: F401  (idp user ...)
from idp.cli import keys  # noqa: F401  (idp keys ...)
from idp.cli import factors  # noqa: F401  (idp user add-totp|set-phone|recovery-codes|factors|remove-factor)
from idp.cli import admins  # noqa: F401  (idp admin create-user)
from idp.cli import tenant_config  # noqa: F401  (idp tenant config get|set|apply, idp tenant export|import)

__all__ = ["CliError", "cli", "main"]
