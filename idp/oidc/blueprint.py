"""Protocol endpoints (being written)."""

from flask import Blueprint

bp = Blueprint("oidc", __name__)
