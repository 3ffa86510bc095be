"""Read models of SPEC §3, fed only by domain events, stored beside the events."""
