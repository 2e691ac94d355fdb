"""Quotes pages: the deal page's items-and-quotes section (through the DEAL_PAGE_SECTIONS hook), products, and a
quote's page with its actions and PDF.

Thin views: one access helper (404 for other people's deals and quotes), one service call, render. The deal
section is one partial of quotes/deal_section.html that the deal page shows and every item action answers with.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from pipeline.models import Deal, Stage
from quotes import selectors, services
from quotes.documents import quote_document
from quotes.forms import ApproveForm, LineItemEditForm, LineItemForm, ProductForm, QuoteForm
from quotes.models import DealLineItem, Product, Quote
from quotes.pdf import render_quote_pdf
from salesmarketing.forms import add_service_errors
from salesmarketing.htmx import DEAL_CHANGED_EVENT, HtmxHttpRequest


def _deal(request: HtmxHttpRequest, pk: int, *, write: bool) -> Deal:
    try:
        return selectors.deal_for_quotes(viewer=request.user, pk=pk, write=write)
    except Deal.DoesNotExist:
        raise Http404("No such deal.") from None


def _quote(request: HtmxHttpRequest, pk: int, *, write: bool) -> Quote:
    try:
        return selectors.quote_for_viewer(viewer=request.user, pk=pk, write=write)
    except Quote.DoesNotExist:
        raise Http404("No such quote.") from None


def _item(request: HtmxHttpRequest, pk: int) -> DealLineItem:
    try:
        return selectors.item_for_viewer(viewer=request.user, pk=pk)
    except DealLineItem.DoesNotExist:
        raise Http404("No such item.") from None


EDIT_PREFIX = "edit"


def _section_context(
    request, deal: Deal, form: LineItemForm | None = None, *, editing: LineItemEditForm | None = None
) -> dict:
    section = selectors.deal_section(deal=deal)
    can_edit = selectors.can_edit(request.user)
    return {
        "deal": deal,
        "section": section,
        "lines": list(zip(section.items, section.totals.lines, strict=True)),
        # The deal reached here through visible_to (item actions) or the deal page's own check, where a viewer who
        # is not marketing reads exactly the deals they act on (Deal.objects.readable_by).
        "can_edit": can_edit,
        "item_form": form or LineItemForm(products=section.products),
        # The line being edited in place (its row becomes a form), and that form.
        "editing": editing.instance.pk if editing is not None and can_edit else None,
        "edit_form": editing,
    }


def _editing_from_query(request, deal: Deal) -> LineItemEditForm | None:
    """Without JavaScript, a line's Edit link opens the deal page with ?edit_item=<id>: that row as a form."""
    try:
        pk = int(request.GET.get("edit_item", ""))
    except ValueError:
        return None
    item = DealLineItem.objects.filter(deal_id=deal.pk, pk=pk).first()
    return LineItemEditForm(instance=item, prefix=EDIT_PREFIX) if item is not None else None


def deal_page_section(*, deal: Deal, request) -> str:
    """The deal page's section (registered at salesmarketing.hooks.DEAL_PAGE_SECTIONS): the deal reached the
    page through pipeline's own visibility check; editing needs the deal to be the viewer's to act on."""
    # Rendered without the request's context processors (the page's own render runs them once): only the CSRF
    # token the section's forms need.
    editing = _editing_from_query(request, deal) if "edit_item" in request.GET else None
    context = {**_section_context(request, deal, editing=editing), "csrf_token": get_token(request)}
    return render_to_string("quotes/deal_section.html#section", context)


def _section_response(
    request: HtmxHttpRequest,
    deal: Deal,
    form: LineItemForm | None = None,
    status=200,
    *,
    editing: LineItemEditForm | None = None,
    changed: bool = False,
):
    """The section again (HTMX), telling the page when the deal itself changed (its amount: the figures and the
    edit form above reload); without JavaScript, back to the deal page."""
    if request.htmx:
        context = _section_context(request, deal, form, editing=editing)
        response = render(request, "quotes/deal_section.html#section", context, status=status)
        if changed:
            response["HX-Trigger"] = DEAL_CHANGED_EVENT
        return response
    if form is not None and form.errors:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect(deal)


@require_GET
@vary_on_headers("HX-Request")
def items_section(request: HtmxHttpRequest, deal_pk: int) -> HttpResponse:
    """The section as it is (an edit cancelled)."""
    deal = _deal(request, deal_pk, write=False)
    return _section_response(request, deal)


@require_POST
def item_add(request: HtmxHttpRequest, deal_pk: int) -> HttpResponse:
    deal = _deal(request, deal_pk, write=True)
    if not selectors.can_edit(request.user):
        raise Http404("No such deal.")
    form = LineItemForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.line_item_add(deal=deal, by=request.user, **data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return _section_response(request, deal, changed=True)
    return _section_response(request, deal, form, status=422)


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def item_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """One line edited in place: GET turns its row into a form, POST saves it (and the deal's amount with it)."""
    item = _item(request, pk)
    if not selectors.can_edit(request.user):
        raise Http404("No such item.")
    deal = _deal(request, item.deal_id, write=True)
    in_page = f"{deal.get_absolute_url()}?edit_item={item.pk}#item-{item.pk}"
    if request.method == "GET":
        if not request.htmx:
            return redirect(in_page)
        return _section_response(request, deal, editing=LineItemEditForm(instance=item, prefix=EDIT_PREFIX))
    form = LineItemEditForm(request.POST, instance=item, prefix=EDIT_PREFIX)
    if form.is_valid():
        try:
            services.line_item_update(item=item, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return _section_response(request, deal, changed=True)
    if not request.htmx:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(in_page)
    return _section_response(request, deal, status=422, editing=form)


@require_POST
def item_remove(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    item = _item(request, pk)
    if not selectors.can_edit(request.user):
        raise Http404("No such item.")
    deal = item.deal
    services.line_item_remove(item=item, by=request.user)
    return _section_response(request, deal, changed=True)


# --- Products ---------------------------------------------------------------------------------------


@require_GET
def product_list(request: HtmxHttpRequest) -> HttpResponse:
    return render(
        request,
        "quotes/products.html",
        {"products": selectors.product_list(), "can_edit": selectors.can_edit_products(request.user)},
    )


@require_http_methods(["GET", "POST"])
def product_edit(request: HtmxHttpRequest, pk: int | None = None) -> HttpResponse:
    if not selectors.can_edit_products(request.user):
        raise PermissionDenied
    product = get_object_or_404(Product, pk=pk) if pk else None
    form = ProductForm(request.POST or None, instance=product)
    if request.method == "POST" and form.is_valid():
        try:
            services.product_save(product=product, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Saved."))
            return redirect("quotes:product_list")
    return render(request, "quotes/product_form.html", {"form": form, "product": product})


@require_http_methods(["GET", "POST"])
def product_import(request: HtmxHttpRequest) -> HttpResponse:
    """Products from a CSV file (managers and admins): a report of what was created, updated and refused."""
    if not selectors.can_edit_products(request.user):
        raise PermissionDenied
    result, error = None, ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None or upload.size > MAX_IMPORT_BYTES:
            error = _("Choose a CSV file of at most 5 MB.")
        else:
            try:
                result = services.products_import(content=upload.read())
            except ValidationError as failure:
                error = " ".join(failure.messages)
    status = 422 if error else 200
    return render(request, "quotes/product_import.html", {"result": result, "error": error}, status=status)


MAX_IMPORT_BYTES = 5 * 1024 * 1024


# --- Quotes -----------------------------------------------------------------------------------------


@require_POST
def quote_new(request: HtmxHttpRequest, deal_pk: int) -> HttpResponse:
    deal = _deal(request, deal_pk, write=True)
    if not selectors.can_edit(request.user):
        raise Http404("No such deal.")
    try:
        quote = services.quote_create(deal=deal, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(deal)
    return redirect(quote)


def _quote_context(request, quote: Quote, **forms) -> dict:
    threshold = services.approval_threshold(quote)
    writable = (
        selectors.can_edit(request.user)
        and Deal.objects.visible_to(request.user).filter(pk=quote.deal_id).exists()
    )
    return {
        "quote": quote,
        "deal": quote.deal,
        "doc": quote.frozen or quote_document(quote),
        "lines": list(quote.lines.all()),
        "revisions": selectors.quote_revisions(quote),
        "can_edit": writable,
        "can_approve": writable and services.can_approve(request.user, quote),
        "approval_threshold": threshold,
        "needs_approval": quote.max_discount_percent > threshold,
        "form": forms.get("form") or QuoteForm(instance=quote),
        "approve_form": ApproveForm(),
        "Status": Quote.Status,
        # Accepted: offer to close the deal as won (pipeline's close page, the amount already the quote's).
        "won_stage": Stage.objects.filter(is_won=True, pipeline__stages=quote.deal.stage_id).first()
        if writable and quote.status == Quote.Status.ACCEPTED and quote.deal.is_open
        else None,
    }


@require_GET
@vary_on_headers("HX-Request")
def quote_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    quote = _quote(request, pk, write=False)
    return render(request, "quotes/quote_detail.html", _quote_context(request, quote))


@require_POST
def quote_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    quote = _quote(request, pk, write=True)
    form = QuoteForm(request.POST, instance=Quote.objects.get(pk=quote.pk))
    if form.is_valid():
        try:
            services.quote_update(quote=quote, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Saved."))
            return redirect(quote)
    quote = _quote(request, pk, write=True)
    return render(request, "quotes/quote_detail.html", _quote_context(request, quote, form=form), status=422)


ACTIONS = {
    "refresh": services.quote_refresh_lines,
    "issue": services.quote_issue,
    "revise": services.quote_revise,
    "send": services.quote_mark_sent,
    "email": lambda *, quote, by: services.quote_mark_sent(quote=quote, by=by, email=True),
    "accept": services.quote_accept,
    "decline": services.quote_decline,
    "retry_email": services.quote_email_retry,
}


@require_POST
def quote_action(request: HtmxHttpRequest, pk: int, action: str) -> HttpResponse:
    quote = _quote(request, pk, write=True)
    if not selectors.can_edit(request.user):
        raise Http404("No such quote.")
    try:
        if action == "approve":
            form = ApproveForm(request.POST)
            form.is_valid()
            result = services.quote_approve(
                quote=quote, by=request.user, comment=form.cleaned_data.get("comment", "")
            )
        elif action in ACTIONS:
            result = ACTIONS[action](quote=quote, by=request.user)
        else:
            raise Http404("No such action.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(quote)
    if action == "retry_email":
        messages.success(request, _("%(number)s: the e-mail is %(state)s.") % {
            "number": result.display_number, "state": result.get_email_state_display().lower()})  # fmt: skip
    else:
        messages.success(request, _("%(number)s: %(status)s") % {"number": result.display_number,
                                                                 "status": result.get_status_display()})  # fmt: skip
    return redirect(result)


@require_GET
def quote_pdf(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The PDF, shown in the browser (preview) or, with ?download=1, saved as a file."""
    quote = _quote(request, pk, write=False)
    response = HttpResponse(render_quote_pdf(quote), content_type="application/pdf")
    disposition = "attachment" if request.GET.get("download") else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{quote.number}-{quote.revision}.pdf"'
    return response
