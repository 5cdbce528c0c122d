"""Creating, changing and finding contacts through the services and selectors."""

import pytest
from django.core.exceptions import ValidationError

from guanxi.core import selectors, services
from guanxi.core.errors import Conflict, NotFound
from guanxi.core.models import AuditLog, Contact, ContactPhone, Role

pytestmark = pytest.mark.django_db


def test_chinese_contact_with_local_phone_is_stored_in_e164_and_found_in_any_format(admin_user):
    # given a contact typed with a Chinese name and a local mobile number
    contact = services.contact_create(actor=admin_user, data={
        "family_name": "王", "given_name": "芳", "phone": "138 1234 5678", "email": " Wang.Fang@Example.COM "})
    # then the stored state is normalized
    contact.refresh_from_db()
    assert contact.full_name == "王芳"
    assert contact.phone == "+8613812345678"
    assert contact.email == "wang.fang@example.com"
    assert list(ContactPhone.objects.filter(contact=contact).values_list("number", flat=True)) == ["+8613812345678"]
    # and it is found by the phone written another way, by name and by part of the name
    for query in ("+86 138-1234-5678", "0086 13812345678", "王芳", "芳", "wang.fang"):
        found = selectors.global_search(admin_user, query).contacts
        assert [c.pk for c in found] == [contact.pk], query
    assert selectors.global_search(admin_user, "李").contacts == []
    # and the creation is audited
    assert AuditLog.objects.filter(action="create", object_type="contact", object_id=str(contact.pk)).count() == 1


def test_bad_phone_and_email_are_refused_with_field_errors_and_nothing_stored(admin_user):
    with pytest.raises(ValidationError) as caught:
        services.contact_create(actor=admin_user, data={"full_name": "Bad Input", "phone": "12",
                                                        "email": "not-an-email"})
    assert set(caught.value.message_dict) == {"phone", "email"}
    assert Contact.objects.count() == 0


def test_stale_edit_is_refused(admin_user):
    contact = services.contact_create(actor=admin_user, data={"full_name": "Li Lei"})
    services.contact_update(actor=admin_user, contact_id=contact.pk, data={"job_title": "CTO"}, expected_version=1)
    with pytest.raises(Conflict):
        services.contact_update(actor=admin_user, contact_id=contact.pk, data={"job_title": "CEO"},
                                expected_version=1)
    contact.refresh_from_db()
    assert contact.job_title == "CTO" and contact.version == 2


def test_sales_rep_sees_only_own_contacts(admin_user, make_user):
    rep = make_user("rep", Role.SALES_REP)
    other = make_user("other", Role.SALES_REP)
    mine = services.contact_create(actor=rep, data={"full_name": "Mine"})
    theirs = services.contact_create(actor=other, data={"full_name": "Theirs"})
    assert list(selectors.visible_contacts(rep)) == [mine]
    with pytest.raises(NotFound):
        selectors.access_contact_by_id(rep, theirs.pk)
    assert selectors.global_search(rep, "theirs").contacts == []


def test_audit_log_refuses_update_and_delete(admin_user):
    contact = services.contact_create(actor=admin_user, data={"full_name": "Audited"})
    entry = AuditLog.objects.get(object_type="contact", object_id=str(contact.pk), action="create")
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        AuditLog.objects.all().delete()
    from django.db import DatabaseError, IntegrityError, connection, transaction

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("UPDATE core_auditlog_guard SET armed = 1")  # as in production
        for statement in ("UPDATE core_auditlog SET action = 'delete'", "DELETE FROM core_auditlog"):
            with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
                cursor.execute(statement)
    assert AuditLog.objects.filter(object_type="contact", action="create").count() == 1
