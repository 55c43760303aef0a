"""Log in over the API and make accounts with a role: shared by the API tests."""

from tests.conftest import ADMIN_PW


def login(client, username="admin", password=ADMIN_PW):
    r = client.post("/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def account(client, admin, name, role):
    r = client.post("/users", json={"username": name, "password": "pass-" + name * 2,
                                    "role": role}, headers=admin)
    assert r.status_code == 201, r.text
    return login(client, name, "pass-" + name * 2)
