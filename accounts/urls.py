from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("posts/new/", views.post_create, name="post_create"),
    path("posts/<int:pk>/delete/", views.post_delete, name="post_delete"),
    path("posts/<int:pk>/like/", views.post_like, name="post_like"),
    path("posts/<int:pk>/unlike/", views.post_unlike, name="post_unlike"),
    path("posts/<int:pk>/repost/", views.post_repost, name="post_repost"),
    path("posts/<int:pk>/unrepost/", views.post_unrepost, name="post_unrepost"),
    path("posts/<int:pk>/reply/", views.post_reply, name="post_reply"),
    path("posts/<int:pk>/quote/", views.post_quote, name="post_quote"),
    path("tags/<str:name>/", views.hashtag, name="hashtag"),
    path("people/", views.people_search, name="people_search"),
    path("messages/", views.inbox, name="inbox"),
    path("messages/new/", views.message_new, name="message_new"),
    path("messages/<int:pk>/", views.conversation, name="conversation"),
    path("messages/<int:pk>/new/", views.conversation_new_messages, name="conversation_new"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("notifications/bell/", views.bell, name="bell"),
    path("settings/profile/", views.profile_edit, name="profile_edit"),
    path("settings/time-zone/", views.time_zone, name="time_zone"),
    path("@<str:username>/", views.profile, name="profile"),
    path("@<str:username>/followers/", views.followers, name="followers"),
    path("@<str:username>/following/", views.following, name="following"),
    path("@<str:username>/follow/", views.follow, name="follow"),
    path("@<str:username>/unfollow/", views.unfollow, name="unfollow"),
    path("@<str:username>/block/", views.block, name="block"),
    path("@<str:username>/unblock/", views.unblock, name="unblock"),
    path("@<str:username>/report/", views.report, name="report"),
    path("@<str:username>/posts/<int:pk>/", views.post_detail, name="post"),
]
