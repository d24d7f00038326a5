"""SQLite: the full-text index's vocabulary (documents per term), to leave out of a query the
words that nearly every slice contains."""

from peewee import SqliteDatabase


def up(migrator, db):
    if isinstance(db, SqliteDatabase):
        db.execute_sql("CREATE VIRTUAL TABLE kb_slice_fts_vocab USING fts5vocab(kb_slice_fts, 'row')")


def down(migrator, db):
    if isinstance(db, SqliteDatabase):
        db.execute_sql("DROP TABLE IF EXISTS kb_slice_fts_vocab")
