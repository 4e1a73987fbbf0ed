"""The built-in payments test provider as the money tests read and steer it (the `provider` fixture)."""

from __future__ import annotations

from typing import Any

from ticketing.test_provider import api, engine, store


class Provider:
    """The test provider's state as the tests read it: its objects by kind, its request log, its faults."""

    @property
    def fail_next(self) -> list[tuple[int, str]]:
        return api.faults.next

    @property
    def fail_path(self) -> dict[str, tuple[int, str]]:
        return api.faults.path

    def _objects(self, kind: str) -> dict[str, dict[str, Any]]:
        return {o.id: o.data for o in store.all_of(kind)}

    accounts = property(lambda self: self._objects("account"))
    sessions = property(lambda self: self._objects("checkout.session"))
    refunds = property(lambda self: self._objects("refund"))
    subscriptions = property(lambda self: self._objects("subscription"))
    events = property(lambda self: self._objects("event"))

    @property
    def requests(self) -> list[store.LoggedRequest]:
        return store.requests()

    def requests_to(self, method: str, path: str) -> list[store.LoggedRequest]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def session_complete(self, session_id: str) -> dict[str, Any]:
        """The buyer paid with 4242 on the hosted page: the session as `checkout.session.completed` carries it.

        The provider's own events are delivered on commit; tests that post their own event run outside
        captured on-commit callbacks, so only theirs reaches the endpoint."""
        with store.atomic():
            session = store.get("checkout.session", session_id)
            return engine.session_pay(
                session=session, email="buyer@example.com", card_brand="visa", card_last4="4242"
            ).data

    def account_complete(self, account_id: str) -> dict[str, Any]:
        with store.atomic():
            return engine.account_onboarding_complete(account=store.get("account", account_id), origin=None).data

    def subscription_add(self, subscription_id: str, **fields: Any) -> None:
        with store.atomic():
            store.create(
                "subscription", {"id": subscription_id, "object": "subscription", "status": "active", **fields}
            )
