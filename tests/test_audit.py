from sqlalchemy import text

from hawiya import audit


def _fill(platform, n=5):
    for i in range(n):
        with platform.transaction() as s:
            audit.append(s, "tester", "test.event", f"S{i}", {"i": i})


def test_chain_verifies_when_untouched(platform):
    _fill(platform)
    with platform.transaction() as s:
        res = audit.verify_chain(s)
    assert res == {"ok": True, "records": 5, "first_bad": None, "head": res["head"]}


def test_edited_row_is_found(platform):
    _fill(platform)
    with platform.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET details = :d WHERE seq = 3"), {"d": '{"i":99}'})
    with platform.transaction() as s:
        res = audit.verify_chain(s)
    assert res["ok"] is False and res["first_bad"] == 3


def test_deleted_row_is_found(platform):
    _fill(platform)
    with platform.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    with platform.transaction() as s:
        res = audit.verify_chain(s)
    assert res["ok"] is False and res["first_bad"] == 3


def test_rolled_back_transaction_leaves_no_record(platform):
    try:
        with platform.transaction() as s:
            audit.append(s, "tester", "test.event", "X", {})
            raise RuntimeError("crash mid-operation")
    except RuntimeError:
        pass
    with platform.transaction() as s:
        assert audit.verify_chain(s)["records"] == 0


def test_concurrent_writers_keep_one_chain(platform):
    import threading

    def writer(k):
        for i in range(10):
            with platform.transaction() as s:
                audit.append(s, f"w{k}", "test.event", None, {"i": i})

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with platform.transaction() as s:
        res = audit.verify_chain(s)
    assert res["ok"] and res["records"] == 40
