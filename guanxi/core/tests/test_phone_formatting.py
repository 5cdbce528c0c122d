"""Phone numbers shown on pages: ``format_phone`` groups a mainland mobile number itself
(list pages show fifty at a time) and must say exactly what phonenumbers would say."""

import random

import phonenumbers

from guanxi.core.normalize import format_phone


def phonenumbers_international(e164: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def test_mainland_mobile_numbers_read_as_phonenumbers_formats_them():
    rng = random.Random(86)
    numbers = [f"+861{rng.randrange(30, 100)}{rng.randrange(10 ** 8):08d}" for _ in range(20_000)]
    for number in numbers:
        assert format_phone(number) == phonenumbers_international(number), number
    assert format_phone("+8613812345678") == "+86 138 1234 5678"


def test_other_numbers_still_go_through_phonenumbers():
    for number in ("+861012345678", "+8675588886666", "+14155550100", "+442079460958", "+85291234567"):
        assert format_phone(number) == phonenumbers_international(number), number
    assert format_phone("+861012345678") == "+86 10 1234 5678"  # Beijing, not a mobile
    assert format_phone("not a number") == "not a number"
