"""initial schema: web2py Vidjil 2024.02 tables and sessions

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-29 12:03:14.399679
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# web2py text fields are LONGTEXT on MySQL/MariaDB.
LONGTEXT = sa.Text().with_variant(mysql.LONGTEXT(), 'mysql', 'mariadb')

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('auth_group',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=512), nullable=True),
    sa.Column('description', LONGTEXT, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_group'))
    )
    op.create_index(op.f('ix_auth_group_role'), 'auth_group', ['role'], unique=False)
    op.create_table('auth_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('first_name', sa.String(length=128), nullable=True),
    sa.Column('last_name', sa.String(length=128), nullable=True),
    sa.Column('email', sa.String(length=512), nullable=True),
    sa.Column('password', sa.String(length=512), nullable=True),
    sa.Column('registration_key', sa.String(length=512), nullable=True),
    sa.Column('reset_password_key', sa.String(length=512), nullable=True),
    sa.Column('registration_id', sa.String(length=512), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_user'))
    )
    op.create_index(op.f('ix_auth_user_email'), 'auth_user', ['email'], unique=False)
    op.create_table('classification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=512), nullable=True),
    sa.Column('info', LONGTEXT, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_classification'))
    )
    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('creator', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=512), nullable=True),
    sa.Column('message_content', LONGTEXT, nullable=True),
    sa.Column('message_type', sa.String(length=512), nullable=True),
    sa.Column('priority', sa.String(length=512), nullable=True),
    sa.Column('expiration', sa.Date(), nullable=True),
    sa.Column('creation_datetime', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification'))
    )
    op.create_table('pre_process',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=512), nullable=True),
    sa.Column('command', sa.String(length=512), nullable=True),
    sa.Column('info', LONGTEXT, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pre_process'))
    )
    op.create_table('scheduler_task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_name', sa.String(length=512), nullable=True),
    sa.Column('task_name', sa.String(length=512), nullable=True),
    sa.Column('group_name', sa.String(length=512), nullable=True),
    sa.Column('status', sa.String(length=512), nullable=True),
    sa.Column('broadcast', sa.Boolean(), nullable=True),
    sa.Column('function_name', sa.String(length=512), nullable=True),
    sa.Column('uuid', sa.String(length=255), nullable=True),
    sa.Column('args', LONGTEXT, nullable=True),
    sa.Column('vars', LONGTEXT, nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=True),
    sa.Column('start_time', sa.DateTime(), nullable=True),
    sa.Column('next_run_time', sa.DateTime(), nullable=True),
    sa.Column('stop_time', sa.DateTime(), nullable=True),
    sa.Column('repeats', sa.Integer(), nullable=True),
    sa.Column('retry_failed', sa.Integer(), nullable=True),
    sa.Column('period', sa.Integer(), nullable=True),
    sa.Column('prevent_drift', sa.Boolean(), nullable=True),
    sa.Column('cronline', sa.String(length=512), nullable=True),
    sa.Column('timeout', sa.Integer(), nullable=True),
    sa.Column('sync_output', sa.Integer(), nullable=True),
    sa.Column('times_run', sa.Integer(), nullable=True),
    sa.Column('times_failed', sa.Integer(), nullable=True),
    sa.Column('last_run_time', sa.DateTime(), nullable=True),
    sa.Column('assigned_worker_name', sa.String(length=512), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduler_task')),
    sa.UniqueConstraint('uuid', name=op.f('uq_scheduler_task_uuid'))
    )
    op.create_index(op.f('ix_scheduler_task_status'), 'scheduler_task', ['status'], unique=False)
    op.create_table('scheduler_worker',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('worker_name', sa.String(length=255), nullable=True),
    sa.Column('first_heartbeat', sa.DateTime(), nullable=True),
    sa.Column('last_heartbeat', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=512), nullable=True),
    sa.Column('is_ticker', sa.Boolean(), nullable=True),
    sa.Column('group_names', LONGTEXT, nullable=True),
    sa.Column('worker_stats', LONGTEXT, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduler_worker')),
    sa.UniqueConstraint('worker_name', name=op.f('uq_scheduler_worker_worker_name'))
    )
    op.create_table('tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tag')),
    sa.UniqueConstraint('name', name=op.f('uq_tag_name'))
    )
    op.create_table('auth_cas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_on', sa.DateTime(), nullable=True),
    sa.Column('service', sa.String(length=512), nullable=True),
    sa.Column('ticket', sa.String(length=512), nullable=True),
    sa.Column('renew', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['auth_user.id'], name=op.f('fk_auth_cas_user_id_auth_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_cas'))
    )
    op.create_index(op.f('ix_auth_cas_user_id'), 'auth_cas', ['user_id'], unique=False)
    op.create_table('auth_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('time_stamp', sa.DateTime(), nullable=True),
    sa.Column('client_ip', sa.String(length=512), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('origin', sa.String(length=512), nullable=True),
    sa.Column('description', LONGTEXT, nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['auth_user.id'], name=op.f('fk_auth_event_user_id_auth_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_event'))
    )
    op.create_index(op.f('ix_auth_event_client_ip'), 'auth_event', ['client_ip'], unique=False)
    op.create_index('ix_auth_event_time_stamp', 'auth_event', ['time_stamp'], unique=False)
    op.create_index(op.f('ix_auth_event_user_id'), 'auth_event', ['user_id'], unique=False)
    op.create_table('auth_membership',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['auth_group.id'], name=op.f('fk_auth_membership_group_id_auth_group'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['auth_user.id'], name=op.f('fk_auth_membership_user_id_auth_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_membership'))
    )
    op.create_index(op.f('ix_auth_membership_group_id'), 'auth_membership', ['group_id'], unique=False)
    op.create_index(op.f('ix_auth_membership_user_id'), 'auth_membership', ['user_id'], unique=False)
    op.create_table('auth_permission',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=512), nullable=True),
    sa.Column('table_name', sa.String(length=512), nullable=True),
    sa.Column('record_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['auth_group.id'], name=op.f('fk_auth_permission_group_id_auth_group'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_permission'))
    )
    op.create_index(op.f('ix_auth_permission_group_id'), 'auth_permission', ['group_id'], unique=False)
    op.create_index(op.f('ix_auth_permission_name'), 'auth_permission', ['name'], unique=False)
    op.create_index(op.f('ix_auth_permission_record_id'), 'auth_permission', ['record_id'], unique=False)
    op.create_table('config',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=512), nullable=True),
    sa.Column('program', sa.String(length=512), nullable=True),
    sa.Column('command', sa.String(length=512), nullable=True),
    sa.Column('fuse_command', sa.String(length=512), nullable=True),
    sa.Column('info', LONGTEXT, nullable=True),
    sa.Column('classification', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['classification'], ['classification.id'], name=op.f('fk_config_classification_classification'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_config'))
    )
    op.create_index(op.f('ix_config_classification'), 'config', ['classification'], unique=False)
    op.create_table('group_assoc',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('first_group_id', sa.Integer(), nullable=True),
    sa.Column('second_group_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['first_group_id'], ['auth_group.id'], name=op.f('fk_group_assoc_first_group_id_auth_group'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['second_group_id'], ['auth_group.id'], name=op.f('fk_group_assoc_second_group_id_auth_group'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_assoc'))
    )
    op.create_index(op.f('ix_group_assoc_first_group_id'), 'group_assoc', ['first_group_id'], unique=False)
    op.create_index(op.f('ix_group_assoc_second_group_id'), 'group_assoc', ['second_group_id'], unique=False)
    op.create_table('group_tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('tag_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['auth_group.id'], name=op.f('fk_group_tag_group_id_auth_group'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], name=op.f('fk_group_tag_tag_id_tag'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_tag'))
    )
    op.create_index(op.f('ix_group_tag_group_id'), 'group_tag', ['group_id'], unique=False)
    op.create_index(op.f('ix_group_tag_tag_id'), 'group_tag', ['tag_id'], unique=False)
    op.create_table('sample_set',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('creator', sa.Integer(), nullable=True),
    sa.Column('sample_type', sa.String(length=512), nullable=True),
    sa.ForeignKeyConstraint(['creator'], ['auth_user.id'], name=op.f('fk_sample_set_creator_auth_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sample_set'))
    )
    op.create_index(op.f('ix_sample_set_creator'), 'sample_set', ['creator'], unique=False)
    op.create_index(op.f('ix_sample_set_sample_type'), 'sample_set', ['sample_type'], unique=False)
    op.create_table('scheduler_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=512), nullable=True),
    sa.Column('start_time', sa.DateTime(), nullable=True),
    sa.Column('stop_time', sa.DateTime(), nullable=True),
    sa.Column('run_output', LONGTEXT, nullable=True),
    sa.Column('run_result', LONGTEXT, nullable=True),
    sa.Column('traceback', LONGTEXT, nullable=True),
    sa.Column('worker_name', sa.String(length=512), nullable=True),
    sa.ForeignKeyConstraint(['task_id'], ['scheduler_task.id'], name=op.f('fk_scheduler_run_task_id_scheduler_task'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduler_run'))
    )
    op.create_index(op.f('ix_scheduler_run_task_id'), 'scheduler_run', ['task_id'], unique=False)
    op.create_table('scheduler_task_deps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_name', sa.String(length=512), nullable=True),
    sa.Column('task_parent', sa.Integer(), nullable=True),
    sa.Column('task_child', sa.Integer(), nullable=True),
    sa.Column('can_visit', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['task_child'], ['scheduler_task.id'], name=op.f('fk_scheduler_task_deps_task_child_scheduler_task'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduler_task_deps'))
    )
    op.create_index(op.f('ix_scheduler_task_deps_task_child'), 'scheduler_task_deps', ['task_child'], unique=False)
    op.create_table('tag_ref',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=True),
    sa.Column('table_name', sa.String(length=512), nullable=True),
    sa.Column('record_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], name=op.f('fk_tag_ref_tag_id_tag'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tag_ref'))
    )
    op.create_index(op.f('ix_tag_ref_record_id'), 'tag_ref', ['record_id'], unique=False)
    op.create_index(op.f('ix_tag_ref_table_name'), 'tag_ref', ['table_name'], unique=False)
    op.create_index(op.f('ix_tag_ref_tag_id'), 'tag_ref', ['tag_id'], unique=False)
    op.create_table('user_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created', sa.DateTime(), nullable=True),
    sa.Column('msg', LONGTEXT, nullable=True),
    sa.Column('table_name', sa.String(length=512), nullable=True),
    sa.Column('record_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['auth_user.id'], name=op.f('fk_user_log_user_id_auth_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_log'))
    )
    op.create_index(op.f('ix_user_log_user_id'), 'user_log', ['user_id'], unique=False)
    op.create_table('user_preference',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('preference', sa.String(length=512), nullable=True),
    sa.Column('val', sa.String(length=512), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['auth_user.id'], name=op.f('fk_user_preference_user_id_auth_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_preference'))
    )
    op.create_index(op.f('ix_user_preference_user_id'), 'user_preference', ['user_id'], unique=False)
    op.create_table('vidjil_session',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('impersonator_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.Column('client_ip', sa.String(length=64), nullable=True),
    sa.Column('data', LONGTEXT, nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['auth_user.id'], name=op.f('fk_vidjil_session_user_id_auth_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vidjil_session'))
    )
    op.create_index(op.f('ix_vidjil_session_last_seen'), 'vidjil_session', ['last_seen'], unique=False)
    op.create_index(op.f('ix_vidjil_session_user_id'), 'vidjil_session', ['user_id'], unique=False)
    op.create_table('generic',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=512), nullable=True),
    sa.Column('info', LONGTEXT, nullable=True),
    sa.Column('creator', sa.Integer(), nullable=True),
    sa.Column('sample_set_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['creator'], ['auth_user.id'], name=op.f('fk_generic_creator_auth_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sample_set_id'], ['sample_set.id'], name=op.f('fk_generic_sample_set_id_sample_set'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_generic'))
    )
    op.create_index(op.f('ix_generic_creator'), 'generic', ['creator'], unique=False)
    op.create_index(op.f('ix_generic_sample_set_id'), 'generic', ['sample_set_id'], unique=False)
    op.create_table('patient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('first_name', sa.String(length=512), nullable=True),
    sa.Column('last_name', sa.String(length=512), nullable=True),
    sa.Column('birth', sa.Date(), nullable=True),
    sa.Column('info', LONGTEXT, nullable=True),
    sa.Column('id_label', sa.String(length=512), nullable=True),
    sa.Column('creator', sa.Integer(), nullable=True),
    sa.Column('sample_set_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['creator'], ['auth_user.id'], name=op.f('fk_patient_creator_auth_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sample_set_id'], ['sample_set.id'], name=op.f('fk_patient_sample_set_id_sample_set'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient'))
    )
    op.create_index(op.f('ix_patient_creator'), 'patient', ['creator'], unique=False)
    op.create_index(op.f('ix_patient_sample_set_id'), 'patient', ['sample_set_id'], unique=False)
    op.create_table('run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=512), nullable=True),
    sa.Column('run_date', sa.Date(), nullable=True),
    sa.Column('info', LONGTEXT, nullable=True),
    sa.Column('id_label', sa.String(length=512), nullable=True),
    sa.Column('creator', sa.Integer(), nullable=True),
    sa.Column('sequencer', sa.String(length=512), nullable=True),
    sa.Column('pcr', sa.String(length=512), nullable=True),
    sa.Column('sample_set_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['creator'], ['auth_user.id'], name=op.f('fk_run_creator_auth_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sample_set_id'], ['sample_set.id'], name=op.f('fk_run_sample_set_id_sample_set'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_run'))
    )
    op.create_index(op.f('ix_run_creator'), 'run', ['creator'], unique=False)
    op.create_index(op.f('ix_run_sample_set_id'), 'run', ['sample_set_id'], unique=False)
    op.create_table('analysis_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('config_id', sa.Integer(), nullable=True),
    sa.Column('sample_set_id', sa.Integer(), nullable=True),
    sa.Column('analyze_date', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=512), nullable=True),
    sa.Column('analysis_file', sa.String(length=400), nullable=True),
    sa.ForeignKeyConstraint(['config_id'], ['config.id'], name=op.f('fk_analysis_file_config_id_config'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_analysis_file_patient_id_patient'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sample_set_id'], ['sample_set.id'], name=op.f('fk_analysis_file_sample_set_id_sample_set'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analysis_file'))
    )
    op.create_index(op.f('ix_analysis_file_config_id'), 'analysis_file', ['config_id'], unique=False)
    op.create_index(op.f('ix_analysis_file_patient_id'), 'analysis_file', ['patient_id'], unique=False)
    op.create_index(op.f('ix_analysis_file_sample_set_id'), 'analysis_file', ['sample_set_id'], unique=False)
    op.create_table('fused_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('config_id', sa.Integer(), nullable=True),
    sa.Column('sample_set_id', sa.Integer(), nullable=True),
    sa.Column('fuse_date', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=512), nullable=True),
    sa.Column('sequence_file_list', sa.String(length=512), nullable=True),
    sa.Column('fused_file', sa.String(length=400), nullable=True),
    sa.ForeignKeyConstraint(['config_id'], ['config.id'], name=op.f('fk_fused_file_config_id_config'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_fused_file_patient_id_patient'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sample_set_id'], ['sample_set.id'], name=op.f('fk_fused_file_sample_set_id_sample_set'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fused_file'))
    )
    op.create_index(op.f('ix_fused_file_config_id'), 'fused_file', ['config_id'], unique=False)
    op.create_index(op.f('ix_fused_file_patient_id'), 'fused_file', ['patient_id'], unique=False)
    op.create_index(op.f('ix_fused_file_sample_set_id'), 'fused_file', ['sample_set_id'], unique=False)
    op.create_table('sequence_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('sampling_date', sa.Date(), nullable=True),
    sa.Column('info', LONGTEXT, nullable=True),
    sa.Column('filename', LONGTEXT, nullable=True),
    sa.Column('pcr', LONGTEXT, nullable=True),
    sa.Column('sequencer', LONGTEXT, nullable=True),
    sa.Column('producer', LONGTEXT, nullable=True),
    sa.Column('size_file', sa.BigInteger(), nullable=True),
    sa.Column('size_file2', sa.BigInteger(), nullable=True),
    sa.Column('network', sa.Boolean(), nullable=True),
    sa.Column('provider', sa.Integer(), nullable=True),
    sa.Column('pre_process_id', sa.Integer(), nullable=True),
    sa.Column('pre_process_result', LONGTEXT, nullable=True),
    sa.Column('pre_process_flag', LONGTEXT, nullable=True),
    sa.Column('pre_process_scheduler_task_id', sa.Integer(), nullable=True),
    sa.Column('data_file', sa.String(length=400), nullable=True),
    sa.Column('data_file2', sa.String(length=400), nullable=True),
    sa.Column('pre_process_file', sa.String(length=400), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_sequence_file_patient_id_patient'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pre_process_id'], ['pre_process.id'], name=op.f('fk_sequence_file_pre_process_id_pre_process'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['provider'], ['auth_user.id'], name=op.f('fk_sequence_file_provider_auth_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sequence_file'))
    )
    op.create_index(op.f('ix_sequence_file_patient_id'), 'sequence_file', ['patient_id'], unique=False)
    op.create_index(op.f('ix_sequence_file_pre_process_id'), 'sequence_file', ['pre_process_id'], unique=False)
    op.create_index(op.f('ix_sequence_file_provider'), 'sequence_file', ['provider'], unique=False)
    op.create_table('results_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sequence_file_id', sa.Integer(), nullable=True),
    sa.Column('config_id', sa.Integer(), nullable=True),
    sa.Column('run_date', sa.DateTime(), nullable=True),
    sa.Column('scheduler_task_id', sa.Integer(), nullable=True),
    sa.Column('hidden', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('data_file', sa.String(length=400), nullable=True),
    sa.ForeignKeyConstraint(['config_id'], ['config.id'], name=op.f('fk_results_file_config_id_config'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sequence_file_id'], ['sequence_file.id'], name=op.f('fk_results_file_sequence_file_id_sequence_file'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_results_file'))
    )
    op.create_index(op.f('ix_results_file_config_id'), 'results_file', ['config_id'], unique=False)
    op.create_index(op.f('ix_results_file_scheduler_task_id'), 'results_file', ['scheduler_task_id'], unique=False)
    op.create_index(op.f('ix_results_file_sequence_file_id'), 'results_file', ['sequence_file_id'], unique=False)
    op.create_table('sample_set_membership',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sample_set_id', sa.Integer(), nullable=True),
    sa.Column('sequence_file_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['sample_set_id'], ['sample_set.id'], name=op.f('fk_sample_set_membership_sample_set_id_sample_set'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sequence_file_id'], ['sequence_file.id'], name=op.f('fk_sample_set_membership_sequence_file_id_sequence_file'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sample_set_membership'))
    )
    op.create_index(op.f('ix_sample_set_membership_sample_set_id'), 'sample_set_membership', ['sample_set_id'], unique=False)
    op.create_index(op.f('ix_sample_set_membership_sequence_file_id'), 'sample_set_membership', ['sequence_file_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_sample_set_membership_sequence_file_id'), table_name='sample_set_membership')
    op.drop_index(op.f('ix_sample_set_membership_sample_set_id'), table_name='sample_set_membership')
    op.drop_table('sample_set_membership')
    op.drop_index(op.f('ix_results_file_sequence_file_id'), table_name='results_file')
    op.drop_index(op.f('ix_results_file_scheduler_task_id'), table_name='results_file')
    op.drop_index(op.f('ix_results_file_config_id'), table_name='results_file')
    op.drop_table('results_file')
    op.drop_index(op.f('ix_sequence_file_provider'), table_name='sequence_file')
    op.drop_index(op.f('ix_sequence_file_pre_process_id'), table_name='sequence_file')
    op.drop_index(op.f('ix_sequence_file_patient_id'), table_name='sequence_file')
    op.drop_table('sequence_file')
    op.drop_index(op.f('ix_fused_file_sample_set_id'), table_name='fused_file')
    op.drop_index(op.f('ix_fused_file_patient_id'), table_name='fused_file')
    op.drop_index(op.f('ix_fused_file_config_id'), table_name='fused_file')
    op.drop_table('fused_file')
    op.drop_index(op.f('ix_analysis_file_sample_set_id'), table_name='analysis_file')
    op.drop_index(op.f('ix_analysis_file_patient_id'), table_name='analysis_file')
    op.drop_index(op.f('ix_analysis_file_config_id'), table_name='analysis_file')
    op.drop_table('analysis_file')
    op.drop_index(op.f('ix_run_sample_set_id'), table_name='run')
    op.drop_index(op.f('ix_run_creator'), table_name='run')
    op.drop_table('run')
    op.drop_index(op.f('ix_patient_sample_set_id'), table_name='patient')
    op.drop_index(op.f('ix_patient_creator'), table_name='patient')
    op.drop_table('patient')
    op.drop_index(op.f('ix_generic_sample_set_id'), table_name='generic')
    op.drop_index(op.f('ix_generic_creator'), table_name='generic')
    op.drop_table('generic')
    op.drop_index(op.f('ix_vidjil_session_user_id'), table_name='vidjil_session')
    op.drop_index(op.f('ix_vidjil_session_last_seen'), table_name='vidjil_session')
    op.drop_table('vidjil_session')
    op.drop_index(op.f('ix_user_preference_user_id'), table_name='user_preference')
    op.drop_table('user_preference')
    op.drop_index(op.f('ix_user_log_user_id'), table_name='user_log')
    op.drop_table('user_log')
    op.drop_index(op.f('ix_tag_ref_tag_id'), table_name='tag_ref')
    op.drop_index(op.f('ix_tag_ref_table_name'), table_name='tag_ref')
    op.drop_index(op.f('ix_tag_ref_record_id'), table_name='tag_ref')
    op.drop_table('tag_ref')
    op.drop_index(op.f('ix_scheduler_task_deps_task_child'), table_name='scheduler_task_deps')
    op.drop_table('scheduler_task_deps')
    op.drop_index(op.f('ix_scheduler_run_task_id'), table_name='scheduler_run')
    op.drop_table('scheduler_run')
    op.drop_index(op.f('ix_sample_set_sample_type'), table_name='sample_set')
    op.drop_index(op.f('ix_sample_set_creator'), table_name='sample_set')
    op.drop_table('sample_set')
    op.drop_index(op.f('ix_group_tag_tag_id'), table_name='group_tag')
    op.drop_index(op.f('ix_group_tag_group_id'), table_name='group_tag')
    op.drop_table('group_tag')
    op.drop_index(op.f('ix_group_assoc_second_group_id'), table_name='group_assoc')
    op.drop_index(op.f('ix_group_assoc_first_group_id'), table_name='group_assoc')
    op.drop_table('group_assoc')
    op.drop_index(op.f('ix_config_classification'), table_name='config')
    op.drop_table('config')
    op.drop_index(op.f('ix_auth_permission_record_id'), table_name='auth_permission')
    op.drop_index(op.f('ix_auth_permission_name'), table_name='auth_permission')
    op.drop_index(op.f('ix_auth_permission_group_id'), table_name='auth_permission')
    op.drop_table('auth_permission')
    op.drop_index(op.f('ix_auth_membership_user_id'), table_name='auth_membership')
    op.drop_index(op.f('ix_auth_membership_group_id'), table_name='auth_membership')
    op.drop_table('auth_membership')
    op.drop_index(op.f('ix_auth_event_user_id'), table_name='auth_event')
    op.drop_index('ix_auth_event_time_stamp', table_name='auth_event')
    op.drop_index(op.f('ix_auth_event_client_ip'), table_name='auth_event')
    op.drop_table('auth_event')
    op.drop_index(op.f('ix_auth_cas_user_id'), table_name='auth_cas')
    op.drop_table('auth_cas')
    op.drop_table('tag')
    op.drop_table('scheduler_worker')
    op.drop_index(op.f('ix_scheduler_task_status'), table_name='scheduler_task')
    op.drop_table('scheduler_task')
    op.drop_table('pre_process')
    op.drop_table('notification')
    op.drop_table('classification')
    op.drop_index(op.f('ix_auth_user_email'), table_name='auth_user')
    op.drop_table('auth_user')
    op.drop_index(op.f('ix_auth_group_role'), table_name='auth_group')
    op.drop_table('auth_group')
