"""Print: mail-merge letters, Avery L7160 address labels and DL envelopes as PDF, with
Chinese addresses laid out the Chinese way in the built-in STSong-Light font."""

import re

import pytest

from guanxi.core import services as core_services
from guanxi.marketing import printing, services
from guanxi.marketing.models import CampaignRecipient
from guanxi.marketing.printing import Mailing

pytestmark = pytest.mark.django_db


def test_chinese_addresses_postcode_first_largest_unit_first_name_last():
    mailing = Mailing(name="王芳", company="深圳华强电子有限公司", province="广东省", city="深圳市", district="福田区",
                      street="深南大道 1 号", postcode="518000")
    assert printing.address_lines(mailing) == ["518000", "广东省深圳市福田区", "深南大道 1 号", "深圳华强电子有限公司",
                                               "王芳 收"]
    # a municipality is not written twice
    assert printing.address_lines(Mailing(name="李强", province="北京市", city="北京市", district="朝阳区",
                                          street="建国路 88 号", postcode="100022"))[1] == "北京市朝阳区"


def test_international_addresses_keep_their_own_order():
    assert printing.address_lines(Mailing(name="Anna Smith", company="Contoso", country="DE", city="München",
                                          street="Leopoldstraße 1", postcode="80802")) == [
        "Anna Smith", "Contoso", "Leopoldstraße 1", "80802 München", "GERMANY"]
    assert printing.address_lines(Mailing(name="Tom Lee", country="US", province="CA", city="San Francisco",
                                          street="1 Market St", postcode="94105"))[-2:] == [
        "San Francisco, CA, 94105", "USA"]


def test_labels_fill_l7160_sheets_of_twenty_one(settings):
    mailings = [Mailing(name=f"客户{index}", province="广东省", city="深圳市", street=f"{index} 号", postcode="518000")
                for index in range(22)]
    pdf = printing.labels_pdf(mailings, title="Labels")
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type /Page[^s]", pdf)) == 2  # 21 labels a sheet: 22 need two
    assert b"STSong-Light" in pdf  # the CID font, no font file embedded
    assert (printing.L7160.columns, printing.L7160.rows) == (3, 7)
    # the grid spans the A4 width: 3 labels of 63.5 mm at a 66 mm pitch from 7.2 mm
    from reportlab.lib.units import mm

    right_edge = printing.L7160.left + 2 * printing.L7160.pitch_x + printing.L7160.width
    assert right_edge == pytest.approx(202.7 * mm)


@pytest.fixture
def mailed(admin_user):
    wang = core_services.contact_create(actor=admin_user, data={
        "family_name": "王", "given_name": "芳", "gender": "female", "consent_mail": True,
        "addresses": [{"province": "广东省", "city": "深圳市", "district": "福田区", "street": "深南大道 1 号",
                       "postcode": "518000"}]})
    anna = core_services.contact_create(actor=admin_user, data={
        "full_name": "Anna Smith", "consent_mail": True, "preferred_language": "en",
        "addresses": [{"country": "DE", "city": "München", "street": "Leopoldstraße 1", "postcode": "80802"}]})
    segment = services.segment_create(actor=admin_user, data={"name": "All", "rules": {}})
    letter = services.message_template_create(actor=admin_user, data={
        "name": "Letter", "channel": "letter", "subject_zh": "会员邀请函", "body_zh": "{{ contact.greeting_name }}：\n诚邀您参加。",
        "subject_en": "Invitation", "body_en": "Dear {{ contact.greeting_name }},\nplease join us."})
    campaign = services.campaign_create(actor=admin_user, data={
        "name": "Mailing", "channel": "direct_mail", "segment_id": segment.pk, "template_id": letter.pk})
    services.campaign_launch(actor=admin_user, campaign_id=campaign.pk)
    return campaign, wang, anna


def test_campaign_letters_labels_and_envelopes(client, admin_user, mailed, settings):
    settings.GUANXI_MARKETING_RETURN_ADDRESS = '{"company": "关系科技", "province": "广东省", "city": "广州市", ' \
                                               '"street": "天河路 2 号", "postcode": "510000"}'
    campaign, wang, anna = mailed
    client.force_login(admin_user)
    for kind in ("letters", "labels", "envelopes"):
        response = client.get(f"/marketing/campaigns/{campaign.pk}/print/{kind}.pdf")
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert response.content.startswith(b"%PDF"), kind
    assert client.get(f"/marketing/campaigns/{campaign.pk}/print/posters.pdf").status_code == 404
    from guanxi.marketing import print_runs

    _campaign, letters = print_runs.campaign_letters(admin_user, campaign.pk)
    by_name = {mailing.name: (heading, body) for mailing, heading, body in letters}
    assert by_name["王芳"] == ("会员邀请函", "王女士：\n诚邀您参加。")
    assert by_name["Anna Smith"] == ("Invitation", "Dear Anna Smith,\nplease join us.")
    # posting marks the letters as reached
    assert services.campaign_mark_mailed(actor=admin_user, campaign_id=campaign.pk) == 2
    assert set(CampaignRecipient.objects.values_list("state", flat=True)) == {"sent"}


def test_no_letter_for_someone_erased_or_without_consent_since_launch(admin_user, mailed):
    from guanxi.core.models import Contact
    from guanxi.marketing import print_runs

    campaign, wang, anna = mailed
    Contact.objects.filter(pk=wang.pk).update(is_erased=True)
    _campaign, letters = print_runs.campaign_letters(admin_user, campaign.pk)
    assert [mailing.name for mailing, _heading, _body in letters] == ["Anna Smith"]
    _campaign, mailings = print_runs.campaign_mailings(admin_user, campaign.pk)
    assert [mailing.name for mailing, _context in mailings] == ["Anna Smith"]
    # posting counts only the letters printed; Wang is skipped with the reason
    assert services.campaign_mark_mailed(actor=admin_user, campaign_id=campaign.pk) == 1
    states = dict(CampaignRecipient.objects.filter(campaign=campaign).values_list("contact_id", "state"))
    assert states == {wang.pk: "skipped", anna.pk: "sent"}


def test_printing_needs_the_right_to_see_the_campaign(client, make_user, mailed):
    from guanxi.core.models import Role

    campaign, _wang, _anna = mailed
    client.force_login(make_user("agent", Role.SERVICE_AGENT))
    assert client.get(f"/marketing/campaigns/{campaign.pk}/print/labels.pdf").status_code == 403
