"""Links to many rows of one kind at the cost of one `reverse()`: a page listing a hundred deals reverses the
deal page's URL once and fills each row's pk in, instead of walking the URL resolver a hundred times."""

from __future__ import annotations

from collections.abc import Callable

from django.urls import reverse

# Stands for the pk while the URL is reversed once; a number, so that an <int:pk> converter takes it.
_MARK = 918_273_645_546_372_819


def pk_links(viewname: str) -> Callable[[int], str]:
    """`lambda pk: reverse(viewname, args=[pk])`, with the resolver walked once, here (so the script prefix and
    language in force now are the ones every link gets)."""
    head, tail = reverse(viewname, args=[_MARK]).rsplit(str(_MARK), 1)
    return lambda pk: f"{head}{pk}{tail}"
