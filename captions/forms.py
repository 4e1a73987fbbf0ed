"""Input for the captions pages: one person's caption settings."""

from __future__ import annotations

from django import forms

from .models import CaptionPreference

MAX_ALERT_WORDS = 20


class CaptionPreferenceForm(forms.ModelForm):
    class Meta:
        model = CaptionPreference
        fields = ["enabled", "text_size", "high_contrast", "position", "caption_my_voice", "alert_words"]
        labels = {
            "enabled": "Show captions",
            "text_size": "Text size",
            "high_contrast": "High contrast",
            "position": "Position",
            "caption_my_voice": "Caption my voice when I speak",
            "alert_words": "Alert me when captions say",
        }
        help_texts = {
            "caption_my_voice": "Off: your voice is never sent to speech recognition, so nobody sees captions of it.",
            "alert_words": "Words or phrases, separated by commas. In Spaces you host, you and your co-hosts get "
            "an alert with the line and the speaker when live captions contain one.",
        }

    def clean_alert_words(self) -> str:
        words = [w.strip().lower() for w in self.cleaned_data.get("alert_words", "").split(",") if w.strip()]
        if len(words) > MAX_ALERT_WORDS:
            raise forms.ValidationError(f"Keep at most {MAX_ALERT_WORDS} alert words.")
        too_short = [w for w in words if len(w) < 2]
        if too_short:
            raise forms.ValidationError("Each alert word needs at least two letters.")
        return ", ".join(dict.fromkeys(words))
