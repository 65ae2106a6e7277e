"""The hosted pages (Jinja templates) and their static files, installed as ``idp.templates``."""

from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parent
