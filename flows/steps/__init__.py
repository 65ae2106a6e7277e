"""Reusable flow steps: flows (``flows/browser_login``, ``flows/self_recovery``) compose them.

- :mod:`flows.steps.password`: identify by username or email, then password
  (or password only when the flow already identified the user).
"""
