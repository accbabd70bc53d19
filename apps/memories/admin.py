from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.memories import services
from apps.memories.models import Memory
from apps.memories.serializers import MemorySerializer
from apps.memories.services import EDITABLE


class MemoryAdminForm(forms.ModelForm):
    """Validates with the API's serializer, so the admin cannot store what the API refuses."""

    class Meta:
        model = Memory
        fields = ["owner", *EDITABLE]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        data = {field: cleaned.get(field) for field in EDITABLE if field in cleaned}
        data = {k: v for k, v in data.items() if v is not None}
        serializer = MemorySerializer(data=data)
        if not serializer.is_valid():
            for field, errors in serializer.errors.items():
                target = field if field in self.fields else None
                for error in errors if isinstance(errors, list) else [errors]:
                    self.add_error(target, str(error))
        else:
            cleaned.update(serializer.validated_data)
        return cleaned


@admin.register(Memory)
class MemoryAdmin(admin.ModelAdmin):
    """Writes go through the services, so admin edits invalidate the owner's cache, publish
    events and queue embeddings exactly as API writes do."""

    form = MemoryAdminForm
    list_display = ("summary", "owner", "memory_type", "tag_list", "embedding_status", "created_at")
    list_filter = ("memory_type", "embedding_status", "created_at")
    search_fields = ("id", "content", "owner__email")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    readonly_fields = ("id", "embedding_status", "created_at", "updated_at")
    date_hierarchy = "created_at"

    @admin.display(description="content")
    def summary(self, obj: Memory) -> str:
        return obj.content if len(obj.content) <= 80 else obj.content[:79] + "…"

    @admin.display(description="tags")
    def tag_list(self, obj: Memory) -> str:
        return ", ".join(obj.tags)

    def get_readonly_fields(self, request: HttpRequest, obj: Memory | None = None) -> Any:
        return (*self.readonly_fields, "owner") if obj else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Memory, form: Any, change: bool) -> None:
        data = {field: form.cleaned_data[field] for field in EDITABLE if field in form.cleaned_data}
        if change:
            stored = Memory.objects.get(pk=obj.pk)
            saved = services.memory_update(memory=stored, data=data, replace=True)
        else:
            saved = services.memory_create(owner=form.cleaned_data["owner"], **data)
        obj.pk, obj.created_at, obj.updated_at = saved.pk, saved.created_at, saved.updated_at
        obj.embedding_status = saved.embedding_status
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: Memory) -> None:
        services.memory_delete(memory=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Memory]) -> None:
        for memory in queryset:
            services.memory_delete(memory=memory)
