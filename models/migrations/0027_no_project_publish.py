"""Apps have no publish operation yet, so the catalogue no longer offers `project:publish`: its
rules (the built-in defaults of 0025 and any custom role's) go."""

from peewee import BigIntegerField, CharField, Model


def _rule(db):
    class PolicyRule(Model):
        ptype = CharField(max_length=10)
        v0 = CharField(max_length=100)
        v1 = CharField(max_length=100)
        v2 = CharField(max_length=100, default="")
        v3 = CharField(max_length=100, default="")
        created_at = BigIntegerField(default=0)

        class Meta:
            database = db
            table_name = "casbin_rule"

    return PolicyRule


def up(migrator, db):
    rule = _rule(db)
    rule.delete().where((rule.ptype == "p") & (rule.v2 == "project") & (rule.v3 == "publish")).execute()


def down(migrator, db):
    """The defaults come back; custom roles' grants of it are not remembered."""
    rule = _rule(db)
    for code in ("space_admin", "space_member"):
        rule.insert(ptype="p", v0=f"role:{code}", v1="space:*", v2="project", v3="publish").execute()
