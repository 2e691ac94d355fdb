"""Meeting booking: a public page per rep (`/book/<slug>/`) and a round-robin page per team
(`/book/team/<slug>/`) where a prospect picks a free slot and books a meeting.

- `models`: the pages' settings (business hours, meeting length), the bookings and their invitation ledger.
- `selectors`: free slots, from the page's business hours, Japanese public holidays, the rep's absence and
  the rep's meetings already in the calendar (pipeline Activity rows of type meeting or demo).
- `services`: a booking (the demo-request touch, the lead if new with its consent proof, the meeting activity,
  a handoff to the booked rep for a lead nobody owns, the `.ics` invitations), the pages' settings.
- `ics`: the RFC 5545 invitation. `views`, `forms`, `urls`, `tasks`: the web and the e-mail queue.
"""
