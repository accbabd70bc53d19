"""Serializers whose fields are built once per class behave as if built per instance."""

import pytest
from rest_framework import serializers

from apps.core.serializers import FieldsBuiltOnce
from apps.memories.serializers import MemorySerializer


class Inner(serializers.Serializer):
    name = serializers.CharField()


class Sample(FieldsBuiltOnce, serializers.Serializer):
    title = serializers.CharField(max_length=5)
    tags = serializers.ListField(child=serializers.CharField(max_length=3), max_length=2)
    inner = Inner(required=False)


def test_each_instance_binds_fields_of_its_own():
    first, second = Sample(data={}), Sample(data={})

    for name in ("title", "tags", "inner"):
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first and second.fields[name].parent is second
    assert first.fields["tags"].child is not second.fields["tags"].child
    assert first.fields["tags"].child.parent is first.fields["tags"]
    assert first.fields["inner"].fields["name"] is not second.fields["inner"].fields["name"]


def test_validation_is_unchanged_instance_after_instance():
    good = {"title": "abc", "tags": ["x", "yz"], "inner": {"name": "n"}}
    bad = {"title": "too long", "tags": ["long", "a", "b"], "inner": {}}

    for _ in range(3):
        ok = Sample(data=good)
        assert ok.is_valid(), ok.errors
        assert ok.validated_data == good
        refused = Sample(data=bad)
        assert not refused.is_valid()
        assert set(refused.errors) == {"title", "tags", "inner"}
        assert "name" in refused.errors["inner"]


@pytest.mark.django_db
def test_a_model_serializer_reads_and_writes_as_before(user):
    created = MemorySerializer(data={"content": " hi ", "tags": ["a"]})
    assert created.is_valid(), created.errors
    memory = created.save(owner=user)

    again = MemorySerializer(data={"content": "", "tags": ["x" * 51], "memory_type": "nope"})
    assert not again.is_valid()
    assert set(again.errors) == {"content", "tags", "memory_type"}
    data = MemorySerializer(memory).data
    assert (data["content"], data["tags"], data["memory_type"]) == ("hi", ["a"], "note")
    assert set(data) == {
        "id", "content", "memory_type", "metadata", "tags", "embedding_status",
        "created_at", "updated_at",
    }  # fmt: skip
