"""Hosted flow pages (being written)."""

from flask import Blueprint

bp = Blueprint("flows", __name__)
