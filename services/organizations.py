"""Organisations: corporations nested by parent, a tree of departments in each, and employees
placed in departments, with an optional login account that follows their employment.

The chart is the server's (the permission catalogue's global domain): every id is resolved
through services/refs, which asks for the cell before it looks a row up."""

from __future__ import annotations

import collections
import dataclasses

from peewee import IntegrityError, fn

from core import authz, errors
from core.ids import parse_id
from models import paging
from models.base import now_s
from models.corporation import (
    DEPARTMENT_DISABLED,
    EMPLOYED,
    RESIGNED,
    Corporation,
    Department,
    Employee,
    EmployeeDepartment,
)
from models.db import write_transaction
from models.identity import User
from services import accounts, refs

INVALID = errors.CORPORATION_INVALID_PARAM
_MAX_DEPTH = 1000  # a guard against a cycle that bad data could hold


def _none(raw) -> bool:
    return raw in (None, "", "0", 0)


def _text(value):
    return value.strip() if isinstance(value, str) else value


# --- the chart: departments of some organizations, for paths, levels, subtrees and counts ------


class Chart:
    """Everything views need about the departments of `corp_ids`, read in three queries."""

    def __init__(self, corp_ids):
        corp_ids = list(set(corp_ids))
        self.corps = {c.id: c for c in Corporation.select().where(Corporation.id.in_(corp_ids))}
        departments = (
            Department.select()
            .where(Department.corp_id.in_(corp_ids))
            .order_by(Department.sort, Department.id)
        )
        self.departments = {d.id: d for d in departments}
        self.children: dict[int, list[Department]] = collections.defaultdict(list)
        for d in self.departments.values():  # top-level departments sit under their corp's id
            self.children[d.parent_id or d.corp_id].append(d)
        employed = (
            EmployeeDepartment.select(EmployeeDepartment.department_id, fn.COUNT(EmployeeDepartment.id))
            .join(Employee, on=(Employee.id == EmployeeDepartment.employee_id))
            .where(EmployeeDepartment.corp_id.in_(corp_ids), Employee.status == EMPLOYED)
            .group_by(EmployeeDepartment.department_id)
            .tuples()
        )
        self.employee_counts = dict(employed) if corp_ids else {}

    def ancestors(self, department: Department) -> list[Department]:
        """From the top-level department down to the parent of `department`."""
        chain, current = [], department
        while current.parent_id and len(chain) < _MAX_DEPTH:
            current = self.departments.get(current.parent_id)
            if current is None:
                break
            chain.append(current)
        return chain[::-1]

    def level(self, department: Department) -> int:
        return len(self.ancestors(department)) + 1

    def path(self, department: Department) -> str:
        corp = self.corps.get(department.corp_id)
        names = [corp.name if corp else "", *(d.name for d in self.ancestors(department)), department.name]
        return "/".join(names)

    def below(self, department_id: int) -> list[int]:
        """Every department under `department_id`, at any depth."""
        found, queue = [], [department_id]
        while queue and len(found) < 100_000:
            for child in self.children.get(queue.pop(), ()):
                found.append(child.id)
                queue.append(child.id)
        return found


def chart_of(*corp_ids) -> Chart:
    return Chart(corp_ids)


# --- corporations --------------------------------------------------------------------------------


def corporation(user: User, raw_id, action: str = authz.READ, *, field: str = "id") -> Corporation:
    return refs.one(user, refs.ORGANIZATION, raw_id, action, field=field)


def _corporation_parent(user: User, raw_id, moving: Corporation | None) -> int | None:
    if _none(raw_id):
        return None
    parent = corporation(user, raw_id, field="parent_id")
    current, steps = parent, 0
    while moving is not None and current is not None and steps < _MAX_DEPTH:
        if current.id == moving.id:
            raise INVALID(
                f"parent_id: organization {moving.id} cannot move under itself or an organization below it"
            )
        current = Corporation.by_id(current.parent_id) if current.parent_id else None
        steps += 1
    return parent.id


def create_corporation(user: User, fields: dict) -> Corporation:
    authz.require(user, "organization:create")
    parent_id = _corporation_parent(user, fields.pop("parent_id", None), None)
    return Corporation.create(
        parent_id=parent_id, creator_id=user.id, **{k: _text(v) for k, v in fields.items()}
    )


def update_corporation(user: User, raw_id, fields: dict) -> Corporation:
    corp = corporation(user, raw_id, authz.UPDATE)
    changes = {k: _text(v) for k, v in fields.items() if k != "parent_id"}
    if "parent_id" in fields:
        changes["parent_id"] = _corporation_parent(user, fields["parent_id"], corp)
    return corp.touch(**changes) if changes else corp


def delete_corporation(user: User, raw_id) -> None:
    corp = corporation(user, raw_id, authz.DELETE)
    with write_transaction():
        below = Corporation.select().where(Corporation.parent_id == corp.id).count()
        departments = Department.select().where(Department.corp_id == corp.id).count()
        if below or departments:
            raise errors.CORPORATION_NOT_EMPTY(
                f"organization {corp.id} still has {below} sub-organizations and {departments} "
                "departments; move or delete them first"
            )
        corp.delete_instance()


def corporations(user: User, keyword: str, parent_raw, corp_type, number: int, size: int) -> paging.Page:
    authz.require(user, "organization:read")
    query = Corporation.select().order_by(Corporation.sort, Corporation.id)
    if keyword:
        query = query.where(Corporation.name.contains(keyword))
    if parent_raw is not None:
        parent_id = None if _none(parent_raw) else corporation(user, parent_raw, field="parent_id").id
        query = query.where(
            Corporation.parent_id.is_null() if parent_id is None else Corporation.parent_id == parent_id
        )
    if corp_type is not None:
        query = query.where(Corporation.corp_type == corp_type)
    return paging.page(query, number, size, total=True)


@dataclasses.dataclass
class OrganizationChart:
    roots: list[Corporation]
    below: dict[int, list[Corporation]]  # corporation id -> the corporations directly under it
    departments: Chart | None
    employee_counts: dict[int, int]  # corporation id -> employed employees in any of its departments


def organization_tree(user: User, corp_raw, include_departments: bool) -> OrganizationChart:
    authz.require(user, "organization:read")
    if include_departments:
        authz.require(user, "department:read")
    everything = list(Corporation.select().order_by(Corporation.sort, Corporation.id))
    known = {c.id for c in everything}
    below = collections.defaultdict(list)
    for corp in everything:
        if corp.parent_id in known:
            below[corp.parent_id].append(corp)
    if _none(corp_raw):
        roots = [c for c in everything if c.parent_id not in known]
    else:
        roots = [corporation(user, corp_raw, field="corp_id")]
    counts = (
        EmployeeDepartment.select(
            EmployeeDepartment.corp_id, fn.COUNT(fn.DISTINCT(EmployeeDepartment.employee_id))
        )
        .join(Employee, on=(Employee.id == EmployeeDepartment.employee_id))
        .where(Employee.status == EMPLOYED)
        .group_by(EmployeeDepartment.corp_id)
        .tuples()
    )
    return OrganizationChart(roots, below, Chart(known) if include_departments else None, dict(counts))


# --- departments ---------------------------------------------------------------------------------


def department(user: User, raw_id, action: str = authz.READ, *, field: str = "id") -> Department:
    return refs.one(user, refs.DEPARTMENT, raw_id, action, field=field)


def _place(user: User, raw_id, corp_id: int, *, field: str = "parent_id") -> tuple[int, int | None]:
    """(organization, parent department or None) that `raw_id` names as a place for departments:
    a department, an organization (its top level), or "0" (the top level of `corp_id`)."""
    if _none(raw_id) or parse_id(raw_id) == corp_id:
        return corp_id, None
    authz.require(user, "department:read")
    number = parse_id(raw_id)
    if number is not None and Department.by_id(number) is not None:
        parent = department(user, raw_id, field=field)
        return parent.corp_id, parent.id
    if number is not None and Corporation.by_id(number) is not None:
        return corporation(user, raw_id, field=field).id, None
    raise errors.DEPARTMENT_NOT_FOUND(f"{field}: no department or organization {raw_id}")


def _unique_name(corp_id: int, parent_id: int | None, name: str, except_id: int | None = None) -> None:
    query = Department.select().where(
        Department.corp_id == corp_id,
        Department.parent_id.is_null() if parent_id is None else Department.parent_id == parent_id,
        Department.name == name,
    )
    if except_id is not None:
        query = query.where(Department.id != except_id)
    if query.exists():
        raise errors.DEPARTMENT_NAME_EXISTS(f"name: a department named {name!r} is already at this place")


def _leader(user: User, raw_id) -> int | None:
    if _none(raw_id):
        return None
    leader = employee(user, raw_id, field="leader_id")
    if leader.status != EMPLOYED:
        raise INVALID(f"leader_id: employee {leader.id} has resigned")
    return leader.id


def create_department(user: User, fields: dict) -> Department:
    corp = corporation(user, fields.pop("corp_id"), "department:create", field="corp_id")
    corp_id, parent_id = _place(user, fields.pop("parent_id", None), corp.id)
    if corp_id != corp.id:
        raise INVALID(f"parent_id: the parent department belongs to organization {corp_id}, not {corp.id}")
    fields = {k: _text(v) for k, v in fields.items()}
    fields["leader_id"] = _leader(user, fields.get("leader_id"))
    with write_transaction():
        _unique_name(corp.id, parent_id, fields["name"])
        return Department.create(corp_id=corp.id, parent_id=parent_id, creator_id=user.id, **fields)


def update_department(user: User, raw_id, fields: dict) -> Department:
    dept = department(user, raw_id, authz.UPDATE)
    if "parent_id" in fields:
        dept = move_department(user, dept, fields.pop("parent_id"), fields.pop("sort", None))
    changes = {k: _text(v) for k, v in fields.items()}
    if "leader_id" in changes:
        changes["leader_id"] = _leader(user, changes["leader_id"])
    with write_transaction():
        if "name" in changes:
            _unique_name(dept.corp_id, dept.parent_id, changes["name"], dept.id)
        return dept.touch(**changes) if changes else dept


def move_department(user: User, dept: Department, parent_raw, sort: int | None = None) -> Department:
    """`dept` and everything under it to the place `parent_raw` names (see _place)."""
    corp_id, parent_id = _place(user, parent_raw, dept.corp_id)
    chart = Chart({dept.corp_id})
    subtree = [dept.id, *chart.below(dept.id)]
    if parent_id in subtree:
        raise INVALID(f"parent_id: department {dept.id} cannot move under itself or a department below it")
    with write_transaction():
        _unique_name(corp_id, parent_id, dept.name, dept.id)
        if corp_id != dept.corp_id:
            Department.update(corp_id=corp_id).where(Department.id.in_(subtree)).execute()
            EmployeeDepartment.update(corp_id=corp_id).where(
                EmployeeDepartment.department_id.in_(subtree)
            ).execute()
        changes = {"corp_id": corp_id, "parent_id": parent_id}
        if sort is not None:
            changes["sort"] = sort
        return dept.touch(**changes)


def delete_department(user: User, raw_id) -> None:
    dept = department(user, raw_id, authz.DELETE)
    with write_transaction():
        below = Department.select().where(Department.parent_id == dept.id).count()
        employed = (
            EmployeeDepartment.select()
            .join(Employee, on=(Employee.id == EmployeeDepartment.employee_id))
            .where(EmployeeDepartment.department_id == dept.id, Employee.status == EMPLOYED)
            .count()
        )
        if below or employed:
            raise errors.DEPARTMENT_NOT_EMPTY(
                f"department {dept.id} still has {below} sub-departments and {employed} employees; "
                "move them first"
            )
        EmployeeDepartment.delete().where(EmployeeDepartment.department_id == dept.id).execute()
        dept.delete_instance()


def departments(
    user: User, corp_raw, parent_raw, keyword: str, status, number: int, size: int
) -> tuple[paging.Page, Chart]:
    corp = corporation(user, corp_raw, "department:read", field="corp_id")
    query = Department.select().where(Department.corp_id == corp.id).order_by(Department.sort, Department.id)
    if parent_raw is not None:
        corp_id, parent_id = _place(user, parent_raw, corp.id)
        if corp_id != corp.id:
            raise INVALID(f"parent_id: department {parent_raw} belongs to another organization")
        query = query.where(
            Department.parent_id.is_null() if parent_id is None else Department.parent_id == parent_id
        )
    if keyword:
        query = query.where(Department.name.contains(keyword) | Department.code.contains(keyword))
    if status is not None:
        query = query.where(Department.status == status)
    return paging.page(query, number, size, total=True), Chart({corp.id})


def department_tree(user: User, corp_raw, parent_raw) -> tuple[list[Department], Chart]:
    corp = corporation(user, corp_raw, "department:read", field="corp_id")
    corp_id, parent_id = _place(user, parent_raw, corp.id)
    if corp_id != corp.id:
        raise INVALID(f"parent_id: department {parent_raw} belongs to another organization")
    chart = Chart({corp.id})
    return chart.children.get(parent_id or corp.id, []), chart


def sort_departments(user: User, parent_raw, items: list[dict]) -> tuple[list[Department], Chart]:
    authz.require(user, "department:update")
    corp_id, parent_id = _place(user, parent_raw, 0)
    if not corp_id:
        raise INVALID("parent_id: name the department, or the organization, whose children to sort")
    listed = refs.many(
        user, refs.DEPARTMENT, [i["id"] for i in items], authz.UPDATE, field="department_ids[{}].id"
    )
    by_id = {d.id: d for d in listed}
    with write_transaction():
        for index, item in enumerate(items):
            dept = by_id[parse_id(item["id"])]
            if dept.corp_id != corp_id or dept.parent_id != parent_id:
                raise INVALID(
                    f"department_ids[{index}].id: department {dept.id} is not directly under {parent_raw}"
                )
            dept.touch(sort=item["sort"])
    chart = Chart({corp_id})
    return chart.children.get(parent_id or corp_id, []), chart


# --- employees -----------------------------------------------------------------------------------


@dataclasses.dataclass
class Placement:
    department: Department
    job_title: str
    is_primary: bool


def employee(user: User, raw_id, action: str = authz.READ, *, field: str = "id") -> Employee:
    return refs.one(user, refs.EMPLOYEE, raw_id, action, field=field)


def _placements(user: User, items: list[dict], action: str, field: str) -> list[Placement]:
    numbers = [parse_id(item["department_id"]) for item in items]
    for index, number in enumerate(numbers):
        if number is not None and numbers.index(number) != index:
            raise INVALID(f"{field}[{index}].department_id: department {number} is listed twice")
    found = refs.many(
        user,
        refs.DEPARTMENT,
        [i["department_id"] for i in items],
        action,
        field=f"{field}[{{}}].department_id",
    )
    primaries = [index for index, item in enumerate(items) if item.get("is_primary")]
    if len(primaries) > 1:
        raise INVALID(f"{field}[{primaries[1]}].is_primary: only one department is the primary one")
    primary = primaries[0] if primaries else 0
    placements = []
    for index, (dept, item) in enumerate(zip(found, items)):
        if dept.status == DEPARTMENT_DISABLED:
            raise INVALID(f"{field}[{index}].department_id: department {dept.id} is disabled")
        placements.append(Placement(dept, _text(item.get("job_title")) or "", index == primary))
    return placements


def _place_employee(person: Employee, placements: list[Placement]) -> None:
    EmployeeDepartment.delete().where(EmployeeDepartment.employee_id == person.id).execute()
    EmployeeDepartment.insert_many(
        [
            {
                "employee_id": person.id,
                "department_id": p.department.id,
                "corp_id": p.department.corp_id,
                "job_title": p.job_title,
                "is_primary": p.is_primary,
            }
            for p in placements
        ]
    ).execute()


def _contact(fields: dict, except_id: int | None = None) -> dict:
    """The mobile and e-mail of `fields`, normalised and checked unique among employees."""
    changes = {}
    if fields.get("mobile") is not None:
        changes["mobile"] = fields["mobile"].strip()
        clash = Employee.select().where(Employee.mobile == changes["mobile"])
        if except_id is not None:
            clash = clash.where(Employee.id != except_id)
        if clash.exists():
            raise errors.EMPLOYEE_MOBILE_EXISTS(f"mobile: an employee with mobile {changes['mobile']} exists")
    if "email" in fields:
        changes["email"] = (fields["email"] or "").strip().lower() or None
        if changes["email"]:
            clash = Employee.select().where(Employee.email == changes["email"])
            if except_id is not None:
                clash = clash.where(Employee.id != except_id)
            if clash.exists():
                raise errors.EMPLOYEE_EMAIL_EXISTS(
                    f"email: an employee with e-mail {changes['email']} exists"
                )
    return changes


def _saved(write):
    """Run `write`; a unique index that a concurrent request won reads as the same clash."""
    try:
        return write()
    except IntegrityError as exc:
        text = str(exc).lower()
        if "email" in text:
            raise errors.EMPLOYEE_EMAIL_EXISTS("email: an employee with this e-mail exists") from None
        if "mobile" in text:
            raise errors.EMPLOYEE_MOBILE_EXISTS("mobile: an employee with this mobile exists") from None
        raise


def _set_account(user: User, person: Employee, disabled: bool) -> None:
    if person.user_id:
        accounts.admin_set_disabled(user, person.user_id, disabled)


PROFILE = ("name", "employee_no", "en_name", "nickname", "out_employee_id", "employee_source")


def create_employee(
    user: User, fields: dict, department_items: list[dict], create_account: bool, password: str | None
) -> Employee:
    authz.require(user, "employee:create")
    placements = _placements(user, department_items, "employee:create", "department_ids")
    contact = _contact(fields)
    avatar = refs.file_uri(user, fields.get("avatar"), field="avatar", invalid=INVALID)
    if create_account and not contact.get("email"):
        raise INVALID("email: an employee with a login account needs an e-mail")
    if create_account and not password:
        raise INVALID("password: an employee with a login account needs a first password")

    def write():
        with write_transaction():
            account = (
                accounts.admin_create_user(user, contact["email"], password, fields["name"].strip())
                if create_account
                else None
            )
            person = Employee.create(
                **{k: _text(fields[k]) for k in PROFILE if fields.get(k) is not None},
                **contact,
                avatar=avatar,
                user_id=account.id if account else None,
                creator_id=user.id,
            )
            _place_employee(person, placements)
            return person

    return _saved(write)


def update_employee(user: User, raw_id, fields: dict) -> Employee:
    person = employee(user, raw_id, authz.UPDATE)
    changes = {k: _text(fields[k]) for k in PROFILE if fields.get(k) is not None}
    changes |= _contact(fields, person.id)
    if "avatar" in fields:
        changes["avatar"] = refs.file_uri(
            user, fields["avatar"], field="avatar", current=person.avatar, invalid=INVALID
        )
    status, items = fields.get("status"), fields.get("departments")
    with write_transaction():
        if status == RESIGNED and person.status == EMPLOYED:
            person = resign(user, person, "")
        elif status == EMPLOYED and person.status == RESIGNED:
            person = restore(user, person, items)
            items = None
        if items is not None:
            person = place(user, person, items)
        return _saved(lambda: person.touch(**changes)) if changes else person


def place(user: User, person: Employee, items: list[dict]) -> Employee:
    if person.status != EMPLOYED:
        raise errors.EMPLOYEE_STATUS_CONFLICT(
            f"employee {person.id} has resigned; restore them with their new departments"
        )
    placements = _placements(user, items, "employee:update", "departments")
    with write_transaction():
        _place_employee(person, placements)
        return person.touch()


def resign(user: User, person: Employee, reason: str) -> Employee:
    if person.status == RESIGNED:
        raise errors.EMPLOYEE_STATUS_CONFLICT(f"employee {person.id} has already resigned")
    with write_transaction():
        Department.update(leader_id=None).where(Department.leader_id == person.id).execute()
        _set_account(user, person, True)
        return person.touch(status=RESIGNED, resigned_at=now_s(), resign_reason=reason or "")


def restore(user: User, person: Employee, items: list[dict] | None) -> Employee:
    if person.status != RESIGNED:
        raise errors.EMPLOYEE_STATUS_CONFLICT(f"employee {person.id} is employed, not resigned")
    if items is None:
        kept = EmployeeDepartment.select().where(EmployeeDepartment.employee_id == person.id)
        items = [
            {"department_id": str(p.department_id), "job_title": p.job_title, "is_primary": p.is_primary}
            for p in kept
        ]
        if not items:
            raise INVALID(
                "departments: the employee has no department left; name the ones to restore them to"
            )
    placements = _placements(user, items, "employee:update", "departments")
    with write_transaction():
        _place_employee(person, placements)
        _set_account(user, person, False)
        return person.touch(status=EMPLOYED, resigned_at=None, resign_reason="")


def delete_employee(user: User, raw_id) -> None:
    person = employee(user, raw_id, authz.DELETE)
    with write_transaction():
        EmployeeDepartment.delete().where(EmployeeDepartment.employee_id == person.id).execute()
        Department.update(leader_id=None).where(Department.leader_id == person.id).execute()
        if person.status == EMPLOYED:
            _set_account(user, person, True)
        person.delete_instance()


def employees(
    user: User,
    corp_raw,
    department_raw,
    include_below: bool,
    keyword: str,
    status,
    number: int,
    size: int,
) -> paging.Page:
    corp = corporation(user, corp_raw, "employee:read", field="corp_id")
    placed = EmployeeDepartment.select(EmployeeDepartment.employee_id).where(
        EmployeeDepartment.corp_id == corp.id
    )
    if not _none(department_raw):
        dept = department(user, department_raw, "employee:read", field="department_id")
        if dept.corp_id != corp.id:
            raise INVALID(f"department_id: department {dept.id} belongs to another organization")
        ids = [dept.id, *(Chart({corp.id}).below(dept.id) if include_below else ())]
        placed = placed.where(EmployeeDepartment.department_id.in_(ids))
    query = Employee.select().where(Employee.id.in_(placed)).order_by(Employee.id)
    if keyword:
        query = query.where(
            Employee.name.contains(keyword)
            | Employee.mobile.contains(keyword)
            | Employee.email.contains(keyword)
            | Employee.employee_no.contains(keyword)
        )
    if status is not None:
        query = query.where(Employee.status == status)
    return paging.page(query, number, size, total=True)


@dataclasses.dataclass
class Staffing:
    """Where employees work, for their views: placements by employee, and the chart to name them."""

    placements: dict[int, list[EmployeeDepartment]]
    chart: Chart


def staffing(people: list[Employee]) -> Staffing:
    rows = (
        list(
            EmployeeDepartment.select()
            .where(EmployeeDepartment.employee_id.in_([p.id for p in people]))
            .order_by(EmployeeDepartment.is_primary.desc(), EmployeeDepartment.id)
        )
        if people
        else []
    )
    by_employee = collections.defaultdict(list)
    for row in rows:
        by_employee[row.employee_id].append(row)
    return Staffing(by_employee, Chart({row.corp_id for row in rows}))
