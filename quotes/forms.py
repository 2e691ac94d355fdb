from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from quotes.models import DealLineItem, Product, Quote, Unit
from quotes.tax import TaxCategory


class ProductForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = ["code", "name_ja", "name_en", "unit_price", "unit", "tax_category", "active"]


class LineItemForm(forms.ModelForm):
    product = forms.ModelChoiceField(
        Product.objects.filter(active=True),
        required=False,
        label=_("Product"),
        empty_label=_("— free text —"),
    )
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    unit_price = forms.DecimalField(
        label=_("Unit price (JPY)"), required=False, decimal_places=0, max_digits=14
    )

    class Meta:
        model = DealLineItem
        fields = ["product", "description", "quantity", "unit", "unit_price", "tax_category", "discount_kind",
                  "discount_value"]  # fmt: skip

    def __init__(self, *args, products=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if products is not None:
            self.fields["product"].queryset = Product.objects.filter(active=True)
            self.fields["product"].choices = [("", _("— free text —"))] + [(p.pk, str(p)) for p in products]
        # Left blank, a line takes its product's unit and tax category (a free-text line: 式, standard rate), so
        # choosing a reduced-rate product cannot silently tax it at 10 %.
        blank = {
            "unit": _("— the product's (式 for free text) —"),
            "tax_category": _("— the product's (standard rate for free text) —"),
        }
        for name, choices in (("unit", Unit.choices), ("tax_category", TaxCategory.choices)):
            self.fields[name].required = False
            self.fields[name].choices = [("", blank[name]), *choices]
            self.fields[name].initial = ""


class LineItemEditForm(forms.ModelForm):
    """A line changed in place on the deal page (its product stays; the service checks the values)."""

    class Meta:
        model = DealLineItem
        fields = ["description", "quantity", "unit", "unit_price", "tax_category", "discount_kind",
                  "discount_value"]  # fmt: skip
        widgets = {"description": forms.TextInput(attrs={"autofocus": True})}

    def _post_clean(self) -> None:
        # The service validates and saves; the instance stays as it is until then.
        pass


class QuoteForm(forms.ModelForm):
    class Meta:
        model = Quote
        fields = ["addressee_name", "addressee_kind", "subject", "valid_until", "delivery_terms", "payment_terms",
                  "notes", "language"]  # fmt: skip
        widgets = {
            "valid_until": forms.DateInput(attrs={"type": "date"}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }


class ApproveForm(forms.Form):
    comment = forms.CharField(label=_("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
