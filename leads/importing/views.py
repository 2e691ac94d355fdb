"""The CSV import page: upload → column mapping with a preview → import with a per-row error report.

Each step is an inline partial of templates/leads/import.html; with HTMX the step swaps in place (and the URL
follows), without it every POST redirects to the job's page.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from leads.importing import (
    ImportAlreadyStarted,
    ImportFileError,
    import_job_create,
    import_job_failed_rows,
    import_job_parse,
    import_job_run,
    preview_rows,
)
from leads.importing.forms import ImportMappingForm, ImportUploadForm
from leads.models import ImportJob
from salesmarketing.htmx import HtmxHttpRequest
from salesmarketing.models import User

RECENT_JOBS = 10


def _require_importer(request: HtmxHttpRequest) -> None:
    """Marketing, managers and admins import lists; sales reps work the leads that come of it."""
    user = request.user
    if not (user.is_staff or user.role in (User.Role.MARKETING, User.Role.MANAGER, User.Role.ADMIN)):
        raise PermissionDenied


def _jobs_for(request: HtmxHttpRequest):
    user = request.user
    jobs = ImportJob.objects.defer("content").select_related("created_by", "campaign")
    if user.is_staff or user.role in (User.Role.MANAGER, User.Role.ADMIN):
        return jobs
    return jobs.filter(Q(created_by=user) | Q(created_by__isnull=True))


def _get_job_for_user(request: HtmxHttpRequest, pk: int) -> ImportJob:
    job = _jobs_for(request).filter(pk=pk).first()
    if job is None:
        raise Http404
    return job


def _step(
    request: HtmxHttpRequest, partial: str, context: dict, *, status: int = 200, url: str = ""
) -> HttpResponse:
    """The whole page, or for HTMX only the step that changed (and the address bar follows it)."""
    template = "leads/import.html"
    if request.htmx and not request.htmx.boosted:
        template = f"{template}#{partial}"
    response = render(request, template, {**context, "step": partial}, status=status)
    if request.htmx and url:
        response["HX-Push-Url"] = url
    return response


@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def import_start(request: HtmxHttpRequest) -> HttpResponse:
    _require_importer(request)
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = import_job_create(
                content=upload.read(),
                file_name=upload.name,
                user=request.user,
                encoding=form.cleaned_data["encoding"],
            )
        except ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            if request.htmx:
                return _mapping_step(request, job)
            return redirect(job.get_absolute_url(), permanent=False)
    status = 400 if form.is_bound else 200
    recent = list(_jobs_for(request)[:RECENT_JOBS])
    return _step(request, "upload", {"form": form, "recent": recent}, status=status)


def _mapping_step(
    request: HtmxHttpRequest, job: ImportJob, form: ImportMappingForm | None = None, status: int = 200
) -> HttpResponse:
    try:
        parsed = import_job_parse(job)
    except ImportFileError as exc:  # the file was readable when it was uploaded; be safe anyway
        return _step(request, "upload", {"form": ImportUploadForm(), "file_error": str(exc)}, status=400)
    if form is None:
        form = ImportMappingForm(
            headers=parsed.headers,
            mapping={int(k): v for k, v in job.mapping.items()},
            initial={  # the touch type is the form's own neutral default, asked afresh for every file
                "lead_source": job.lead_source,
                "source_name": job.source_name,
            },
        )
    context = {
        "job": job,
        "form": form,
        "parsed": parsed,
        "preview": preview_rows(parsed),
        "row_count": len(parsed.rows),
    }
    return _step(request, "mapping", context, status=status, url=job.get_absolute_url())


@vary_on_headers("HX-Request")
@require_GET
def import_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_importer(request)
    job = _get_job_for_user(request, pk)
    if job.status == ImportJob.Status.UPLOADED:
        return _mapping_step(request, job)
    return _step(request, "report", {"job": job}, url=job.get_absolute_url())


@vary_on_headers("HX-Request")
@require_POST
def import_run(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_importer(request)
    job = _get_job_for_user(request, pk)
    if job.status != ImportJob.Status.UPLOADED:
        return redirect(job.get_absolute_url())  # already imported: show the report
    form = ImportMappingForm(request.POST, headers=list(job.headers), mapping={})
    if not form.is_valid():
        return _mapping_step(request, job, form=form, status=400)
    try:
        job = import_job_run(
            job=job,
            mapping=form.mapping,
            touch_type=form.cleaned_data["touch_type"],
            lead_source=form.cleaned_data["lead_source"],
            campaign=form.cleaned_data["campaign"],
            source_name=form.cleaned_data["source_name"],
            occurred_at=form.occurred_at,
        )
    except ImportAlreadyStarted:
        job.refresh_from_db()
    if request.htmx:
        return _step(request, "report", {"job": job}, url=job.get_absolute_url())
    return redirect(job.get_absolute_url())


@require_GET
def import_failed_rows(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The rows not imported, as a CSV file in the encoding the file came in, to fix and upload again."""
    _require_importer(request)
    job = _get_job_for_user(request, pk)
    if not job.errors:
        raise Http404
    stem = job.file_name.rsplit(".", 1)[0] or "import"
    response = HttpResponse(import_job_failed_rows(job), content_type="text/csv")
    response["Content-Disposition"] = content_disposition_header(True, f"{stem}-errors.csv")
    return response
