"""Blueprints, one per resource. Handlers parse → call the application → shape the reply."""
