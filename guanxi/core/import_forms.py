"""Forms of the import and export pages (upload, column mapping, start, export format)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from guanxi.core import exporting, importing

OBJECT_LABELS = {"contact": _("Contacts"), "account": _("Accounts")}
ENCODINGS = [("", _("Detect (UTF-8 or GB18030)")), ("utf-8", "UTF-8"), ("gb18030", "GB18030 / GBK"),
             ("utf-16", "UTF-16")]
MODE_ALL_OR_NOTHING = "all_or_nothing"
MODE_SKIP_INVALID = "skip_invalid"


class UploadForm(forms.Form):
    object_type = forms.ChoiceField(label=_("What the file holds"), widget=forms.RadioSelect)
    file = forms.FileField(label=_("CSV or XLSX file"),
                           help_text=_("The first row holds the column headers, in English or Chinese."))
    encoding = forms.ChoiceField(label=_("Text encoding (CSV only)"), choices=ENCODINGS, required=False)
    sheet = forms.CharField(label=_("Worksheet (XLSX only)"), required=False, max_length=100,
                            help_text=_("Leave empty for the first sheet."))

    def __init__(self, *args, importable: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["object_type"].choices = [(name, OBJECT_LABELS[name]) for name in importable]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.name.lower().rsplit(".", 1)[-1] not in {suffix.lstrip(".") for suffix in importing.UPLOAD_SUFFIXES}:
            raise forms.ValidationError(_("Upload a CSV or XLSX file."))
        return upload


class MappingForm(forms.Form):
    """One select per column of the file: the field it fills, or nothing."""

    def __init__(self, *args, preview: importing.Preview, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", _("— do not import —"))] + [
            (item.name, f"{item.label} ({item.name})") for item in preview.fields]
        self.headers = preview.headers
        for position, header in enumerate(preview.headers):
            samples = ", ".join(value for value in preview.samples[position] if value)
            self.fields[self.field_name(position)] = forms.ChoiceField(
                label=header or _("(column %(number)d has no header)") % {"number": position + 1},
                choices=choices, required=False, initial=preview.mapping.get(header, ""),
                help_text=_("For example: %(samples)s") % {"samples": samples} if samples else "")

    @staticmethod
    def field_name(position: int) -> str:
        return f"column_{position}"

    def mapping(self) -> dict[str, str]:
        return {header: self.cleaned_data.get(self.field_name(position)) or ""
                for position, header in enumerate(self.headers) if header}

    def add_issue_errors(self, issues: list[importing.Issue]) -> None:
        for issue in issues:
            if issue.column in self.headers:
                self.add_error(self.field_name(self.headers.index(issue.column)), issue.message)
            else:
                self.add_error(None, issue.message)


class StartImportForm(forms.Form):
    mode = forms.ChoiceField(label=_("When rows have errors"), widget=forms.RadioSelect, initial=MODE_ALL_OR_NOTHING,
                             choices=[(MODE_ALL_OR_NOTHING, _("Import nothing (all or nothing)")),
                                      (MODE_SKIP_INVALID, _("Import the good rows, skip the bad ones"))])


class ExportForm(forms.Form):
    object = forms.ChoiceField(label=_("Records"), widget=forms.RadioSelect)
    format = forms.ChoiceField(label=_("File format"), widget=forms.RadioSelect, initial="csv",
                               choices=[("csv", _("CSV (downloads at once)")),
                                        ("xlsx", _("Excel XLSX (prepared in the background)"))])

    def __init__(self, *args, exportable: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["object"].choices = [(name, OBJECT_LABELS[name]) for name in exportable]
        self.fields["format"].choices = [choice for choice in self.fields["format"].choices
                                         if choice[0] in exporting.FORMATS]
