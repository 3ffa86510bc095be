"""An administrator's page: create staff accounts, disable and enable them, reset passwords.

A new or reset account gets a generated password shown once to the administrator, who hands
it over; the person must choose their own at the next sign-in.
"""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from service.endpoint import ADMIN
from service.keys_and_idempotency import ROLES
from service.staff import StaffUser, StaffUserError, generate_password
from service.web.pages import PageRefusal, accounts, current_user, notice, now, page, render

bp = Blueprint("web_admin", __name__, template_folder="templates")


def _staff_page(
    status: int = 200, form: dict[str, str] | None = None, **extra: object
) -> BaseResponse:
    return render(
        "web/admin_staff.html",
        status=status,
        users=accounts().all(),
        roles=ROLES,
        form=form or {"role": "coordinator"},
        errors=extra.pop("errors", {}),
        **extra,
    )


@bp.get("/admin/staff")
@page(roles=(ADMIN,))
def staff() -> BaseResponse:
    return _staff_page()


@bp.post("/admin/staff")
@page(roles=(ADMIN,))
def create_staff() -> BaseResponse:
    form = {k: request.form.get(k, "") for k in ("email", "name", "role", "therapist_id")}
    password = generate_password()
    try:
        user = accounts().create(
            form["email"],
            form["name"],
            form["role"],
            password,
            now(),
            therapist_id=form["therapist_id"],
            must_change_password=True,
        )
    except StaffUserError as error:
        return _staff_page(422, form, errors={error.field: str(error)})
    return render("web/admin_password.html", shown=user, password=password, created=True)


def _user(user_id: str) -> StaffUser:
    found = accounts().get(user_id)
    if found is None:
        raise PageRefusal(404, "No such account", "There is no staff account with that id.")
    return found


@bp.post("/admin/staff/<user_id>/disable")
@page(roles=(ADMIN,))
def disable_staff(user_id: str) -> BaseResponse:
    user = _user(user_id)
    if user.id == current_user().id:
        return _staff_page(409, problem="You cannot disable your own account.")
    accounts().set_disabled(user.id, True, now())
    notice(f"{user.name} ({user.email}) is disabled and signed out everywhere.")
    return redirect(url_for("web_admin.staff"))


@bp.post("/admin/staff/<user_id>/enable")
@page(roles=(ADMIN,))
def enable_staff(user_id: str) -> BaseResponse:
    user = _user(user_id)
    accounts().set_disabled(user.id, False, now())
    notice(f"{user.name} ({user.email}) can sign in again.")
    return redirect(url_for("web_admin.staff"))


@bp.post("/admin/staff/<user_id>/reset")
@page(roles=(ADMIN,))
def reset_staff(user_id: str) -> BaseResponse:
    user = _user(user_id)
    password = accounts().reset(user.id)
    return render("web/admin_password.html", shown=user, password=password, created=False)
