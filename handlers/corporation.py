"""Organisations (/api/v1/corporation/*, /api/v1/organization/tree): corporations, departments and
employees. Lists answer `data` (the page) with `total` beside it, as Coze Plus does."""

from __future__ import annotations

from core.envelope import ok
from core.http import given
from services import organizations as orgs
from views.corporation import (
    corporation_view,
    department_tree_view,
    department_view,
    employee_view,
    organization_tree_view,
)

CORPORATION_FIELDS = ("name", "corp_type", "parent_id", "sort", "out_corp_id", "corp_source")
DEPARTMENT_FIELDS = (
    "name",
    "parent_id",
    "code",
    "leader_id",
    "sort",
    "status",
    "out_department_id",
    "department_source",
)
EMPLOYEE_FIELDS = (*orgs.PROFILE, "mobile", "email", "avatar")


def _listed(page, rows) -> dict:
    return {**ok(rows), "total": page.total}


def _employee(person) -> dict:
    return ok(employee_view(person, orgs.staffing([person])))


def _department(dept) -> dict:
    return ok(department_view(dept, orgs.chart_of(dept.corp_id)))


# --- corporations --------------------------------------------------------------------------------


def create_corporation(token_info, body):
    return ok(corporation_view(orgs.create_corporation(token_info["user"], given(body, *CORPORATION_FIELDS))))


def get_corporation(token_info, id):
    return ok(corporation_view(orgs.corporation(token_info["user"], id)))


def update_corporation(token_info, id, body):
    corp = orgs.update_corporation(token_info["user"], id, given(body, *CORPORATION_FIELDS))
    return ok(corporation_view(corp))


def delete_corporation(token_info, id):
    orgs.delete_corporation(token_info["user"], id)
    return ok()


def list_corporations(token_info, body):
    page = orgs.corporations(
        token_info["user"],
        body.get("keyword") or "",
        body.get("parent_id"),
        body.get("corp_type"),
        body.get("page", 1),
        body.get("page_size", 20),
    )
    return _listed(page, [corporation_view(c) for c in page.rows])


def get_organization_tree(token_info, body):
    tree = orgs.organization_tree(
        token_info["user"], body.get("corp_id"), body.get("include_departments", True)
    )
    return ok(organization_tree_view(tree, body.get("depth")))


# --- departments ---------------------------------------------------------------------------------


def create_department(token_info, body):
    dept = orgs.create_department(token_info["user"], given(body, "corp_id", *DEPARTMENT_FIELDS))
    return _department(dept)


def get_department(token_info, id):
    return _department(orgs.department(token_info["user"], id))


def update_department(token_info, id, body):
    return _department(orgs.update_department(token_info["user"], id, given(body, *DEPARTMENT_FIELDS)))


def move_department(token_info, body):
    user = token_info["user"]
    dept = orgs.department(user, body["id"], "update")
    return _department(orgs.move_department(user, dept, body["parent_id"], body.get("sort")))


def delete_department(token_info, id):
    orgs.delete_department(token_info["user"], id)
    return ok()


def list_departments(token_info, body):
    page, chart = orgs.departments(
        token_info["user"],
        body["corp_id"],
        body.get("parent_id"),
        body.get("keyword") or "",
        body.get("status"),
        body.get("page", 1),
        body.get("page_size", 20),
    )
    return _listed(page, [department_view(d, chart) for d in page.rows])


def get_department_tree(token_info, body):
    roots, chart = orgs.department_tree(token_info["user"], body["corp_id"], body.get("parent_id"))
    return ok(department_tree_view(roots, chart, body.get("depth")))


def sort_departments(token_info, body):
    children, chart = orgs.sort_departments(token_info["user"], body["parent_id"], body["department_ids"])
    return ok([department_view(d, chart) for d in children])


# --- employees -----------------------------------------------------------------------------------


def create_employee(token_info, body):
    person = orgs.create_employee(
        token_info["user"],
        given(body, *EMPLOYEE_FIELDS),
        body["department_ids"],
        body.get("create_account") == 1,
        body.get("password"),
    )
    return _employee(person)


def get_employee(token_info, id):
    return _employee(orgs.employee(token_info["user"], id))


def update_employee(token_info, id, body):
    fields = given(body, *EMPLOYEE_FIELDS, "status", "departments")
    return _employee(orgs.update_employee(token_info["user"], id, fields))


def delete_employee(token_info, id):
    orgs.delete_employee(token_info["user"], id)
    return ok()


def change_employee_department(token_info, id, body):
    user = token_info["user"]
    return _employee(orgs.place(user, orgs.employee(user, id, "update"), body["departments"]))


def resign_employee(token_info, id, body=None):
    user = token_info["user"]
    return _employee(orgs.resign(user, orgs.employee(user, id, "update"), (body or {}).get("reason") or ""))


def restore_employee(token_info, id, body):
    user = token_info["user"]
    return _employee(orgs.restore(user, orgs.employee(user, id, "update"), body["departments"]))


def list_employees(token_info, body):
    page = orgs.employees(
        token_info["user"],
        body["corp_id"],
        body.get("department_id"),
        body.get("include_sub_departments", False),
        body.get("keyword") or "",
        body.get("status"),
        body.get("page", 1),
        body.get("page_size", 20),
    )
    staffing = orgs.staffing(page.rows)
    return _listed(page, [employee_view(p, staffing) for p in page.rows])
