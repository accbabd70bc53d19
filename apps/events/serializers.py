from rest_framework import serializers


class TicketSerializer(serializers.Serializer):
    ticket = serializers.CharField(help_text="Pass it as `?ticket=` to `GET /api/v1/events`.")
    expires_in = serializers.IntegerField(help_text="Seconds the ticket stays valid (60).")
