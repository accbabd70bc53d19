from rest_framework import serializers

STATES = ["connected", "disconnected"]


class ServicesSerializer(serializers.Serializer):
    database = serializers.ChoiceField(choices=STATES)
    redis = serializers.ChoiceField(choices=STATES)
    task_queue = serializers.ChoiceField(choices=STATES)


class HealthSerializer(ServicesSerializer):
    status = serializers.ChoiceField(choices=["healthy", "degraded", "unhealthy"])
    services = ServicesSerializer()
    version = serializers.CharField()
    uptime = serializers.IntegerField(min_value=0)


class LiveSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["alive"])


class ReadySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ready", "not_ready"])
    database = serializers.ChoiceField(choices=STATES)


class InfoSerializer(serializers.Serializer):
    api_version = serializers.CharField()
    features_enabled = serializers.ListField(child=serializers.CharField())
    environment = serializers.ChoiceField(choices=["development", "staging", "production"])
