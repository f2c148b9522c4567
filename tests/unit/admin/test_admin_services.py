"""Services of the admin pages: health summary (W27), sharing tables, configs and pre-processes."""
import pytest
from sqlalchemy import select

from factories import make_config, make_group, make_user
from vidjil_pyramid.admin import configs, pre_processes, services, sharing
from vidjil_pyramid.auth.models import GroupAssoc, Permission


def test_health_summary_keeps_states_and_queue_depths_only():
    report = {"database": {"ok": True}, "broker": {"ok": True, "url": "amqp://***@rabbit:5672/",
                                                   "queues": {"analysis": {"messages": 3, "consumers": 1}}},
              "disk": {"ok": False, "free_bytes": 12, "total_bytes": 99}, "ok": False}
    lines = services.health_summary(report)
    assert [(l.name, l.ok, l.detail) for l in lines] == [
        ("database", True, ""), ("job queue", True, "analysis: 3"), ("storage", False, "little free space left")]
    assert "12" not in str(lines) and "rabbit" not in str(lines)


def test_sharing_table_names_owners_and_inherited_access(initial_data):
    db = initial_data
    alice = make_user(db, first_name="Alice", last_name="Martin")
    parent = make_group(db, "parent-lab", rights=("read", "admin"))
    child = make_group(db, "child-lab", parent=parent)
    config = make_config(db, groups=[parent])
    rows = {row.group_id: row for row in sharing.sharing_table(db, "config", config.id)}
    personal = db.scalar(select(Permission.group_id).where(Permission.group_id.in_(list(rows)))
                         .where(Permission.name == "anon"))
    assert rows[personal].owner == "Alice Martin"
    assert rows[parent.id].has_access and rows[parent.id].rights == "admin, read"
    assert not rows[child.id].has_access and rows[child.id].parent_access == "parent-lab"
    assert all(row.owner != "admin" for row in rows.values())


def test_toggling_access_refuses_other_tables_and_unknown_groups(initial_data):
    with pytest.raises(sharing.SharingError):
        sharing.toggle_access(initial_data, "sample_set", 1, 1)
    with pytest.raises(sharing.SharingError):
        sharing.toggle_access(initial_data, "config", 1, 99999)


def test_config_form_validation_lists_every_problem(initial_data):
    form = configs.ConfigForm(name="", command="", fuse_command="-t 100", program="bash", classification="x", info="")
    with pytest.raises(configs.ConfigError) as error:
        configs.create_config(initial_data, form, None)
    message = str(error.value)
    for part in ("config_name needed", "config_command needed", "unknown program", "classification"):
        assert part in message


def test_an_imported_config_keeps_its_unknown_program_when_edited(initial_data):
    config = make_config(initial_data, program="legacy-runner")
    form = configs.ConfigForm(name="kept", command="-x", fuse_command="-t 100", program="legacy-runner",
                              classification="-1", info="")
    configs.update_config(initial_data, config, form)
    assert config.program == "legacy-runner"


def test_deleting_a_config_removes_the_rows_naming_it(initial_data):
    lab = make_group(initial_data, "lab")
    config = make_config(initial_data, groups=[lab])
    configs.delete_config(initial_data, config)
    assert initial_data.scalar(select(Permission.id).where(Permission.table_name == "config",
                                                           Permission.record_id == config.id)) is None


def test_pre_process_needs_a_result_placeholder():
    with pytest.raises(pre_processes.PreProcessError):
        pre_processes._checked_values(pre_processes.PreProcessForm("x", "cat &file1&", ""))
    assert pre_processes._checked_values(pre_processes.PreProcessForm("x", "cat &file1& > &result&", ""))["name"] == "x"


def test_group_parents_are_kept_one_level_deep(initial_data):
    from vidjil_pyramid.auth import groups

    creator = make_user(initial_data)
    top = make_group(initial_data, "top")
    middle = groups.create_group(initial_data, creator.id, "middle", "", top.id)
    bottom = groups.create_group(initial_data, creator.id, "bottom", "", middle.id)
    parents = set(initial_data.scalars(select(GroupAssoc.first_group_id)
                                       .where(GroupAssoc.second_group_id == bottom.id)))
    assert parents == {top.id}
