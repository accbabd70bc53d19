from django.urls import re_path

from apps.events.views import EventStreamView, EventTicketView

urlpatterns = [
    re_path(r"^events/?$", EventStreamView.as_view(), name="events"),
    re_path(r"^events/tickets/?$", EventTicketView.as_view(), name="event-tickets"),
]
