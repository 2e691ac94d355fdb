"""Records people keep: leads and companies created and edited by hand, the quick business-card (名刺) entry,
the company list and account page, and the lifecycle stage set by hand (the history itself: leads.lifecycle)."""
