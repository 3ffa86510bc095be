"""Circles' HTTP service: the Flask app factory, routes, schemas, feeds and CLI."""
