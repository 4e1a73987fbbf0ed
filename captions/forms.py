"""Input for the captions pages: one person's caption settings."""

from __future__ import annotations

from django import forms

from .models import CaptionPreference


class CaptionPreferenceForm(forms.ModelForm):
    class Meta:
        model = CaptionPreference
        fields = ["enabled", "text_size", "high_contrast", "position", "caption_my_voice"]
        labels = {
            "enabled": "Show captions",
            "text_size": "Text size",
            "high_contrast": "High contrast",
            "position": "Position",
            "caption_my_voice": "Caption my voice when I speak",
        }
        help_texts = {
            "caption_my_voice": "Off: your voice is never sent to speech recognition, so nobody sees captions of it.",
        }
