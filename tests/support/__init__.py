"""What the tests share: one form reader, one browser walker, one builder of tenants and users, messages.

- :mod:`support.forms`: the forms of a hosted page (fields, action), read with the standard HTML parser;
- :mod:`support.walkers`: a ``requests.Session`` walking the hosted pages (sign-in, self-recovery);
- :mod:`support.builders`: a tenant with a user (and optionally TOTP, a phone, clients) on a live server
  or on a service layer;
- :mod:`support.messages`: links and codes in mails and texts, the dev outbox, ``wait_for``;
- :mod:`support.fakes`: in-memory collaborators of the flow steps (the step port), for ``tests/steps``.

``tests/`` is on ``sys.path`` (pytest's rootdir-relative "prepend" import mode: ``tests/`` has no
``__init__.py``), so these import as ``from support.forms import inputs``.
"""
