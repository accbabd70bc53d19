"""Reads of the users app."""

from django.db.models import Q, QuerySet

from apps.users.models import User

PUBLIC_FIELDS = ("id", "display_name", "avatar_url", "first_name", "last_name")


def user_search(*, user: User, query: str) -> QuerySet[User]:
    """Active accounts whose email, display name, first or last name contains `query` (any
    case), for `user` to start a conversation with. Only public fields are loaded, so a
    serializer cannot leak the rest."""
    query = query.strip()
    match = (
        Q(email__icontains=query)
        | Q(display_name__icontains=query)
        | Q(first_name__icontains=query)
        | Q(last_name__icontains=query)
    )
    return (
        User.objects.filter(match, is_active=True)
        .only(*PUBLIC_FIELDS)
        .order_by("display_name", "first_name", "last_name", "id")
    )
