"""The knowledge base: articles of problems and solutions in English and Chinese, every
saved text kept as a numbered version per language."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.access import scope_for
from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import PermissionDenied
from guanxi.core.models import AuditAction, User
from guanxi.service import selectors
from guanxi.service.models import (
    ArticleStatus, CaseCategory, CaseEvent, CaseEventKind, KnowledgeArticle, KnowledgeArticleVersion, Language,
)

TEXT_FIELDS = ("title", "problem", "solution", "keywords", "change_note")


def _new_version(article: KnowledgeArticle, language: str, text: dict, author: User | None,
                 errors: dict, prefix: str) -> KnowledgeArticleVersion | None:
    if language not in Language.values:
        errors[f"{prefix}language"] = [_("Choose en or zh-hans.")]
        return None
    version = KnowledgeArticleVersion(article=article, language=language, number=1, author=author,
                                      **{field: (text.get(field) or "").strip() for field in TEXT_FIELDS})
    try:
        version.full_clean(exclude=["article", "number", "author", "search_text"])
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(f"{prefix}{field}", []).extend(messages)
        return None
    return version


def _save_version(version: KnowledgeArticleVersion) -> KnowledgeArticleVersion:
    """Store ``version`` as the newest of its language; earlier ones stay as history."""
    last = (KnowledgeArticleVersion.objects.filter(article=version.article, language=version.language)
            .aggregate(last=Max("number"))["last"] or 0)
    KnowledgeArticleVersion.objects.filter(article=version.article, language=version.language,
                                           is_current=True).update(is_current=False)
    version.number = last + 1
    version.is_current = True
    version.created_at = timezone.now()
    version.search_text = selectors.knowledge_search_text(version)
    version.save()
    return version


def _check_article_fields(article: KnowledgeArticle, data: dict, errors: dict) -> None:
    if "category" in data and data["category"] is not None:
        article.category = data["category"]
    if "products" in data and data["products"] is not None:
        article.products = [str(item).strip() for item in data["products"] if str(item).strip()]
    if "status" in data and data["status"] is not None:
        article.status = data["status"]
    if article.category not in CaseCategory.values:
        errors["category"] = [_("Unknown category.")]
    if article.status not in ArticleStatus.values:
        errors["status"] = [_("Choose draft, published or archived.")]


@transaction.atomic
def article_create(*, actor: User, data: dict) -> KnowledgeArticle:
    """A new article with its first text in one or both languages (``translations``:
    list of {language, title, problem, solution, keywords})."""
    if scope_for(actor, "knowledge_article", "create") == "none":
        raise PermissionDenied(_("You may not write knowledge articles."))
    errors: dict[str, list[str]] = {}
    article = KnowledgeArticle(created_by=actor, created_at=timezone.now(), updated_at=timezone.now())
    _check_article_fields(article, data, errors)
    translations = data.get("translations") or []
    if not translations:
        errors["translations"] = [_("Write the article in at least one language.")]
    languages = [item.get("language") for item in translations]
    if len(languages) != len(set(languages)):
        errors["translations"] = [_("Give each language once.")]
    versions = [_new_version(article, item.get("language", ""), item, actor, errors, f"translations.{index}.")
                for index, item in enumerate(translations)]
    if errors:
        raise ValidationError(errors)
    article.save()
    for version in versions:
        version.article = article
        _save_version(version)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=article, changes={
        "status": [None, article.status], "languages": [None, ",".join(sorted(languages))]})
    return article


@transaction.atomic
def article_update(*, actor: User, article_id: int, data: dict) -> KnowledgeArticle:
    """Change status, category or products, and/or save new text in a language (a new
    version; the previous one stays in the history)."""
    article = selectors.access_article_by_id(actor, article_id, "change")
    article = KnowledgeArticle.objects.select_for_update().get(pk=article.pk)
    before = {"status": article.status, "category": article.category, "products": list(article.products)}
    errors: dict[str, list[str]] = {}
    _check_article_fields(article, data, errors)
    versions = []
    for index, item in enumerate(data.get("translations") or []):
        current = article.versions.filter(language=item.get("language"), is_current=True).first()
        merged = {field: item[field] if item.get(field) is not None else getattr(current, field, "")
                  for field in TEXT_FIELDS if field != "change_note"}
        merged["change_note"] = item.get("change_note") or ""
        version = _new_version(article, item.get("language", ""), merged, actor, errors, f"translations.{index}.")
        if version is not None and current is not None and all(
                getattr(version, field) == getattr(current, field) for field in ("title", "problem", "solution",
                                                                                 "keywords")):
            continue  # nothing new to keep
        versions.append(version)
    if article.status == ArticleStatus.PUBLISHED and not article.versions.exists() and not versions:
        errors["status"] = [_("An article needs text before it is published.")]
    if errors:
        raise ValidationError(errors)
    article.updated_at = timezone.now()
    article.save()
    for version in versions:
        _save_version(version)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=article, changes=diff(before, {
        "status": article.status, "category": article.category, "products": list(article.products)}) | (
        {"new_versions": [None, ",".join(version.language for version in versions)]} if versions else {}))
    return article


@transaction.atomic
def article_restore_version(*, actor: User, article_id: int, version_id: int) -> KnowledgeArticleVersion:
    """Make an earlier version's text current again (as a new version, so nothing is lost)."""
    article = selectors.access_article_by_id(actor, article_id, "change")
    old = KnowledgeArticleVersion.objects.filter(article=article, pk=version_id).first()
    if old is None:
        raise ValidationError({"version_id": [_("Unknown version of this article.")]})
    copy = KnowledgeArticleVersion(article=article, language=old.language, author=actor,
                                   change_note=_("Restored version %(number)d") % {"number": old.number},
                                   **{field: getattr(old, field) for field in ("title", "problem", "solution",
                                                                               "keywords")})
    KnowledgeArticle.objects.filter(pk=article.pk).update(updated_at=timezone.now())
    version = _save_version(copy)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=article,
                 changes={"restored_version": [None, old.number], "language": [None, old.language]})
    return version


@transaction.atomic
def article_delete(*, actor: User, article_id: int) -> None:
    article = selectors.access_article_by_id(actor, article_id, "delete")
    audit_record(actor=actor, action=AuditAction.DELETE, obj=article, changes={"status": [article.status, None]})
    article.delete()


@transaction.atomic
def article_mark_helpful(*, actor: User, article_id: int, case_id: int) -> KnowledgeArticle:
    """The article solved a case: counted for ranking and noted in the case history."""
    article = selectors.access_article_by_id(actor, article_id)
    case = selectors.access_case_by_id(actor, case_id, "change")
    KnowledgeArticle.objects.filter(pk=article.pk).update(helpful_count=F("helpful_count") + 1)
    version = selectors.article_current_versions(article)
    title = next(iter(version.values())).title if version else str(article)
    CaseEvent.objects.create(case=case, actor=actor, kind=CaseEventKind.KNOWLEDGE, to_value=f"KB-{article.pk}",
                             detail=(_("Solved with knowledge article KB-%(id)d: %(title)s") % {
                                 "id": article.pk, "title": title})[:500])
    article.refresh_from_db()
    return article
