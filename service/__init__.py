"""Circles' HTTP service: the Flask JSON API over the domain and the projections."""

from service.app import create_app

__all__ = ["create_app"]
