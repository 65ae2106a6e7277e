"""The benchmark suite of the IdP (issue 7): ``python -m bench`` (see ``bench/__main__.py``).

It starts the IdP in its production shape (granian, PostgreSQL and Redis when
they answer), seeds it, measures every case with wrk (or a threaded Python load
generator for the multi-step browser flows), runs node-oidc-provider beside it
in the same run, and writes ``bench/results/`` (a Markdown table, the raw JSON
and a PNG chart). Figures are only comparable as ratios within one run.
"""
