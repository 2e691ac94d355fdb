"""Nothing forgotten: the "my tasks" page, reminders before a task is due and when it is overdue (snooze, done),
the daily digest e-mail, and each user's notification settings.

The top layer beside kpis: a user's tasks span pipeline (to-dos, next steps, stale deals), leads (handoffs
waiting) and kpis (the weekly review's action items), so this app reads all of them and nothing imports it.
"""
