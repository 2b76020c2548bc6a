"""Registering again as the same person (full name, date of birth, mobile) says so instead
of making a second applicant — on the page, in the service, and under concurrency."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from applicants.errors import AlreadyRegistered
from applicants.models import Applicant
from applicants.services import applicant_register

BORN = date(1995, 6, 15)


@pytest.mark.django_db
def test_the_same_person_again_raises_already_registered_whatever_the_case_and_spacing():
    applicant_register(full_name="Ramesh Kumar", date_of_birth=BORN, mobile="9826012345")
    with pytest.raises(AlreadyRegistered):
        applicant_register(
            full_name="  rAMESH   kumar ", date_of_birth=BORN, mobile="+91 98260 12345"
        )
    assert Applicant.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "other",
    [
        {"full_name": "Ramesh Kumar Sharma"},
        {"date_of_birth": date(1995, 6, 16)},
        {"mobile": "9826012346"},
    ],
)
def test_a_different_name_date_or_mobile_registers_a_new_applicant(other):
    applicant_register(full_name="Ramesh Kumar", date_of_birth=BORN, mobile="9826012345")
    applicant_register(
        **{"full_name": "Ramesh Kumar", "date_of_birth": BORN, "mobile": "9826012345", **other}
    )
    assert Applicant.objects.count() == 2


@pytest.mark.django_db
def test_the_register_page_says_already_registered_and_links_to_recovery():
    data = {
        "full_name": "Ramesh Kumar",
        "date_of_birth": "1995-06-15",
        "mobile": "98260 12345",
        "preferred_language": "en",
    }
    assert Client().post(reverse("applicants:register"), data).status_code == 302
    number = Applicant.objects.get().application_number
    response = Client().post(reverse("applicants:register"), {**data, "full_name": "RAMESH KUMAR"})
    html = response.content.decode()
    assert response.status_code == 409
    assert "already registered" in html
    assert f'href="{reverse("applicants:recover")}"' in html
    assert number not in html
    assert Applicant.objects.count() == 1


@pytest.mark.django_db
def test_the_already_registered_message_speaks_hindi():
    data = {
        "full_name": "सुनीता वर्मा",
        "date_of_birth": "1995-06-15",
        "mobile": "98260 12345",
        "preferred_language": "hi",
    }
    Client().post(reverse("applicants:register"), data)
    response = Client(HTTP_ACCEPT_LANGUAGE="hi").post(reverse("applicants:register"), data)
    assert response.status_code == 409
    assert "मोबाइल नंबर से पहले ही पंजीकृत हैं" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_two_identical_registrations_at_once_make_one_applicant():
    """Real threads, each on its own PostgreSQL connection, released together: without the
    lock both would find nobody and both would insert."""
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def register() -> None:
        try:
            start.wait()
            applicant_register(full_name="Asha Devi", date_of_birth=BORN, mobile="9826012345")
            outcomes.append("registered")
        except AlreadyRegistered:
            outcomes.append("already")
        finally:
            connection.close()

    threads = [threading.Thread(target=register) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["already", "already", "already", "registered"]
    assert Applicant.objects.filter(mobile="+919826012345").count() == 1
