"""The runner: exactly once, batched, racing processes, the PostgreSQL worker, any store."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import threading
from pathlib import Path

import projections
from domain.application import Circles
from projections.rebuild import rebuild
from projections.runner import Projector
from projections.store import StoreSettings
from tests.conftest import Clock
from tests.domain.helpers import make_group, plan
from tests.projections.conftest import World
from tests.projections.scenario import populate

ROOT = Path(projections.__file__).parent.parent


def store_env(settings: StoreSettings) -> dict[str, str]:
    """The environment that points a child process at the same store."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CIRCLES_DATA_DIR")}
    if settings.engine == "sqlite":
        assert settings.sqlite_path is not None
        env["DATABASE_URL"] = f"sqlite://{settings.sqlite_path}"
    else:
        env["DATABASE_URL"] = (
            f"postgresql://{settings.pg_user}@{settings.pg_host}:{settings.pg_port}/"
            f"{settings.pg_dbname}?schema={settings.pg_schema}"
        )
    env.pop("CIPHER_KEY", None)
    if settings.cipher_key:
        env["CIPHER_KEY"] = settings.cipher_key
    return env


def test_small_batches_give_the_same_views_as_one_big_batch(world: World) -> None:
    populate(world.app, world.clock, groups=2)
    small = Projector(world.app, world.views.settings, batch_size=7)
    steps = 0
    while small.step():
        steps += 1
    assert steps > 10
    assert small.position() == world.app.recorder.max_notification_id()
    incremental = small.dump()
    small.close()
    rebuild(world.app, world.views.settings)
    assert world.views.dump() == incremental
    assert len(incremental["view_cost_lines"]) > 0


def test_every_event_is_applied_once_when_catch_up_runs_after_each_command(world: World) -> None:
    gid = make_group(world.app)
    world.sync()
    sessions = plan(world.app, gid)
    world.sync()
    world.sync()  # nothing new: no change
    world.app.enroll(gid, "coord-1", "p1", "Ann")
    world.sync()
    world.attend(sessions[0], p1="present")
    world.sync()
    group = world.views.directory.group(gid)
    assert group is not None and (group.session_count, group.enrolled_count) == (12, 1)
    assert [t.total for t in world.views.costs.statement("p1").totals] == [85]
    assert world.views.position() == world.views.head()


RACE = """
import sys, time
from pathlib import Path
from domain.application import Circles
from projections.runner import Projector
from projections.store import StoreSettings
settings = StoreSettings.from_env()
# The tables exist; concurrent CREATE in the library can collide on PostgreSQL.
app = Circles(env={**settings.eventsourcing_env(), "CREATE_TABLE": "no", "POSTGRES_POOL_SIZE": "1"})
views = Projector(app, settings, batch_size=5)
print("ready", flush=True)
while not Path(sys.argv[1]).exists():
    time.sleep(0.001)
print(views.catch_up())
"""


def test_processes_racing_over_the_same_events_all_succeed(
    durable_store: StoreSettings, clock: Clock, tmp_path: Path
) -> None:
    app = Circles(env=durable_store.eventsourcing_env(), clock=clock)
    populate(app, clock, groups=3)
    Projector(app, durable_store).close()  # create the view tables before the race
    head = app.recorder.max_notification_id()
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(go)],
            cwd=ROOT,
            env=store_env(durable_store),
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(3)
    ]
    for racer in racers:
        assert racer.stdout is not None and racer.stdout.readline().strip() == "ready"
    go.touch()
    outputs = [r.communicate(timeout=60)[0].strip() for r in racers]
    assert [r.returncode for r in racers] == [0, 0, 0]
    assert outputs == [str(head)] * 3
    views = Projector(app, durable_store)
    raced = views.dump()
    rebuild(app, durable_store)
    assert views.dump() == raced
    views.close()
    app.close()


def test_worker_keeps_views_up_and_reads_wait_for_their_write(
    durable_store: StoreSettings, clock: Clock
) -> None:
    app = Circles(env=durable_store.eventsourcing_env(), clock=clock)
    web = Projector(app, durable_store, inline=False)
    worker = Projector(app, durable_store)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop, 0.2))
    thread.start()
    try:
        gid = make_group(app)
        assert web.wait_for(web.head(), timeout=10)
        assert web.directory.group(gid) is not None
        plan(app, gid)
        app.enroll(gid, "coord-1", "p1", "Ann")
        assert web.wait_for(timeout=10)
        assert len(web.calendars.sessions_for_patient("p1")) == 12
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    make_group(app, name="After the worker stopped")
    assert web.wait_for(timeout=0.2) is False  # bounded: nobody is catching up
    web.close()
    worker.close()
    app.close()


def test_the_memory_store_keeps_its_views_in_process(clock: Clock) -> None:
    settings = StoreSettings("memory")
    app = Circles(env=settings.eventsourcing_env(), clock=clock)
    views = Projector(app, settings)
    gid = make_group(app)
    plan(app, gid)
    assert views.wait_for(timeout=1)
    assert len(views.calendars.sessions_for_group(gid)) == 12
    views.close()


def test_changed_view_definitions_start_the_views_over(world: World) -> None:
    make_group(world.app)
    world.sync()
    assert world.views.position() > 0
    again = Projector(world.app, world.views.settings)
    assert again.position() > 0  # same definitions: nothing lost
    again.fingerprint = "changed"
    again.ensure_tables()
    assert again.position() == 0
    assert again.catch_up() == world.views.head()
    again.close()


def test_projections_import_only_the_domain_and_their_own_modules() -> None:
    # cryptography: the event cipher's library, also sealing view columns (projections.sealing)
    allowed_roots = {"domain", "projections", "eventsourcing", "psycopg", "cryptography"}
    offenders = []
    for path in Path(projections.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                root = name.split(".")[0]
                if root not in allowed_roots and root not in sys.stdlib_module_names:
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
