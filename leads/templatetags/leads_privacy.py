"""`{% load leads_privacy %}{% if user|can_manage_personal_data %}`: whether to offer export and erase."""

from django import template

from leads import privacy

register = template.Library()


@register.filter
def can_manage_personal_data(user) -> bool:
    return privacy.can_manage_personal_data(user)
