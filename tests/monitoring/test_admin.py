"""The admin's banner of outage proposals and its one-click Confirm (a plain POST form), in
English and Hindi; the proposal pages, scoped to the clerk's offices."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from monitoring.models import OutageProposal
from slots.models import Outage
from tests.admin.conftest import bhopal_client, clerk_bhopal, clerk_indore  # noqa: F401
from tests.monitoring.conftest import alert, ensure_proposal_permissions, send

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")
OUTAGES = reverse("admin:slots_outage_changelist")
PROPOSALS = reverse("admin:monitoring_outageproposal_changelist")


def _confirm(proposal):
    return reverse("admin:monitoring_outageproposal_confirm", args=[proposal.pk])


@pytest.fixture
def clerk_group(db):
    ensure_proposal_permissions()
    return Group.objects.get(name="Clerk")


@pytest.fixture
def proposals(alertmanager, bhopal, indore, photo):
    response = send(
        alertmanager,
        alert(office="MP-04", service="photo-biometrics", fingerprint="bhopal-photo"),
        alert(office="MP-09", fingerprint="indore-all", summary="Indore server down"),
    )
    return [OutageProposal.objects.get(pk=pk) for pk in response.json()["proposals"]]


@pytest.fixture
def indore_client(clerk_indore):  # noqa: F811
    client = Client()
    client.force_login(clerk_indore)
    return client


def test_index_banner_shows_the_clerks_open_proposals_with_a_confirm_form(
    bhopal_client,  # noqa: F811
    proposals,
):
    bhopal_proposal, indore_proposal = proposals

    html = bhopal_client.get(INDEX).content.decode()

    assert 'id="outage-proposals"' in html
    assert f'id="outage-proposal-{bhopal_proposal.pk}"' in html
    assert "Monitoring reports an outage at MP-04 (Photo and biometrics)" in html
    assert "Licence server not answering" in html
    assert f'action="{_confirm(bhopal_proposal)}"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert "Confirm: mark the service down" in html
    assert f"outage-proposal-{indore_proposal.pk}" not in html and "Indore server down" not in html


def test_no_banner_without_open_proposals(bhopal_client, indore_client, proposals):  # noqa: F811
    bhopal_client.post(_confirm(proposals[0]))
    assert 'id="outage-proposals"' not in bhopal_client.get(INDEX).content.decode()
    assert "Indore server down" in indore_client.get(INDEX).content.decode()


def test_outages_list_shows_the_banner_too(bhopal_client, proposals):  # noqa: F811
    html = bhopal_client.get(OUTAGES).content.decode()
    assert f'id="outage-proposal-{proposals[0].pk}"' in html


def test_confirm_from_the_banner_declares_and_lands_on_the_outage_page(
    clerk_bhopal,  # noqa: F811
    proposals,
    django_capture_on_commit_callbacks,
):
    # A browser without JavaScript: read the form's CSRF token, post it.
    client = Client(enforce_csrf_checks=True)
    client.force_login(clerk_bhopal)
    html = client.get(INDEX).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_confirm(proposals[0]), {"csrfmiddlewaretoken": token})

    outage = Outage.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:slots_outage_change", args=[outage.pk])
    assert (outage.expected_end, outage.capacity_percent) == (None, 0)
    assert outage.created_by == clerk_bhopal
    proposal = OutageProposal.objects.get(pk=proposals[0].pk)
    assert (proposal.state, proposal.outage, proposal.confirmed_by) == (
        "confirmed",
        outage,
        clerk_bhopal,
    )
    page = client.get(response["Location"]).content.decode()
    assert "Service marked down until further notice at MP-04" in page
    assert 'id="outage-progress"' in page


def test_confirm_without_the_csrf_token_is_refused(clerk_bhopal, proposals):  # noqa: F811
    client = Client(enforce_csrf_checks=True)
    client.force_login(clerk_bhopal)
    assert client.post(_confirm(proposals[0])).status_code == 403
    assert not Outage.objects.exists()


def test_banner_and_confirm_in_hindi(bhopal_client, proposals):  # noqa: F811
    bhopal_client.cookies.load({"django_language": "hi"})

    html = bhopal_client.get(INDEX, HTTP_ACCEPT_LANGUAGE="hi").content.decode()

    assert "निगरानी ने MP-04 (फोटो और बायोमेट्रिक) पर" in html
    assert "पुष्टि करें: सेवा बंद दर्ज करें" in html
    response = bhopal_client.post(_confirm(proposals[0]), follow=True)
    assert "MP-04 पर सेवा अगली सूचना तक बंद दर्ज" in response.content.decode()


def test_resolve_proposal_in_the_banner_resolves_the_outage(
    bhopal_client,  # noqa: F811
    alertmanager,
    proposals,
):
    bhopal_client.post(_confirm(proposals[0]))
    send(alertmanager, alert("resolved", fingerprint="bhopal-photo"))
    resolve = OutageProposal.objects.get(kind="resolve")

    html = bhopal_client.get(INDEX).content.decode()
    assert (
        "Monitoring reports MP-04 (Photo and biometrics) working again: "
        f"resolve outage #{resolve.outage_id}?" in html
    )
    assert "Confirm: resolve the outage" in html

    response = bhopal_client.post(_confirm(resolve))
    assert response["Location"] == reverse("admin:slots_outage_change", args=[resolve.outage_id])
    assert Outage.objects.get(pk=resolve.outage_id).resolved_at is not None


def test_another_offices_proposal_is_not_found_and_confirming_twice_says_why(
    bhopal_client,  # noqa: F811
    proposals,
):
    bhopal_proposal, indore_proposal = proposals
    assert bhopal_client.post(_confirm(indore_proposal)).status_code == 404
    assert bhopal_client.get(_confirm(bhopal_proposal)).status_code == 405

    bhopal_client.post(_confirm(bhopal_proposal))
    response = bhopal_client.post(_confirm(bhopal_proposal), follow=True)

    assert "This proposal is no longer open" in response.content.decode()
    assert Outage.objects.count() == 1


def test_proposal_pages_are_scoped_to_the_clerks_offices(bhopal_client, proposals):  # noqa: F811
    bhopal_proposal, indore_proposal = proposals
    listing = bhopal_client.get(PROPOSALS)
    assert listing.status_code == 200
    assert list(listing.context["cl"].queryset) == [bhopal_proposal]
    page = bhopal_client.get(
        reverse("admin:monitoring_outageproposal_change", args=[bhopal_proposal.pk])
    )
    assert page.status_code == 200 and 'id="outage-proposal-confirm"' in page.content.decode()
    other = bhopal_client.get(
        reverse("admin:monitoring_outageproposal_change", args=[indore_proposal.pk])
    )
    assert other.status_code == 302  # Django's admin: "not found", back to the index
    assert bhopal_client.get(reverse("admin:monitoring_outageproposal_add")).status_code == 403


def test_the_outage_history_says_monitoring_proposed_it(bhopal_client, proposals):  # noqa: F811
    response = bhopal_client.post(_confirm(proposals[0]), follow=True)
    assert f"Proposed by monitoring (proposal #{proposals[0].pk})." in response.content.decode()
