"""Links to many rows of one kind at the cost of one `reverse()`: a page listing a hundred deals reverses the
deal page's URL once and fills each row's pk in, instead of walking the URL resolver a hundred times (a
broadcast does the same for its messages' signed links: leads.tracking.token_path)."""

from __future__ import annotations

from collections.abc import Callable

from django.urls import reverse

# Stands for the pk while the URL is reversed once; a number, so that an <int:pk> converter takes it.
_MARK = 918_273_645_546_372_819


def links(viewname: str, mark: object) -> Callable[[object], str]:
    """`lambda arg: reverse(viewname, args=[arg])` for a route with one argument, the resolver walked once, here
    (so the script prefix and language in force now are the ones every link gets). `mark` stands for the argument
    while reversing: a value the route's converter takes, that appears nowhere else in the path; the arguments
    filled in must need no quoting."""
    head, tail = reverse(viewname, args=[mark]).rsplit(str(mark), 1)
    return lambda arg: f"{head}{arg}{tail}"


def pk_links(viewname: str) -> Callable[[int], str]:
    """Links to rows by pk (an <int:pk> route)."""
    return links(viewname, _MARK)
