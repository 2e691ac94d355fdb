"""Forms of the records pages. They check input shapes; the rules (a taken email, a consent without proof, a
parent loop) are the services', whose errors the views put next to the fields."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from leads.choices import CompanySize, Industry, LifecycleStage
from leads.custom_fields.forms import CustomFilterForm, custom_fields_add, filters_from
from leads.custom_fields.selectors import custom_fields
from leads.models import Company, CustomObject, Lead
from leads.owners import selectors as owners
from leads.records.selectors import OWNER_MINE, OWNER_NOBODY, CompanyFilters
from salesmarketing import dates
from salesmarketing.models import User

PREFECTURES = (
    "北海道 青森県 岩手県 宮城県 秋田県 山形県 福島県 茨城県 栃木県 群馬県 埼玉県 千葉県 東京都 神奈川県 新潟県 富山県 "
    "石川県 福井県 山梨県 長野県 岐阜県 静岡県 愛知県 三重県 滋賀県 京都府 大阪府 兵庫県 奈良県 和歌山県 鳥取県 島根県 "
    "岡山県 広島県 山口県 徳島県 香川県 愛媛県 高知県 福岡県 佐賀県 長崎県 熊本県 大分県 宮崎県 鹿児島県 沖縄県"
).split()
PREFECTURE_CHOICES = [("", "—"), *((p, p) for p in PREFECTURES)]


def owner_choices(viewer) -> forms.models.QuerySet:
    """Whom the viewer may make a lead's owner: a rep themselves or a teammate; others any rep or manager."""
    users = owners.owner_candidates()
    if viewer.role == User.Role.SALES:
        users = users.filter(pk=viewer.pk) if viewer.team_id is None else users.filter(team_id=viewer.team_id)
    return users.order_by("display_name", "pk")


class CompanyNameField(forms.CharField):
    """A company typed by name (a select of every company does not scale); the view finds or creates it."""


class LeadForm(forms.ModelForm):
    company_name = CompanyNameField(
        label=_("Company"),
        required=False,
        max_length=200,
        help_text=_("An existing company of this name is used; otherwise a new one is made."),
    )

    class Meta:
        model = Lead
        fields = [
            "name",
            "name_kana",
            "department",
            "title",
            "email",
            "phone",
            "owner",
            "consent_email",
            "consent_method",
            "consent_at",
            "consent_wording",
        ]
        field_classes = {"consent_at": dates.DateTimeField}
        widgets = {
            "consent_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "consent_wording": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owner_choices(viewer)
        # A rep's lead is theirs or a teammate's: one nobody owns would vanish from their sight on saving.
        self.fields["owner"].required = viewer.role == User.Role.SALES
        self.fields["name"].required = True
        self.fields["consent_at"].input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"]
        if self.instance.pk and self.instance.company_id:
            self.fields["company_name"].initial = self.instance.company.name
        self.order_fields(["name", "name_kana", "company_name"])
        # The admin's custom fields shown in forms, after the built-in ones (`custom.<key>`).
        fields = custom_fields(object_type=CustomObject.LEAD).form
        custom_fields_add(self, fields, self.instance.custom)

    def _post_clean(self) -> None:
        # The services check the record (unique email, consent proof) and report by field; the model's own
        # full_clean here would say it twice, in other words.
        pass


class CompanyForm(forms.ModelForm):
    parent_name = forms.CharField(
        label=_("Parent company"),
        required=False,
        max_length=200,
        help_text=_("The name of an existing company."),
    )
    prefecture = forms.ChoiceField(label=_("Prefecture"), choices=PREFECTURE_CHOICES, required=False)
    website = forms.URLField(label=_("website"), required=False, assume_scheme="https")
    owner_reason = forms.CharField(
        label=_("Reason for the owner change"),
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text=_("Needed when the owner changes; logged with the change."),
    )

    class Meta:
        model = Company
        fields = [
            "name",
            "name_kana",
            "domain",
            "corporate_number",
            "industry",
            "employee_count",
            "prefecture",
            "address",
            "website",
            "owner",
        ]

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.parent_id:
            self.fields["parent_name"].initial = self.instance.parent.name
        self.fields["corporate_number"].widget.attrs.update(inputmode="numeric", pattern="[0-9]{13}")
        # Who may set whom as on the "Change owner" page (leads.owners); others see the owner, unchangeable.
        owner = self.fields["owner"]
        people = owners.owner_choices(viewer=viewer, record=self.instance)
        if people is None:
            owner.queryset = User.objects.filter(pk=self.instance.owner_id)
            owner.disabled = True
            owner.help_text = _("Its owner, their manager or an admin may change it.")
        else:
            owner.queryset = people
            owner.required = not owners.owner_may_be_nobody(viewer)
        if people is None or not self.instance.pk:
            del self.fields["owner_reason"]
        custom_fields_add(self, custom_fields(object_type=CustomObject.COMPANY).form, self.instance.custom)

    def clean(self):
        data = super().clean()
        owner = data.get("owner")
        changed = "owner" in data and getattr(owner, "pk", None) != self.instance.owner_id
        if "owner_reason" in self.fields and changed and not data.get("owner_reason", "").strip():
            self.add_error("owner_reason", _("Say why the owner changes."))
        return data

    def _post_clean(self) -> None:
        pass  # the services check uniqueness and the corporate number (see LeadForm._post_clean)


class BusinessCardForm(forms.Form):
    """The quick 名刺 entry: what a card says, and whether cards were exchanged (the email law's exemption)."""

    company_name = forms.CharField(label=_("Company"), max_length=200)
    name = forms.CharField(label=_("Name"), max_length=200)
    name_kana = forms.CharField(label=_("Name (kana)"), max_length=200, required=False)
    department = forms.CharField(label=_("Department"), max_length=200, required=False)
    title = forms.CharField(label=_("Job title"), max_length=200, required=False)
    email = forms.EmailField(label=_("Email"))
    phone = forms.CharField(label=_("Phone"), max_length=50, required=False)
    met_on = dates.DateField(
        label=_("Met on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    consent_email = forms.BooleanField(
        label=_("We exchanged business cards (may send marketing email)"),
        required=False,
        help_text=_("The email law allows sending to an address received on an exchanged business card."),
    )


class LifecycleForm(forms.Form):
    stage = forms.ChoiceField(label=_("Lifecycle stage"), choices=LifecycleStage.choices)
    reason = forms.CharField(label=_("Reason"), max_length=300)


class CompanyFilterForm(CustomFilterForm):
    custom_object = CustomObject.COMPANY

    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    industry = forms.ChoiceField(
        label=_("Industry"), required=False, choices=[("", _("All")), *Industry.choices]
    )
    size = forms.ChoiceField(label=_("Size"), required=False, choices=[("", _("All")), *CompanySize.choices])
    prefecture = forms.ChoiceField(
        label=_("Prefecture"), required=False, choices=[("", _("All")), *PREFECTURE_CHOICES[1:]]
    )
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    customer = forms.ChoiceField(
        label=_("Customer"),
        required=False,
        choices=[("", _("All")), ("yes", _("Customers")), ("no", _("Not customers"))],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [
            ("", _("All")),
            (OWNER_MINE, _("Mine")),
            (OWNER_NOBODY, _("No owner")),
            *((str(u.pk), str(u)) for u in owners.owner_candidates().order_by("display_name", "pk")),
        ]

    def filters(self) -> CompanyFilters:
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return CompanyFilters(
            q=data.get("q") or "",
            industry=data.get("industry") or "",
            size=data.get("size") or "",
            prefecture=data.get("prefecture") or "",
            owner=data.get("owner") or "",
            customer=data.get("customer") or "",
            custom=tuple(filters_from(self)),
        )
