"""One check the rule tests share: the views they left behind equal a clean rebuild."""

from __future__ import annotations

from domain.application import Circles
from projections.rebuild import rebuild
from projections.runner import Projector
from projections.store import StoreSettings


def assert_views_equal_a_rebuild(app: Circles, views: Projector, store: StoreSettings) -> None:
    """Catch the views up, then rebuild them from scratch: both must hold the same rows,
    and no view may have skipped an event (a dead letter) either way."""
    views.catch_up()
    assert views.dead_letters() == []
    caught_up = views.dump()
    rebuild(app, store, batch_size=1000)
    assert views.dump() == caught_up
    assert views.dead_letters() == []
