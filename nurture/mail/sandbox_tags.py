"""The only tags and filters an email template may use (nurture.mail.rendering's sandboxed engines load this
library as their sole builtin).

Left out on purpose: everything that reaches outside the template (`include`, `extends`, `load`, `url`, `debug`,
`csrf_token`, `now` is harmless but kept out too for reproducible previews), turns escaping off (`autoescape`,
`safe`, `safeseq`) so a lead's own data could inject markup, or lets a template allocate without bound (`ljust`,
`rjust`, `center`, `lorem`, `widthratio`, `pprint`).
"""

from __future__ import annotations

from django.template import Library, defaultfilters, defaulttags

register = Library()

SAFE_TAGS = ("if", "for", "with", "comment", "firstof", "spaceless", "verbatim", "templatetag", "cycle")
SAFE_FILTERS = (
    "capfirst",
    "cut",
    "date",
    "default",
    "default_if_none",
    "first",
    "join",
    "last",
    "length",
    "linebreaks",
    "linebreaksbr",
    "lower",
    "slice",
    "striptags",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "urlencode",
    "wordwrap",
    "yesno",
)

for _name in SAFE_TAGS:
    register.tag(_name, defaulttags.register.tags[_name])
for _name in SAFE_FILTERS:
    register.filters[_name] = defaultfilters.register.filters[_name]
