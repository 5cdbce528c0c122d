"""Templates and mail merge: personalized fields and conditional blocks in English and
Chinese, checked before use (an unknown field fails at saving and at preview, never
mid-send), the Jinja2 sandbox, preview for a chosen contact and the test send through a
real SMTP server."""

import pytest

from guanxi.core import services as core_services
from guanxi.core.models import AuditLog, CustomField, Role
from guanxi.marketing import mail_merge, services
from guanxi.marketing.models import MessageTemplate

pytestmark = pytest.mark.django_db

BODY_EN = ("<p>Dear {{ contact.greeting_name }},</p>"
           "{% if contact.value_tier == 'gold' %}<p>As a gold member you get {{ contact.custom.points }} points.</p>"
           "{% else %}<p>Join our loyalty programme.</p>{% endif %}"
           "<p><a href=\"https://example.com/offer\">See the offer</a></p>")
BODY_ZH = ("<p>{{ contact.greeting_name }}，您好！</p>"
           "{% if contact.value_tier == 'gold' %}<p>您是金卡会员，积分 {{ contact.custom.points }}。</p>{% endif %}"
           "<p>{{ contact.company }} · {{ contact.city }}</p>")


def post(client, path, body):
    return client.post(path, body, content_type="application/json")


@pytest.fixture
def customers(admin_user):
    core_services.custom_field_create(actor=admin_user, data={
        "target": "contact", "key": "points", "label": "Points", "field_type": "integer"})
    account = core_services.account_create(actor=admin_user, data={
        "name": "深圳华强", "addresses": [{"province": "广东", "city": "深圳", "street": "深南大道 1 号"}]})
    wang = core_services.contact_create(actor=admin_user, data={
        "family_name": "王", "given_name": "芳", "gender": "female", "value_tier": "gold", "preferred_language":
        "zh-hans", "account_id": account.pk, "custom_data": {"points": 1200}, "email": "wang@example.cn"})
    anna = core_services.contact_create(actor=admin_user, data={
        "full_name": "Anna <b>Smith</b>", "given_name": "Anna <b>", "preferred_language": "en",
        "email": "anna@example.com"})
    return {"wang": wang, "anna": anna}


@pytest.fixture
def template(admin_user, customers):
    return services.message_template_create(actor=admin_user, data={
        "name": "Loyalty", "channel": "email", "subject_en": "{{ contact.given_name }}, an offer for you",
        "body_en": BODY_EN, "subject_zh": "{{ contact.greeting_name }}，专属优惠", "body_zh": BODY_ZH})


def test_create_a_bilingual_template(api_client, customers):
    response = post(api_client, "/api/v1/marketing/templates", {
        "name": "Welcome", "channel": "email", "subject_en": "Welcome {{ contact.given_name }}", "body_en": BODY_EN,
        "subject_zh": "欢迎 {{ contact.full_name }}", "body_zh": BODY_ZH})
    assert response.status_code == 201, response.content
    stored = MessageTemplate.objects.get(pk=response.json()["id"])
    assert (stored.body_en, stored.body_zh, stored.channel) == (BODY_EN, BODY_ZH, "email")
    assert AuditLog.objects.filter(object_type="messagetemplate", object_id=str(stored.pk), action="create").exists()


@pytest.mark.parametrize(("part", "source", "message"), [
    ("body_en", "<p>Hi {{ contact.nickname }}</p>", "line 1: unknown field “contact.nickname”"),
    ("body_zh", "<p>好</p>\n{% if x %}{{ contact.custom.shoe_size }}{% endif %}",
     "line 2: unknown field “contact.custom.shoe_size”"),
    ("body_en", "{{ contact.given_name", "line 1: unexpected end of template"),
    ("subject_en", "{{ contact.full_name|shout }}", "unknown filter “shout”"),
    ("body_en", "{{ secret_settings }}", "line 1: unknown field “secret_settings”"),
])
def test_unknown_fields_and_bad_syntax_are_refused_with_part_and_line(api_client, customers, part, source, message):
    body = {"name": "Bad", "channel": "email", "subject_en": "Hello", "body_en": "<p>ok</p>",
            "subject_zh": "你好", "body_zh": "<p>好</p>"}
    body[part] = source
    response = post(api_client, "/api/v1/marketing/templates", body)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert list(errors) == [part]
    assert any(message in text for text in errors[part]), errors
    assert not MessageTemplate.objects.exists()


def test_unknown_fields_are_found_in_every_branch_not_only_the_one_a_contact_takes():
    problems = mail_merge._unknown_fields(
        "{% if contact.value_tier == 'gold' %}{{ contact.full_name }}{% else %}{{ contact.vip_code }}{% endif %}"
        "{% for item in contact.custom.items() %}{{ item }}{% endfor %}{% set greeting = 'hi' %}{{ greeting }}",
        mail_merge.HTML_ENVIRONMENT, set())
    assert problems == ["line 1: unknown field “contact.vip_code”"]


def test_preview_renders_in_the_contacts_language_with_conditional_blocks(api_client, template, customers):
    response = post(api_client, f"/api/v1/marketing/templates/{template.pk}/preview",
                    {"contact_id": customers["wang"].pk})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["language"] == "zh-hans"
    assert body["subject"] == "王女士，专属优惠"
    assert "您是金卡会员，积分 1200。" in body["body"]
    assert "深圳华强 · 深圳" in body["body"]  # the account's address serves a contact without one
    assert "您是金卡会员" in body["text"] and "<p>" not in body["text"]
    # the same template in English for the same contact, when asked
    english = post(api_client, f"/api/v1/marketing/templates/{template.pk}/preview",
                   {"contact_id": customers["wang"].pk, "language": "en"}).json()
    assert english["subject"] == "芳, an offer for you"
    assert "As a gold member you get 1200 points." in english["body"]


def test_values_are_escaped_in_html_email_but_not_in_the_subject(api_client, template, customers):
    body = post(api_client, f"/api/v1/marketing/templates/{template.pk}/preview",
                {"contact_id": customers["anna"].pk}).json()
    assert body["language"] == "en"
    assert "Dear Anna &lt;b&gt;," in body["body"]
    assert "<b>" not in body["body"]
    assert body["subject"] == "Anna <b>, an offer for you"  # a subject is text, not HTML
    assert "Join our loyalty programme." in body["body"]  # the else branch


def test_a_field_removed_after_saving_fails_at_preview_naming_it(api_client, admin_user, template, customers):
    core_services.custom_field_delete(actor=admin_user, field_id=CustomField.objects.get(key="points").pk)
    response = post(api_client, f"/api/v1/marketing/templates/{template.pk}/preview",
                    {"contact_id": customers["wang"].pk})
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors["body_en"] == ["line 1: unknown field “contact.custom.points”"]
    assert errors["body_zh"] == ["line 1: unknown field “contact.custom.points”"]


def test_the_sandbox_refuses_python_internals(api_client, admin_user, customers):
    # calling an unusual method is refused when the template is checked…
    response = post(api_client, "/api/v1/marketing/templates", {
        "name": "Sneaky", "channel": "email", "subject_en": "x",
        "body_en": "{{ ''.__class__.__mro__[1].__subclasses__() }}"})
    assert response.json()["errors"] == {"body_en": ["line 1: unknown field “__subclasses__”"]}
    # …and reaching for internals without a call is stopped by the sandbox when rendering
    template = MessageTemplate.objects.create(name="Sneaky", channel="email", subject_en="x",
                                              body_en="{{ ''.__class__ }}")
    response = post(api_client, f"/api/v1/marketing/templates/{template.pk}/preview",
                    {"contact_id": customers["anna"].pk, "language": "en"})
    assert response.status_code == 422
    assert "cannot be rendered" in response.json()["errors"]["__all__"][0]
    assert "unsafe" in response.json()["errors"]["__all__"][0]


def test_merge_fields_read_as_keys_while_dict_methods_and_internals_stay_as_they_were():
    """Fields of the merge context are read as keys first (faster); a name that is also a
    dict method still means the method, internals stay refused and a missing key is still
    an error."""
    from jinja2.exceptions import SecurityError, UndefinedError

    def render(source: str, contact: dict) -> str:
        return mail_merge.HTML_ENVIRONMENT.from_string(source).render(contact=contact)

    contact = {"company": "深圳华强 <b>", "custom": {"plan": "gold", "items": "not the method"}}
    assert render("{{ contact.company }}|{{ contact.custom.plan }}", contact) == "深圳华强 &lt;b&gt;|gold"
    assert render("{{ contact.custom.items()|list|length }}", contact) == "2"
    assert render("{{ contact.custom['items'] }}", contact) == "not the method"
    with pytest.raises(UndefinedError):
        render("{{ contact.city }}", contact)
    with pytest.raises(SecurityError):
        render("{{ contact.__class__.__subclasses__() }}", contact)


def test_preview_of_a_contact_outside_the_users_scope_is_refused(client_for, make_user, admin_user, template):
    rep_contact = core_services.contact_create(actor=admin_user, data={"full_name": "Someone else's"})
    marketer = make_user("marketer", Role.MARKETER)
    # a marketer sees every contact
    assert post(client_for(marketer), f"/api/v1/marketing/templates/{template.pk}/preview",
                {"contact_id": rep_contact.pk}).status_code == 200
    assert post(client_for(marketer), f"/api/v1/marketing/templates/{template.pk}/preview",
                {"contact_id": 987654}).json()["errors"] == {"contact_id": ["Unknown contact."]}


def test_test_send_goes_through_smtp_to_the_given_address(api_client, template, customers, smtp_sink):
    response = post(api_client, f"/api/v1/marketing/templates/{template.pk}/test-send",
                    {"contact_id": customers["wang"].pk, "to_email": "marketer@example.com"})
    assert response.status_code == 200, response.content
    smtp_sink.wait_for(1)
    [received] = smtp_sink.received
    assert received.recipients == ["marketer@example.com"]
    message = received.message
    assert message["Subject"] == "[Test] 王女士，专属优惠"
    html = message.get_body(("html",)).get_content()
    assert "您是金卡会员，积分 1200。" in html
    assert AuditLog.objects.filter(object_type="messagetemplate", changes__test_sent_to=[None,
                                                                                         "marketer@example.com"])


def test_test_send_reports_a_server_that_does_not_answer(api_client, template, customers, settings):
    from guanxi.marketing.tests.smtp_sink import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    response = post(api_client, f"/api/v1/marketing/templates/{template.pk}/test-send",
                    {"contact_id": customers["wang"].pk, "to_email": "marketer@example.com"})
    assert response.status_code == 422
    assert "did not accept" in response.json()["errors"]["to_email"][0]
    response = post(api_client, f"/api/v1/marketing/templates/{template.pk}/test-send",
                    {"contact_id": customers["wang"].pk, "to_email": "not-an-address"})
    assert response.json()["errors"] == {"to_email": ["Enter a valid email address."]}


def test_sms_templates_are_text_and_count_their_parts(api_client, admin_user, customers):
    template = services.message_template_create(actor=admin_user, data={
        "name": "SMS", "channel": "sms", "body_zh": "{{ contact.greeting_name }}：<您的>积分为 {{ contact.custom.points }}。"
                                                    + "详" * 80})
    body = post(api_client, f"/api/v1/marketing/templates/{template.pk}/preview",
                {"contact_id": customers["wang"].pk}).json()
    assert body["body"].startswith("王女士：<您的>积分为 1200。")  # plain text: nothing escaped
    assert body["sms_segments"] == 2


def test_deleting_a_template_in_use_is_refused(api_client, admin_user, template):
    from guanxi.marketing.models import Campaign

    Campaign.objects.create(name="Spring", template=template, owner=admin_user)
    response = api_client.delete(f"/api/v1/marketing/templates/{template.pk}")
    assert response.status_code == 409 and "Spring" in response.json()["detail"]
    assert MessageTemplate.objects.filter(pk=template.pk).exists()


# ======================================================================================
# Web pages
# ======================================================================================
def test_template_pages_preview_for_a_contact_found_by_name(client, admin_user, template, customers):
    client.force_login(admin_user)
    page = client.get(f"/marketing/templates/{template.pk}/", {"contact": "王芳", "language": ""})
    assert page.status_code == 200
    html = page.content.decode()
    assert "王女士，专属优惠" in html
    assert "sandbox" in html and "您是金卡会员" in html


def test_template_form_shows_unknown_fields_and_saves_nothing(client, admin_user, customers):
    client.force_login(admin_user)
    response = client.post("/marketing/templates/new/", {
        "name": "Broken", "channel": "email", "subject_en": "Hi", "body_en": "{{ contact.shoe_size }}",
        "subject_zh": "", "body_zh": ""})
    assert response.status_code == 400
    assert "unknown field “contact.shoe_size”" in response.content.decode()
    assert not MessageTemplate.objects.exists()
    response = client.post("/marketing/templates/new/", {
        "name": "Fine", "channel": "email", "subject_en": "Hi", "body_en": "<p>{{ contact.full_name }}</p>",
        "subject_zh": "", "body_zh": ""})
    assert response.status_code == 302
    assert MessageTemplate.objects.get(name="Fine").body_en == "<p>{{ contact.full_name }}</p>"
