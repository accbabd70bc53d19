"""Reads of the users app."""

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from apps.users.models import User, normalize_email

PUBLIC_FIELDS = ("id", "display_name", "avatar_url", "first_name", "last_name")


def user_search(*, user: User, query: str) -> QuerySet[User]:
    """Active accounts whose whole email is `query`, or whose display, first or last name
    contains it (any case), for `user` to start a conversation with.

    An email matches only as the whole address: a fragment (`@`, `@example.com`, `ann@`)
    would list everyone page after page, or let anyone confirm a guessed address piece by
    piece. Only public fields are loaded, so a serializer cannot leak the rest."""
    query = query.strip()
    match = (
        Q(email_lower=normalize_email(query))
        | Q(display_name__icontains=query)
        | Q(first_name__icontains=query)
        | Q(last_name__icontains=query)
    )
    return (
        User.objects.alias(email_lower=Lower("email"))
        .filter(match, is_active=True)
        .only(*PUBLIC_FIELDS)
        .order_by("display_name", "first_name", "last_name", "id")
    )
