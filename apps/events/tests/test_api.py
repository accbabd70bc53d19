"""`POST /api/v1/events/tickets` and the refusals of `GET /api/v1/events` (docs/events.md).
What an accepted stream sends is in test_stream.py and tests/system/test_events.py."""

import time
from datetime import timedelta

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from apps.events.tickets import TICKET_SECONDS, ticket_issue, ticket_redeem

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/events/tickets"
EVENTS = "/api/v1/events"


def test_a_ticket_is_issued_for_a_bearer_token(auth_client, user):
    for path in (TICKETS, f"{TICKETS}/"):
        response = auth_client.post(path)
        assert response.status_code == 201
        data = response.json()["data"]
        assert data["expires_in"] == TICKET_SECONDS == 60
        claims = ticket_redeem(data["ticket"])
        assert claims.user_id == str(user.pk)
        assert claims.expires_at > time.time()


def test_a_ticket_needs_a_bearer_token(api_client, user, user_password):
    assert api_client.post(TICKETS).json()["error"]["code"] == "NOT_AUTHENTICATED"
    api_client.login(email=user.email, password=user_password)
    assert api_client.post(TICKETS).status_code == 401


def test_a_ticket_is_good_once(user, redis_queue):
    ticket = ticket_issue(user_id=user.pk, token_expires_at=int(time.time()) + 60)
    assert ticket_redeem(ticket) is not None
    assert ticket_redeem(ticket) is None
    assert ticket_redeem("") is None
    assert redis_queue.keys("tanka:event-ticket:*") == []


def test_a_ticket_lives_sixty_seconds(user, redis_queue):
    ticket_issue(user_id=user.pk, token_expires_at=int(time.time()) + 600)
    (key,) = redis_queue.keys("tanka:event-ticket:*")
    assert 55 < redis_queue.ttl(key) <= 60


def refusal(response) -> tuple[int, str, str]:
    return response.status_code, response["Content-Type"], response.json()["error"]["code"]


@pytest.mark.parametrize("query", ["?ticket=", "?ticket=made-up", "/?ticket=made-up"])
def test_a_bad_ticket_is_a_401_envelope(api_client, query):
    assert refusal(api_client.get(EVENTS + query)) == (401, "application/json", "INVALID_TOKEN")


def test_a_used_ticket_is_a_401_envelope(api_client, user):
    ticket = ticket_issue(user_id=user.pk, token_expires_at=int(time.time()) + 60)
    ticket_redeem(ticket)
    response = api_client.get(f"{EVENTS}?ticket={ticket}")
    assert refusal(response) == (401, "application/json", "INVALID_TOKEN")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_ticket_of_an_expired_token_is_a_401_envelope(api_client, user):
    ticket = ticket_issue(user_id=user.pk, token_expires_at=int(time.time()) - 1)
    assert refusal(api_client.get(f"{EVENTS}?ticket={ticket}"))[2] == "INVALID_TOKEN"


def test_a_ticket_of_a_deactivated_user_is_a_401_envelope(api_client, user):
    ticket = ticket_issue(user_id=user.pk, token_expires_at=int(time.time()) + 60)
    user.is_active = False
    user.save()
    assert refusal(api_client.get(f"{EVENTS}?ticket={ticket}"))[2] == "INVALID_TOKEN"


def test_no_credentials_or_an_expired_token_is_a_401_envelope(api_client, user):
    assert refusal(api_client.get(EVENTS))[2] == "NOT_AUTHENTICATED"
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert refusal(client.get(EVENTS))[2] == "INVALID_TOKEN"


def test_a_wsgi_server_refuses_the_stream_instead_of_holding_a_thread(auth_client):
    # The test client is WSGI, as the api processes and runserver are: only tanka.asgi streams.
    response = auth_client.get(EVENTS)
    assert refusal(response) == (503, "application/json", "SERVICE_UNAVAILABLE")
    assert "tanka.asgi" in response.json()["error"]["message"]
