"""GET /api/v1/outage-proposals/ and POST …/{id}/confirm/: staff, scoped to their offices."""

from __future__ import annotations

import pytest

from monitoring.models import OutageProposal
from slots.models import Outage, OutageEvent
from tests.monitoring.conftest import PROPOSALS, alert, assert_error, confirm_url, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def proposals(alertmanager, bhopal, indore, photo):
    """An open proposal of Bhopal (photo) and one of Indore (every service)."""
    response = send(
        alertmanager,
        alert(office="MP-04", service="photo-biometrics", fingerprint="bhopal-photo"),
        alert(office="MP-09", fingerprint="indore-all", summary="Indore licence server down"),
    )
    bhopal_pk, indore_pk = response.json()["proposals"]
    return OutageProposal.objects.get(pk=bhopal_pk), OutageProposal.objects.get(pk=indore_pk)


def test_a_clerk_lists_the_proposals_of_their_offices_only(bhopal_api, indore_api, proposals):
    bhopal_proposal, indore_proposal = proposals

    response = bhopal_api.get(PROPOSALS)

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": bhopal_proposal.pk,
            "kind": "declare",
            "state": "open",
            "office": "MP-04",
            "services": ["photo-biometrics"],
            "reason": "Licence server not answering",
            "outage": None,
            "created_at": response.json()[0]["created_at"],
        }
    ]
    assert response.json()[0]["created_at"].endswith("+05:30")
    assert [p["id"] for p in indore_api.get(PROPOSALS).json()] == [indore_proposal.pk]


def test_a_superuser_lists_every_office(superuser_api, proposals):
    listed = superuser_api.get(PROPOSALS).json()
    assert {p["id"] for p in listed} == {p.pk for p in proposals}
    assert {p["office"]: p["services"] for p in listed} == {
        "MP-04": ["photo-biometrics"],
        "MP-09": [],
    }


def test_listing_needs_staff(api, applicant_api, proposals):
    assert_error(api.get(PROPOSALS), 401, "not_authenticated")
    assert_error(applicant_api.get(PROPOSALS), 403, "forbidden")


def test_confirm_declares_the_open_ended_outage_and_answers_both(
    bhopal_api, clerk_bhopal, proposals, django_capture_on_commit_callbacks
):
    proposal, _indore = proposals

    with django_capture_on_commit_callbacks(execute=True):
        response = bhopal_api.post(confirm_url(proposal.pk))

    assert response.status_code == 200, response.content
    body = response.json()
    outage = Outage.objects.get(pk=body["outage"]["id"])
    assert body["proposal"] == {
        **body["proposal"],
        "id": proposal.pk,
        "state": "confirmed",
        "outage": outage.pk,
    }
    assert body["outage"]["offices"] == ["MP-04"]
    assert body["outage"]["services"] == ["photo-biometrics"]
    assert body["outage"]["expected_end"] is None
    assert body["outage"]["capacity_percent"] == 0
    assert body["outage"]["status"] == "active"
    assert body["outage"]["reason"] == "Licence server not answering"
    proposal.refresh_from_db()
    assert (proposal.confirmed_by, proposal.outage) == (clerk_bhopal, outage)
    declared = outage.history.get(kind=OutageEvent.Kind.DECLARED)
    assert declared.user == clerk_bhopal and declared.details == {"proposal": proposal.pk}


def test_confirming_another_offices_proposal_answers_403(indore_api, proposals):
    proposal, _indore = proposals
    assert_error(indore_api.post(confirm_url(proposal.pk)), 403, "forbidden")
    proposal.refresh_from_db()
    assert proposal.state == "open" and not Outage.objects.exists()


def test_confirming_twice_answers_409_proposal_not_open(bhopal_api, proposals):
    proposal, _indore = proposals
    assert bhopal_api.post(confirm_url(proposal.pk)).status_code == 200

    assert_error(bhopal_api.post(confirm_url(proposal.pk)), 409, "proposal_not_open")
    assert Outage.objects.count() == 1


def test_confirming_a_withdrawn_proposal_answers_409(bhopal_api, alertmanager, proposals):
    proposal, _indore = proposals
    send(alertmanager, alert("resolved", fingerprint="bhopal-photo"))
    assert_error(bhopal_api.post(confirm_url(proposal.pk)), 409, "proposal_not_open")
    assert not Outage.objects.exists()


def test_confirm_unknown_proposal_answers_404_and_needs_staff(
    bhopal_api, api, applicant_api, proposals
):
    proposal, _indore = proposals
    assert_error(bhopal_api.post(confirm_url(999999)), 404, "not_found")
    assert_error(api.post(confirm_url(proposal.pk)), 401, "not_authenticated")
    assert_error(applicant_api.post(confirm_url(proposal.pk)), 403, "forbidden")
