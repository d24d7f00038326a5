"""Icons stored before references were checked may name another user's upload (signed for
anyone who saw the agent or knowledge base): they are cleared where the file's owner is not a
member of the row's space, in drafts and in published snapshots."""

import json

_OWNED_BY_A_MEMBER = """EXISTS (SELECT 1 FROM stored_file f JOIN space_member m ON m.user_id = f.owner_id
    WHERE 'file:' || CAST(f.id AS TEXT) = {table}.icon_uri AND m.space_id = {space})"""


def up(migrator, db):
    for table, space in (("bot", "bot.space_id"), ("kb_dataset", "kb_dataset.space_id")):
        # patterns as parameters: PostgreSQL's driver reads a bare % in the text as a placeholder
        db.execute_sql(
            f"UPDATE {table} SET icon_uri = '' WHERE icon_uri LIKE {db.param} AND NOT "
            + _OWNED_BY_A_MEMBER.format(table=table, space=space),
            ("file:%",),
        )
    rows = db.execute_sql(
        "SELECT v.id, v.snapshot, b.space_id FROM bot_version v JOIN bot b ON b.id = v.bot_id "
        f"WHERE v.snapshot LIKE {db.param}",
        ('%"icon_uri":"file:%',),
    ).fetchall()
    for version_id, snapshot, space_id in rows:
        info = json.loads(snapshot)
        file_id = str(info.get("icon_uri", "")).removeprefix("file:")
        owned = db.execute_sql(
            "SELECT 1 FROM stored_file f JOIN space_member m ON m.user_id = f.owner_id "
            f"WHERE CAST(f.id AS TEXT) = {db.param} AND m.space_id = {db.param}",
            (file_id, space_id),
        ).fetchone()
        if not owned:
            info["icon_uri"] = ""
            db.execute_sql(
                f"UPDATE bot_version SET snapshot = {db.param} WHERE id = {db.param}",
                (json.dumps(info, ensure_ascii=False, separators=(",", ":")), version_id),
            )


def down(migrator, db):
    pass  # the cleared references are not restored
