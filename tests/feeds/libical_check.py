"""libical's RFC 5545/5546 restriction check of one calendar read from stdin.

Run by Debian's /usr/bin/python3 (``python3-gi`` and ``gir1.2-ical-3.0``), not by the
project's interpreter: ``gi`` is a system package. Prints one JSON object:
``{"kind": ..., "restrictions_ok": bool, "errors": ["X-LIC-ERROR text", ...],
"events": {"<UID>": ["<start>Z", "<end>Z"]}}``: the errors are everything libical's parser
and restriction check attached to the components; the events' instants are read through
the calendar's own VTIMEZONEs (libical resolves a TZID against them).
Exits 3 if libical cannot be loaded, so the caller can tell that from a failed check.
"""

import json
import sys
from datetime import UTC, datetime

try:
    import gi

    gi.require_version("ICalGLib", "3.0")
    from gi.repository import ICalGLib as ICal
except (ImportError, ValueError) as error:
    print(json.dumps({"unavailable": str(error)}))
    sys.exit(3)


def name(component):
    return ICal.Component.kind_to_string(component.isa())


def errors(component):
    found = []
    prop = component.get_first_property(ICal.PropertyKind.XLICERROR_PROPERTY)
    while prop is not None:
        found.append(name(component) + ": " + prop.get_xlicerror())
        prop = component.get_next_property(ICal.PropertyKind.XLICERROR_PROPERTY)
    child = component.get_first_component(ICal.ComponentKind.ANY_COMPONENT)
    while child is not None:
        found.extend(errors(child))
        child = component.get_next_component(ICal.ComponentKind.ANY_COMPONENT)
    return found


def instant(time):
    seconds = time.as_timet_with_zone(time.get_timezone())
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def events(calendar):
    found = {}
    event = calendar.get_first_component(ICal.ComponentKind.VEVENT_COMPONENT)
    while event is not None:
        found[event.get_uid()] = [instant(event.get_dtstart()), instant(event.get_dtend())]
        event = calendar.get_next_component(ICal.ComponentKind.VEVENT_COMPONENT)
    return found


def main():
    text = sys.stdin.buffer.read().decode("utf-8")
    calendar = ICal.Component.new_from_string(text)
    if calendar is None:
        print(json.dumps({"kind": None, "restrictions_ok": False, "errors": ["unparsable"]}))
        return
    ok = bool(ICal.restriction_check(calendar))
    print(
        json.dumps(
            {
                "kind": name(calendar),
                "restrictions_ok": ok,
                "errors": errors(calendar),
                "events": events(calendar),
            }
        )
    )


main()
