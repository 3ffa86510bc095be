"""A refused form, shown as the person sent it: messages beside their fields, the rest on top."""

from __future__ import annotations

from service.web.pages import FormProblem, problem_of
from service.web.shared import fields_beside


def refusal(error: Exception, labels: dict[str, str]) -> tuple[FormProblem, dict[str, list[str]]]:
    """The problem+json of ``error`` with each field's messages taken out to show beside that
    field (``labels``: field name -> its label); when every message found its field, the
    summary says which to correct, by their labels."""
    problem = problem_of(error)
    errors = fields_beside(problem, list(labels))
    if errors and not problem.fields:
        marked = ", ".join(labels[n] for n in labels if n in errors)
        problem.detail = f"Nothing was saved. Correct the marked fields: {marked}."
    return problem, errors
