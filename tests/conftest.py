"""Personas and the catalogue most tests stand on (see STYLE.md, "Tests")."""

from __future__ import annotations

import pytest

from slots.models import Service
from tests.factories import (
    ApplicantFactory,
    OfferingFactory,
    OfficeFactory,
    ServiceFactory,
    UserFactory,
)


@pytest.fixture(autouse=True)
def _sms_to_tmp(settings, tmp_path):
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_DIR = str(tmp_path / "sms")


@pytest.fixture
def bhopal(db):
    return OfficeFactory(code="MP-04", name="RTO Bhopal", name_hi="आरटीओ भोपाल", district="Bhopal")


@pytest.fixture
def indore(db):
    return OfficeFactory(code="MP-09", name="RTO Indore", name_hi="आरटीओ इंदौर", district="Indore")


@pytest.fixture
def photo(db):
    return ServiceFactory(
        slug=Service.PHOTO_BIOMETRICS, name="Photo and biometrics", name_hi="फोटो और बायोमेट्रिक"
    )


@pytest.fixture
def driving(db):
    return ServiceFactory(slug=Service.DRIVING_TEST, name="Driving test", name_hi="ड्राइविंग टेस्ट")


@pytest.fixture
def learner(db):
    return ServiceFactory(
        slug=Service.LEARNER_TEST, name="Learner's licence test", name_hi="लर्नर लाइसेंस परीक्षा"
    )


@pytest.fixture
def bhopal_photo(bhopal, photo):
    return OfferingFactory(office=bhopal, service=photo)


@pytest.fixture
def indore_photo(indore, photo):
    return OfferingFactory(office=indore, service=photo)


@pytest.fixture
def applicant(db):
    return ApplicantFactory(full_name="Ramesh Kumar Sharma", preferred_language="en")


@pytest.fixture
def hindi_applicant(db):
    return ApplicantFactory(full_name="सुनीता वर्मा", preferred_language="hi")


@pytest.fixture
def other_applicant(db):
    return ApplicantFactory(full_name="Anita Verma")


@pytest.fixture
def clerk_bhopal(bhopal):
    user = UserFactory(username="clerk-bhopal")
    bhopal.clerks.add(user)
    return user


@pytest.fixture
def clerk_indore(indore):
    user = UserFactory(username="clerk-indore")
    indore.clerks.add(user)
    return user


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)
