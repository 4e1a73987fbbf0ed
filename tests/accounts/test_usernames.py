"""Sign-up refuses reserved names, overlong names and lookalikes of existing handles, as field errors."""

import html
import re

import pytest
from django.urls import reverse

from accounts.models import User
from accounts.usernames import reserved_names, skeleton
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def sign_up(client, username: str, display_name: str = ""):
    return client.post(
        reverse("account_signup"),
        {
            "email": f"new{abs(hash(username))}@example.com",
            "username": username,
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
            "display_name": display_name,
        },
    )


def username_errors(response) -> str:
    assert response.status_code == 200, "the sign-up went through"
    return html.unescape(" ".join(response.context["form"].errors.get("username", [])))


@pytest.mark.parametrize("name", ["admin", "studio", "accounts", "money", "api", "Captions", "STATIC", "аdmin"])
def test_reserved_names_are_refused(client, name):
    assert "is reserved by Spaces" in username_errors(sign_up(client, name))
    assert not User.objects.filter(username=name).exists()


def test_reserved_names_come_from_the_url_map():
    assert {"admin", "studio", "accounts", "money", "spaces", "captions", "posts", "messages"} <= reserved_names()


def test_a_username_longer_than_thirty_characters_is_refused(client):
    assert "at most 30 characters (this one has 150)" in username_errors(sign_up(client, "x" * 150))
    assert sign_up(client, "y" * 30).status_code == 302


def test_a_cyrillic_lookalike_of_an_existing_handle_is_refused(client):
    UserFactory(username="maya", display_name="Maya Okafor")
    errors = username_errors(sign_up(client, "mаya", display_name="Maya Okafor"))  # Cyrillic а
    assert "looks too much like the existing account @maya" in errors
    assert User.objects.count() == 1


@pytest.mark.parametrize("lookalike", ["rnaya", "mayа", "ｍaya", "mауа"])
def test_other_lookalikes_are_refused(client, lookalike):
    UserFactory(username="maya")
    assert "looks too much like the existing account @maya" in username_errors(sign_up(client, lookalike))


def test_digit_and_letter_lookalikes_share_a_skeleton():
    assert skeleton("leo1") == skeleton("Ieol") == skeleton("leol")
    assert skeleton("fan0001") == skeleton("fanOOO1")
    assert skeleton("maya") != skeleton("mara")


def test_an_ordinary_new_name_signs_up(client):
    UserFactory(username="maya")
    assert sign_up(client, "maya_fan_42").status_code == 302
    assert User.objects.get(username="maya_fan_42").username_skeleton == skeleton("maya_fan_42")


@pytest.mark.parametrize("name", ["@bob", "bob+1", "bob.", "-bob", "bob@example"])
def test_a_username_an_at_mention_could_not_find_is_refused(client, name):
    assert "so that @mentions find it" in username_errors(sign_up(client, name))
    assert not User.objects.filter(username=name).exists()


@pytest.mark.parametrize("name", ["bob_2", "bob.smith", "ana-maria", "zoë"])
def test_usernames_with_dots_dashes_and_letters_of_any_script_sign_up(client, name):
    assert sign_up(client, name).status_code == 302


def test_the_sign_up_username_box_says_and_holds_the_thirty_character_limit(client):
    """The box let 150 characters be typed (the column's length) and said nothing of the limit."""
    page = client.get(reverse("account_signup")).content.decode()
    box = re.search(r'<input[^>]*name="username"[^>]*>', page).group(0)
    assert 'maxlength="30"' in box
    assert "At most 30 characters" in page
    response = sign_up(client, "x" * 31, display_name="Dana")
    assert username_errors(response) == "Usernames can be at most 30 characters (this one has 31)."
    assert response.context["form"]["display_name"].value() == "Dana"


def test_the_boxes_that_take_someone_elses_username_hold_the_thirty_character_limit_with_an_at():
    from accounts.forms import AccountForm, NewMessageForm

    too_long = "@" + "x" * 31
    assert NewMessageForm().fields["to"].widget.attrs["maxlength"] == "31"
    assert "at most 31 characters" in " ".join(NewMessageForm({"to": too_long, "body": "hi"}).errors["to"])
    assert "at most 31 characters" in " ".join(AccountForm({"username": too_long}).errors["username"])


def test_staff_renaming_an_account_in_the_admin_keeps_the_sign_up_rules(admin_client):
    from accounts.admin import StaffUserChangeForm, StaffUserCreationForm

    sam = UserFactory(username="sam")
    UserFactory(username="maya")

    def rename(to: str) -> StaffUserChangeForm:
        data = {
            "username": to,
            "password": sam.password,
            "date_joined_0": "2026-01-01",
            "date_joined_1": "10:00",
            "display_name": "Sam",
        }
        return StaffUserChangeForm(data, instance=sam)

    assert "at most 30 characters" in " ".join(rename("s" * 31).errors["username"])
    assert "looks too much like the existing account @maya" in " ".join(rename("mауa").errors["username"])
    assert "reserved" in " ".join(rename("admin").errors["username"])
    response = admin_client.get(f"/admin/accounts/user/{sam.pk}/change/")
    assert response.status_code == 200
    assert not rename("sam").errors.get("username")  # unchanged: not checked again
    made = StaffUserCreationForm(
        {"username": "x" * 31, "password1": "a-long-pass-2026", "password2": "a-long-pass-2026"}
    )
    assert "at most 30 characters" in " ".join(made.errors["username"])
    # Through the admin's own add page: the error beside the field, then the account made.
    add = "/admin/accounts/user/add/"
    passwords = {"password1": "a-long-pass-2026", "password2": "a-long-pass-2026", "usable_password": "true"}
    response = admin_client.post(add, {"username": "y" * 31, **passwords})
    assert response.status_code == 200 and "Usernames can be at most 30 characters" in response.text
    assert admin_client.post(add, {"username": "dana", **passwords}).status_code == 302
    assert User.objects.filter(username="dana").exists()
    assert not rename("sam_two").errors.get("username")
