"""Meeting booking (pipeline.booking): free slots, what a booking creates, the invitation, double booking, the
round robin, rate limit and CSRF on the public pages, and the settings page."""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import icalendar
import pytest
import time_machine
from django.db import connection
from django.test import Client, override_settings

from leads.choices import ConsentMethod, LifecycleStage, TouchType
from leads.models import AssignmentLog, Handoff, Lead, Touch
from leads.services import lead_upsert
from pipeline.booking import selectors
from pipeline.booking.models import Booking, BookingInvitation, BookingPage, TeamBookingPage
from pipeline.booking.services import Booker, SlotTaken, booking_create
from pipeline.models import Activity
from salesmarketing.models import User
from tests.salesmarketing.factories import UserFactory

TOKYO = ZoneInfo("Asia/Tokyo")
# Friday 20 November 2026, 10:00 in Tokyo; Monday 23 November is a public holiday (勤労感謝の日).
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=TOKYO)


def tokyo(day: int, hour: int, minute: int = 0, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=TOKYO)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def make_page(user: User, slug: str, **fields) -> BookingPage:
    values = {
        "day_start": dt.time(9),
        "day_end": dt.time(13),
        "meeting_minutes": 30,
        "notice_hours": 2,
        **fields,
    }
    return BookingPage.objects.create(user=user, slug=slug, **values)


@pytest.fixture
def page(owner):
    return make_page(owner, "tanto")


def slots_on(week: selectors.Week, day: dt.date) -> list[str]:
    return [s.astimezone(TOKYO).strftime("%H:%M") for d, slots in week.days if d == day for s in slots]


def booker(email="kaito@prospect.example.jp", **extra) -> Booker:
    return Booker(email=email, name="見込 海斗", company="株式会社見込", **extra)


# --- Availability ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_slots_keep_to_business_hours_and_notice_and_skip_weekends_and_holidays(page):
    week = selectors.rep_week(page, first=None, now=NOW)

    assert slots_on(week, dt.date(2026, 11, 20)) == ["12:00", "12:30"]  # not before 10:00 + 2 hours' notice
    assert slots_on(week, dt.date(2026, 11, 21)) == []  # Saturday
    assert slots_on(week, dt.date(2026, 11, 22)) == []  # Sunday
    assert slots_on(week, dt.date(2026, 11, 23)) == []  # 勤労感謝の日
    assert slots_on(week, dt.date(2026, 11, 24)) == [
        "09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00", "12:30",
    ]  # fmt: skip
    assert week.previous is None and week.next == dt.date(2026, 11, 27)


@pytest.mark.django_db
def test_a_past_week_is_not_offered_and_the_window_ends_at_days_ahead(page):
    page.days_ahead = 5
    week = selectors.rep_week(page, first=dt.date(2026, 11, 1), now=NOW)
    assert week.first == dt.date(2026, 11, 20)
    assert [d for d, _s in week.days][-1] == dt.date(2026, 11, 25)


@pytest.mark.django_db
def test_the_reps_meetings_block_their_slots_and_nobody_elses(page, owner, teammate):
    lead, _ = lead_upsert(email="owned@example.jp", source="manual")
    Lead.objects.filter(pk=lead.pk).update(owner=owner)
    Activity.objects.create(
        lead=lead, type="meeting", subject="訪問", occurred_at=tokyo(24, 10), created_by=owner
    )
    # a demo on the owner's lead that a teammate logged blocks the owner too (the "my tasks" rule)
    Activity.objects.create(
        lead=lead, type="demo", subject="デモ", occurred_at=tokyo(25, 9), created_by=teammate
    )
    other, _ = lead_upsert(email="other@example.jp", source="manual")
    Activity.objects.create(
        lead=other, type="meeting", subject="他", occurred_at=tokyo(24, 12), created_by=teammate
    )
    Activity.objects.create(
        lead=lead, type="call", subject="電話", occurred_at=tokyo(24, 9), created_by=owner
    )

    week = selectors.rep_week(page, first=None, now=NOW)

    assert slots_on(week, dt.date(2026, 11, 24)) == ["09:00", "09:30", "11:00", "11:30", "12:00", "12:30"]
    assert slots_on(week, dt.date(2026, 11, 25))[:2] == ["10:00", "10:30"]


@pytest.mark.django_db
def test_a_rep_away_offers_nothing_until_back(page, owner):
    owner.away_until = dt.date(2026, 11, 24)
    owner.save()
    week = selectors.rep_week(page, first=None, now=NOW)
    assert slots_on(week, dt.date(2026, 11, 24)) == []
    assert slots_on(week, dt.date(2026, 11, 25))[0] == "09:00"


@pytest.mark.django_db
def test_the_public_page_shows_free_times_and_nothing_of_the_calendar(
    client, page, owner, django_assert_num_queries
):
    lead, _ = lead_upsert(email="secret@example.jp", source="manual", name="秘密 顧客")
    Activity.objects.create(
        lead=lead, type="meeting", subject="極秘の打ち合わせ", occurred_at=tokyo(24, 10), created_by=owner
    )

    # the page with its rep (1), the rep's meetings (1); no session or user for an anonymous visitor
    with django_assert_num_queries(2):
        response = client.get("/book/tanto/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "担当 太郎" in html and 'data-slot="2026-11-24T09:30:00+09:00"' in html
    assert 'data-slot="2026-11-24T10:00:00+09:00"' not in html
    assert "極秘" not in html and "秘密" not in html and "secret@" not in html and owner.email not in html
    assert client.get("/book/no-such-rep/").status_code == 404
    page.is_active = False
    page.save()
    assert client.get("/book/tanto/").status_code == 404


# --- A booking ------------------------------------------------------------------------------------------------------


def _post(client, slot: dt.datetime, slug="tanto", team=False, **fields):
    data = {
        "slot": slot.isoformat(),
        "name": "見込 海斗",
        "email": "kaito@prospect.example.jp",
        "company": "株式会社見込",
        "note": "勤怠管理の件",
        "consent_email": "on",
        **fields,
    }
    return client.post(f"/book/{'team/' if team else ''}{slug}/", data)


@pytest.mark.django_db
def test_a_booking_makes_the_lead_touch_meeting_handoff_and_invitations(
    client,
    page,
    owner,
    smtp_sink,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, tokyo(24, 10))

    assert response.status_code == 201, response.content.decode()[:2000]
    lead = Lead.objects.get(email="kaito@prospect.example.jp")
    assert lead.name == "見込 海斗" and lead.company.name == "株式会社見込"
    assert lead.consent_email and lead.consent_method == ConsentMethod.WEB_FORM
    assert (
        lead.consent_at == NOW
        and "unsubscribe" in lead.consent_wording.lower()
        or "配信" in lead.consent_wording
    )
    touch = Touch.objects.get(lead=lead, type=TouchType.DEMO_REQUEST)
    assert touch.occurred_at == NOW and "担当 太郎" in touch.properties["subject"]
    meeting = Activity.objects.get(lead=lead, type=Activity.Type.MEETING)
    assert (
        meeting.occurred_at == tokyo(24, 10)
        and meeting.created_by == owner
        and "勤怠管理の件" in meeting.body
    )
    booking = Booking.objects.get()
    assert (booking.rep, booking.lead, booking.activity) == (owner, lead, meeting)
    assert booking.ends_at == tokyo(24, 10, 30)
    # nobody owned the lead: an MQL handed to the booked rep, with the team's SLA clock running
    handoff = Handoff.objects.get(lead=lead)
    assert handoff.state == Handoff.State.ASSIGNED and handoff.owner == owner and handoff.team == owner.team
    assert handoff.sla_due_at == tokyo(20, 14)  # 4 business hours from Friday 10:00
    assert AssignmentLog.objects.filter(handoff=handoff, user=owner).exists()
    lead.refresh_from_db()
    assert lead.owner == owner and lead.lifecycle_stage == LifecycleStage.MQL
    # the slot is gone from the page
    assert "2026-11-24T10:00:00+09:00" not in client.get("/book/tanto/").content.decode()

    # two invitations through the SMTP server, each with a calendar request (and the handoff's "new lead" e-mail)
    invitations = [
        (to, message)
        for to, message in zip(smtp_sink.recipients, smtp_sink.parsed(), strict=True)
        if any(p.get_content_type() == "text/calendar" for p in message.walk())
    ]
    assert sorted(to[0] for to, _m in invitations) == sorted([lead.email, owner.email])
    assert len(smtp_sink.messages) == 3
    assert set(BookingInvitation.objects.values_list("state", flat=True)) == {"sent"}
    for _to, message in invitations:
        parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
        assert len(parts) == 1 and parts[0].get_param("method") == "REQUEST"
        calendar = icalendar.Calendar.from_ical(parts[0].get_payload(decode=True))
        assert str(calendar["METHOD"]) == "REQUEST"
        (event,) = calendar.walk("VEVENT")
        assert str(event["UID"]) == f"{booking.uid}@salesmarketing"
        assert event.decoded("DTSTART") == tokyo(24, 10) and event.decoded("DTEND") == tokyo(24, 10, 30)
        attendees = {str(a).removeprefix("mailto:") for a in event.get("ATTENDEE")}
        assert attendees == {lead.email, owner.email}
        assert str(event["ORGANIZER"]) == f"mailto:{owner.email}"


@pytest.mark.django_db
def test_the_invitation_is_sent_once_however_often_the_task_runs(
    page, smtp_sink, django_capture_on_commit_callbacks
):
    from pipeline.booking.tasks import send_booking_invitation

    with django_capture_on_commit_callbacks(execute=True):
        booking = booking_create(starts_at=tokyo(24, 11), booker=booker(), rep_page=page, now=NOW)
    invitation = booking.invitations.get(to="lead")
    assert send_booking_invitation(invitation.pk) is False
    assert len(smtp_sink.messages) == 3  # two invitations and the handoff's "new lead" e-mail to the rep


@pytest.mark.django_db
def test_an_owned_lead_gets_the_meeting_but_no_handoff(page, owner, teammate):
    lead, _ = lead_upsert(email="kaito@prospect.example.jp", source="manual")
    Lead.objects.filter(pk=lead.pk).update(owner=teammate)

    booking = booking_create(starts_at=tokyo(24, 11), booker=booker(), rep_page=page, now=NOW)

    assert booking.lead == lead and booking.rep == owner
    assert not Handoff.objects.filter(lead=lead).exists()
    lead.refresh_from_db()
    assert lead.owner == teammate


@pytest.mark.django_db
def test_an_unsubscribed_person_stays_unsubscribed(page):
    lead, _ = lead_upsert(email="kaito@prospect.example.jp", source="manual")
    Lead.objects.filter(pk=lead.pk).update(unsubscribed_at=NOW - dt.timedelta(days=3))
    booking_create(
        starts_at=tokyo(24, 11),
        booker=booker(consent_email=True, consent_wording="同意"),
        rep_page=page,
        now=NOW,
    )
    lead.refresh_from_db()
    assert not lead.consent_email and lead.consent_wording == ""


@pytest.mark.django_db
def test_a_slot_taken_meanwhile_gets_a_clear_answer_and_the_other_times(client, page):
    assert _post(client, tokyo(24, 10)).status_code == 201

    second = _post(client, tokyo(24, 10), email="late@prospect.example.jp", name="遅い 人")

    html = second.content.decode()
    assert second.status_code == 409
    assert "booked by someone else" in html or "他の方" in html
    assert (
        'data-slot="2026-11-24T10:30:00+09:00"' in html
        and 'data-slot="2026-11-24T10:00:00+09:00"' not in html
    )
    assert Booking.objects.count() == 1 and not Lead.objects.filter(email="late@prospect.example.jp").exists()


@pytest.mark.django_db
def test_a_time_never_offered_cannot_be_booked(page):
    for moment in (tokyo(23, 10), tokyo(24, 10, 15), tokyo(20, 10, 30), tokyo(24, 12, 45)):
        with pytest.raises(SlotTaken):
            booking_create(starts_at=moment, booker=booker(), rep_page=page, now=NOW)
    assert not Booking.objects.exists() and not Lead.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_people_booking_one_slot_at_once_one_wins(owner):
    page = make_page(owner, "tanto")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def book(email: str) -> None:
        try:
            barrier.wait(timeout=10)
            booking_create(starts_at=tokyo(24, 10), booker=booker(email=email), rep_page=page, now=NOW)
            outcomes.append("booked")
        except SlotTaken:
            outcomes.append("taken")
        finally:
            connection.close()

    threads = [threading.Thread(target=book, args=(f"p{i}@prospect.example.jp",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["booked", "taken"]
    assert Booking.objects.count() == 1 and Activity.objects.filter(type="meeting").count() == 1
    # the loser left nothing behind: no lead, no touch
    assert Lead.objects.count() == 1 and Touch.objects.count() == 1


# --- Round robin ----------------------------------------------------------------------------------------------------


@pytest.fixture
def team_page(sales_team):
    return TeamBookingPage.objects.create(team=sales_team, slug="eigyo1", meeting_minutes=30)


@pytest.mark.django_db
def test_the_round_robin_picks_the_free_rep_with_fewest_upcoming_then_least_recent(
    owner, teammate, team_page
):
    make_page(owner, "tanto")
    make_page(teammate, "doryo")
    third = UserFactory(username="third", role=User.Role.SALES, team=owner.team)
    make_page(third, "third")
    booking_create(
        starts_at=tokyo(24, 9), booker=booker("a@x.example.jp"), rep_page=owner.booking_page, now=NOW
    )
    booking_create(
        starts_at=tokyo(24, 9), booker=booker("b@x.example.jp"), rep_page=third.booking_page, now=NOW
    )

    # teammate has no booking: theirs
    first = booking_create(
        starts_at=tokyo(25, 10), booker=booker("c@x.example.jp"), team_page=team_page, now=NOW
    )
    assert first.rep == teammate and first.team == owner.team
    # now one each: owner was booked least recently
    second = booking_create(
        starts_at=tokyo(25, 10), booker=booker("d@x.example.jp"), team_page=team_page, now=NOW
    )
    assert second.rep == owner
    # the same slot again: only `third` is still free then
    third_booking = booking_create(
        starts_at=tokyo(25, 10), booker=booker("e@x.example.jp"), team_page=team_page, now=NOW
    )
    assert third_booking.rep == third
    with pytest.raises(SlotTaken):
        booking_create(starts_at=tokyo(25, 10), booker=booker("f@x.example.jp"), team_page=team_page, now=NOW)


@pytest.mark.django_db
def test_the_round_robin_skips_reps_who_are_away(client, owner, teammate, team_page):
    make_page(owner, "tanto")
    make_page(teammate, "doryo")
    teammate.away_until = dt.date(2026, 11, 30)
    teammate.save()
    booking_create(
        starts_at=tokyo(24, 9), booker=booker("a@x.example.jp"), rep_page=owner.booking_page, now=NOW
    )

    booking = booking_create(starts_at=tokyo(25, 10), booker=booker(), team_page=team_page, now=NOW)

    assert booking.rep == owner  # busier, but the teammate is away
    assert client.get("/book/team/eigyo1/").status_code == 200
    assert _post(client, tokyo(25, 11), slug="eigyo1", team=True, email="z@x.example.jp").status_code == 201
    assert Booking.objects.filter(rep=teammate).count() == 0


# --- Rate limit and CSRF ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(BOOKING_RATE_PER_MINUTE=2)
def test_bookings_are_rate_limited_per_address(client, page):
    statuses = [_post(client, tokyo(24, 9 + i), email=f"r{i}@x.example.jp").status_code for i in range(3)]
    assert statuses == [201, 201, 429]
    assert Booking.objects.count() == 2
    other = Client(REMOTE_ADDR="198.51.100.9")
    assert _post(other, tokyo(25, 9), email="r9@x.example.jp").status_code == 201


@pytest.mark.django_db
def test_a_booking_needs_the_pages_csrf_token(page):
    browser = Client(enforce_csrf_checks=True)
    refused = _post(browser, tokyo(24, 10))
    assert refused.status_code == 403 and not Booking.objects.exists()

    browser.get("/book/tanto/")
    token = browser.cookies["csrftoken"].value
    assert _post(browser, tokyo(24, 10), csrfmiddlewaretoken=token).status_code == 201


@pytest.mark.django_db
def test_a_bot_filling_the_hidden_field_books_nothing(client, page):
    response = _post(client, tokyo(24, 10), website="http://spam.example")
    assert response.status_code == 200 and not Booking.objects.exists() and not Lead.objects.exists()


@pytest.mark.django_db
def test_the_page_speaks_english_too(client, page):
    client.cookies["django_language"] = "en"
    response = _post(client, tokyo(24, 10))
    assert "Your meeting with 担当 太郎 is booked" in response.content.decode()
    lead = Lead.objects.get()
    assert lead.consent_wording.startswith("I agree to receive e-mail")
    assert Booking.objects.get().language == "en"


# --- Settings ----------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_rep_sets_up_their_page_and_a_manager_their_teams(client, owner, manager, sales_team):
    client.force_login(owner)
    assert client.get("/accounts/booking/").status_code == 200
    response = client.post(
        "/accounts/booking/",
        {
            "which": "own",
            "slug": "tanto-taro",
            "is_active": "on",
            "meeting_minutes": "45",
            "day_start": "10:00",
            "day_end": "17:00",
            "weekdays": ["1", "3", "5"],
            "notice_hours": "4",
            "days_ahead": "14",
        },
    )
    assert response.status_code == 302
    page = BookingPage.objects.get(user=owner)
    assert (page.slug, page.meeting_minutes, page.weekdays, page.day_start) == (
        "tanto-taro",
        45,
        "135",
        dt.time(10),
    )
    # a rep has no team page to set
    assert client.post("/accounts/booking/", {"which": f"team{sales_team.pk}"}).status_code == 404

    client.force_login(manager)
    taken = client.post("/accounts/booking/", {"which": "own", "slug": "tanto-taro", "meeting_minutes": "30",
                                               "day_start": "09:00", "day_end": "18:00", "weekdays": ["1"],
                                               "notice_hours": "2", "days_ahead": "28"})  # fmt: skip
    assert taken.status_code == 422 and not BookingPage.objects.filter(user=manager).exists()
    prefix = f"team{sales_team.pk}"
    saved = client.post(
        "/accounts/booking/",
        {
            "which": prefix,
            f"{prefix}-slug": "eigyo-ikka",
            f"{prefix}-is_active": "on",
            f"{prefix}-meeting_minutes": "60",
        },
    )
    assert saved.status_code == 302
    assert TeamBookingPage.objects.get(team=sales_team).slug == "eigyo-ikka"


@pytest.mark.django_db
def test_the_week_navigation_swaps_only_the_times_with_htmx(client, page):
    response = client.get("/book/tanto/?from=2026-11-27", HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200 and "HX-Request" in response["Vary"]
    assert html.lstrip().startswith('<section id="booking-slots"') and "<h1" not in html
    assert 'data-slot="2026-11-27T12:00:00+09:00"' in html and "2026-11-24T" not in html


@pytest.mark.django_db
def test_the_team_page_reads_a_fixed_number_of_queries(
    client, owner, teammate, team_page, django_assert_num_queries
):
    make_page(owner, "tanto")
    make_page(teammate, "doryo")
    # the team's page (1), its reps' pages with the reps (1), their meetings (1)
    with django_assert_num_queries(3):
        response = client.get("/book/team/eigyo1/")
    assert (
        response.status_code == 200 and 'data-slot="2026-11-24T09:00:00+09:00"' in response.content.decode()
    )


@pytest.mark.django_db
def test_the_settings_page_reads_a_fixed_number_of_queries(client, manager, django_assert_num_queries):
    client.force_login(manager)
    # the layout's 2 (session; the user with team and unread count), the user's page, the teams managed
    with django_assert_num_queries(4):
        response = client.get("/accounts/booking/")
    assert response.status_code == 200 and "eigyo" not in response.content.decode()


@pytest.mark.django_db
def test_a_form_with_errors_comes_back_with_its_slot_and_values(client, page):
    response = _post(client, tokyo(1, 10, month=12), email="not-an-address", company="株式会社見込")

    html = response.content.decode()
    assert response.status_code == 400
    assert 'name="slot" value="2026-12-01T10:00:00+09:00"' in html and 'value="株式会社見込"' in html
    assert 'class="error"' in html and not Booking.objects.exists()
