"""Pages only read: on SQLite they take no write lock, so they answer while the scheduler (or a form) writes."""

from __future__ import annotations

import sqlite3


def test_pages_answer_while_another_process_holds_the_write_lock(portfolio, client_as):
    client = client_as("ars")
    writer = sqlite3.connect(portfolio.path, isolation_level=None, timeout=1)
    try:
        writer.execute("BEGIN IMMEDIATE")  # a sweep or an event being recorded elsewhere
        writer.execute("UPDATE cases SET updated_at = updated_at")
        for page in ("/a-traiter", "/portefeuille", f"/cpts/{portfolio.metz}", "/financements"):
            response = client.get(page)
            assert response.status_code == 200, page
    finally:
        writer.execute("ROLLBACK")
        writer.close()
