"""Saved views and bulk actions on the lead list.

A **saved view** is a named query string of the lead list, its owner's alone or shared with their team or
everyone; the list offers the views the viewer may use, and its owner renames or deletes it.

A **bulk job** applies one action — assign an owner, set the lifecycle stage, set email consent, erase, or what a
higher app offers through `salesmarketing.hooks.LEAD_BULK_ACTIONS` (nurture: add to a static list, enrol in a
sequence) — to the rows picked on the page or to *all* the leads the list's filter matches. For "all matching"
the page sends the filter, never ids: the job keeps the query string, and the bulk queue's worker re-runs it as
its author sees the list (their visibility; a rep's assign only over leads they own), in keyset batches over ids
(`BATCH_SIZE`). Each batch is one transaction that writes set-based (a fixed number of statements whatever its
size) and moves the job's cursor and counters with it, so a retried batch starts after what committed and a
redelivered task changes nothing twice (erase: one lead per batch, each erasure its own transaction). A job that
stops moving (its worker killed, its message lost) is queued again by beat's sweeper and goes on from its cursor.
A bulk assign notifies the new owner once per job. The job row is the audit: who, what, which filter, how many, when.
"""
