"""The sales knowledge board: tips, playbooks and battlecards with tags and comments."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.audit import audit_record, diff
from guanxi.core.models import AuditAction, Tag, User
from guanxi.core.normalize import search_text
from guanxi.sales import selectors
from guanxi.sales.models import Competitor, KnowledgeComment, KnowledgePost
from guanxi.sales.services.common import full_clean_into, raise_if, require, snapshot

POST_FIELDS = ("title", "body", "kind")


def _tags(names: list[str] | None) -> list[Tag] | None:
    if names is None:
        return None
    tags = []
    for name in dict.fromkeys(str(name).strip()[:60] for name in names if str(name).strip()):
        tag, _created = Tag.objects.get_or_create(name=name)
        tags.append(tag)
    return tags


def _index(post: KnowledgePost, tag_names: list[str]) -> None:
    post.search_text = search_text(post.title, post.body, " ".join(tag_names),
                                   post.competitor.name if post.competitor_id else "")
    KnowledgePost.objects.filter(pk=post.pk).update(search_text=post.search_text)


def _post_apply(post: KnowledgePost, data: dict, errors: dict) -> None:
    for field in POST_FIELDS:
        if field in data and data[field] is not None:
            setattr(post, field, data[field].strip() if isinstance(data[field], str) else data[field])
    if "competitor_id" in data:
        post.competitor = Competitor.objects.filter(pk=data["competitor_id"]).first() if data["competitor_id"] \
            else None
        if data["competitor_id"] and post.competitor is None:
            errors.setdefault("competitor_id", []).append(_("Unknown competitor."))
    full_clean_into(post, errors, exclude=["author", "team", "territory", "competitor", "tags"])


@transaction.atomic
def knowledge_post_create(*, actor: User, data: dict) -> KnowledgePost:
    require(actor, "knowledge_post", "create", _("You may not post on the knowledge board."))
    post = KnowledgePost(author=actor, team_id=actor.team_id, territory_id=actor.territory_id)
    errors: dict[str, list[str]] = {}
    _post_apply(post, data, errors)
    raise_if(errors)
    post.save()
    tags = _tags(data.get("tags")) or []
    post.tags.set(tags)
    _index(post, [tag.name for tag in tags])
    audit_record(actor=actor, action=AuditAction.CREATE, obj=post, changes=diff({}, snapshot(post, POST_FIELDS)))
    return post


@transaction.atomic
def knowledge_post_update(*, actor: User, post_id: int, data: dict) -> KnowledgePost:
    post = selectors.access_knowledge_post_by_id(actor, post_id, "change")
    post = KnowledgePost.objects.select_for_update().get(pk=post.pk)
    before = snapshot(post, POST_FIELDS)
    errors: dict[str, list[str]] = {}
    _post_apply(post, data, errors)
    raise_if(errors)
    post.updated_at = timezone.now()
    post.save()
    tags = _tags(data.get("tags"))
    if tags is not None:
        post.tags.set(tags)
    _index(post, list(post.tags.values_list("name", flat=True)))
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=post, changes=diff(before, snapshot(post, POST_FIELDS)))
    return post


@transaction.atomic
def knowledge_post_delete(*, actor: User, post_id: int) -> None:
    post = selectors.access_knowledge_post_by_id(actor, post_id, "delete")
    audit_record(actor=actor, action=AuditAction.DELETE, obj=post, changes={"title": [post.title, None]})
    post.delete()


@transaction.atomic
def knowledge_comment_add(*, actor: User, post_id: int, body: str) -> KnowledgeComment:
    """Anyone who can read a post can comment on it."""
    post = selectors.access_knowledge_post_by_id(actor, post_id, "view")
    text = (body or "").strip()
    if not text:
        raise ValidationError({"body": [_("Write something.")]})
    if len(text) > 5000:
        raise ValidationError({"body": [_("Keep a comment under 5,000 characters.")]})
    comment = KnowledgeComment.objects.create(post=post, author=actor, body=text)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=comment, changes={"post_id": [None, post.pk]})
    return comment
