"""Rosters, attendance rates and the at-risk flag; the group and enrollment directory."""

from __future__ import annotations

from decimal import Decimal

from tests.domain.helpers import make_group, plan
from tests.projections.conftest import World
from tests.rebuilt import assert_views_equal_a_rebuild


def test_roster_lists_expected_patients_and_guests_with_what_was_recorded(world: World) -> None:
    app = world.app
    gid = make_group(app, max_size=3, min_size=1)
    s1, s2 = plan(app, gid)[:2]
    for pid, name in (("p1", "Ann"), ("p2", "Bea"), ("p3", "Cy"), ("p4", "Dee")):
        app.enroll(gid, "coord-1", pid, name)  # Dee is waitlisted
    iid = app.propose_invitation(s1, "coord-1", "p1", "Sam", "spouse")
    app.approve_invitation(iid, "coord-1", "t-ana")
    app.record_consent(iid, "coord-1", "Ann", world.clock(), "doc-1")
    app.send_invitation(iid, "coord-1")
    app.respond_to_invitation(iid, True, "invitee")
    world.sync()
    roster = world.views.attendance.roster(s1)
    assert roster is not None
    assert [(p.name, p.status) for p in roster.patients] == [
        ("Ann", None),
        ("Bea", None),
        ("Cy", None),
    ]
    assert [(g.name, g.patient_id, g.invitation_status, g.status) for g in roster.guests] == [
        ("Sam", "p1", "accepted", None)
    ]
    world.attend(s1, p1="present", p2="absent")
    app.record_attendance(s1, "t-ana", [{"invitation_id": str(iid), "status": "late"}])
    world.sync()
    roster = world.views.attendance.roster(s1)
    assert roster is not None
    assert [(p.patient_id, p.status) for p in roster.patients] == [
        ("p1", "present"),
        ("p2", "absent"),
        ("p3", None),
    ]
    assert [(g.invitation_status, g.status) for g in roster.guests] == [("attended", "late")]
    assert world.views.attendance.roster(s2) is not None
    assert world.views.attendance.roster(gid) is None


def test_rates_and_two_no_shows_in_a_row_flag_the_patient(world: World) -> None:
    app = world.app
    gid = make_group(app)
    s = plan(app, gid)
    app.enroll(gid, "coord-1", "p1", "Ann")
    app.enroll(gid, "coord-1", "p2", "Bea")
    world.attend(s[0], p1="present", p2="late")
    world.attend(s[1], p1="absent", p2="excused")
    world.attend(s[2], p1="absent", p2="present")
    world.sync()
    view = world.views.attendance
    p1 = view.patient("p1")
    assert (p1.overall.recorded, p1.rate, p1.at_risk) == (3, Decimal("0.3333"), True)
    assert p1.groups[gid].counts["absent"] == 2
    p2 = view.patient("p2")
    assert (p2.rate, p2.at_risk) == (Decimal("0.6667"), False)
    rates = view.group_rates(gid)
    # present/late: p1 1 of 3, p2 2 of 3 -> 3 of 6
    assert rates.rate == Decimal("0.5000")
    assert {p: r.at_risk for p, r in rates.patients.items()} == {"p1": True, "p2": False}
    # A correction clears the flag, as the domain's Enrollment.at_risk does.
    app.record_attendance(s[1], "t-ana", [{"patient_id": "p1", "status": "late"}])
    world.sync()
    p1 = view.patient("p1")
    assert (p1.rate, p1.at_risk) == (Decimal("0.6667"), False)
    assert p1.at_risk == app.get_enrollment(app.get_group(gid).enrollment_ids["p1"]).at_risk
    assert view.patient("nobody").rate is None


def test_directory_lists_groups_and_enrollments_with_counts_and_waitlist(world: World) -> None:
    app = world.app
    g1 = make_group(app, max_size=2, min_size=1)
    g2 = make_group(app, opened=False, name="Second", facilitator_ids=["t-bo"], room_id="room-2")
    plan(app, g1, count=12)
    e1, _ = app.enroll(g1, "coord-1", "p1", "Ann")
    app.enroll(g1, "coord-1", "p2", "Bea")
    app.enroll(g1, "coord-1", "p3", "Cy")
    app.enroll(g1, "coord-1", "p4", "Dee")
    app.update_group(g2, "coord-1", name="Renamed")
    world.sync()
    directory = world.views.directory
    first_page = directory.groups(limit=1)
    assert [g.group_id for g in first_page] == [g1]
    second_page = directory.groups(after=first_page[0].cursor, limit=1)
    assert [(g.group_id, g.name) for g in second_page] == [(g2, "Renamed")]
    group = directory.group(g1)
    assert group is not None
    assert (group.enrolled_count, group.waitlist_count, group.session_count) == (2, 2, 12)
    rows = directory.enrollments(g1)
    assert [(e.patient_id, e.status, e.waitlist_position) for e in rows] == [
        ("p1", "enrolled", None), ("p2", "enrolled", None),
        ("p3", "waitlisted", 1), ("p4", "waitlisted", 2),
    ]  # fmt: skip
    app.withdraw(e1, "coord-1", reason="moved")
    world.sync()
    rows = directory.enrollments(g1)
    assert [(e.patient_id, e.status, e.waitlist_position) for e in rows] == [
        ("p1", "withdrawn", None), ("p2", "enrolled", None),
        ("p3", "enrolled", None), ("p4", "waitlisted", 1),
    ]  # fmt: skip
    assert directory.enrollments(g1, after=rows[1].cursor, limit=1)[0].patient_id == "p3"
    group = directory.group(g1)
    assert group is not None and (group.enrolled_count, group.waitlist_count) == (2, 1)
    assert [g.group_id for g in directory.groups(status="planned")] == [g2]
    app.open_group(g2, "coord-1")
    world.sync()
    assert [g.group_id for g in directory.groups(status="open")] == [g1, g2]


def test_two_no_shows_in_a_row_flags_the_same_in_the_domain_and_every_view(
    world: World,
) -> None:
    """The rule is per group (an enrollment's record); the patient and group summaries are
    flagged exactly when one of their parts is, never by no-shows strung across groups."""
    app, store = world.app, world.views.settings
    g1 = make_group(app, min_size=1)
    g2 = make_group(app, name="Wednesday", facilitator_ids=["t-bo"], room_id="room-2", min_size=1)
    s1 = plan(app, g1)  # Tuesdays
    s2 = plan(app, g2, first_date="2027-03-03")  # Wednesdays
    for gid in (g1, g2):
        app.enroll(gid, "coord-1", "p1", "Ann")
        app.enroll(gid, "coord-1", "p2", "Bea")

    def flags() -> tuple[bool, ...]:
        world.sync()
        view = world.views.attendance
        patient = view.patient("p1")
        e1, e2 = (app.get_enrollment(app.get_group(g).enrollment_ids["p1"]) for g in (g1, g2))
        assert patient.groups[g1].at_risk is e1.at_risk
        assert g2 not in patient.groups or patient.groups[g2].at_risk is e2.at_risk
        assert view.group_rates(g1).patients["p1"].at_risk is e1.at_risk
        # One answer, whichever summary is read.
        assert patient.at_risk is patient.overall.at_risk is (e1.at_risk or e2.at_risk)
        assert view.group_rates(g1).overall.at_risk is any(
            r.at_risk for r in view.group_rates(g1).patients.values()
        )
        return e1.at_risk, e2.at_risk, patient.at_risk

    world.attend(s1[0], p1="absent", p2="present")
    world.attend(s2[0], p1="absent", p2="present")
    # Two no-shows in a row, but in two groups: no group's record flags the patient.
    assert flags() == (False, False, False)
    world.attend(s1[1], p1="absent", p2="present")
    assert flags() == (True, False, True)
    assert world.views.attendance.group_rates(g1).overall.at_risk
    assert not world.views.attendance.group_rates(g2).overall.at_risk
    world.attend(s1[2], p1="late_cancel", p2="absent")
    assert flags() == (False, False, False)
    assert_views_equal_a_rebuild(app, world.views, store)
