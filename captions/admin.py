"""Staff views of captions: who captions which live Space (and why one stopped), kept segments."""

from __future__ import annotations

from django.contrib import admin

from .models import CaptionLease, CaptionSegment


@admin.register(CaptionLease)
class CaptionLeaseAdmin(admin.ModelAdmin):
    list_display = ["space", "holder", "expires_at", "last_error"]
    readonly_fields = ["space", "holder", "expires_at", "last_error"]
    search_fields = ["space__title", "holder"]
    list_filter = ["expires_at"]


@admin.register(CaptionSegment)
class CaptionSegmentAdmin(admin.ModelAdmin):
    list_display = ["space", "speaker", "start_ms", "text"]
    list_select_related = ["space", "speaker"]
    raw_id_fields = ["space", "speaker"]
    search_fields = ["text", "space__title", "speaker__username"]
    list_filter = ["created_at"]
