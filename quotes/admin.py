from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from quotes.models import DealLineItem, Issuer, Product, Quote, QuoteLine, TeamApprovalThreshold
from quotes.tax import is_valid_registration_number


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["code", "name_ja", "name_en", "unit_price", "unit", "tax_category", "active"]
    list_filter = ["active", "tax_category", "unit"]
    search_fields = ["code", "name_ja", "name_en"]


class IssuerForm(forms.ModelForm):
    seal_upload = forms.FileField(label=_("seal image (PNG or JPEG)"), required=False)

    class Meta:
        model = Issuer
        fields = ["team", "is_default", "name", "address", "phone", "registration_number", "rounding",
                  "approval_threshold_percent"]  # fmt: skip

    def clean_registration_number(self) -> str:
        number = self.cleaned_data["registration_number"].strip()
        if number and not is_valid_registration_number(number):
            raise ValidationError(
                _("Enter “T” and the 13 digits of the registration number (check digit wrong).")
            )
        return number

    def save(self, commit=True):
        issuer = super().save(commit=False)
        upload = self.cleaned_data.get("seal_upload")
        if upload:
            issuer.seal = upload.read()
        if commit:
            issuer.save()
        return issuer


@admin.register(Issuer)
class IssuerAdmin(admin.ModelAdmin):
    form = IssuerForm
    list_display = [
        "name",
        "team",
        "is_default",
        "registration_number",
        "rounding",
        "approval_threshold_percent",
    ]


@admin.register(TeamApprovalThreshold)
class TeamApprovalThresholdAdmin(admin.ModelAdmin):
    list_display = ["team", "percent"]


class QuoteLineInline(admin.TabularInline):
    model = QuoteLine
    extra = 0
    can_delete = False
    readonly_fields = ["description", "quantity", "unit", "unit_price", "tax_category", "discount_kind",
                       "discount_value", "amount", "position"]  # fmt: skip


@admin.register(Quote)
class QuoteAdmin(admin.ModelAdmin):
    list_display = ["__str__", "deal", "status", "total", "issue_date", "valid_until"]
    list_filter = ["status", "year"]
    list_select_related = ["deal"]
    raw_id_fields = ["deal", "created_by", "approved_by"]
    readonly_fields = ["issuer", "year", "sequence", "revision", "frozen", "subtotal", "tax", "total"]
    inlines = [QuoteLineInline]


@admin.register(DealLineItem)
class DealLineItemAdmin(admin.ModelAdmin):
    list_display = ["deal", "description", "quantity", "unit_price", "tax_category"]
    raw_id_fields = ["deal", "product"]
