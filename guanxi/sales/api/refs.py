"""Small output pieces the sales routes share."""

from ninja import Field, Schema


class UserRef(Schema):
    id: int
    username: str = Field(description="Login name.")
    display_name: str = Field(description="Name shown in lists.")

    @staticmethod
    def resolve_display_name(user) -> str:
        return str(user)


class AccountRef(Schema):
    id: int
    name: str = Field(description="Company or household name.")


class ContactRef(Schema):
    id: int
    full_name: str = Field(description="Name as shown.")


class TerritoryRef(Schema):
    id: int
    code: str
    name: str


class StageRef(Schema):
    id: int
    name: str
    kind: str = Field(description="open, won or lost.")
    probability: int = Field(description="Default probability in percent.")


class CompetitorRef(Schema):
    id: int
    name: str


class ProductRef(Schema):
    id: int
    sku: str
    name: str


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None
