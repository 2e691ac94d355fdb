"""Capture from outside, without a login: the public web form (`/f/<site key>`), the tracking snippet's page
views (`/t/collect`) and the email open pixel and click redirect (views.py over services.py). The signed email
tracking links themselves are made in leads.tracking, which the email-sending code imports."""
