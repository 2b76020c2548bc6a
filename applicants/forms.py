"""Forms of the applicant pages: they parse and validate input; the services decide."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from applicants.models import Applicant
from applicants.validators import (
    normalise_indian_mobile,
    validate_applicant_age,
    validate_learner_licence_issued_on,
)

# A phone's date picker sends ISO dates; people typing by hand write 15-06-1995 or 15/06/1995.
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y"]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def _date_field(label, *, required=True, help_text="", autocomplete="off"):
    return forms.DateField(
        label=label,
        required=required,
        help_text=help_text,
        input_formats=DATE_INPUT_FORMATS,
        widget=DateInput(attrs={"autocomplete": autocomplete}),
        error_messages={"invalid": _("Enter the date as day-month-year, e.g. 15-06-2004.")},
    )


class PageForm(forms.Form):
    # Labels stand alone above their inputs (Django's errors and help text are tied to the
    # input with aria-describedby and aria-invalid).
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class RegisterForm(PageForm):
    full_name = forms.CharField(
        label=_("Full name"),
        max_length=120,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
        help_text=_("As on your Aadhaar card or other identity document."),
    )
    date_of_birth = _date_field(_("Date of birth"), autocomplete="bday")
    mobile = forms.CharField(
        label=_("Mobile number"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel-national"}
        ),
        help_text=_("10 digits. Your appointment details are sent here by SMS."),
    )
    email = forms.EmailField(
        label=_("E-mail (optional)"),
        required=False,
        max_length=254,  # the column's length, as RFC 5321 allows
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    preferred_language = forms.ChoiceField(
        label=_("Language for SMS and e-mail"),
        choices=Applicant.Language.choices,
        widget=forms.RadioSelect,
    )
    learner_licence_issued_on = _date_field(
        _("Learner licence issued on (optional)"),
        required=False,
        help_text=_("Only if you already have a learner licence and will book a driving test."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        language = (get_language() or "en")[:2]
        self.fields["preferred_language"].initial = "hi" if language == "hi" else "en"

    def clean_full_name(self) -> str:
        name = " ".join(self.cleaned_data["full_name"].split())
        if not name:
            raise ValidationError(_("Enter your full name."), code="required")
        return name

    def clean_mobile(self) -> str:
        return normalise_indian_mobile(self.cleaned_data["mobile"])

    def clean_date_of_birth(self):
        born = self.cleaned_data["date_of_birth"]
        validate_applicant_age(born, today=timezone.localdate())
        return born


class SignInForm(PageForm):
    application_number = forms.CharField(
        label=_("Application number"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "username", "spellcheck": "false"}
        ),
        help_text=_("The 10-digit number you got when you registered."),
    )
    date_of_birth = _date_field(_("Date of birth"), autocomplete="bday")

    def clean_application_number(self) -> str:
        return "".join(self.cleaned_data["application_number"].split())


class RecoverForm(PageForm):
    """ "Forgot application number": the mobile and the date of birth given at registration."""

    mobile = forms.CharField(
        label=_("Mobile number"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel-national"}
        ),
        help_text=_("The mobile number you gave when you registered."),
    )
    date_of_birth = _date_field(_("Date of birth"), autocomplete="bday")

    def clean_mobile(self) -> str:
        return normalise_indian_mobile(self.cleaned_data["mobile"])


class LearnerLicenceForm(PageForm):
    """The learner licence's issue date: asked when booking a driving test without one on
    record, and editable on the applicant's details page."""

    learner_licence_issued_on = _date_field(
        _("Learner licence issued on"),
        help_text=_(
            "As printed on your learner licence. The driving test must be 30 days to 6 months "
            "after it."
        ),
    )

    def __init__(self, *args, applicant: Applicant, **kwargs):
        super().__init__(*args, **kwargs)
        self.applicant = applicant

    def clean_learner_licence_issued_on(self):
        issued = self.cleaned_data["learner_licence_issued_on"]
        validate_learner_licence_issued_on(
            issued, born=self.applicant.date_of_birth, today=timezone.localdate()
        )
        return issued


class MobileCodeForm(PageForm):
    code = forms.CharField(
        label=_("Code from the SMS"),
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "pattern": "[0-9 ]*",
                "size": "8",
            }
        ),
        help_text=_("6 digits."),
    )

    def clean_code(self):
        code = "".join(self.cleaned_data["code"].split())
        if not (code.isdigit() and len(code) == 6):
            raise ValidationError(_("Enter the 6 digits of the code."))
        return code
