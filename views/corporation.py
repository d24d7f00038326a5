"""Organisations, departments (flat and as trees), employees with their placements."""

from __future__ import annotations

from core import links


def _id(value) -> str:
    return str(value) if value else "0"


def corporation_view(corp) -> dict:
    return {
        "id": str(corp.id),
        "parent_id": _id(corp.parent_id),
        "name": corp.name,
        "corp_type": corp.corp_type,
        "sort": corp.sort,
        "out_corp_id": corp.out_corp_id,
        "corp_source": corp.corp_source,
        "creator_id": str(corp.creator_id),
        "created_at": corp.created_at,
        "updated_at": corp.updated_at,
    }


def department_view(dept, chart) -> dict:
    """`chart`: services.organizations.Chart of the department's organization."""
    return {
        "id": str(dept.id),
        "corp_id": str(dept.corp_id),
        "parent_id": _id(dept.parent_id),
        "name": dept.name,
        "code": dept.code,
        "level": chart.level(dept),
        "full_path": chart.path(dept),
        "leader_id": _id(dept.leader_id),
        "sort": dept.sort,
        "status": dept.status,
        "out_department_id": dept.out_department_id,
        "department_source": dept.department_source,
        "employee_count": chart.employee_counts.get(dept.id, 0),
        "creator_id": str(dept.creator_id),
        "created_at": dept.created_at,
        "updated_at": dept.updated_at,
    }


def department_tree_view(roots, chart, depth: int | None) -> list[dict]:
    if depth is not None and depth < 1:
        return []
    below = None if depth is None else depth - 1
    return [
        {
            **department_view(d, chart),
            "children": department_tree_view(chart.children.get(d.id, []), chart, below),
        }
        for d in roots
    ]


def _department_node(dept, chart, depth: int | None) -> dict:
    below = None if depth is None else depth - 1
    children = chart.children.get(dept.id, []) if below is None or below >= 1 else []
    return {
        "id": str(dept.id),
        "node_type": "department",
        "name": dept.name,
        "parent_id": _id(dept.parent_id or dept.corp_id),
        "corp_id": str(dept.corp_id),
        "level": chart.level(dept),
        "status": dept.status,
        "sort": dept.sort,
        "employee_count": chart.employee_counts.get(dept.id, 0),
        "children": [_department_node(child, chart, below) for child in children],
    }


def organization_tree_view(tree, depth: int | None) -> list[dict]:
    """`tree`: services.organizations.OrganizationChart."""

    def node(corp, depth):
        below = None if depth is None else depth - 1
        deeper = below is None or below >= 1
        corps = tree.below.get(corp.id, []) if deeper else []
        departments = tree.departments.children.get(corp.id, []) if deeper and tree.departments else []
        return {
            "id": str(corp.id),
            "node_type": "corporation",
            "name": corp.name,
            "parent_id": _id(corp.parent_id),
            "corp_id": str(corp.id),
            "corp_type": corp.corp_type,
            "sort": corp.sort,
            "employee_count": tree.employee_counts.get(corp.id, 0),
            "children": [node(c, below) for c in corps]
            + [_department_node(d, tree.departments, below) for d in departments],
        }

    return [node(corp, depth) for corp in tree.roots]


def employee_view(person, staffing) -> dict:
    """`staffing`: services.organizations.Staffing holding this employee's placements."""
    chart = staffing.chart
    placements = []
    for row in staffing.placements.get(person.id, []):
        dept = chart.departments.get(row.department_id)
        corp = chart.corps.get(row.corp_id)
        placements.append(
            {
                "department_id": str(row.department_id),
                "department_name": dept.name if dept else "",
                "corp_id": str(row.corp_id),
                "corp_name": corp.name if corp else "",
                "job_title": row.job_title,
                "is_primary": row.is_primary,
                "department_path": chart.path(dept) if dept else "",
            }
        )
    return {
        "id": str(person.id),
        "name": person.name,
        "employee_no": person.employee_no,
        "en_name": person.en_name,
        "nickname": person.nickname,
        "avatar": person.avatar,
        "avatar_url": links.url_of(person.avatar),
        "email": person.email or "",
        "mobile": person.mobile,
        "status": person.status,
        "out_employee_id": person.out_employee_id,
        "employee_source": person.employee_source,
        "user_id": _id(person.user_id),
        "departments": placements,
        "resigned_at": person.resigned_at or 0,
        "resign_reason": person.resign_reason,
        "created_at": person.created_at,
        "updated_at": person.updated_at,
    }
