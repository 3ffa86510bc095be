"""/api-keys: the admin lists, creates and revokes staff keys."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from service.context import services
from service.endpoint import ADMIN, Call, Reply, endpoint
from service.errors import ApiError
from service.paging import id_after, keyset_page
from service.schemas import keys as ks
from service.schemas.common import PageQuery

bp = Blueprint("keys", __name__)
TAG = "api-keys"


@bp.get("/api-keys")
@endpoint(
    summary="List staff keys (never the keys themselves)",
    tag=TAG,
    roles=[ADMIN],
    query=PageQuery(),
    response=ks.KeyPage(),
)
def list_keys(call: Call) -> dict[str, Any]:
    limit = call.query["limit"]
    rows = services().storage.list_keys(id_after(call.query.get("cursor")), limit + 1)
    return keyset_page(rows, limit, lambda key: key.id)


@bp.post("/api-keys")
@endpoint(
    summary="Create a staff key; the key is shown in this response only",
    tag=TAG,
    roles=[ADMIN],
    body=ks.KeyCreate(),
    response=ks.KeyCreated(),
    status=201,
    secret=("key",),
)
def create_key(call: Call) -> Reply:
    plain, key = services().storage.create_key(
        call.body["role"], call.body["name"], call.body.get("therapist_id")
    )
    return Reply({**vars(key), "key": plain}, status=201)


@bp.delete("/api-keys/<key_id>")
@endpoint(
    summary="Revoke a staff key; it stops working at once",
    tag=TAG,
    roles=[ADMIN],
    response=ks.StaffKeyOut(),
    errors=[404],
)
def revoke_key(call: Call, key_id: str) -> Any:
    key = services().storage.revoke_key(key_id)
    if key is None:
        raise ApiError(404, f"no staff key with id {key_id}")
    return key
