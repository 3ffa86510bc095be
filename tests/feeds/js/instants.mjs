// The UTC instants ical.js reads from one calendar on stdin, as JSON:
// {"<UID>": ["<start>Z", "<end>Z"], ...}.
// Each VTIMEZONE in the calendar is registered first, as a calendar client does, so that
// the times are read through the calendar's own VTIMEZONE, not a built-in zone database.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const text = readFileSync(0, "utf8");
const calendar = new ICAL.Component(ICAL.parse(text));
for (const zone of calendar.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(zone);
}
const utc = (time) => time.toJSDate().toISOString().replace(".000Z", "Z");
const events = {};
for (const vevent of calendar.getAllSubcomponents("vevent")) {
  const event = new ICAL.Event(vevent);
  if (event.startDate.zone.tzid !== (vevent.getFirstProperty("dtstart").getParameter("tzid") ?? "UTC")) {
    throw new Error(`${event.uid}: DTSTART read in ${event.startDate.zone.tzid}`);
  }
  events[event.uid] = [utc(event.startDate), utc(event.endDate)];
}
process.stdout.write(JSON.stringify(events));
